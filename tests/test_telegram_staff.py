"""The staff alert bot: an urgent case posts an alert (no victim content) to the staff group or
to the on-shift takedown person's Telegram, with an Acknowledge button whose press is recorded
like the console's (via="telegram") for the linked staff member; others cannot."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hotline.channels.telegram import cli as telegram_cli
from hotline.config import Config
from hotline.domain.staff import Role
from hotline.takedown.api import DESK
from hotline.takedown.deadlines import deadline_pass
from hotline.takedown.desk import Desk
from tests import telegram_standin
from tests.conftest import AppRunner, Database, RedisProcess, wait_for
from tests.floor import add_override, deps_of, hold_jobs, staff
from tests.helpers import add_staff
from tests.takedown_support import DESK_DETAILS, EXPLANATION, call, new_item, new_request, step
from tests.telegram_standin import (
    CHAT,
    SECRET,
    TOKEN,
    BotApiStandin,
    TgEnv,
    table,
    telegram_config,
)

log_guard = telegram_standin.log_guard
standin = telegram_standin.standin
tg = telegram_standin.tg

pytestmark = pytest.mark.usefixtures("log_guard")

SPREADING = "Wombat-2291 my video is being shared in a group chat"
STAFF_USER = 5550001
GROUP = -1001234567


def _staff_user(user_id: int = STAFF_USER) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Staff", "language_code": "en"}


async def _link(config: Config, name: str, user_id: int) -> int:
    """`hotline counselor telegram NAME ID`, as the CLI runs it (its own event loop)."""
    return await asyncio.to_thread(telegram_cli.dispatch, argparse.Namespace(
        command="counselor", counselor_command="telegram", name=name,
        telegram_id=str(user_id)), config) or 0


async def _alert_posts(api: BotApiStandin, chat: int) -> list[tuple[int, str, list[str]]]:
    out = []
    for c in api.calls:
        if c.method == "sendMessage" and int(c.params["chat_id"]) == chat \
                and isinstance(c.result, dict):
            rows = (c.params.get("reply_markup") or {}).get("inline_keyboard", [])
            out.append((int(c.result["message_id"]), str(c.params["text"]),
                        [b["callback_data"] for row in rows for b in row]))
    return out


async def test_alert_to_takedown_person_and_ack_from_telegram(
        tg: TgEnv, log_guard: dict[str, str]) -> None:
    log_guard.update(text="Wombat-2291")
    await add_staff(tg.config, "tk", role=Role.TAKEDOWN, languages=("en", "ko"))
    assert await _link(tg.config, "tk", STAFF_USER) == 0

    await tg.send(tg.victim.text(SPREADING))

    async def posted() -> list[tuple[int, str, list[str]]]:
        return await _alert_posts(tg.api, STAFF_USER)

    [(mid, text, buttons)] = await wait_for(posted, timeout=10)
    [alert] = [a for a in await table(tg.config, "alerts") if a["kind"] == "takedown"]
    [conv] = await table(tg.config, "conversations")
    assert buttons == [f"ack:{alert['id']}"]
    assert conv["id"][:8] in text and "critical" in text and "content_spreading" in text
    assert "Wombat" not in text and str(CHAT) not in text, "victim content in a staff alert"

    # Someone not linked presses it (e.g. in a shared chat): nothing is recorded.
    await tg.send(tg.victim.press(f"ack:{alert['id']}", mid, user=_staff_user(5550999),
                                  chat=STAFF_USER))
    assert "not linked" in str(tg.api.of("answerCallbackQuery")[-1]["text"])
    assert (await table(tg.config, "alerts"))[0]["acked_at"] is None

    await tg.send(tg.victim.press(f"ack:{alert['id']}", mid, user=_staff_user(),
                                  chat=STAFF_USER))
    [acked] = [a for a in await table(tg.config, "alerts") if a["id"] == alert["id"]]
    assert acked["acked_via"] == "telegram" and acked["acked_by"] is not None
    audit = [a for a in await table(tg.config, "audit_events") if a["action"] == "alert.acked"]
    assert len(audit) == 1 and '"via":"telegram"' in audit[0]["detail"]

    async def marked() -> bool:
        # In the staff member's first language, the keyboard gone.
        return any(f"Case {conv['id'][:8]}: alert acknowledged" in str(p["text"])
                   and int(p["message_id"]) == mid
                   and "reply_markup" not in p for p in tg.api.of("editMessageText"))

    await wait_for(marked, timeout=10)
    # A second press: already acknowledged, recorded once.
    await tg.send(tg.victim.press(f"ack:{alert['id']}", mid, user=_staff_user(),
                                  chat=STAFF_USER))
    assert "already" in str(tg.api.of("answerCallbackQuery")[-1]["text"])
    # An alert id no column holds (was a 500 from the database, re-sent for ever): ignored.
    answered = len(tg.api.of("answerCallbackQuery"))
    await tg.send(tg.victim.press("ack:" + "9" * 20, mid, user=_staff_user(), chat=STAFF_USER))
    assert len(tg.api.of("answerCallbackQuery")) == answered
    # The linked staff member's own messages never open a victim conversation.
    await tg.send(telegram_standin.Updates(chat=STAFF_USER).text("hello bot"))
    assert len(await table(tg.config, "conversations")) == 1


async def test_alert_to_staff_group(tmp_path: Path, database: Database,
                                    redis_server: RedisProcess, standin: BotApiStandin,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("HOTLINE_TELEGRAM_WEBHOOK_SECRET", SECRET)
    cfg = telegram_config(tmp_path, database, redis_server, standin,
                          telegram={"staff_chat_id": GROUP})
    runner = AppRunner(cfg)
    await runner.start()
    try:
        env = TgEnv(runner, await runner.client(), standin, cfg)
        await add_staff(cfg, "lead1", role=Role.LEAD)
        assert await _link(cfg, "lead1", STAFF_USER) == 0
        await env.send(env.victim.text(SPREADING))

        async def posted() -> list[tuple[int, str, list[str]]]:
            return await _alert_posts(standin, GROUP)

        found = await wait_for(posted, timeout=10)
        mid, _text, buttons = found[0]
        alert_id = int(buttons[0].split(":")[1])
        await env.send(env.victim.press(buttons[0], mid, user=_staff_user(), chat=GROUP))
        [acked] = [a for a in await table(cfg, "alerts") if a["id"] == alert_id]
        assert acked["acked_via"] == "telegram"
    finally:
        await runner.stop()


async def test_desk_alert_to_takedown_person_and_ack_from_telegram(
        tmp_path: Path, database: Database, redis_server: RedisProcess,
        standin: BotApiStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    """An overdue removal request pages the takedown person on shift on Telegram too (the
    request, platform, route and due time; no location), and their press acknowledges it as
    the desk's console button does; the post is then marked acknowledged."""
    monkeypatch.setenv("HOTLINE_TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("HOTLINE_TELEGRAM_WEBHOOK_SECRET", SECRET)
    cfg = telegram_config(tmp_path, database, redis_server, standin, takedown=DESK_DETAILS)
    runner = AppRunner(cfg)
    await runner.start()
    try:
        env = TgEnv(runner, await runner.client(), standin, cfg)
        await hold_jobs(deps_of(runner), "takedown-deadlines")
        tk = await staff(runner, "tk", role=Role.TAKEDOWN)
        lead = await staff(runner, "lead", role=Role.LEAD)
        now = datetime.now(UTC)
        await add_override(lead, tk.id, now - timedelta(hours=1), now + timedelta(hours=30),
                           True, "cover")
        assert await _link(cfg, "tk", STAFF_USER) == 0
        item = await new_item(tk)
        req = await new_request(tk, item["id"], route="kcsc", fields=EXPLANATION)
        status, sent = await step(tk, req["id"], "sent",
                                  at=(now - timedelta(hours=1)).isoformat())
        assert status == 200, sent
        due = datetime.fromisoformat(sent["due_at"])
        desk = runner.server.app[DESK] if runner.server else None
        assert desk is not None
        passed = await deadline_pass(Desk(desk.deps, desk.prompts,
                                          clock=lambda: due + timedelta(seconds=1)))
        [alert_id] = passed.raised

        async def posted() -> list[tuple[int, str, list[str]]]:
            return await _alert_posts(standin, STAFF_USER)

        [(mid, text, buttons)] = await wait_for(posted, timeout=10)
        assert buttons == [f"dack:{alert_id}"]
        # In the person's first language (Korean).
        assert f"요청 #{req['id']}" in text and "기한 초과" in text
        assert "X" in text and "kcsc" in text and "x.com" not in text, text
        assert f"/console/takedown/requests/{req['id']}" in text
        await env.send(env.victim.press(f"dack:{alert_id}", mid, user=_staff_user(),
                                        chat=STAFF_USER))
        assert "확인" in str(standin.of("answerCallbackQuery")[-1]["text"])
        _s, listed = await call(tk, "GET", "/api/v1/takedown/alerts")
        assert listed["alerts"] == []
        acked = [a for a in await table(cfg, "audit_events")
                 if a["action"] == "takedown.alert.acked"]
        assert len(acked) == 1 and acked[0]["actor_id"] == tk.id

        async def marked() -> bool:
            return any(f"#{req['id']}: 알림이 확인되었습니다" in str(p["text"])
                       and int(p["message_id"]) == mid for p in standin.of("editMessageText"))

        await wait_for(marked, timeout=10)
    finally:
        await runner.stop()


@pytest.mark.parametrize("raw", ["\u00b9", "\uff11\uff12", "12a", "-", ""])
def test_linking_refuses_what_is_not_an_id_naming_the_argument(
        config: Config, raw: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A superscript or full-width digit is a digit to str.isdigit, not to int(): it was a
    traceback; now it is the same clear error as any other bad id."""
    code = telegram_cli.dispatch(argparse.Namespace(
        command="counselor", counselor_command="telegram", name="tk", telegram_id=raw), config)
    assert code == 2
    assert "TELEGRAM_ID: expected the number /whoami shows" in capsys.readouterr().err
