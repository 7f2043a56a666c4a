"""End to end over real HTTP, real Redis and real SQL (SQLite and PostgreSQL): a victim writes
in the web chat, a counselor takes the case, replies, and closes it with the intake form.
Also across a server restart and a Redis restart in the middle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from hotline.cases.tables import intake_records, messages
from hotline.prompts import Prompts
from hotline.stores.sql.engine import open_engine
from tests.conftest import AppRunner, RedisProcess, make_config, wait_for
from tests.helpers import Counselor, Victim, add_staff

SECRET_TEXT = "my ex posted a deepfake of me on a telegram channel"
REPLY_TEXT = "I am here with you. Can you tell me the channel name?"


async def _intake_rows(config: object) -> list[dict[str, Any]]:
    engine = open_engine(config.database_url)  # type: ignore[attr-defined]
    try:
        async with engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(select(intake_records))]
    finally:
        await engine.dispose()


async def test_victim_to_counselor_and_back(app_runner: AppRunner) -> None:
    cfg = app_runner.config
    await add_staff(cfg, "mina")
    victim = Victim(await app_runner.client())
    await victim.open("en")
    resp = await victim.send(SECRET_TEXT)
    assert resp.status == 201
    state = await victim.state()
    assert state["state"] == "waiting" and state["position"] == 1
    assert [m["text"] for m in state["messages"]] == [SECRET_TEXT]

    counselor = Counselor(await app_runner.client())
    assert await counselor.login("mina") == 303
    queue = await (await counselor.client.get("/api/v1/queue")).json()
    assert len(queue["waiting"]) == 1
    assert set(queue["waiting"][0]) == {"id", "channel", "language", "urgency", "waited_seconds",
                                        "reasons", "offered_to"}
    cid = await counselor.take_next()
    case = await counselor.case(cid)
    assert case["status"] == "active"
    assert [m["text"] for m in case["messages"]] == [SECRET_TEXT]

    assert (await counselor.reply(cid, REPLY_TEXT)).status == 201
    state = await victim.state()
    assert state["state"] == "active"
    assert [(m["direction"], m["text"]) for m in state["messages"]] == [
        ("in", SECRET_TEXT), ("out", REPLY_TEXT)]

    resp = await counselor.close(cid)
    assert resp.status == 200, await resp.text()
    assert (await victim.state())["state"] == "closed"
    rows = await _intake_rows(cfg)
    assert len(rows) == 1
    rec = rows[0]
    assert rec["harm_type"] == "synthetic" and rec["platforms"] == "telegram"
    assert rec["wait_seconds"] >= 0 and rec["handling_seconds"] >= 0
    flat = " ".join(str(v) for v in rec.values())
    assert SECRET_TEXT not in flat and REPLY_TEXT not in flat
    assert "telegram channel" not in flat
    # The pseudonym is a keyed HMAC (64 hex), not the chat cookie.
    cookie = victim.client.session.cookie_jar.filter_cookies(
        victim.client.make_url("/chat"))["hl_chat"].value
    assert len(str(rec["pseudonym"])) == 64 and cookie.partition(".")[0] not in flat


async def test_message_text_is_sealed_at_rest(app_runner: AppRunner) -> None:
    victim = Victim(await app_runner.client())
    await victim.open()
    assert (await victim.send(SECRET_TEXT)).status == 201
    engine = open_engine(app_runner.config.database_url)
    try:
        async with engine.connect() as conn:
            bodies = [r[0] for r in await conn.execute(select(messages.c.body_sealed))]
    finally:
        await engine.dispose()
    assert len(bodies) == 1 and SECRET_TEXT.encode() not in bodies[0]


async def test_conversation_survives_server_restart(app_runner: AppRunner) -> None:
    cfg = app_runner.config
    await add_staff(cfg, "jun")
    victim = Victim(await app_runner.client())
    await victim.open()
    await victim.send("first message", client_id="client-msg-1")
    counselor = Counselor(await app_runner.client())
    await counselor.login("jun")
    cookies_v = victim.client.session.cookie_jar
    cookies_c = counselor.client.session.cookie_jar
    csrf_v, csrf_c = victim.csrf, counselor.csrf

    # Restart the whole server; browsers keep their cookies.
    await app_runner.stop()
    await app_runner.start()
    victim = Victim(await app_runner.client())
    counselor = Counselor(await app_runner.client())
    victim.client.session._cookie_jar = cookies_v
    counselor.client.session._cookie_jar = cookies_c
    victim.csrf, counselor.csrf = csrf_v, csrf_c

    # The retry of the first message after the restart is not stored twice.
    assert (await victim.send("first message", client_id="client-msg-1")).status == 200
    await victim.send("second message")
    cid = await counselor.take_next()
    await counselor.reply(cid, "hello")
    state = await victim.state()
    assert [m["text"] for m in state["messages"]] == ["first message", "second message",
                                                      "hello"]
    assert (await counselor.close(cid)).status == 200


async def test_conversation_survives_redis_restart(tmp_path: Path, database: object,
                                                    private_redis: RedisProcess) -> None:
    cfg = make_config(tmp_path / "data", database.url, private_redis.url)  # type: ignore[attr-defined]
    runner = AppRunner(cfg)
    await runner.start()
    try:
        await add_staff(cfg, "sora")
        victim = Victim(await runner.client())
        await victim.open("ko")
        await victim.send("도와주세요", lang="ko")
        private_redis.restart()  # all live state is gone

        counselor = Counselor(await runner.client())
        assert await counselor.login("sora") == 303

        async def queued() -> bool:
            resp = await counselor.client.get("/api/v1/queue")
            return resp.status == 200 and len((await resp.json())["waiting"]) == 1

        await wait_for(queued, timeout=30)
        cid = await counselor.take_next()
        await victim.send("아직 계세요?", lang="ko")
        await counselor.reply(cid, "네, 여기 있어요")
        texts = [m["text"] for m in (await victim.state())["messages"]]
        assert texts == ["도와주세요", "아직 계세요?", "네, 여기 있어요"]
        assert (await counselor.close(cid)).status == 200
    finally:
        await runner.stop()


async def test_quick_exit_tells_the_counselor(app_runner: AppRunner) -> None:
    """Quick exit ends the browser's chat cookie and leaves a note in the case: someone may
    have come near the victim, and no answer will come from that browser. Once per chat."""
    await add_staff(app_runner.config, "mina")
    victim = Victim(await app_runner.client())
    await victim.open("en")
    assert (await victim.send(SECRET_TEXT)).status == 201
    counselor = Counselor(await app_runner.client())
    assert await counselor.login("mina") == 303
    cid = await counselor.take_next()
    cookies = victim.client.session.cookie_jar.filter_cookies(victim.client.make_url("/chat"))
    cookie = cookies["hl_chat"].value
    for _ in range(2):  # the beacon, then a retry of it with the same cookie
        resp = await victim.client.post("/chat/api/exit", data={"csrf": victim.csrf},
                                        cookies={"hl_chat": cookie})
        assert resp.status == 200
    case = await counselor.case(cid)
    notes = [m for m in case["messages"] if m["direction"] == "system"]
    assert [m["text"] for m in notes] == [Prompts().render("en", "marker_quick_exit")]
    assert case["status"] == "active"  # the counselor decides what to do with the case
    # The browser's cookie is gone: that browser cannot read the chat any more.
    assert (await victim.client.get("/chat/api/state")).status == 401
