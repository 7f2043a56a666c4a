"""Helpers for routing, roster, lead-action, handover, alert and wait tests over the real app.

The app's own `Deps` (runner.server.app[DEPS]) is used for direct service calls, so a test
talks to the very same SQL database, Redis prefix and key ring as the running server. The
app's periodic jobs (router, handover, alerts, presence, aging) can be held off by taking their
Redis job locks, so a test decides when a routing pass or an escalation happens (and at what
time) instead of racing the background loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select, update

from hotline.audit.tables import audit_events
from hotline.cases import conversations as convs
from hotline.cases import staffing
from hotline.cases.tables import alerts
from hotline.deps import Deps
from hotline.domain.conversation import Channel
from hotline.domain.shift_text import DAY_NAMES
from hotline.domain.staff import Role
from hotline.staff import accounts as staff_store
from hotline.staff.tables import counselors
from hotline.web.appkeys import DEPS
from tests.conftest import AppRunner, wait_for
from tests.helpers import Counselor, Victim, cheap_password_hash

# A guard against hanging only; never an assertion about speed.
GUARD_S = 10.0
# Long enough that a held job lock outlives any test.
_HOLD_MS = 10 * 60 * 1000
DAYS = DAY_NAMES


def deps_of(runner: AppRunner) -> Deps:
    assert runner.server is not None
    return runner.server.app[DEPS]


async def hold_jobs(deps: Deps, *jobs: str) -> None:
    """Keep the app's periodic jobs from running: the test calls the services itself.

    The router deletes its lock after each pass, so its lock is taken only while it is free
    (SET NX); the other jobs let theirs expire, so theirs is simply overwritten. The
    shift-edge job ("shift-edges") is stopped outright (see stop_task)."""
    for job in jobs:
        if job == "shift-edges":
            await stop_task(job)
            continue
        key = deps.keys.job_lock(job)
        if job == "router":
            async def taken(k: str = key) -> bool:
                return bool(await deps.redis.set(k, "test", nx=True, px=_HOLD_MS))
            await wait_for(taken, timeout=GUARD_S)
        else:
            await deps.redis.set(key, "test", px=_HOLD_MS)


async def stop_task(name: str) -> None:
    """Cancel one of the app's periodic jobs (they run as named tasks on the test's loop).

    Used for "shift-edges": the tests that edit the roster check what the edit itself did
    (roster._changed), and hand cases over at shift edges by calling the service at times
    they choose; a job re-syncing and handing over on the real clock would only add noise.
    (Its re-sync can no longer undo an edit: staffing.sync_all writes only if the roster version
    is unchanged since it read.)"""
    for task in asyncio.all_tasks():
        if task.get_name() == name:
            # A cancel landing inside an SQLAlchemy call can be swallowed there (the job then
            # sleeps on): cancel until it has ended, as the app's own shutdown does.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.5)
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Staffer(Counselor):
    """A logged-in staff member's browser, knowing their id."""

    id: int
    name: str


async def staff(runner: AppRunner, name: str, role: Role = Role.COUNSELOR,
                languages: tuple[str, ...] = ("ko", "en"), max_chats: int | None = None,
                login: bool = True) -> Staffer:
    """A staff account (like tests.helpers.add_staff, through the app's own engine), logged
    in unless `login` is False."""
    deps = deps_of(runner)
    async with deps.engine.begin() as conn:
        sid = await staff_store.add(conn, name=name, role=role, languages=languages,
                                    password_hash=cheap_password_hash(), at=datetime.now(UTC))
    if max_chats is not None:
        async with deps.engine.begin() as conn:
            await conn.execute(update(counselors).where(counselors.c.id == sid)
                               .values(max_chats=max_chats))
        await staffing.sync_one(deps, sid)
    s = Staffer(await runner.client())
    s.id, s.name = sid, name
    if login:
        assert await s.login(name) == 303
    return s


async def presence(who: Counselor, status: str) -> None:
    resp = await who.post("/api/v1/presence", {"status": status})
    assert resp.status == 200, await resp.text()


async def victim(runner: AppRunner, text: str = "please help me", lang: str = "en"
                 ) -> tuple[Victim, str]:
    """A victim who wrote one message; returns their browser and the conversation id."""
    v = Victim(await runner.client())
    await v.open(lang)
    resp = await v.send(text, lang=lang)
    assert resp.status == 201, await resp.text()
    cid = await conversation_of(runner, v)
    # Distinct enqueue milliseconds, so queue order between cases is never a tie.
    await asyncio.sleep(0.005)
    return v, cid


async def conversation_of(runner: AppRunner, v: Victim) -> str:
    cookie = v.client.session.cookie_jar.filter_cookies(v.client.make_url("/chat"))["hl_chat"]
    deps = deps_of(runner)
    pseudonym = deps.keyring.pseudonymize(Channel.WEBCHAT.value, cookie.value.partition(".")[0])
    async with deps.engine.connect() as conn:
        conv = await convs.latest_for(conn, Channel.WEBCHAT, pseudonym)
    assert conv is not None
    return conv.id


async def conv(runner: AppRunner, cid: str) -> convs.ConversationRow:
    async with deps_of(runner).engine.connect() as conn:
        row = await convs.get(conn, cid)
    assert row is not None
    return row


