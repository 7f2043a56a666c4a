"""Quick exit ends the chat session on the server: the old cookie answers 401 for state,
events and messages on every instance (two app instances sharing Redis and the database, on
both databases), its open stream ends wherever it is, and the open case is marked as left by
the victim (conversations.victim_left_at, audited, a victim.left event); a held case is not
closed at once (its holder is told first; tests/test_abandon.py).
"""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
from sqlalchemy import select

from hotline.audit.tables import audit_events
from hotline.cases import conversations as convs
from hotline.domain.event_ids import id_after
from hotline.domain.staff import Role
from hotline.victim import quickexit
from hotline.victim.tables import chat_exits
from tests.conftest import AppRunner
from tests.floor import deps_of, stream_events
from tests.helpers import Counselor, Victim, add_staff, cookie_value, row_counts
from tests.test_sse import SSE

Apps = tuple[AppRunner, AppRunner]


async def _with_cookie(session: aiohttp.ClientSession, app: AppRunner, method: str, path: str,
                       cookie: str, **kw: Any) -> aiohttp.ClientResponse:
    assert app.server is not None
    return await session.request(method, app.server.make_url(path),
                                 headers={"Cookie": f"hl_chat={cookie}", **kw.pop("headers", {})},
                                 **kw)


async def _old_cookie_refused(session: aiohttp.ClientSession, app: AppRunner, cookie: str,
                              csrf: str) -> list[int]:
    """What the old cookie gets for state, events and a message."""
    state = await _with_cookie(session, app, "GET", "/chat/api/state", cookie)
    events = await _with_cookie(session, app, "GET", "/chat/api/events", cookie)
    message = await _with_cookie(
        session, app, "POST", "/chat/api/messages", cookie, headers={"X-CSRF-Token": csrf},
        json={"text": "still here?", "client_id": secrets.token_hex(8), "language": "en"})
    return [state.status, events.status, message.status]


async def test_quick_exit_ends_the_chat_on_every_instance(two_apps: Apps) -> None:
    a, b = two_apps
    mina_id = await add_staff(a.config, "mina")
    await add_staff(a.config, "lee", Role.LEAD)
    victim = Victim(await a.client())
    csrf = await victim.open()
    assert (await victim.send("someone is sharing my photos", "first-try-1")).status == 201
    mina = Counselor(await a.client())
    assert await mina.login("mina") == 303
    cid = await mina.take_next()
    cookie = cookie_value(victim.client, "hl_chat", "/chat")

    async with aiohttp.ClientSession() as browser:
        # The chat is open on the other instance too (a second tab behind the proxy).
        on_b = SSE(await _with_cookie(browser, b, "GET", "/chat/api/events", cookie))
        assert (await _with_cookie(browser, b, "GET", "/chat/api/state", cookie)).status == 200

        resp = await victim.client.post("/chat/api/exit", data={"csrf": csrf})
        assert resp.status == 200
        # The open stream on B ended, carrying nothing that came after the exit.
        rest = await on_b.rest()
        raw: Any = await deps_of(a).redis.xrange(deps_of(a).keys.events)
        ended = next(eid for eid, f in raw if '"chat.ended"' in f["e"])
        assert all(id_after(ended, e["id"]) for e in rest)

        before = await row_counts(a.config)
        for app in (a, b):
            assert await _old_cookie_refused(browser, app, cookie, csrf) == [401, 401, 401]
            # A retry of a message stored before the exit is refused too.
            again = await _with_cookie(
                browser, app, "POST", "/chat/api/messages", cookie,
                headers={"X-CSRF-Token": csrf},
                json={"text": "someone is sharing my photos", "client_id": "first-try-1"})
            assert again.status == 401
        assert await row_counts(a.config) == before  # the refused messages stored nothing

        # The chat page with the old cookie starts a new, empty chat.
        assert b.server is not None
        page = await browser.get(b.server.make_url("/chat"),
                                 headers={"Cookie": f"hl_chat={cookie}"})
        assert page.status == 200
        assert page.cookies["hl_chat"].value not in ("", cookie)

    # The case stays with its counselor, marked as left, with the note; audited; announced.
    case = await mina.case(cid)
    assert case["status"] == "active" and case["victim_left_at"] is not None
    assert [m["direction"] for m in case["messages"]][-1] == "system"
    async with deps_of(a).engine.connect() as conn:
        audited = (await conn.execute(select(audit_events.c.action, audit_events.c.target_id)
                                      .where(audit_events.c.action == "case.victim_left"))).all()
        exits = (await conn.execute(select(chat_exits.c.chat_ref))).scalars().all()
        conv = await convs.get(conn, cid)
    assert [tuple(r) for r in audited] == [("case.victim_left", cid)]
    # The list of exits holds neither the cookie nor the case's pseudonym (no join to cases).
    chat_id = cookie.partition(".")[0]
    assert conv is not None and exits == [quickexit.chat_ref(deps_of(a), chat_id)]
    assert chat_id not in exits[0] and exits[0] != conv.pseudonym
    left = await stream_events(a, "victim.left")
    assert left == [{"type": "victim.left", "conversation": cid, "counselor": mina_id}]
    # Internal events never leave the server: the lead's replay of the log shows neither.
    lee = Counselor(await a.client())
    assert await lee.login("lee") == 303
    resp = await lee.client.get("/api/v1/events", headers={"Last-Event-ID": raw[0][0]})
    seen = SSE(resp)
    await seen.until(lambda e: e["type"] == "victim.left")
    assert not any(e["type"] in ("chat.ended", "session.revoked") for e in seen.seen)
    resp.close()


async def test_a_repeated_beacon_changes_nothing(two_apps: Apps) -> None:
    a, b = two_apps
    victim = Victim(await a.client())
    csrf = await victim.open()
    assert (await victim.send("hello")).status == 201
    cookie = cookie_value(victim.client, "hl_chat", "/chat")
    async with aiohttp.ClientSession() as browser:
        for app in (a, b, a):
            resp = await _with_cookie(browser, app, "POST", "/chat/api/exit", cookie,
                                      data={"csrf": csrf})
            assert resp.status == 200
    async with deps_of(a).engine.connect() as conn:
        audited = (await conn.execute(select(audit_events.c.id).where(
            audit_events.c.action == "case.victim_left"))).all()
    assert len(audited) == 1
    assert len(await stream_events(a, "victim.left")) == 1


async def test_quick_exit_without_a_case_still_ends_the_cookie(two_apps: Apps) -> None:
    a, b = two_apps
    victim = Victim(await a.client())
    csrf = await victim.open()
    cookie = cookie_value(victim.client, "hl_chat", "/chat")
    assert (await victim.client.post("/chat/api/exit", data={"csrf": csrf})).status == 200
    async with aiohttp.ClientSession() as browser:
        assert await _old_cookie_refused(browser, b, cookie, csrf) == [401, 401, 401]
    assert await stream_events(a, "victim.left") == []
