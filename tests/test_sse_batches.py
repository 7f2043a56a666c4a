"""A busy floor's console streams: live events taken off the queue in batches and written at
once, each event encoded once per form for every stream of the process, heartbeats kept while
events flow (hotline.web.sse; issue 18's surge, where 200 consoles each encoded and wrote every
event on its own)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest

from hotline.cases import stream as stream_module
from hotline.cases.stream import StaffStream
from hotline.config import Config
from hotline.deps import Deps
from hotline.domain.event_ids import id_after
from hotline.domain.policy import EventForm
from hotline.domain.staff import Role, Staff
from hotline.web import sse
from hotline.web.appkeys import HUB
from hotline.web.sse import Frames
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import deps_of
from tests.helpers import Counselor, add_staff
from tests.test_sse import SSE


def test_a_frame_is_encoded_once_per_event_and_form() -> None:
    frames, made = Frames(), []
    ev = {"type": "queued", "id": "1700000000000-0", "conversation": "c"}

    def shape(form: EventForm) -> Any:
        def make() -> dict[str, Any]:
            made.append(form)
            return dict(ev) if form is EventForm.FULL else {"type": ev["type"], "id": ev["id"]}
        return make

    full = frames.get(ev, EventForm.FULL, shape(EventForm.FULL))
    assert frames.get(ev, EventForm.FULL, shape(EventForm.FULL)) is full  # the same bytes
    moved = frames.get(ev, EventForm.MOVED, shape(EventForm.MOVED))
    assert made == [EventForm.FULL, EventForm.MOVED]
    assert full.startswith(b"id: 1700000000000-0\nevent: queued\ndata: {") and b'"c"' in full
    assert moved == b'id: 1700000000000-0\nevent: queued\ndata: {"type":"queued","id":' \
                    b'"1700000000000-0"}\n\n'
    # A reset has no id to know it by: encoded each time, never kept.
    reset = {"type": "reset"}
    frames.get(reset, EventForm.FULL, lambda: reset)
    frames.get(reset, EventForm.FULL, lambda: reset)
    assert len(frames._kept) == 2


def test_frames_kept_are_bounded() -> None:
    frames = Frames()
    for i in range(sse._FRAMES_KEPT + 10):
        ev = {"type": "message", "id": f"{i}-0"}
        frames.get(ev, EventForm.FULL, lambda ev=ev: ev)  # type: ignore[misc]
    assert len(frames._kept) == sse._FRAMES_KEPT
    assert ("0-0", EventForm.FULL) not in frames._kept  # the oldest went first
    assert (f"{sse._FRAMES_KEPT + 9}-0", EventForm.FULL) in frames._kept


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       streams={"heartbeat_seconds": 0.3})


async def _comments_and_events(resp: aiohttp.ClientResponse, until: int) -> tuple[int, list[str]]:
    """Heartbeat comments and event ids of a stream, until the event `until` (a roster event
    whose counselor field is `until`) has been read."""
    beats, ids, current, kind = 0, [], "", ""
    while True:
        line = (await resp.content.readline()).decode().rstrip("\n")
        if line.startswith(": beat"):
            beats += 1
        elif line.startswith("id: "):
            current = line[4:]
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: ") and kind == "roster":
            ids.append(current)
            if f'"counselor":{until}' in line:
                return beats, ids


async def _lead_and_counselor_streams(runner: AppRunner) -> list[aiohttp.ClientResponse]:
    """The event streams of a lead and of a counselor ("lead", "kim"), logged in."""
    await add_staff(runner.config, "lead", Role.LEAD)
    await add_staff(runner.config, "kim", Role.COUNSELOR)
    out = []
    for name in ("lead", "kim"):
        c = Counselor(await runner.client())
        assert await c.login(name) == 303
        out.append(await c.client.get("/api/v1/events"))
    return out


async def test_a_burst_reaches_every_console_in_order_with_beats(app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    consoles = await _lead_and_counselor_streams(app_runner)
    # Events for 1.2 s without a pause (four heartbeat periods), 600 in all.
    published = []
    for i in range(600):
        published.append(await deps.publish({"type": "roster", "counselor": i}))
        if i % 10 == 9:
            await asyncio.sleep(0.02)
    for resp in consoles:
        beats, ids = await asyncio.wait_for(_comments_and_events(resp, 599), 20)
        assert ids == published  # every event, once, in order
        assert beats >= 2  # the session is still checked while events flow
        resp.close()


async def test_a_cursor_never_passes_an_event_not_yet_sent(app_runner: AppRunner) -> None:
    """A narrowed stream in a burst with beats: every `id:` it sends without data (the page's
    cursor, sse._Cursor) comes after every event it carries up to that id, so a reconnect
    from any cursor loses nothing."""
    deps = deps_of(app_runner)
    await add_staff(app_runner.config, "lead", Role.LEAD)
    c = Counselor(await app_runner.client())
    assert await c.login("lead") == 303
    resp = await c.client.get("/api/v1/events?types=roster")
    published: list[str] = []
    for i in range(600):  # 1.2 s of a roster event and a message event each 2 ms
        eid = await deps.publish({"type": "roster", "counselor": i})
        assert eid is not None
        published.append(eid)
        await deps.publish({"type": "message", "conversation": "c", "seq": i})
        if i % 10 == 9:
            await asyncio.sleep(0.02)

    async def read() -> tuple[list[str], list[str], int]:
        got: list[str] = []
        cursors: list[str] = []
        beats, fields = 0, {}
        while len(got) < len(published):
            line = (await resp.content.readline()).decode().rstrip("\n")
            if line.startswith(": beat"):
                beats += 1
            elif line:
                name, _, value = line.partition(": ")
                fields[name] = value
            else:
                if "data" in fields:
                    got.append(fields["id"])
                elif "id" in fields:
                    cursor = fields["id"]
                    cursors.append(cursor)
                    due = [e for e in published if not id_after(e, cursor)]
                    assert got[:len(due)] == due, f"cursor {cursor} passed an unsent event"
                fields = {}
        return got, cursors, beats

    got, cursors, beats = await asyncio.wait_for(read(), 20)
    resp.close()
    assert got == published
    assert cursors and beats >= 2


async def test_the_two_forms_reach_their_readers(app_runner: AppRunner) -> None:
    """A lead hears a case's urgency in full; a counselor who may not read the case hears only
    that the queue moved: the same event, two shared frames."""
    deps = deps_of(app_runner)
    streams = [SSE(r) for r in await _lead_and_counselor_streams(app_runner)]
    eid = await deps.publish({"type": "urgency", "conversation": "c1", "urgency": "high",
                              "reasons": ["content_spreading"]})
    lead, kim = [await s.until(lambda e: e["id"] == eid) for s in streams]
    assert lead["id"] == kim["id"] == eid
    assert lead["data"]["reasons"] == ["content_spreading"]
    assert kim["data"] == {"type": "urgency", "id": eid}
    for s in streams:
        s.resp.close()


def _stream(role: Role) -> StaffStream:
    # wants and frame read only the person and the cases kept: no database is involved.
    return StaffStream(cast(Deps, None), Staff(id=7, name="kim", role=role, languages=("ko",)),
                       "digest")


def _ev(n: int, kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "id": f"{n}-0", "conversation": "c", **fields}


def test_a_counselor_stream_decides_each_event_on_the_hub_in_order() -> None:
    view, frames = _stream(Role.COUNSELOR), Frames()
    assert not view.wants(_ev(1, "message", seq=1))  # another's case: never queued
    mine, msg = _ev(2, "assigned", counselor=7), _ev(3, "message", seq=2)
    taken_away, later = _ev(4, "assigned", counselor=9), _ev(5, "message", seq=3)
    assert view.wants(mine) and view.wants(msg)  # queued: the case was mine then
    assert view.wants(taken_away) and not view.wants(later)  # the queue moved; then nothing
    # Written after the case went to someone else: the message keeps the form it had.
    assert b'"seq":2' in (view.frame(msg, frames) or b"")
    assert view.frame(taken_away, frames) == (
        b'id: 4-0\nevent: assigned\ndata: {"type":"assigned","id":"4-0"}\n\n')
    assert view._forms == {"2-0": EventForm.FULL}  # the one not written yet


def test_events_during_a_reload_are_followed_again_and_decided_when_written() -> None:
    view, frames = _stream(Role.COUNSELOR), Frames()
    view._reloading = []  # a heartbeat's SQL read is on its way
    mine, msg = _ev(1, "assigned", counselor=7), _ev(2, "message", seq=1)
    assert view.wants(mine) and view.wants(msg)  # queued undecided
    assert view._reloading == [mine] and view._forms == {}
    view.cases = {}  # what the read found (from before the assignment) ...
    for ev in view._reloading:
        stream_module._follow(view.cases, view.staff, ev)  # ... and the event again
    view._reloading = None
    assert b'"seq":1' in (view.frame(msg, frames) or b"")


def test_a_lead_hears_everything_and_keeps_no_cases() -> None:
    view = _stream(Role.LEAD)
    assert view.wants(_ev(1, "assigned", counselor=9)) and view.wants(_ev(2, "message"))
    assert view.cases == {}
    assert not view.wants({"type": "chat.ended", "id": "3-0"})  # internal: nobody hears it


async def test_the_hub_offers_a_narrowed_stream_only_what_may_matter(
        app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    assert app_runner.server is not None
    hub = app_runner.server.app[HUB]
    asked: list[str] = []

    def accept(ev: dict[str, Any]) -> bool:
        asked.append(ev["id"])
        return True

    async def offered(eid: str | None) -> None:
        for _ in range(500):
            if eid in asked:
                return
            await asyncio.sleep(0.01)

    sub = hub.subscribe(accept)
    sub.cases, sub.heard = {"mine"}, frozenset({"queued"})
    ids = await deps.publish_all([
        {"type": "message", "conversation": "other"},  # not read, not heard: skipped
        {"type": "message", "conversation": "mine"},
        {"type": "roster", "counselor": 1},  # about no case, not heard: skipped
        {"type": "queued", "conversation": "other"},  # heard without reading
    ])
    await offered(ids[3])
    sub.cases = None  # not narrowed (a stream loading): everything is offered
    last = await deps.publish({"type": "message", "conversation": "other"})
    await offered(last)
    hub.unsubscribe(sub)
    assert asked == [ids[1], ids[3], last]
    assert [sub.queue.get_nowait()["id"] for _ in range(3)] == asked  # type: ignore[index]


def test_the_queue_moved_once_until_written() -> None:
    """Of "the queue moved" a console needs one of each kind on its way: the page reads the
    queue after it, and that read sees the changes of those left out (all happened before)."""
    view, frames = _stream(Role.COUNSELOR), Frames()
    q1, q2 = _ev(1, "queued", conversation="a"), _ev(2, "queued", conversation="b")
    u1 = _ev(3, "urgency", conversation="a", urgency="high")
    assert view.wants(q1) and not view.wants(q2)  # one "queued" is on its way already
    assert view.wants(u1)  # another kind: its handler may differ
    assert view.frame(q1, frames) is not None  # written ...
    q3 = _ev(4, "queued", conversation="c")
    assert view.wants(q3)  # ... so the next one goes
    assert not view.wants(_ev(5, "urgency", conversation="b"))
    # A lead hears each in full.
    lead = _stream(Role.LEAD)
    assert lead.wants(q1) and lead.wants(q2)