async def queue_ids(who: Counselor) -> list[tuple[str, int | None]]:
    """GET /api/v1/queue as (id, offered_to), in queue order."""
    resp = await who.client.get("/api/v1/queue")
    assert resp.status == 200, await resp.text()
    return [(w["id"], w["offered_to"]) for w in (await resp.json())["waiting"]]


async def my_offers(who: Counselor) -> list[str]:
    resp = await who.client.get("/api/v1/offers/mine")
    assert resp.status == 200, await resp.text()
    return [o["id"] for o in (await resp.json())["offers"]]


async def alerts_for(who: Counselor, acked: bool = False) -> list[dict[str, Any]]:
    """The open alerts `who` sees (with `acked`, also those acknowledged lately)."""
    resp = await who.client.get("/api/v1/alerts")
    assert resp.status == 200, await resp.text()
    found: list[dict[str, Any]] = (await resp.json())["alerts"]
    return [a for a in found if acked or a["acked_at"] is None]


async def alert_rows(runner: AppRunner) -> list[dict[str, Any]]:
    async with deps_of(runner).engine.connect() as conn:
        return [dict(r._mapping) for r in
                await conn.execute(select(alerts).order_by(alerts.c.id))]


async def audit(runner: AppRunner, action: str | None = None,
                target: str | None = None) -> list[dict[str, Any]]:
    """Audit rows (detail decoded), oldest first, optionally of one action and/or target."""
    q = select(audit_events).order_by(audit_events.c.id)
    if action is not None:
        q = q.where(audit_events.c.action == action)
    if target is not None:
        q = q.where(audit_events.c.target_id == target)
    async with deps_of(runner).engine.connect() as conn:
        rows = [dict(r._mapping) for r in await conn.execute(q)]
    for r in rows:
        r["detail"] = json.loads(r["detail"])
    return rows


async def stream_events(runner: AppRunner, type_: str | None = None) -> list[dict[str, Any]]:
    """Events on the Redis stream (what every console's /api/v1/events is fed from)."""
    deps = deps_of(runner)
    raw: Any = await deps.redis.xrange(deps.keys.events, "-", "+")
    out = [json.loads(fields["e"]) for _eid, fields in raw]
    return [e for e in out if type_ is None or e.get("type") == type_]


class EventStream:
    """A console's open GET /api/v1/events: reads events until one matches."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        assert resp.status == 200, resp.status
        assert resp.content_type == "text/event-stream"
        self.resp = resp

    @classmethod
    async def open(cls, who: Counselor) -> EventStream:
        resp = await who.client.get("/api/v1/events")
        stream = cls(resp)
        # The first bytes ("retry:") mean the hub subscription is in place.
        assert (await resp.content.readline()).startswith(b"retry:")
        return stream

    async def until(self, pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            data: str | None = None
            while True:
                raw = await self.resp.content.readline()
                assert raw, "event stream ended"
                line = raw.decode().rstrip("\r\n")
                if line.startswith("data:"):
                    data = line[5:].strip()
                elif not line and data is not None:
                    ev: dict[str, Any] = json.loads(data)
                    data = None
                    if pred(ev):
                        return ev
        return await asyncio.wait_for(read(), GUARD_S)

    def close(self) -> None:
        self.resp.close()


def utc_now() -> datetime:
    return datetime.now(UTC)


def shift_body(counselor_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """A POST /api/v1/roster/shifts body for one weekly shift (UTC wall time) covering
    [start, end) this week, minute precision; `end - start` must be under a day."""
    start = start.astimezone(UTC)
    end = end.astimezone(UTC)
    assert timedelta(0) < end - start < timedelta(days=1)
    return {"counselor_id": counselor_id, "days": [DAYS[start.weekday()]],
            "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"), "tz": "UTC"}


async def set_rostered(lead: Counselor, counselor_id: int, rostered: bool = True) -> None:
    """Make a person follow the roster (or not), confirmed: it may end their shift now."""
    resp = await lead.put(f"/api/v1/roster/people/{counselor_id}",
                          {"rostered": rostered, "confirm": True})
    assert resp.status == 200, await resp.text()


async def add_shift(lead: Counselor, counselor_id: int, start: datetime, end: datetime
                    ) -> list[int]:
    """A weekly shift, the person first made to follow the roster."""
    await set_rostered(lead, counselor_id)
    resp = await lead.post("/api/v1/roster/shifts", shift_body(counselor_id, start, end))
    assert resp.status == 201, await resp.text()
    ids: list[int] = (await resp.json())["shifts"]
    return ids


async def add_override(lead: Counselor, counselor_id: int, start: datetime, end: datetime,
                       on_shift: bool, reason: str, confirm: bool = True) -> int:
    """An override (confirmed unless `confirm` is False); extra time makes the person follow
    the roster first."""
    if on_shift:
        await set_rostered(lead, counselor_id)
    resp = await lead.post("/api/v1/roster/overrides", {
        "counselor_id": counselor_id, "start": start.isoformat(), "end": end.isoformat(),
        "on_shift": on_shift, "reason": reason, "confirm": confirm})
    assert resp.status == 201, await resp.text()
    oid: int = (await resp.json())["override"]
    return oid


async def take_next_status(who: Counselor) -> tuple[int, dict[str, Any]]:
    resp = await who.post("/api/v1/queue/take-next")
    body: dict[str, Any] = await resp.json()
    return resp.status, body


def token() -> str:
    return secrets.token_hex(8)
