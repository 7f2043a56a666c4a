"""The queue's first page pushed to the consoles that show it (cases/queue_feed.py): who is
sent it, what it holds, how often, that it is never logged nor replayed, and what a page that
takes it is no longer sent ("the queue moved", but for cases that were the person's)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

from hotline.cases.casework import CaseFacts
from hotline.cases.queue_feed import run_queue_feed
from hotline.cases.stream import StaffStream
from hotline.deps import Deps
from hotline.domain.staff import Role, Staff
from hotline.events import Hub, Subscription
from hotline.subscriptions import Batch, offer_to
from hotline.web.sse import view_frame
from tests.conftest import AppRunner
from tests.floor import deps_of, hold_jobs, stream_events
from tests.helpers import Counselor, Victim, add_staff
from tests.test_sse import SSE

PAGE_TYPES = "queue.page,queued,assigned,closed,roster"


async def _login(runner: AppRunner, name: str, role: Role) -> tuple[int, Counselor]:
    sid = await add_staff(runner.config, name, role)
    who = Counselor(await runner.client())
    assert await who.login(name) == 303
    return sid, who


async def test_a_page_that_asks_is_sent_the_queue_instead_of_that_it_moved(
        app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    await hold_jobs(deps, "router")
    _, mina = await _login(app_runner, "mina", Role.COUNSELOR)
    lee_id, lee = await _login(app_runner, "lee", Role.LEAD)
    page = SSE(await mina.client.get("/api/v1/events?types=" + PAGE_TYPES))
    old_page = SSE(await mina.client.get("/api/v1/events?types=queued,roster"))
    everything = SSE(await mina.client.get("/api/v1/events"))
    lead_page = SSE(await lee.client.get("/api/v1/events?types=queue.page,roster"))

    victim = Victim(await app_runner.client())
    await victim.open()
    assert (await victim.send("they posted my photos")).status == 201
    pushed = await page.until(lambda e: e["type"] == "queue.page" and e["data"]["total"] == 1)
    marker = await deps.publish({"type": "roster", "counselor": lee_id})
    await page.until(lambda e: e["id"] == marker)

    # The page is what GET /api/v1/queue answers: the case, its reasons, no words.
    listed = await (await mina.client.get("/api/v1/queue")).json()
    assert [w["id"] for w in pushed["data"]["waiting"]] == [w["id"] for w in listed["waiting"]]
    assert pushed["data"]["waiting"][0]["channel"] == "webchat"
    assert "photos" not in str(pushed["data"])
    assert pushed["id"] is None  # a view, not a logged event: no id to resume from
    # Sent the page, the counselor's page is not sent that the queue moved.
    assert {e["type"] for e in page.seen} == {"queue.page", "roster"}
    # A page that does not ask for it (or asks for everything) is sent the moves, as before.
    for other in (old_page, everything):
        await other.until(lambda e: e["id"] == marker)
        assert "queue.page" not in {e["type"] for e in other.seen}
        assert any(e["type"] == "queued" and set(e["data"]) == {"type", "id"}
                   for e in other.seen)
    # Leads may read the queue: sent it too when their page asks.
    await lead_page.until(lambda e: e["type"] == "queue.page")

    # Never logged, so never replayed: a reconnect from the first event gets what was logged.
    assert await stream_events(app_runner, "queue.page") == []
    again = SSE(await mina.client.get("/api/v1/events?types=" + PAGE_TYPES,
                                      headers={"Last-Event-ID": old_page.seen[0]["id"]}))
    await again.until(lambda e: e["id"] == marker)
    assert "queue.page" not in {e["type"] for e in again.seen}
    for s in (page, old_page, everything, lead_page, again):
        s.resp.close()


async def test_the_feed_reads_the_page_once_per_gap_however_often_the_queue_moves(
        app_runner: AppRunner) -> None:
    """A burst of moves makes one page, then nothing until the gap has passed; the page is
    one frame for every stream (encoded once)."""
    deps = deps_of(app_runner)
    hub = Hub(deps.redis, deps.keys)  # a Hub of the test's own: the app's feed offers to its
    await hub.start()
    pages = hub.subscribe(lambda ev: ev.get("type") == "queue.page")
    stop = asyncio.Event()
    feed = asyncio.create_task(run_queue_feed(deps, hub, stop, gap_s=30.0))
    try:
        await asyncio.sleep(0.1)  # following
        for n in range(5):
            await deps.publish({"type": "queued", "conversation": f"c{n}"})
        first = await asyncio.wait_for(pages.queue.get(), 10)
        assert first is not None
        assert view_frame(first).startswith(b"event: queue.page\ndata: {")
        for n in range(5):
            await deps.publish({"type": "urgency", "conversation": f"c{n}"})
        # Moves again within the gap: no second page (well past the reader's 20 ms window).
        await asyncio.sleep(1.0)
        assert pages.queue.empty()
        stop.set()
        await asyncio.wait_for(feed, 10)
    finally:
        stop.set()
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed
        await hub.stop()


# --- what a stream that takes the pages is still sent (pure: no I/O in wants) ---------------

ME, OTHER = 7, 9


def _stream(kinds: str | None) -> StaffStream:
    staff = Staff(id=ME, name="mina", role=Role.COUNSELOR, languages=("ko",))
    return StaffStream(cast(Deps, None), staff, "0" * 64,
                       None if kinds is None else frozenset(kinds.split(",")))


def _sent(stream: StaffStream, *events: dict[str, Any]) -> list[str]:
    """The types `stream` queues of `events`, in order (each written, so none coalesces)."""
    out = []
    for n, ev in enumerate(events):
        ev = {**ev, "id": f"1700000000000-{n}"}
        if stream.wants(ev):
            assert stream.frame(ev, _NO_FRAMES) is not None
            out.append(ev["type"])
    return out


class _Frames:
    def get(self, ev: dict[str, Any], form: Any, shape: Any) -> bytes:
        return b"x"


_NO_FRAMES: Any = _Frames()


def test_a_page_taking_the_queue_is_sent_only_moves_of_cases_that_were_its_own() -> None:
    page = _stream(PAGE_TYPES + ",offered")
    page.cases["mine"] = CaseFacts(holder=ME)
    assert _sent(
        page,
        {"type": "queued", "conversation": "new"},  # a new case: the page comes instead
        {"type": "assigned", "conversation": "new", "counselor": OTHER},
        {"type": "queued", "conversation": "mine"},  # mine, requeued by a lead
        {"type": "offered", "conversation": "o1", "counselor": ME},  # to me: in full
        {"type": "assigned", "conversation": "o1", "counselor": OTHER},  # my offer, taken
        {"type": "offered", "conversation": "o2", "counselor": ME},
        {"type": "closed", "conversation": "o2"},  # my offer, the victim gone
        {"type": "closed", "conversation": "o1"},  # no longer mine in any way
        {"type": "offered", "conversation": "o3", "counselor": OTHER},
    ) == ["queued", "offered", "assigned", "offered", "closed"]
    assert page.cases == {}
    # A page that does not take the queue's pages is sent every move, as before.
    old = _stream("queued,assigned,closed,offered")
    assert _sent(old, {"type": "queued", "conversation": "new"},
                 {"type": "offered", "conversation": "o3", "counselor": OTHER}
                 ) == ["queued", "offered"]


def test_the_hub_offers_a_counselor_page_only_what_was_theirs_or_names_them() -> None:
    """The same events through the Hub's test of a subscriber (offer_to): a counselor's
    page taking the queue's pages is sent the same, and the moves of cases that were never
    theirs (a surge's every new case, every console) never reach its stream at all."""
    page = _stream(PAGE_TYPES + ",offered,urgency,presence")
    reached: list[tuple[str, str]] = []

    def accept(ev: dict[str, Any]) -> bool:
        reached.append((ev["type"], ev.get("conversation", "")))
        return page.wants(ev)
    sub = Subscription(accept)
    page.subscribed(sub)
    page.cases["mine"] = CaseFacts(holder=ME)
    page._narrow()  # as the first load leaves it
    sent = []
    events: tuple[dict[str, Any], ...] = (
            {"type": "queued", "conversation": "new"},
            {"type": "assigned", "conversation": "new", "counselor": OTHER},
            {"type": "queued", "conversation": "mine"},
            {"type": "offered", "conversation": "o1", "counselor": ME},
            {"type": "assigned", "conversation": "o1", "counselor": OTHER},
            {"type": "offered", "conversation": "o2", "counselor": ME},
            {"type": "closed", "conversation": "o2"},
            {"type": "closed", "conversation": "o1"},
            {"type": "offered", "conversation": "o3", "counselor": OTHER},
            {"type": "assigned", "conversation": "o4", "counselor": ME},  # a lead gave me o4
            {"type": "urgency", "conversation": "o4", "urgency": "high"},
            {"type": "roster"},
            {"type": "presence", "counselor": ME, "status": "away"})
    for n, ev in enumerate(events):
        offer_to(Batch.of([{**ev, "id": f"1700000000000-{n}"}]), sub)
        while not sub.queue.empty():
            got = sub.queue.get_nowait()
            assert got is not None
            if page.frame(got, _NO_FRAMES) is not None:
                sent.append(got["type"])
    assert sent == ["queued", "offered", "assigned", "offered", "closed", "assigned",
                    "urgency", "roster", "presence"]
    assert ("queued", "new") not in reached and ("assigned", "new") not in reached
    assert ("offered", "o3") not in reached and ("closed", "o1") not in reached
    # Leads and pages that do not take the queue's pages are offered every move, as before;
    # a lead's page, only the kinds it asked for (not the victims' messages).
    lead = StaffStream(cast(Deps, None), Staff(id=1, name="lee", role=Role.LEAD,
                                               languages=("ko",)), "0" * 64,
                       frozenset(PAGE_TYPES.split(",")))
    for stream in (lead, _stream("queued,assigned,closed,offered")):
        reached.clear()

        def took(ev: dict[str, Any], stream: StaffStream = stream) -> bool:
            reached.append((ev["type"], ev.get("conversation", "")))
            return stream.wants(ev)
        sub = Subscription(took)
        stream.subscribed(sub)
        stream._narrow()
        offer_to(Batch.of([{"type": "message", "conversation": "new", "id": "1700000000000-0"},
                           {"type": "queued", "conversation": "new", "id": "1700000000000-1"}]),
                 sub)
        assert sub.queue.qsize() == 1
        if stream is lead:
            assert reached == [("queued", "new")]


def test_only_a_page_that_names_it_is_sent_the_queue() -> None:
    page_event = {"type": "queue.page", "frame": b"event: queue.page\ndata: {}\n\n"}
    assert _stream(PAGE_TYPES).wants(page_event)
    assert not _stream("queued,roster").wants(page_event)
    assert not _stream(None).wants(page_event)
