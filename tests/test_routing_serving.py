"""routing.serving: the coverage and the number serving a language and channel, in one pass
(the wait estimate of every SMS asks it over 1,000 counselors), agree with why_not."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given

from hotline.domain.conversation import Channel, Urgency
from hotline.domain.routing import (
    Coverage,
    Presence,
    RoutingRules,
    StaffState,
    WaitingItem,
    serving,
    why_not,
)

RULES = RoutingRules(no_new_before_end_s=600, presence_ttl_s=60, scan_limit=4)
NOW = 10_000_000

people = st.lists(st.builds(
    StaffState, id=st.integers(1, 50), status=st.sampled_from(list(Presence)),
    shift_start_ms=st.sampled_from([0, NOW + 1]),
    shift_end_ms=st.sampled_from([NOW + 100, 2 * NOW]),
    heartbeat_ms=st.sampled_from([NOW, 0]), max_chats=st.integers(0, 3),
    languages=st.frozensets(st.sampled_from(["ko", "en"])),
    channels=st.frozensets(st.sampled_from([c.value for c in Channel])),
    skills=st.just(frozenset()), load=st.integers(0, 3), on_call=st.booleans(),
    idle_since_ms=st.just(0)), max_size=12)


@given(people, st.sampled_from(["ko", "en"]), st.sampled_from(list(Channel)))
def test_serving_counts_whom_why_not_lets_serve(group: list[StaffState], language: str,
                                                channel: Channel) -> None:
    item = WaitingItem("c", channel, language, Urgency.HIGH, NOW)
    expected = sum(1 for p in group if why_not(p, item, NOW, RULES, skip_capacity=True) is None)
    cov, n = serving(group, language, channel, NOW, RULES)
    assert n == expected
    assert (cov == Coverage.GAP) == (n == 0)
    if cov == Coverage.OK:
        assert any(why_not(p, item, NOW, RULES) is None for p in group)
