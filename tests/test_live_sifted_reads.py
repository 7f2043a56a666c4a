"""The router's reads of the counselors, worked out in Redis, agree with Python's rules: the
offers' read keeps exactly the counselors routing.why_not (no case, capacity skipped) and
routing.full let take a case, each row as the full read gives it (staff.lua "free"); the
coverage check's states and counts are routing.serving's for every group (coverage.lua)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from hotline.cases.live import LiveStore
from hotline.cases.live_records import StaffProfile
from hotline.domain.conversation import Channel
from hotline.domain.routing import Coverage, Presence, RoutingRules, full, serving, why_not
from hotline.stores.live.keys import Keys
from tests.conftest import RedisProcess

RULES = RoutingRules()
NOW = 10_000_000_000
HOUR = 3_600_000
ALL = tuple(c.value for c in Channel)



@dataclass(frozen=True)
class Person:
    """A counselor as routing sees them: free unless told otherwise."""

    name: str
    kept: bool  # by the sift
    status: Presence = Presence.AVAILABLE
    start: int = NOW - HOUR
    end: int = NOW + 10 * HOUR
    beat: int = NOW
    langs: tuple[str, ...] = ("ko", "en")
    chans: tuple[str, ...] = ALL
    max_chats: int = 2
    held: int = 0
    on_call: bool = False


FLOOR = [
    Person("free", True),
    Person("room-left", True, max_chats=3, held=2),
    Person("at-capacity", False, max_chats=3, held=3),
    Person("over-capacity", False, max_chats=1, held=2),
    # Capacity 0 with nothing held: routing.full says no (a call needs load 0 only).
    Person("capacity-zero-idle", True, max_chats=0),
    Person("busy", False, status=Presence.BUSY),
    Person("break", False, status=Presence.BREAK),
    Person("offline", False, status=Presence.OFFLINE),
    Person("before-shift", False, start=NOW + 1),
    Person("after-shift", False, end=NOW),
    Person("shift-ending", False, end=NOW + RULES.no_new_before_end_s * 1000),
    Person("absent", False, beat=NOW - RULES.presence_ttl_s * 1000 - 1),
    Person("just-present", True, beat=NOW - RULES.presence_ttl_s * 1000),
    Person("on-a-call", False, on_call=True),
    Person("one-language", True, langs=("en",), chans=("sms",)),
]


@pytest.fixture
async def live(redis_server: RedisProcess) -> AsyncIterator[LiveStore]:
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    keys = Keys(f"t{secrets.token_hex(6)}")
    yield LiveStore(redis, keys, RULES)
    # Only this test's keys (never FLUSHDB: the server is shared by the whole session).
    found = [k async for k in redis.scan_iter(match=f"{{{keys.prefix}}}:*")]
    if found:
        await redis.delete(*found)
    await redis.aclose()


# Everyone who serves at all is at capacity (and voice wants load 0): FULL, not OK.
AT_CAPACITY = [p for p in FLOOR if p.name in ("at-capacity", "over-capacity", "busy", "on-a-call")]


async def _floor(live: LiveStore, floor: list[Person] = FLOOR) -> dict[int, str]:
    """Every counselor of `floor` made known to routing; their names by id."""
    names = {}
    for aid, p in enumerate(floor, start=1):
        await live.put_staff(StaffProfile(aid, p.start, p.end, p.max_chats, p.langs, p.chans, ()))
        await live.set_status(aid, p.status)
        await live.heartbeat(aid, at_ms=p.beat)
        if p.on_call:
            await live.redis.hset(live.keys.staff_hash(aid), "call", "1")
        for i in range(p.held):  # cases already held, written as the scripts would
            await live.redis.hset(live.keys.owner, f"held-{aid}-{i}", str(aid))
            await live.redis.hincrby(live.keys.load, str(aid), 1)
        names[aid] = p.name
    return names


async def test_free_sift_keeps_what_the_router_would(live: LiveStore) -> None:
    names = await _floor(live)
    everyone = await live.staff_states()
    assert {names[s.id] for s in everyone} == {p.name for p in FLOOR}
    by_python = {s.id for s in everyone
                 if why_not(s, None, NOW, RULES, skip_capacity=True) is None and not full(s)}
    assert {names[i] for i in by_python} == {p.name for p in FLOOR if p.kept}
    sifted = await live.staff_states(free_only=True, at_ms=NOW)
    assert {s.id for s in sifted} == by_python
    # The rows kept are the full read's, field for field.
    assert sifted == [s for s in everyone if s.id in by_python]


async def test_free_sift_follows_the_time_asked(live: LiveStore) -> None:
    names = await _floor(live)
    # Before anyone's shift began, nobody is free.
    assert await live.staff_states(free_only=True, at_ms=NOW - 2 * HOUR) == []
    # "before-shift" starts at NOW + 1: a minute later it is free, and the heartbeats of NOW
    # are still within the presence window.
    later = {names[s.id] for s in await live.staff_states(free_only=True, at_ms=NOW + 60_000)}
    assert "before-shift" in later and "free" in later


@pytest.mark.parametrize(("floor", "states"), [
    (FLOOR, {Coverage.OK, Coverage.GAP}),
    (AT_CAPACITY, {Coverage.FULL, Coverage.GAP}),
    ([], {Coverage.GAP}),
], ids=["mixed", "at-capacity", "empty"])
async def test_coverage_in_redis_is_routing_serving(live: LiveStore, floor: list[Person],
                                                    states: set[Coverage]) -> None:
    await _floor(live, floor)
    everyone = await live.staff_states()
    groups = [(lang, chan) for lang in ("ko", "en", "ja") for chan in Channel]
    found = await live.coverage(groups, at_ms=NOW)
    assert found == {(lang, chan): serving(everyone, lang, chan, NOW, RULES)
                     for lang, chan in groups}
    assert {state for state, _n in found.values()} == states
    assert await live.coverage([], at_ms=NOW) == {}
