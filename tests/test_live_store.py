"""hotline/cases/live.py against a real private redis-server: queue order, language
matching, capacity, claims, release, rebuild, the Lua eligibility rule against the Python one,
and atomicity under concurrent take_next."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from hotline.cases.live import STAFF_CHUNK, LiveStore, now_ms
from hotline.cases.live_records import ClaimResult, StaffProfile, Waiting
from hotline.domain.conversation import Channel, Urgency
from hotline.domain.routing import Presence, RoutingRules, StaffState, why_not
from hotline.stores.live.keys import FLOOD_ORIGIN_TTL_S, Keys
from tests.conftest import RedisProcess
from tests.live_reads import unassigned

C, H, N = Urgency.CRITICAL, Urgency.HIGH, Urgency.NORMAL
ALL_CHANNELS = tuple(c.value for c in Channel)
FOREVER = 2**50
RULES = RoutingRules()


@pytest.fixture
async def redis(redis_server: RedisProcess) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    await client.aclose()


async def _drop_prefix(redis: Redis, keys: Keys) -> None:
    # Only this test's keys (never FLUSHDB: the server is shared by the whole session).
    found = [k async for k in redis.scan_iter(match=f"{{{keys.prefix}}}:*")]
    if found:
        await redis.delete(*found)


@pytest.fixture
async def live(redis: Redis) -> AsyncIterator[LiveStore]:
    keys = Keys(f"t{secrets.token_hex(6)}")
    yield LiveStore(redis, keys, RULES)
    await _drop_prefix(redis, keys)


async def person(live: LiveStore, aid: int, langs: tuple[str, ...] = ("ko", "en"),
                max_chats: int = 3, channels: tuple[str, ...] = ALL_CHANNELS,
                status: Presence = Presence.AVAILABLE, start: int = 0, end: int = FOREVER,
                beat: bool = True, skills: tuple[str, ...] = ()) -> None:
    """Make counselor `aid` known to routing: window, skills, status and a fresh heartbeat."""
    await live.put_staff(StaffProfile(aid, start, end, max_chats, langs, channels, skills))
    await live.set_status(aid, status)
    if beat:
        await live.heartbeat(aid)


def w(cid: str, urgency: Urgency = N, at: int = 1_000, lang: str = "ko",
      channel: Channel = Channel.WEBCHAT, needs: frozenset[str] = frozenset()) -> Waiting:
    return Waiting(cid, channel, lang, urgency, at, needs)


async def _ids(live: LiveStore) -> list[str]:
    return [x.conversation_id for x in await live.waiting()]


# --- encoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize("item", [
    w("a"), w("b", C, 0, "en", Channel.SMS), w("c", H, 1_700_000_000_000, "ko", Channel.TELEGRAM),
    w("d", N, 5, "en", Channel.VOICE, frozenset({"minors", "sextortion"})),
])
def test_waiting_encode_roundtrip(item: Waiting) -> None:
    assert Waiting.decode(item.conversation_id, item.encode()) == item


def test_waiting_decodes_old_four_field_meta() -> None:
    assert Waiting.decode("x", "sms|ko|high|12") == w("x", H, 12, "ko", Channel.SMS)


# --- ordering ----------------------------------------------------------------------------------

ORDER_CASES = [
    pytest.param([("n1", N, 1), ("c3", C, 3), ("h2", H, 2), ("n0", N, 0), ("c5", C, 5)],
                 ["c3", "c5", "h2", "n0", "n1"], id="mixed"),
    pytest.param([("a", N, 30), ("b", N, 10), ("c", N, 20)], ["b", "c", "a"], id="fifo-normal"),
    pytest.param([("a", H, 30), ("b", H, 10), ("c", H, 20)], ["b", "c", "a"], id="fifo-high"),
    pytest.param([("late-critical", C, 10**12), ("early-normal", N, 1)],
                 ["late-critical", "early-normal"], id="critical-beats-old-normal"),
    pytest.param([("h", H, 10**12 + 5), ("n", N, 0), ("c", C, 10**12 + 9)],
                 ["c", "h", "n"], id="levels-dominate-time"),
]


@pytest.mark.parametrize(("items", "expected"), ORDER_CASES)
async def test_waiting_order(live: LiveStore, items: list[tuple[str, Urgency, int]],
                             expected: list[str]) -> None:
    for cid, urg, at in items:
        await live.enqueue(w(cid, urg, at))
    assert await _ids(live) == expected


@pytest.mark.parametrize(("items", "expected"), ORDER_CASES)
async def test_take_next_order(live: LiveStore, items: list[tuple[str, Urgency, int]],
                               expected: list[str]) -> None:
    await person(live, 1, max_chats=100)
    for cid, urg, at in items:
        await live.enqueue(w(cid, urg, at))
    got = []
    for _ in expected:
        res = await live.take_next(1)
        assert res.ok and res.waiting is not None
        got.append(res.waiting.conversation_id)
    assert got == expected
    assert await live.take_next(1) == ClaimResult(False, "empty")


async def test_take_next_returns_full_metadata(live: LiveStore) -> None:
    await person(live, 7)
    item = w("abc", H, 12345, "en", Channel.SMS, frozenset({"minors"}))
    await live.enqueue(item)
    res = await live.take_next(7)
    assert res == ClaimResult(True, waiting=item)
    assert await live.waiting() == []
    assert await live.loads() == {7: 1}
    assert await live.owners() == {"abc": 7}


async def test_enqueue_is_idempotent(live: LiveStore) -> None:
    await live.enqueue(w("a", N, 5))
    await live.enqueue(w("a", N, 5))
    await live.enqueue(w("b", N, 6))
    assert await _ids(live) == ["a", "b"]
    # Re-enqueueing with a new urgency moves the entry instead of duplicating it.
    await live.enqueue(w("b", C, 6))
    assert await _ids(live) == ["b", "a"]
    assert (await live.waiting())[0].urgency == C


async def test_admit_queues_publishes_keeps_origin_and_claims(live: LiveStore,
                                                              redis: Redis) -> None:
    """A new case in one script call: it joins the queue in its place, its events go out in
    order, the address tag is kept for its TTL, and the claim key is read and deleted."""
    k = live.keys
    await live.enqueue(w("old", N, 5))
    await redis.set(k.case_return("p1"), "case-7")
    item = w("new", C, 9, "en", Channel.SMS, frozenset({"minors"}))
    claimed = await live.admit(item, ['{"type":"queued"}', '{"type":"message"}'],
                               origin="tag-1", claim=k.case_return("p1"))
    assert claimed == "case-7"
    assert await redis.exists(k.case_return("p1")) == 0
    assert await live.waiting() == [item, w("old", N, 5)]
    entries: Any = await redis.xrange(k.events)
    assert [f["e"] for _id, f in entries] == [
        '{"type":"queued"}', '{"type":"message"}']
    assert await redis.get(k.origin("new")) == "tag-1"
    assert 0 < await redis.ttl(k.origin("new")) <= FLOOD_ORIGIN_TTL_S
    # Nothing to claim, no origin: nothing read, nothing kept.
    assert await live.admit(w("third", N, 11), [], claim=k.case_return("p2")) is None
    assert await live.admit(w("fourth", N, 12), []) is None
    assert await redis.exists(k.origin("third"), k.origin("fourth")) == 0
    assert await _ids(live) == ["new", "old", "third", "fourth"]


async def test_set_urgency_moves_only_waiting_cases(live: LiveStore) -> None:
    await person(live, 1)
    await live.enqueue(w("a", N, 1))
    await live.enqueue(w("b", N, 2))
    await live.refresh_item(w("b", C, 2))
    assert await _ids(live) == ["b", "a"]
    assert (await live.take_next(1)).waiting == w("b", C, 2)
    # A held case is not put back into the queue by a new urgency.
    await live.refresh_item(w("b", H, 2))
    assert await _ids(live) == ["a"]


# --- language (and channel) matching -----------------------------------------------------------

LANG_CASES = [
    pytest.param([("k", "ko"), ("e", "en")], ("en",), "e", id="skips-other-language"),
    pytest.param([("k", "ko"), ("e", "en")], ("ko",), "k", id="first-match"),
    pytest.param([("k", "ko"), ("e", "en")], ("en", "ko"), "k", id="best-of-either"),
    pytest.param([("k", "ko")], ("en",), None, id="no-match"),
    pytest.param([("k", "ko")], ("k",), None, id="no-prefix-match"),
    pytest.param([("k", "k")], ("ko",), None, id="no-substring-match"),
    pytest.param([("k", "ko")], (), None, id="no-languages"),
    pytest.param([], ("ko", "en"), None, id="empty-queue"),
]


@pytest.mark.parametrize(("items", "langs", "expected"), LANG_CASES)
async def test_take_next_matches_language(live: LiveStore, items: list[tuple[str, str]],
                                          langs: tuple[str, ...], expected: str | None) -> None:
    await person(live, 1, langs=langs)
    for i, (cid, lang) in enumerate(items):
        await live.enqueue(w(cid, N, i, lang))
    res = await live.take_next(1)
    if expected is None:
        assert not res.ok
        assert res.reason == ("language" if items else "empty")
        assert await live.loads() == {}
        assert sorted(await _ids(live)) == sorted(c for c, _ in items)
    else:
        assert res.ok and res.waiting is not None
        assert res.waiting.conversation_id == expected
        assert expected not in await _ids(live)


async def test_take_next_matches_channel(live: LiveStore) -> None:
    await person(live, 1, channels=("sms",))
    await live.enqueue(w("web", N, 1, channel=Channel.WEBCHAT))
    await live.enqueue(w("sms", N, 2, channel=Channel.SMS))
    res = await live.take_next(1)
    assert res.waiting is not None and res.waiting.conversation_id == "sms"
    assert await live.take_next(1) == ClaimResult(False, "channel")


async def test_take_next_respects_scan_limit(redis: Redis) -> None:
    keys = Keys(f"t{secrets.token_hex(6)}")
    live = LiveStore(redis, keys, RoutingRules(scan_limit=5))
    try:
        await person(live, 1, langs=("en",))
        for i in range(5):
            await live.enqueue(w(f"k{i}", N, i, "ko"))
        await live.enqueue(w("e", N, 99, "en"))
        assert (await live.take_next(1)).reason == "language"
        wide = LiveStore(redis, keys, RoutingRules(scan_limit=6))
        res = await wide.take_next(1)
        assert res.waiting is not None and res.waiting.conversation_id == "e"
    finally:
        await _drop_prefix(redis, keys)


# --- capacity, claim, release ------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [1, 2, 3])
async def test_capacity_limit(live: LiveStore, capacity: int) -> None:
    await person(live, 5, max_chats=capacity)
    await person(live, 6, max_chats=capacity)
    for i in range(capacity + 2):
        await live.enqueue(w(f"c{i}", N, i))
    for _ in range(capacity):
        assert (await live.take_next(5)).ok
    assert await live.take_next(5) == ClaimResult(False, "capacity")
    assert await live.claim(f"c{capacity}", 5) == ClaimResult(False, "capacity")
    assert await live.loads() == {5: capacity}
    # Nothing was removed by the refused attempts.
    assert await _ids(live) == [f"c{capacity}", f"c{capacity + 1}"]
    # Another counselor is not limited by the first one's load.
    assert (await live.take_next(6)).ok


async def test_capacity_zero_is_always_full(live: LiveStore) -> None:
    await person(live, 1, max_chats=0)
    await live.enqueue(w("a"))
    assert (await live.take_next(1)).reason == "capacity"


async def test_claim_named(live: LiveStore) -> None:
    await person(live, 3)
    await live.enqueue(w("a", N, 1))
    await live.enqueue(w("b", C, 2, "en"))
    res = await live.claim("a", 3)
    assert res == ClaimResult(True, waiting=w("a", N, 1))
    assert await _ids(live) == ["b"]
    assert await live.loads() == {3: 1}
    assert await live.owners() == {"a": 3}


@pytest.mark.parametrize("setup", ["never-queued", "taken", "closed", "claimed", "offered"])
async def test_claim_gone(live: LiveStore, setup: str) -> None:
    await person(live, 1)
    await person(live, 2)
    await live.enqueue(w("a"))
    if setup == "taken":
        assert (await live.take_next(1)).ok
    elif setup == "closed":
        await live.release("a")
    elif setup == "claimed":
        assert (await live.claim("a", 1)).ok
    elif setup == "offered":
        assert (await live.offer("a", 1, now_ms() + 30_000)).ok
    target = "zzz" if setup == "never-queued" else "a"
    assert await live.claim(target, 2) == ClaimResult(False, "gone")
    assert 2 not in await live.loads()


async def test_release_frees_load(live: LiveStore) -> None:
    await person(live, 9)
    for i in range(3):
        await live.enqueue(w(f"r{i}", N, i))
    for _ in range(3):
        assert (await live.take_next(9)).ok
    assert (await live.take_next(9)).reason == "empty"
    await live.enqueue(w("r3", N, 3))
    assert (await live.take_next(9)).reason == "capacity"
    assert await live.release("r1") == 9
    assert await live.loads() == {9: 2}
    assert "r1" not in await live.owners()
    # Releasing twice or releasing an unknown id changes nothing.
    assert await live.release("r1") is None
    assert await live.release("nope") is None
    assert await live.loads() == {9: 2}
    assert (await live.take_next(9)).ok
    for cid in ("r0", "r2", "r3"):
        assert await live.release(cid) == 9
    # The load entry is deleted at zero (no negative or stale counters).
    assert await live.loads() == {}
    assert await live.owners() == {}


async def test_release_requeue_keeps_position(live: LiveStore) -> None:
    await person(live, 1)
    await live.enqueue(w("old", N, 1))
    await live.enqueue(w("new", N, 2))
    assert (await live.take_next(1)).waiting == w("old", N, 1)
    assert await live.release("old", requeue=True) == 1
    assert await _ids(live) == ["old", "new"]
    assert await live.loads() == {}


# --- offers ------------------------------------------------------------------------------------


async def test_offer_accept_and_unoffer(live: LiveStore) -> None:
    await person(live, 1, max_chats=1)
    await person(live, 2)
    await live.enqueue(w("a", N, 1))
    await live.enqueue(w("b", N, 2))
    assert (await live.offer("a", 1, 10)).ok
    # An offer reserves capacity and takes the case out of the queue.
    assert await live.loads() == {1: 1}
    assert await _ids(live) == ["b"]
    assert await live.offers() == {"a": 1}
    assert (await live.take_next(1)).reason == "capacity"
    assert await live.accept("a", 2) == ClaimResult(False, "gone")
    assert (await live.accept("a", 1)).ok
    assert await live.owners() == {"a": 1}
    assert await live.offers() == {}
    assert await live.loads() == {1: 1}
    # Declined: back at its old place, and not offered to the same counselor again.
    assert (await live.offer("b", 2, 10)).ok
    assert await live.unoffer("b", 2) == (2, 1)
    assert await _ids(live) == ["b"]
    assert 2 not in await live.loads()
    assert await live.offer("b", 2, 10) == ClaimResult(False, "declined")


# --- rebuild -----------------------------------------------------------------------------------


async def test_rebuild_replaces_state_and_sets_epoch(live: LiveStore) -> None:
    assert await live.has_epoch() is False
    # Stale state that SQL no longer agrees with.
    await person(live, 8)
    await live.enqueue(w("stale", C, 1))
    await live.enqueue(w("stale-active", C, 1))
    assert (await live.claim("stale-active", 8)).ok
    truth = [w("q2", N, 20, "en"), w("q1", H, 30), w("q0", N, 10),
             w("a1", N, 1), w("a2", N, 2), w("a3", N, 3)]
    owners = {"a1": 1, "a2": 1, "a3": 2}
    profiles = [StaffProfile(i, 0, FOREVER, 3, ("ko", "en"), ALL_CHANNELS, ()) for i in (1, 2)]
    await live.rebuild(truth, {"q0", "q1", "q2"}, owners, profiles)
    assert await live.has_epoch() is True
    assert await _ids(live) == ["q1", "q0", "q2"]
    assert {x.conversation_id: x for x in await live.waiting()} == \
        {x.conversation_id: x for x in truth if x.conversation_id.startswith("q")}
    assert await live.owners() == owners
    assert await live.loads() == {1: 2, 2: 1}
    assert await live.claim("stale", 1) == ClaimResult(False, "gone")
    assert await live.release("stale-active") is None
    assert {a.id for a in await live.staff_states()} == {1, 2}
    assert await live.redis.exists(live.keys.staff_hash(8)) == 0


async def test_rebuild_empty(live: LiveStore) -> None:
    await person(live, 1)
    await live.enqueue(w("x"))
    await live.enqueue(w("y"))
    assert (await live.claim("y", 1)).ok
    await live.rebuild([], set(), {}, [])
    assert await live.has_epoch() is True
    assert await live.waiting() == []
    assert await live.loads() == {}
    assert await live.owners() == {}
    assert await live.staff_states() == []


async def test_rebuild_keeps_status_then_capacity_counts(live: LiveStore) -> None:
    await person(live, 1)
    await person(live, 2)
    items = [w("q"), w("a"), w("b"), w("c")]
    profiles = [StaffProfile(i, 0, FOREVER, 3, ("ko",), ALL_CHANNELS, ()) for i in (1, 2)]
    await live.rebuild(items, {"q"}, {"a": 1, "b": 1, "c": 1}, profiles)
    assert await live.status_of(1) == Presence.AVAILABLE
    assert (await live.take_next(1)).reason == "capacity"
    assert (await live.take_next(2)).ok


async def test_prefixes_are_isolated(live: LiveStore, redis: Redis) -> None:
    other = LiveStore(redis, Keys(f"t{secrets.token_hex(6)}"), RULES)
    try:
        await person(other, 1)
        await live.enqueue(w("mine"))
        assert await other.waiting() == []
        assert (await other.take_next(1)).reason == "empty"
        assert await other.has_epoch() is False
    finally:
        await _drop_prefix(redis, other.keys)


# --- the Lua rule is the Python rule -----------------------------------------------------------

NOW = 10_000_000_000
HOUR = 3_600_000
ELIGIBILITY = [
    # (id, person overrides, item language, item channel, load, expected reason)
    ("eligible", {}, "ko", Channel.WEBCHAT, 0, None),
    ("busy", {"status": Presence.BUSY}, "ko", Channel.WEBCHAT, 0, "status"),
    ("break", {"status": Presence.BREAK}, "ko", Channel.WEBCHAT, 0, "status"),
    ("offline", {"status": Presence.OFFLINE}, "ko", Channel.WEBCHAT, 0, "status"),
    ("before-shift", {"start": NOW + 1}, "ko", Channel.WEBCHAT, 0, "shift"),
    ("after-shift", {"end": NOW}, "ko", Channel.WEBCHAT, 0, "shift"),
    ("shift-ending", {"end": NOW + RULES.no_new_before_end_s * 1000}, "ko", Channel.WEBCHAT, 0,
     "ending"),
    ("shift-not-ending", {"end": NOW + RULES.no_new_before_end_s * 1000 + 1}, "ko",
     Channel.WEBCHAT, 0, None),
    ("absent", {"beat": NOW - RULES.presence_ttl_s * 1000 - 1}, "ko", Channel.WEBCHAT, 0,
     "absent"),
    ("just-present", {"beat": NOW - RULES.presence_ttl_s * 1000}, "ko", Channel.WEBCHAT, 0,
     None),
    ("language", {"langs": ("en",)}, "ko", Channel.WEBCHAT, 0, "language"),
    ("channel", {"chans": ("sms",)}, "ko", Channel.WEBCHAT, 0, "channel"),
    ("at-capacity", {"max": 2}, "ko", Channel.WEBCHAT, 2, "capacity"),
    ("below-capacity", {"max": 2}, "ko", Channel.WEBCHAT, 1, None),
    ("voice-free", {}, "ko", Channel.VOICE, 0, None),
    ("voice-busy-with-chat", {}, "ko", Channel.VOICE, 1, "capacity"),
    ("status-before-language", {"status": Presence.BUSY, "langs": ("en",)}, "ko",
     Channel.WEBCHAT, 0, "status"),
    ("language-before-capacity", {"langs": ("en",), "max": 0}, "ko", Channel.WEBCHAT, 0,
     "language"),
]


@pytest.mark.parametrize(("over", "lang", "channel", "load", "expected"),
                         [e[1:] for e in ELIGIBILITY], ids=[e[0] for e in ELIGIBILITY])
async def test_lua_eligibility_matches_python(live: LiveStore, over: dict[str, object],
                                              lang: str, channel: Channel, load: int,
                                              expected: str | None) -> None:
    o = {"status": Presence.AVAILABLE, "start": NOW - HOUR, "end": NOW + 10 * HOUR,
         "beat": NOW, "langs": ("ko", "en"), "chans": ALL_CHANNELS, "max": 3, **over}
    aid = 42
    await live.put_staff(StaffProfile(aid, o["start"], o["end"], o["max"],  # type: ignore[arg-type]
                                      o["langs"], o["chans"], ()))  # type: ignore[arg-type]
    await live.set_status(aid, o["status"])  # type: ignore[arg-type]
    await live.heartbeat(aid, at_ms=o["beat"])  # type: ignore[arg-type]
    for i in range(load):  # cases already held, written as the scripts would
        await live.redis.hset(live.keys.owner, f"held{i}", str(aid))
        await live.redis.hincrby(live.keys.load, str(aid), 1)
    item = w("target", N, 5, lang, channel)
    await live.enqueue(item)
    state = StaffState(id=aid, status=o["status"], shift_start_ms=o["start"],  # type: ignore
                       shift_end_ms=o["end"], heartbeat_ms=o["beat"],  # type: ignore[arg-type]
                       max_chats=o["max"], languages=frozenset(o["langs"]),  # type: ignore
                       channels=frozenset(o["chans"]), skills=frozenset(),  # type: ignore
                       load=load, on_call=False, idle_since_ms=0)
    assert why_not(state, item.item(), NOW, RULES) == expected
    res = await live.claim("target", aid, at_ms=NOW)
    assert res.ok is (expected is None)
    assert res.reason == (expected or "")


# --- concurrency -------------------------------------------------------------------------------

CONCURRENT = [
    # (counselors, capacity): 50 coroutines spread over `counselors`, 20 waiting items.
    pytest.param(1, 3, id="one-counselor"),
    pytest.param(10, 3, id="ten-counselors"),
    pytest.param(50, 1, id="fifty-counselors"),
    pytest.param(5, 10, id="five-big-capacity"),
]


@pytest.mark.parametrize(("counselors", "capacity"), CONCURRENT)
async def test_concurrent_take_next(live: LiveStore, counselors: int, capacity: int) -> None:
    for c in range(counselors):
        await person(live, c, max_chats=capacity)
    items = [w(f"conv{i:02d}", [C, H, N][i % 3], i) for i in range(20)]
    for item in items:
        await live.enqueue(item)
    who = [i % counselors for i in range(50)]
    results = await asyncio.gather(*(live.take_next(c) for c in who))
    taken = [(c, r.waiting.conversation_id) for c, r in zip(who, results, strict=True)
             if r.ok and r.waiting is not None]
    ids = [cid for _, cid in taken]
    assert len(ids) == len(set(ids)), "an item was handed out twice"
    per = Counter(c for c, _ in taken)
    assert all(n <= capacity for n in per.values())
    attempts = Counter(who)
    expected = min(20, sum(min(attempts[c], capacity) for c in attempts))
    assert len(ids) == expected
    assert {r.reason for r in results if not r.ok} <= {"capacity", "empty"}
    assert await live.loads() == dict(per)
    assert await live.owners() == {cid: c for c, cid in taken}
    remaining = await _ids(live)
    assert set(remaining) | set(ids) == {x.conversation_id for x in items}
    assert not set(remaining) & set(ids)


async def test_concurrent_claim_same_item(live: LiveStore) -> None:
    for c in range(50):
        await person(live, c)
    await live.enqueue(w("only"))
    results = await asyncio.gather(*(live.claim("only", c) for c in range(50)))
    assert [r.ok for r in results].count(True) == 1
    assert all(r.ok or r.reason == "gone" for r in results)
    assert sum((await live.loads()).values()) == 1


async def test_concurrent_mixed_take_claim_offer(live: LiveStore) -> None:
    for c in range(7):
        await person(live, c)
    for i in range(20):
        await live.enqueue(w(f"m{i:02d}", N, i))
    calls = []
    for i in range(60):
        cid, aid = f"m{i % 20:02d}", i % 7
        if i % 3 == 0:
            calls.append(live.claim(cid, aid))
        elif i % 3 == 1:
            calls.append(live.take_next(aid))
        else:
            calls.append(live.offer(cid, aid, now_ms() + 30_000))
    await asyncio.gather(*calls)
    owners = await live.owners()
    offers = await live.offers()
    assert not set(owners) & set(offers)
    held = Counter([*owners.values(), *offers.values()])
    assert all(n <= 3 for n in held.values())
    assert await live.loads() == dict(held)
    queued = set(await _ids(live))
    assert not queued & (set(owners) | set(offers))
    assert len(owners) + len(offers) + len(queued) == 20


@pytest.mark.parametrize("seed", range(6))
async def test_place_matches_the_unassigned_order(live: LiveStore, seed: int) -> None:
    """place() counts waiting and offered cases ahead without reading the whole queue; it must
    agree with unassigned(), the full listing, for every case (offered ones included)."""
    rng = random.Random(seed)
    for aid in (1, 2, 3):
        await person(live, aid, max_chats=5)
    ids = [f"p{i:02d}" for i in range(25)]
    # Distinct arrival times: with equal scores the order of ties is not defined.
    times = rng.sample(range(1_000, 1_100), len(ids))
    for cid, at in zip(ids, times, strict=True):
        await live.enqueue(w(cid, rng.choice(list(Urgency)), at))
    for cid in rng.sample(ids, 6):
        await live.offer(cid, rng.choice((1, 2, 3)), now_ms() + 60_000)
    taken = rng.sample(ids, 3)
    for cid in taken:
        await live.claim(cid, 1)
    listing = [x.conversation_id for x, _to in await unassigned(live)]
    for cid in ids:
        got = await live.place(cid)
        if cid not in listing:
            assert got is None
            continue
        assert got is not None
        item, place = got
        assert item.conversation_id == cid
        assert listing[place - 1] == cid, (cid, place, listing)
    assert await live.place("nope") is None


async def _execs(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_exec", {}).get("calls", 0))


async def test_a_full_resync_writes_in_transactions_of_a_hundred(live: LiveStore,
                                                                 redis: Redis) -> None:
    """A thousand counselors' profiles are written in ten transactions, each checking the
    roster version (one of a thousand held the loop 16-20 ms), and every one lands."""
    profiles = [StaffProfile(i, 0, 1_000 + i, 3, ("ko",), ALL_CHANNELS, ())
                for i in range(1, 1 + 10 * STAFF_CHUNK)]
    before = await _execs(redis)
    assert await live.put_staff_if(profiles, await live.roster_version())
    assert await _execs(redis) - before == 10
    ends = {a.id: a.shift_end_ms for a in await live.staff_states()}
    assert ends == {p.id: p.shift_end_ms for p in profiles}


async def test_a_full_resync_never_overwrites_a_newer_roster_edit(live: LiveStore) -> None:
    """agents.sync_all reads SQL, then writes every window; a roster edit in between bumps
    the version first and writes its own window, and the stale bulk write is refused."""
    old = StaffProfile(5, 0, 1_000, 3, ("ko",), ALL_CHANNELS, ())
    edited = StaffProfile(5, 0, 2_000, 3, ("ko",), ALL_CHANNELS, ())
    version = await live.roster_version()
    assert await live.put_staff_if([old], version)  # nothing changed since: written
    version = await live.roster_version()
    # The edit: bump, then write its window.
    await live.bump_roster_version()
    await live.put_staff(edited)
    assert not await live.put_staff_if([old], version)
    [state] = [a for a in await live.staff_states() if a.id == 5]
    assert state.shift_end_ms == 2_000
    # A re-sync that reads again after the edit is written.
    assert await live.put_staff_if([edited], await live.roster_version())
