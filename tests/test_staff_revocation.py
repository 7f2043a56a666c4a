"""Logout, and the end of all of a person's sessions (what password change and deactivation
will call), close that session's open console streams on every instance at once and end the
person's presence: two app instances sharing one Redis and one database, on both databases.

Streams are real HTTP responses; "at once" means by the session.revoked event, well before the
next heartbeat check (which the last test shows ends a stream whose event never came)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from sqlalchemy import select

from hotline.audit.tables import audit_events
from hotline.domain.routing import Presence
from hotline.domain.staff import Role
from hotline.staff import accounts as staff_store
from hotline.staff import sessions
from tests.conftest import AppRunner, wait_for
from tests.floor import deps_of
from tests.helpers import Counselor, Victim, add_staff, cookie_value
from tests.test_sse import SSE

Apps = tuple[AppRunner, AppRunner]
# The instances beat every 0.3 s (conftest.two_apps): waiting this long spans several beats.
SEVERAL_BEATS_S = 1.2


async def _stream(session: aiohttp.ClientSession, app: AppRunner, staff_cookie: str) -> SSE:
    """A console stream on `app` with the given session cookie (any instance's)."""
    assert app.server is not None
    resp = await session.get(app.server.make_url("/api/v1/events"),
                             headers={"Cookie": f"hl_staff={staff_cookie}"})
    return SSE(resp)  # headers arrived: the server has subscribed


async def _present(app: AppRunner, counselor_id: int) -> bool:
    return counselor_id in await deps_of(app).live.present()


async def _logout(who: Counselor) -> int:
    resp = await who.client.post("/console/logout", data={"csrf": who.csrf},
                                 allow_redirects=False)
    return int(resp.status)


async def test_logout_ends_streams_on_every_instance_and_presence(two_apps: Apps) -> None:
    a, b = two_apps
    mina_id = await add_staff(a.config, "mina")
    mina = Counselor(await a.client())
    assert await mina.login("mina") == 303
    cookie = cookie_value(mina.client, "hl_staff")
    victim = Victim(await a.client())
    await victim.open()
    assert (await victim.send("hello")).status == 201
    cid = await mina.take_next()

    async with aiohttp.ClientSession() as browser:
        on_a, on_b = await _stream(browser, a, cookie), await _stream(browser, b, cookie)
        assert (await victim.send("are you there")).status == 201
        for stream in (on_a, on_b):
            await stream.until(lambda e: e["type"] == "message" and e["data"]["seq"] == 2)
        assert await _present(a, mina_id)

        assert await _logout(mina) == 303
        # Three more messages of her case: none reaches either stream, which both end.
        for text in ("one", "two", "three"):
            assert (await victim.send(text)).status == 201
        after = await asyncio.gather(on_a.rest(), on_b.rest())
        assert list(after) == [[], []]

        # Presence ended, and no stream beats it back.
        assert not await _present(a, mina_id)
        assert await deps_of(b).live.status_of(mina_id) == Presence.OFFLINE
        await asyncio.sleep(SEVERAL_BEATS_S)
        assert not await _present(b, mina_id)
        # The old cookie opens nothing on either instance.
        for app in (a, b):
            assert app.server is not None
            resp = await browser.get(app.server.make_url("/api/v1/events"),
                                     headers={"Cookie": f"hl_staff={cookie}"})
            assert resp.status == 401
    assert cid


async def test_ending_all_sessions_closes_every_stream_of_that_person_only(
        two_apps: Apps) -> None:
    a, b = two_apps
    mina_id = await add_staff(a.config, "mina")
    admin_id = await add_staff(a.config, "root", Role.ADMIN)
    await add_staff(a.config, "jun")
    # Two browsers of hers, one of a colleague's.
    laptop, phone, jun = (Counselor(await a.client()), Counselor(await b.client()),
                          Counselor(await b.client()))
    for who, name in ((laptop, "mina"), (phone, "mina"), (jun, "jun")):
        assert await who.login(name) == 303
    c_laptop, c_phone, c_jun = (cookie_value(x.client, "hl_staff") for x in (laptop, phone, jun))

    async with aiohttp.ClientSession() as browser:
        hers = [await _stream(browser, a, c_laptop), await _stream(browser, b, c_laptop),
                await _stream(browser, b, c_phone)]
        his = await _stream(browser, a, c_jun)

        assert await sessions.end_all(deps_of(b), mina_id, "password_changed",
                                      actor_id=admin_id) == 2
        assert await asyncio.gather(*(s.rest() for s in hers)) == [[], [], []]
        # His stream stays open and live.
        await deps_of(b).publish({"type": "roster", "counselor": admin_id})
        await his.until(lambda e: e["type"] == "roster")
        his.resp.close()

    for who in (laptop, phone):
        assert (await who.client.get("/api/v1/me")).status == 401
    assert (await jun.client.get("/api/v1/me")).status == 200
    assert not await _present(a, mina_id)
    async with deps_of(a).engine.connect() as conn:
        rows = (await conn.execute(select(audit_events).where(
            audit_events.c.action == "sessions.ended"))).all()
    assert [(r.actor_id, r.target_id) for r in rows] == [(admin_id, str(mina_id))]
    assert '"reason":"password_changed"' in rows[0].detail


async def test_a_stream_whose_revocation_was_missed_ends_at_its_next_heartbeat(
        two_apps: Apps) -> None:
    """The session ended in SQL with no event (as when Redis was unreachable at that
    moment): the stream's heartbeat check ends it."""
    a, b = two_apps
    await add_staff(a.config, "mina")
    mina = Counselor(await a.client())
    assert await mina.login("mina") == 303
    cookie = cookie_value(mina.client, "hl_staff")
    deps = deps_of(a)
    async with aiohttp.ClientSession() as browser:
        stream = await _stream(browser, b, cookie)
        async with deps.engine.begin() as conn:
            await staff_store.end_session(conn, deps.keyring.digest_token(cookie))
        assert await stream.rest() == []


async def test_logout_of_one_session_leaves_her_other_session_streaming(
        two_apps: Apps) -> None:
    a, b = two_apps
    await add_staff(a.config, "mina")
    laptop, phone = Counselor(await a.client()), Counselor(await b.client())
    for who in (laptop, phone):
        assert await who.login("mina") == 303
    c_laptop, c_phone = (cookie_value(x.client, "hl_staff") for x in (laptop, phone))
    async with aiohttp.ClientSession() as browser:
        gone, stays = await _stream(browser, b, c_laptop), await _stream(browser, b, c_phone)
        assert await _logout(laptop) == 303
        assert await gone.rest() == []

        async def still_beating() -> Any:
            # Heartbeat comments keep arriving on the other session's stream.
            line = await stays.resp.content.readline()
            return line.startswith(b": beat")
        await wait_for(still_beating)
        stays.resp.close()
