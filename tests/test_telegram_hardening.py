"""The Telegram webhook given input that once crashed it (500, which Telegram re-sends
forever), over the real app and the Bot API stand-in (SQLite and PostgreSQL): a secret-token
header that is not UTF-8, and button data whose evidence id is not a usable number."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from tests import telegram_standin
from tests.raw_http import raw_request
from tests.telegram_standin import SECRET, TgEnv, table

log_guard = telegram_standin.log_guard
standin = telegram_standin.standin
tg = telegram_standin.tg

pytestmark = pytest.mark.usefixtures("log_guard")


async def test_secret_token_bytes_that_are_not_utf8_are_403(tg: TgEnv) -> None:
    server = tg.runner.server
    assert server is not None
    body = json.dumps(tg.victim.text("hello")).encode()
    for secret in (b"\xff" * 24, SECRET.encode()[:-1] + b"\xe9"):
        status, text = await raw_request(server, "POST", "/webhooks/telegram", [
            b"Content-Type: application/json",
            b"X-Telegram-Bot-Api-Secret-Token: " + secret], body)
        assert status == 403, text[:300]
    assert await table(tg.config, "messages") == []


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 60)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("eid", ["²", "١٢", "1" * 30, str(2**31), "9" * 12, "-1", ""])
async def test_button_with_a_bad_evidence_id_is_answered_as_stale(tg: TgEnv, eid: str) -> None:
    png = _png()
    tg.api.add_file("ph-1", png)
    await tg.send(tg.victim.photo("ph-1", len(png)))
    [ev] = await table(tg.config, "evidence")
    mid, _ = tg.markup_of("We received it")
    answered = len(tg.api.of("answerCallbackQuery"))
    for data in (f"ev:p:{eid}:telegram", f"ev:k:{eid}:yes", f"ev:k:{eid}:no"):
        await tg.send(tg.victim.press(data, mid))  # asserts 200: Telegram will not re-send
    answers = tg.api.of("answerCallbackQuery")[answered:]
    assert len(answers) == 3 and all(a.get("text") for a in answers)
    assert await table(tg.config, "evidence") == [ev]
