"""hotline/events.py against a real private redis-server: publish, the coalescing Publisher,
Hub fan-out with filters, replay after an id (or None once the gap is trimmed away), stop, and
event id validation."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from hotline.domain.event_ids import valid_event_id
from hotline.events import (
    Event,
    Hub,
    Publisher,
    ReplayGap,
    ReplayWindow,
    Subscription,
    publish,
)
from hotline.stores.live.keys import Keys
from hotline.subscriptions import CLIENT_QUEUE_SIZE
from tests.conftest import RedisProcess, free_port

GUARD_S = 10.0  # only a guard against hanging, never an assertion about speed


@pytest.fixture
async def redis(redis_server: RedisProcess) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def keys(redis: Redis) -> AsyncIterator[Keys]:
    k = Keys(f"t{secrets.token_hex(6)}")
    yield k
    await redis.delete(k.events)


@pytest.fixture
async def hub(redis: Redis, keys: Keys) -> AsyncIterator[Hub]:
    h = Hub(redis, keys)
    await h.start()
    yield h
    await h.stop()


async def _get(sub: Subscription) -> Event | None:
    return await asyncio.wait_for(sub.queue.get(), GUARD_S)


def _everything(_e: Event) -> bool:
    return True


# --- publish -----------------------------------------------------------------------------------


async def test_publish_appends_to_stream(redis: Redis, keys: Keys) -> None:
    ev = {"type": "queued", "conversation": "c1", "language": "ko"}
    eid = await publish(redis, keys, ev)
    assert eid is not None and valid_event_id(eid)
    entries: Any = await redis.xrange(keys.events)
    assert len(entries) == 1
    assert entries[0][0] == eid
    eid2 = await publish(redis, keys, {"type": "message", "conversation": "c1", "seq": 1})
    assert eid2 is not None and tuple(map(int, eid2.split("-"))) > tuple(map(int, eid.split("-")))


async def test_publish_without_redis_returns_none(keys: Keys) -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True,
                          socket_connect_timeout=1)
    try:
        assert await publish(dead, keys, {"type": "queued"}) is None
    finally:
        await dead.aclose()


# --- Publisher ---------------------------------------------------------------------------------


async def _stream(redis: Redis, keys: Keys) -> list[tuple[str, dict[str, Any]]]:
    entries: Any = await redis.xrange(keys.events)
    return [(eid, json.loads(fields["e"])) for eid, fields in entries]


async def test_publisher_keeps_order_and_gives_each_caller_its_ids(
        redis_server: RedisProcess, keys: Keys) -> None:
    # A client of its own, named, so the server can tell how many connections it used.
    name = f"pub{secrets.token_hex(4)}"
    client = Redis.from_url(redis_server.url, decode_responses=True, client_name=name)
    pub = Publisher(client, keys)
    try:
        batches = [[{"type": "message", "caller": i, "n": j} for j in range(i % 3 + 1)]
                   for i in range(40)]
        got = await asyncio.gather(*(pub.publish_all(b) for b in batches))
        stream = await _stream(client, keys)
        # The stream holds the events in the order they were handed over ...
        assert [ev for _eid, ev in stream] == [ev for b in batches for ev in b]
        # ... and each caller got the ids of its own events.
        by_id = dict(stream)
        for b, ids in zip(batches, got, strict=True):
            assert [by_id[eid] for eid in ids] == b
        # Forty concurrent callers shared round trips on one connection instead of forty.
        clients = await client.client_list()
        assert sum(1 for c in clients if c["name"] == name) == 1
    finally:
        await client.aclose()


async def test_publisher_appends_for_a_cancelled_caller(redis: Redis, keys: Keys) -> None:
    pub = Publisher(redis, keys)
    first = asyncio.create_task(pub.publish_all([{"type": "a"}]))
    second = asyncio.create_task(pub.publish_all([{"type": "b"}]))
    await asyncio.sleep(0)  # both handed over
    second.cancel()
    assert len(await first) == 1
    await pub.drain()
    assert second.cancelled()
    assert [ev["type"] for _eid, ev in await _stream(redis, keys)] == ["a", "b"]


async def test_publisher_drain_waits_for_everything_handed_over(redis: Redis,
                                                                keys: Keys) -> None:
    pub = Publisher(redis, keys)
    tasks = [asyncio.create_task(pub.publish_all([{"type": "x", "i": i}])) for i in range(10)]
    await asyncio.sleep(0)
    await pub.drain()
    assert len(await _stream(redis, keys)) == 10
    assert all(t.done() for t in tasks)
    await pub.drain()  # nothing in flight: returns at once
    assert await pub.publish_all([]) == []


async def test_publisher_without_redis_gives_every_caller_nothing(keys: Keys) -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True,
                          socket_connect_timeout=1)
    pub = Publisher(dead, keys)
    try:
        got = await asyncio.wait_for(asyncio.gather(
            *(pub.publish_all([{"type": "queued", "i": i}]) for i in range(5))), GUARD_S)
        assert got == [[]] * 5
    finally:
        await dead.aclose()


# --- Hub fan-out -------------------------------------------------------------------------------


async def test_hub_fans_out_with_filters(hub: Hub, redis: Redis, keys: Keys) -> None:
    only_c1 = hub.subscribe(lambda e: e.get("conversation") == "c1")
    only_closed = hub.subscribe(lambda e: e["type"] == "closed")
    everything = hub.subscribe(_everything)
    e1 = await publish(redis, keys, {"type": "message", "conversation": "c2", "seq": 1})
    e2 = await publish(redis, keys, {"type": "message", "conversation": "c1", "seq": 1})
    e3 = await publish(redis, keys, {"type": "closed", "conversation": "c2"})

    got_all = [await _get(everything) for _ in range(3)]
    assert [e["id"] for e in got_all if e] == [e1, e2, e3]
    assert got_all[1] == {"type": "message", "conversation": "c1", "seq": 1, "id": e2}

    got_c1 = await _get(only_c1)
    assert got_c1 is not None and got_c1["id"] == e2
    got_closed = await _get(only_closed)
    assert got_closed is not None and got_closed["id"] == e3
    # The filtered subscriptions received nothing else (everything above was delivered).
    assert only_c1.queue.empty()
    assert only_closed.queue.empty()


async def test_hub_does_not_replay_history_on_start(redis: Redis, keys: Keys) -> None:
    await publish(redis, keys, {"type": "queued", "conversation": "old"})
    h = Hub(redis, keys)
    await h.start()
    try:
        sub = h.subscribe(_everything)
        new = await publish(redis, keys, {"type": "queued", "conversation": "new"})
        ev = await _get(sub)
        assert ev is not None and ev["id"] == new and ev["conversation"] == "new"
        assert sub.queue.empty()
    finally:
        await h.stop()


async def test_unsubscribed_client_gets_nothing(hub: Hub, redis: Redis, keys: Keys) -> None:
    gone = hub.subscribe(_everything)
    stays = hub.subscribe(_everything)
    hub.unsubscribe(gone)
    eid = await publish(redis, keys, {"type": "queued"})
    ev = await _get(stays)
    assert ev is not None and ev["id"] == eid
    assert gone.queue.empty()
    assert gone not in hub.subs


async def test_hub_fans_out_to_many(hub: Hub, redis: Redis, keys: Keys) -> None:
    subs = [hub.subscribe(_everything) for _ in range(25)]
    ids = [await publish(redis, keys, {"type": "message", "seq": i}) for i in range(5)]
    for sub in subs:
        assert [(await _get(sub) or {}).get("id") for _ in ids] == ids


async def test_one_loop_step_offers_an_event_to_a_slice_of_the_subscribers(
        hub: Hub, redis: Redis, keys: Keys) -> None:
    """Each subscriber an event is offered to wakes a stream that writes in the next step:
    two hundred consoles woken in one step held the loop for 15-30 ms. Every subscriber gets
    every event, in order, and no step wakes more than a slice of them (a subscriber whose
    queue already holds events is not woken again)."""
    step = 0

    async def count_steps() -> None:
        nonlocal step
        while True:
            step += 1
            await asyncio.sleep(0)  # runs once in every step of the loop

    offered_in: dict[int, list[int]] = {}

    def recorder(n: int) -> Callable[[Event], bool]:
        def accept(e: Event) -> bool:
            offered_in.setdefault(step, []).append(n)
            if subs[n].queue.empty():
                woken_in.setdefault(step, set()).add(n)
            return True
        return accept

    woken_in: dict[int, set[int]] = {}
    subs: list[Subscription] = []
    subs.extend(hub.subscribe(recorder(n)) for n in range(200))
    ticker = asyncio.create_task(count_steps())
    try:
        ids = [await publish(redis, keys, {"type": "queued", "seq": i}) for i in range(3)]
        for sub in subs:
            assert [(await _get(sub) or {}).get("id") for _ in ids] == ids
    finally:
        ticker.cancel()
    assert sum(len(v) for v in offered_in.values()) == 200 * len(ids)
    # One slice at most woken each step (a subscriber is offered a read's events together).
    assert max(len(v) for v in woken_in.values()) <= 50, {
        k: len(v) for k, v in woken_in.items()}


async def test_subscribers_an_event_does_not_wake_cost_no_step(
        hub: Hub, redis: Redis, keys: Keys) -> None:
    """Only the streams an event wakes are spread over steps: subscribers that take none of
    it (most consoles, for most events: others' cases) are all offered it in one step.
    Counting every subscriber held the reader to 40 a step, seconds behind the log on a busy
    loop."""
    step = 0

    async def count_steps() -> None:
        nonlocal step
        while True:
            step += 1
            await asyncio.sleep(0)

    steps_of: dict[str, set[int]] = {}

    def refuse(e: Event) -> bool:
        steps_of.setdefault(str(e.get("id")), set()).add(step)
        return False

    for _ in range(200):
        hub.subscribe(refuse)
    last = hub.subscribe(lambda e: e.get("type") == "roster")
    ticker = asyncio.create_task(count_steps())
    try:
        ids = [await publish(redis, keys, {"type": "queued", "seq": i}) for i in range(3)]
        marker = await publish(redis, keys, {"type": "roster"})
        assert (await _get(last) or {}).get("id") == marker
    finally:
        ticker.cancel()
    assert {eid: len(steps_of[str(eid)]) for eid in ids} == {eid: 1 for eid in ids}


async def test_the_hub_asks_a_narrowed_subscriber_only_about_what_may_be_its_own(
        hub: Hub, redis: Redis, keys: Keys) -> None:
    """A subscriber with `cases` is asked only about events of a kind it hears, of a case in
    `cases`, or naming its `counselor` (a read of other cases' messages skips it whole); and
    none of those is missed."""
    asked: list[tuple[str, str]] = []

    def refuse(e: Event) -> bool:
        asked.append((str(e.get("type")), str(e.get("conversation"))))
        return False

    for _ in range(50):
        other = hub.subscribe(refuse)
        other.cases, other.heard = {"theirs"}, frozenset({"roster"})
    mine = hub.subscribe(_everything)
    mine.cases = {"c1"}
    named = hub.subscribe(_everything)
    named.cases, named.counselor = set(), 7
    last = hub.subscribe(lambda e: e.get("type") == "roster")
    for i in range(3):
        await publish(redis, keys, {"type": "message", "conversation": f"c{i}"})
    await publish(redis, keys, {"type": "offered", "conversation": "c9", "counselor": 7})
    await publish(redis, keys, {"type": "message", "conversation": "theirs"})
    marker = await publish(redis, keys, {"type": "roster"})
    assert (await _get(last) or {}).get("id") == marker
    assert sorted(set(asked)) == [("message", "theirs"), ("roster", "None")]
    assert len(asked) == 100
    assert [e.get("conversation") for e in await _all(mine)] == ["c1"]
    assert [e.get("type") for e in await _all(named)] == ["offered"]


async def _all(sub: Subscription) -> list[Event]:
    out = []
    while not sub.queue.empty():
        e = sub.queue.get_nowait()
        assert e is not None
        out.append(e)
    return out


# --- replay ------------------------------------------------------------------------------------


async def _publish_n(redis: Redis, keys: Keys, n: int, **extra: Any) -> list[str]:
    out = []
    for i in range(n):
        eid = await publish(redis, keys, {"type": "message", "seq": i, **extra})
        assert eid is not None
        out.append(eid)
    return out


# Wide enough for every test below that is not about the window itself.
WIDE = ReplayWindow(max_events=10_000, max_age_ms=3_600_000)


async def _replay(hub: Hub, after: str, accept: Callable[[Event], bool] = _everything,
                  window: ReplayWindow = WIDE) -> list[Event] | None:
    """Everything the replay yields that passes `accept`; None if it ends in a gap."""
    out: list[Event] = []
    try:
        async for chunk in hub.replay(after, window):
            assert 0 < len(chunk) <= window.chunk
            out.extend(e for e in chunk if accept(e))
    except ReplayGap:
        return None
    return out


async def test_replay_after_id(redis: Redis, keys: Keys) -> None:
    hub = Hub(redis, keys)
    ids = await _publish_n(redis, keys, 5)
    for k in range(5):
        got = await _replay(hub, ids[k])
        assert got is not None
        assert [e["id"] for e in got] == ids[k + 1:]
        assert [e["seq"] for e in got] == list(range(k + 1, 5))


async def test_replay_filters(redis: Redis, keys: Keys) -> None:
    hub = Hub(redis, keys)
    first = await publish(redis, keys, {"type": "queued", "conversation": "a"})
    assert first is not None
    a = await publish(redis, keys, {"type": "message", "conversation": "a"})
    await publish(redis, keys, {"type": "message", "conversation": "b"})
    got = await _replay(hub, first, lambda e: e.get("conversation") == "a")
    assert got is not None and [e["id"] for e in got] == [a]


async def test_replay_from_zero_on_empty_log(redis: Redis, keys: Keys) -> None:
    assert await _replay(Hub(redis, keys), "0-0") == []


async def test_replay_on_lost_log_is_none(redis: Redis, keys: Keys) -> None:
    """A client with a cursor but no log at all (Redis lost it) must reload."""
    assert await _replay(Hub(redis, keys), "1700000000000-0") is None


@pytest.mark.parametrize("keep", [1, 3, 5])
async def test_replay_older_than_trimmed_start_is_none(redis: Redis, keys: Keys,
                                                       keep: int) -> None:
    hub = Hub(redis, keys)
    ids = await _publish_n(redis, keys, 8)
    await redis.xtrim(keys.events, maxlen=keep, approximate=False)
    kept = ids[-keep:]
    # Every cursor before the retained start has lost events: None (reset).
    for old in ids[: 8 - keep - 1]:
        assert await _replay(hub, old) is None
    assert await _replay(hub, "0-1") is None
    # A cursor at or after the retained start replays exactly what follows it.
    for i, eid in enumerate(kept):
        got = await _replay(hub, eid)
        assert got is not None and [e["id"] for e in got] == kept[i + 1:]


async def test_replay_at_latest_is_empty(redis: Redis, keys: Keys) -> None:
    ids = await _publish_n(redis, keys, 3)
    assert await _replay(Hub(redis, keys), ids[-1]) == []


async def test_replay_reads_in_chunks(redis: Redis, keys: Keys) -> None:
    ids = await _publish_n(redis, keys, 25)
    small = ReplayWindow(max_events=100, max_age_ms=3_600_000, chunk=4)
    sizes = [len(c) async for c in Hub(redis, keys).replay(ids[0], small)]
    assert sizes == [4, 4, 4, 4, 4, 4]
    assert await _replay(Hub(redis, keys), ids[0], window=small) is not None


async def test_replay_longer_than_the_window_is_a_gap(redis: Redis, keys: Keys) -> None:
    """A gap of more events than the window ends in ReplayGap after at most the window's
    worth: the client gets "reset" and reloads instead of the whole log."""
    ids = await _publish_n(redis, keys, 31)
    window = ReplayWindow(max_events=10, max_age_ms=3_600_000, chunk=4)
    hub = Hub(redis, keys)
    got = await _replay(hub, ids[20], window=window)
    assert got is not None and [e["id"] for e in got] == ids[21:]  # exactly 10: replayed
    assert await _replay(hub, ids[19], window=window) is None  # 11: too long
    yielded: list[Event] = []
    with pytest.raises(ReplayGap):
        async for chunk in hub.replay(ids[0], window):
            yielded.extend(chunk)
    assert len(yielded) <= window.max_events


async def _calls(redis: Redis, command: str) -> int:
    stats: Any = await redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_replay_older_than_max_age_is_a_gap_without_reading_the_log(
        redis: Redis, keys: Keys) -> None:
    for ms in (1_000, 2_000, 5_000, 6_000):
        await redis.xadd(keys.events, {"e": json.dumps({"type": "message", "ms": ms})},
                         id=f"{ms}-0")
    window = ReplayWindow(max_events=100, max_age_ms=3_000)
    hub = Hub(redis, keys)
    before = await _calls(redis, "xrange")
    assert await _replay(hub, "2000-0", window=window) is None  # 4 s before the newest
    # One XRANGE (the first entry) and no chunk read at all.
    assert await _calls(redis, "xrange") - before == 1
    got = await _replay(hub, "5000-0", window=window)
    assert got is not None and [e["id"] for e in got] == ["6000-0"]


async def test_replay_of_an_id_the_log_never_issued_is_a_gap(redis: Redis, keys: Keys) -> None:
    """A cursor past the newest event belongs to a log Redis has lost: reload."""
    ids = await _publish_n(redis, keys, 2)
    ms = int(ids[-1].split("-")[0])
    assert await _replay(Hub(redis, keys), f"{ms + 60_000}-0") is None


async def test_replay_without_redis_is_a_gap(keys: Keys) -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True,
                          socket_connect_timeout=1)
    try:
        assert await _replay(Hub(dead, keys), "1700000000000-0") is None
    finally:
        await dead.aclose()


# --- stop and closing --------------------------------------------------------------------------


async def test_stop_closes_every_subscription(redis: Redis, keys: Keys) -> None:
    hub = Hub(redis, keys)
    await hub.start()
    subs = [hub.subscribe(_everything) for _ in range(5)]
    await publish(redis, keys, {"type": "queued"})
    first = await _get(subs[0])
    assert first is not None
    await hub.stop()
    assert hub.closed
    for sub in subs:
        items = []
        while not sub.queue.empty():
            items.append(sub.queue.get_nowait())
        assert items and items[-1] is None
        assert all(i is not None for i in items[:-1])


async def test_subscribe_after_stop_is_closed(redis: Redis, keys: Keys) -> None:
    hub = Hub(redis, keys)
    await hub.start()
    await hub.stop()
    sub = hub.subscribe(_everything)
    assert sub.queue.get_nowait() is None


async def test_stop_without_start(redis: Redis, keys: Keys) -> None:
    hub = Hub(redis, keys)
    sub = hub.subscribe(_everything)
    await hub.stop()
    assert sub.queue.get_nowait() is None


def test_full_subscription_gets_close_marker() -> None:
    sub = Subscription(_everything)
    for i in range(CLIENT_QUEUE_SIZE):
        sub.offer({"type": "message", "seq": i})
    assert sub.queue.full()
    sub.offer({"type": "message", "seq": CLIENT_QUEUE_SIZE})
    items = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    assert items[-1] is None
    assert {"type": "message", "seq": CLIENT_QUEUE_SIZE} not in items


def test_full_subscription_close() -> None:
    sub = Subscription(_everything)
    for i in range(CLIENT_QUEUE_SIZE):
        sub.queue.put_nowait({"seq": i})
    sub.close()
    items = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    assert items[-1] is None


def test_subscription_filter() -> None:
    sub = Subscription(lambda e: e["type"] == "closed")
    sub.offer({"type": "queued"})
    assert sub.queue.empty()
    sub.offer({"type": "closed"})
    assert sub.queue.get_nowait() == {"type": "closed"}


# --- event ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("eid", "ok"), [
    ("0-0", True),
    ("1-0", True),
    ("1700000000000-0", True),
    ("1700000000000-12", True),
    ("1" * 20 + "-" + "9" * 19, True),
    ("1" * 21 + "-" + "9" * 19, False),  # 41 characters
    ("", False),
    ("1", False),
    ("1700000000000", False),
    ("-1", False),
    ("1-", False),
    ("-", False),
    ("a-0", False),
    ("1-a", False),
    ("1-2-3", False),
    ("1.5-0", False),
    ("+1-0", False),
    (" 1-0", False),
    ("1-0 ", False),
    ("1-0\n", False),
    ("$", False),
    (">", False),
    ("+", False),
    ("(1-0", False),
    ("\uff11-0", False),  # full-width digit: isdigit() but not a stream id
    ("\u00b2-0", False),  # superscript two: isdigit() but int() refuses it
    ("1-\u0663", False),  # Arabic-Indic digit
])
def test_valid_event_id(eid: str, ok: bool) -> None:
    assert valid_event_id(eid) is ok


async def test_published_ids_are_valid(redis: Redis, keys: Keys) -> None:
    for eid in await _publish_n(redis, keys, 3):
        assert valid_event_id(eid)


async def test_a_follower_that_falls_behind_follows_again(hub: Hub) -> None:
    """A follower whose queue overflows is closed like any client, then subscribed again
    (after its gap handler) instead of ending for good; it stops when the hub does."""
    seen: list[int] = []
    gaps = 0
    release = asyncio.Event()

    async def handle(ev: Event) -> None:
        await release.wait()  # slow: the queue fills while this waits
        seen.append(int(ev["n"]))

    async def on_gap() -> None:
        nonlocal gaps
        gaps += 1

    task = asyncio.create_task(hub.follow(lambda ev: ev.get("type") == "t", handle, on_gap))
    await asyncio.sleep(0)
    for n in range(CLIENT_QUEUE_SIZE + 5):  # one more than the queue holds overflows it
        for sub in list(hub.subs):
            sub.offer({"type": "t", "n": n})
    release.set()
    async with asyncio.timeout(GUARD_S):
        while gaps == 0 or not hub.subs:
            await asyncio.sleep(0.01)
        for sub in list(hub.subs):
            sub.offer({"type": "t", "n": -1})
        while -1 not in seen:
            await asyncio.sleep(0.01)
    assert gaps == 1
    await hub.stop()
    async with asyncio.timeout(GUARD_S):
        await task
