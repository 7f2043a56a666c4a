"""The Telegram webhook given input that once crashed it (500, which Telegram re-sends
forever), over the real app and the Bot API stand-in (SQLite and PostgreSQL): a secret-token
header that is not UTF-8, button data whose evidence id is not a usable number, and updates
that can never be handled (answered 200, counted by reason, nothing stored), while a failure
of ours still answers 500 so Telegram sends the update again."""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image

from hotline.cases import urgency
from hotline.metrics import REGISTRY
from tests import telegram_standin
from tests.conftest import Database
from tests.floor import deps_of, staff
from tests.helpers import row_counts
from tests.local_servers import pg_admin
from tests.raw_http import raw_request
from tests.telegram_standin import SECRET, TgEnv, table

log_guard = telegram_standin.log_guard
standin = telegram_standin.standin
tg = telegram_standin.tg

pytestmark = pytest.mark.usefixtures("log_guard")

TEXT = "Quokka-4410 my ex uploaded it to a channel"


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


# --- updates that can never be handled: 200 (Telegram stops re-sending), counted, nothing
# stored, nobody answered -------------------------------------------------------------------

def _nested(depth: int) -> Any:
    inner: Any = "deep"
    for _ in range(depth):
        inner = [inner]
    return inner


def _with(update: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `update` with the field at dotted `path` set to `value`."""
    out = copy.deepcopy(update)
    *parents, last = path.split(".")
    node = out
    for p in parents:
        node = node[p]
    node[last] = value
    return out


UNUSABLE: list[tuple[str, str, Any]] = [
    # (reason, field, value)
    ("bad_id", "message.chat.id", None),  # matched every staff member without Telegram
    ("bad_id", "message.from.id", None),
    ("bad_id", "message.chat.id", 2**63),
    ("bad_id", "message.chat.id", -(2**63) - 1),
    ("bad_id", "message.from.id", 2**64),
    ("bad_id", "message.message_id", 2**63),
    ("bad_id", "update_id", 2**63),
    ("bad_id", "message.chat.id", [1]),
    ("bad_id", "update_id", [7]),
    ("bad_id", "message.chat.id", 1.5),
    ("bad_id", "message.chat.id", True),
    ("bad_text", "message.text", 12345),
    ("bad_text", "message.text", ["a", "b"]),
    ("bad_text", "message.text", {"text": "hi"}),
    ("bad_text", "message.text", None),
    ("no_chat", "message.chat", None),
    ("no_chat", "message.chat", {"type": "private"}),
    ("no_sender", "message.from", {"first_name": "x"}),
    ("bad_message", "message", "hello"),
    ("bad_message", "message.message_id", "12"),
    ("too_deep", "message.entities", _nested(200)),
]


def _ignored_count(reason: str) -> float:
    value = REGISTRY.get_sample_value("hotline_webhook_errors_total",
                                      {"endpoint": "telegram", "reason": reason})
    return value or 0.0


async def test_updates_that_can_never_be_handled_are_200_counted_and_change_nothing(
        tg: TgEnv, log_guard: dict[str, str]) -> None:
    # A staff member with no Telegram linked: a null chat id once matched them.
    await staff(tg.runner, "mina", login=False)
    before = await row_counts(tg.config)
    for reason, field, value in UNUSABLE:
        counted = _ignored_count(reason)
        resp = await tg.post(_with(tg.victim.text(TEXT), field, value))
        assert resp.status == 200, (field, value, await resp.text())
        assert (await resp.json())["ignored"] == reason, (field, value)
        assert _ignored_count(reason) == counted + 1
    raw: list[tuple[str, bytes, str]] = [
        ("too_deep", b'{"update_id": 5, "message": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
         "application/json"),
        ("not_utf8", b'{"update_id": 5, "message": {"text": "\xff\xfe"}}', "application/json"),
        ("not_json", b"{", "application/json; charset=x-no-such-charset"),
    ]
    for reason, body, ctype in raw:
        resp = await tg.client.post("/webhooks/telegram", data=body, headers={
            "Content-Type": ctype, "X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert resp.status == 200, (reason, await resp.text())
        assert (await resp.json())["ignored"] == reason
    assert await row_counts(tg.config) == before
    assert [c.method for c in tg.api.calls] == ["getMe"], "an unusable update was answered"


async def test_an_unknown_charset_label_does_not_stop_a_utf8_update(tg: TgEnv) -> None:
    """Telegram sends UTF-8; the label is not read (an unknown one was a 500)."""
    body = json.dumps(tg.victim.text(TEXT), ensure_ascii=False).encode()
    resp = await tg.client.post("/webhooks/telegram", data=body, headers={
        "Content-Type": "application/json; charset=x-no-such-charset",
        "X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["handled"] is True
    assert len([m for m in await table(tg.config, "messages") if m["direction"] == "in"]) == 1


@pytest.mark.parametrize("date", [0, -1, 10**20, 2**31 * 1000, "yesterday"])
async def test_the_senders_date_is_never_used(tg: TgEnv, date: Any) -> None:
    """`date: 0` queued a case as made in 1970, which aged to critical at once; one out of
    range was a 500. The message is stored, at our time."""
    update = _with(tg.victim.text("hello, can someone talk to me"), "message.date", date)
    resp = await tg.post(update)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["handled"] is True
    # An aging pass now: a case dated 1970 would jump to the top level at once.
    await urgency.age_waiting(deps_of(tg.runner))
    [conv] = await table(tg.config, "conversations")
    [msg] = [m for m in await table(tg.config, "messages") if m["direction"] == "in"]
    now = datetime.now(UTC)
    for at in (conv["created_at"], conv["enqueued_at"], msg["created_at"]):
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        assert abs(now - at) < timedelta(minutes=5), at
    assert conv["urgency"] == "normal"


async def test_a_lone_surrogate_is_replaced_and_the_words_kept(tg: TgEnv) -> None:
    raw = json.dumps(tg.victim.text("help PLACEHOLDER me")).replace(
        "PLACEHOLDER", "\\ud800").encode()
    resp = await tg.post(None, raw=raw)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["handled"] is True
    mina = await staff(tg.runner, "mina")
    cid = await mina.take_next()
    texts = [m["text"] for m in (await mina.case(cid))["messages"]]
    assert texts == ["help \ufffd me"]


async def test_a_failure_of_ours_is_still_5xx_so_telegram_sends_it_again(
        tg: TgEnv, database: Database) -> None:
    """The database refuses every connection: the update is not stored and the answer is
    500; once it is back, Telegram's next try is stored."""
    if database.kind != "postgresql":
        pytest.skip("a PostgreSQL database that refuses connections")
    engine = deps_of(tg.runner).engine
    name = engine.url.database
    update = tg.victim.text(TEXT)
    await pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    try:
        await pg_admin("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                       f"WHERE datname = '{name}'")
        resp = await tg.post(update)
        assert resp.status == 500, await resp.text()
        assert "handled" not in await resp.json()
    finally:
        await pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    resp = await tg.post(update)
    assert resp.status == 200 and (await resp.json())["handled"] is True
    assert len([m for m in await table(tg.config, "messages") if m["direction"] == "in"]) == 1
