"""The growing-delay rule (hotline/domain/throttle.py) as a table, the bound it gives, and the
Redis scripts against it: random sequences of attempts and successes on a real redis-server
give the same answers and the same counts as the in-process rule."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable
from typing import TypeVar

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from redis.asyncio import Redis

from hotline.domain import throttle as rule
from hotline.domain.throttle import Policy, Slot
from hotline.staff.throttle_store import LocalThrottle, Throttle
from tests.conftest import RedisProcess

T = TypeVar("T")
P = Policy(free=2, first_s=1.0, max_s=5.0, forget_s=60.0)


@pytest.mark.parametrize(("failures", "delay"), [
    (0, 0), (1, 0), (2, 1000), (3, 2000), (4, 4000), (5, 5000), (6, 5000), (10_000, 5000)])
def test_delays_grow_to_the_cap(failures: int, delay: int) -> None:
    assert P.delay_ms(failures) == delay


def test_schedule_ends_at_the_cap() -> None:
    assert P.schedule_ms() == (0, 1000, 2000, 4000, 5000)
    assert Policy(free=1, first_s=3, max_s=3, forget_s=3).schedule_ms() == (3000,)
    # A cap never reached by doubling still ends the schedule.
    tiny = Policy(free=1, first_s=1e-9, max_s=1e9, forget_s=1e9)
    assert len(tiny.schedule_ms()) < 50
    assert tiny.schedule_ms()[-1] == tiny.delay_ms(10_000)


@pytest.mark.parametrize(("seconds", "most"), [
    # At 0 s: the free two; then one at 1 s, 3 s, 7 s, 12 s, 17 s ...
    (0, 2), (0.999, 2), (1, 3), (2.999, 3), (3, 4), (7, 5), (12, 6), (16.999, 6), (17, 7)])
def test_most_attempts(seconds: float, most: int) -> None:
    assert P.most_attempts(seconds) == most


def test_default_bound_is_the_one_the_docs_state() -> None:
    """docs/console.md states the default bound in numbers; they are these."""
    from pathlib import Path

    p = Policy()
    first_hour, per_day = p.most_attempts(3600), p.most_attempts(86400)
    later_hour = p.most_attempts(7200) - first_hour
    doc = (Path(__file__).resolve().parents[1] / "docs" / "console.md").read_text()
    assert (first_hour, later_hour, per_day) == (17, 4, 109)
    assert (f"at most {2 * first_hour} guesses in the first hour, {2 * later_hour} in each "
            f"hour after it ({2 * per_day} a day)") in " ".join(doc.split())


def test_a_slot_step_by_step() -> None:
    s = Slot()
    assert rule.wait_ms(s, 0) == 0
    s = rule.reserve(s, 0, P)
    s = rule.reserve(s, 0, P)
    assert s == Slot(2, 1000, 60_000)
    assert rule.wait_ms(s, 400) == 600
    assert rule.wait_ms(s, 1000) == 0
    # A success hands its count back but keeps the wait it started.
    s = rule.refund(rule.reserve(s, 1000, P), 1100)
    assert s == Slot(2, 3000, 61_000)
    # Forgotten after the forget period.
    assert rule.current(s, 61_000) == Slot()
    assert rule.wait_ms(Slot(9, 10**9, 5), 6) == 0
    assert rule.refund(Slot(), 0) == Slot()


def test_reserve_all_counts_on_every_key_or_none() -> None:
    free, busy = Slot(), Slot(3, 5000, 60_000)
    assert rule.reserve_all((free, busy), 1000, P) == (4000, (free, busy))
    wait, after = rule.reserve_all((free, free), 1000, P)
    assert wait == 0 and after == (Slot(1, 1000, 61_000),) * 2
    # A gate is waited for and never counted.
    assert rule.reserve_all((free,), 1000, P, gate=busy) == (4000, (free,))
    assert rule.reserve_all((free,), 5000, P, gate=busy) == (0, (Slot(1, 5000, 65_000),))


@pytest.mark.parametrize(("first", "expected"), [
    (Slot(), ("a", "fresh")),
    (Slot(1, 0, 60_000), ("a", "u")),
    (Slot(1, 0, 10), ("a", "fresh")),  # its failures are forgotten: fresh again
])
def test_pick(first: Slot, expected: tuple[str, ...]) -> None:
    assert rule.pick(("a", "u"), "fresh", first, 100) == expected
    assert rule.pick(("a", "u"), None, first, 100) == ("a", "u")


def test_local_table_is_bounded() -> None:
    local = LocalThrottle(P, max_keys=100)
    for i in range(1000):
        local.reserve([f"a{i}"], i)
        local.mark(f"m{i}", 10, i)
    assert len(local) <= 100
    # The newest are kept.
    assert local.reserve(["a999"], 1000)[0] == 0 and local.marked("m999", 1000)


# --- the Redis scripts are the rule --------------------------------------------------------------

steps = st.lists(st.tuples(
    st.sampled_from(["reserve", "gated", "gated", "count", "refund"]),
    st.lists(st.sampled_from(("a", "b", "u")), min_size=1, max_size=3, unique=True),
    st.sampled_from([0, 0, 1, 999, 1000, 1001, 2500, 5000]),
), min_size=1, max_size=30)


def test_redis_scripts_match_the_rule(redis_server: RedisProcess) -> None:
    # Redis forgets by its own clock; the steps' clock stays well inside the forget period.
    policy = Policy(free=2, first_s=1.0, max_s=5.0, forget_s=3600.0)
    loop = asyncio.new_event_loop()
    redis = Redis.from_url(redis_server.url, decode_responses=True)

    def run(aw: Awaitable[T]) -> T:
        return loop.run_until_complete(aw)

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(steps)
    def check(ops: list[tuple[str, list[str], int]]) -> None:
        prefix = f"{{p{secrets.token_hex(4)}}}:"
        shared = Throttle(redis, policy)
        model = LocalThrottle(policy)
        now = 1_800_000_000_000
        for kind, names, advance in ops:
            now += advance
            keys = [prefix + n for n in names]
            gate = fresh = None
            if kind == "refund":
                run(shared.refund(keys, now))
                model.refund(keys, now)
            elif kind == "count":
                run(shared.count(keys, now))
                model.count(keys, now)
            else:
                if kind == "gated":
                    # As a login does it: the address gate, the name's key and its fresh one.
                    gate = prefix + ("b" if names[0] == "b" else "a")
                    keys, fresh = [prefix + "u"], prefix + "f"
                got = run(shared.reserve(keys, now, gate, fresh))
                assert got == model.reserve(keys, now, gate, fresh), (kind, names)
            for k in {*keys, *(x for x in (gate, fresh) if x)}:
                held = {str(f): str(v) for f, v in run(redis.hgetall(k)).items()}
                slot = model.slot(k)
                assert (int(held.get("n", 0)), int(held.get("next", 0))) == (
                    slot.failures, slot.next_ms), k
                if held:
                    ttl = run(redis.pttl(k))
                    assert 0 < ttl <= policy.forget_s * 1000
    try:
        check()
    finally:
        run(redis.aclose())
        loop.close()
