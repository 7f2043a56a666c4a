"""Removal requests (hotline.domain.removal): every (state, step) pair, step times, due times,
overdue, escalation along the ladder, the step body, and random step sequences."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from hotline.domain.legal import LegalBasis
from hotline.domain.platforms import Platform, Route, RouteKind, parse_directory
from hotline.domain.removal import (
    TRANSITIONS,
    ImpossibleStep,
    RemovalRequest,
    RequestState,
    Step,
    apply_step,
    draft_escalation,
    draft_request,
    is_overdue,
    mark_escalated,
    mark_overdue,
    needs_escalation,
    next_rung,
    parse_step_input,
)
from hotline.domain.takedown import TakedownInputError

V = TypeVar("V")
DIRECTORY = parse_directory({"x": {"name": "X", "type": "social", "routes": {
    "take_it_down": {"kind": "web_form", "legal_basis": "take_it_down_us",
                     "deadline_hours": 48, "escalate_to": "copyright",
                     "url": "https://help.x.com/forms/safety-and-sensitive-content/take-it-down"},
    "copyright": {"kind": "web_form", "legal_basis": "copyright", "deadline_hours": 72,
                  "escalate_to": "kcsc"},
    "kcsc": {"kind": "regulator", "legal_basis": "kr_regulator", "deadline_hours": 24},
}}})


def _must(value: V | None) -> V:
    assert value is not None
    return value


X = _must(DIRECTORY.get("x"))
TIDA = _must(X.route("take_it_down"))
T0 = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)
DUE = T0 + timedelta(hours=48)
LATE = T0 + timedelta(hours=100)
MIN = timedelta(minutes=1)


def _draft() -> RemovalRequest:
    return draft_request(X, TIDA, T0)


def _apply(r: RemovalRequest, steps: list[tuple[Step, datetime]],
           now: datetime) -> RemovalRequest:
    for step, at in steps:
        r = apply_step(r, step, at, now)
    return r


# How to reach each state: steps with their times, recorded one minute after the last.
PATHS: dict[RequestState, list[tuple[Step, datetime]]] = {
    RequestState.DRAFT: [],
    RequestState.SENT: [(Step.SENT, T0)],
    RequestState.ACKNOWLEDGED: [(Step.SENT, T0), (Step.ACKNOWLEDGED, T0 + MIN)],
    RequestState.REMOVED: [(Step.SENT, T0), (Step.REMOVED, T0 + MIN)],
    RequestState.PARTIALLY_REMOVED: [(Step.SENT, T0), (Step.PARTIALLY_REMOVED, T0 + MIN)],
    RequestState.REFUSED: [(Step.SENT, T0), (Step.REFUSED, T0 + MIN)],
    RequestState.INFO_REQUESTED: [(Step.SENT, T0), (Step.INFO_REQUESTED, T0 + MIN)],
    RequestState.OVERDUE: [(Step.SENT, T0), (Step.OVERDUE, DUE)],
    RequestState.ESCALATED: [(Step.SENT, T0), (Step.REFUSED, T0 + MIN),
                             (Step.ESCALATED, T0 + 2 * MIN)],
    RequestState.VERIFIED: [(Step.SENT, T0), (Step.REMOVED, T0 + MIN),
                            (Step.VERIFIED, T0 + 2 * MIN)],
}


def _in(state: RequestState) -> RemovalRequest:
    r = _apply(_draft(), PATHS[state], DUE + MIN)
    assert r.state is state
    return r


R, T = RequestState, Step
OUTCOMES = {T.REMOVED: R.REMOVED, T.PARTIALLY_REMOVED: R.PARTIALLY_REMOVED,
            T.REFUSED: R.REFUSED, T.INFO_REQUESTED: R.INFO_REQUESTED}
# Written out by hand: every allowed (state, step) and the state after it.
ALLOWED = {
    (R.DRAFT, T.SENT): R.SENT,
    (R.SENT, T.ACKNOWLEDGED): R.ACKNOWLEDGED,
    **{(R.SENT, s): r for s, r in OUTCOMES.items()},
    (R.SENT, T.OVERDUE): R.OVERDUE,
    (R.SENT, T.VERIFIED): R.VERIFIED,
    **{(R.ACKNOWLEDGED, s): r for s, r in OUTCOMES.items()},
    (R.ACKNOWLEDGED, T.OVERDUE): R.OVERDUE,
    (R.ACKNOWLEDGED, T.VERIFIED): R.VERIFIED,
    (R.OVERDUE, T.ACKNOWLEDGED): R.OVERDUE,
    **{(R.OVERDUE, s): r for s, r in OUTCOMES.items()},
    (R.OVERDUE, T.ESCALATED): R.ESCALATED,
    (R.OVERDUE, T.VERIFIED): R.VERIFIED,
    (R.REMOVED, T.VERIFIED): R.VERIFIED,
    (R.PARTIALLY_REMOVED, T.REMOVED): R.REMOVED,
    (R.PARTIALLY_REMOVED, T.ESCALATED): R.ESCALATED,
    (R.PARTIALLY_REMOVED, T.VERIFIED): R.VERIFIED,
    (R.REFUSED, T.REMOVED): R.REMOVED,
    (R.REFUSED, T.PARTIALLY_REMOVED): R.PARTIALLY_REMOVED,
    (R.REFUSED, T.ESCALATED): R.ESCALATED,
    (R.REFUSED, T.VERIFIED): R.VERIFIED,
    (R.INFO_REQUESTED, T.SENT): R.SENT,
    (R.INFO_REQUESTED, T.REMOVED): R.REMOVED,
    (R.INFO_REQUESTED, T.PARTIALLY_REMOVED): R.PARTIALLY_REMOVED,
    (R.INFO_REQUESTED, T.REFUSED): R.REFUSED,
    (R.INFO_REQUESTED, T.VERIFIED): R.VERIFIED,
}


def test_module_table_is_the_written_one() -> None:
    assert dict(TRANSITIONS) == ALLOWED


@pytest.mark.parametrize(("state", "step"), list(itertools.product(R, T)))
def test_every_state_and_step(state: RequestState, step: Step) -> None:
    before = _in(state)
    # LATE is past the due time of every path, so an overdue step is due where allowed.
    at = before.due_at if step is Step.OVERDUE and before.due_at else LATE
    expected = ALLOWED.get((state, step))
    if expected is None:
        with pytest.raises(ImpossibleStep) as e:
            apply_step(before, step, at, LATE)
        assert e.value.code == "not_from_state"
        return
    after = apply_step(before, step, at, LATE, ticket="T-77", reason="why")
    assert after.state is expected
    assert after.steps[:-1] == before.steps
    last = after.steps[-1]
    assert (last.step, last.at, last.recorded_at, last.ticket, last.reason) == (
        step, at, LATE, "T-77", "why")
    assert after.ticket == "T-77"


def test_a_refused_step_changes_nothing() -> None:
    sent = _in(R.SENT)
    copy = _in(R.SENT)
    with pytest.raises(ImpossibleStep):
        apply_step(sent, Step.SENT, LATE, LATE)
    assert sent == copy


def test_step_in_the_future_is_refused() -> None:
    with pytest.raises(ImpossibleStep) as e:
        apply_step(_draft(), Step.SENT, T0 + MIN, T0)
    assert e.value.code == "at_in_future"


def test_step_before_the_previous_is_refused() -> None:
    sent = _in(R.SENT)
    with pytest.raises(ImpossibleStep) as e:
        apply_step(sent, Step.ACKNOWLEDGED, T0 - MIN, LATE)
    assert e.value.code == "at_before_previous"
    assert apply_step(sent, Step.ACKNOWLEDGED, T0, LATE).state is R.ACKNOWLEDGED  # same time


def test_step_recorded_later_keeps_both_times() -> None:
    """An e-mail sent an hour ago, and before the draft existed in the system."""
    draft = draft_request(X, TIDA, T0 + timedelta(hours=1))
    sent = apply_step(draft, Step.SENT, T0, T0 + timedelta(hours=1))
    assert (sent.steps[0].at, sent.steps[0].recorded_at) == (T0, T0 + timedelta(hours=1))
    assert sent.due_at == T0 + timedelta(hours=48)


def test_outcome_recorded_after_the_overdue_mark_may_precede_it() -> None:
    """Removed at 47 h, logged at 50 h after the job marked it overdue at 48 h."""
    overdue = _in(R.OVERDUE)
    removed = apply_step(overdue, Step.REMOVED, T0 + timedelta(hours=47),
                         T0 + timedelta(hours=50))
    assert removed.state is R.REMOVED
    assert [s.step for s in removed.steps] == [T.SENT, T.OVERDUE, T.REMOVED]
    assert not is_overdue(removed, LATE)
    with pytest.raises(ImpossibleStep) as e:  # but never before the send
        apply_step(overdue, Step.REMOVED, T0 - MIN, LATE)
    assert e.value.code == "at_before_previous"


@pytest.mark.parametrize(("at", "now", "ok"), [
    (DUE, DUE + MIN, True),
    (DUE + MIN, DUE + MIN, True),
    (DUE - MIN, DUE + MIN, False),   # marked before it was due
    (DUE, DUE, False),               # due at 11:00 is not overdue at 11:00
])
def test_overdue_only_after_the_due_time(at: datetime, now: datetime, ok: bool) -> None:
    sent = _in(R.SENT)
    if ok:
        assert apply_step(sent, Step.OVERDUE, at, now).state is R.OVERDUE
    else:
        with pytest.raises(ImpossibleStep) as e:
            apply_step(sent, Step.OVERDUE, at, now)
        assert e.value.code == "not_yet_due"


@pytest.mark.parametrize(("state", "before", "at_due", "after"), [
    (R.DRAFT, False, False, False),
    (R.SENT, False, False, True),
    (R.ACKNOWLEDGED, False, False, True),
    (R.OVERDUE, False, False, True),
    (R.REMOVED, False, False, False),
    (R.PARTIALLY_REMOVED, False, False, False),
    (R.REFUSED, False, False, False),
    (R.INFO_REQUESTED, False, False, False),
    (R.ESCALATED, False, False, False),
    (R.VERIFIED, False, False, False),
])
def test_is_overdue(state: RequestState, before: bool, at_due: bool, after: bool) -> None:
    r = _in(state)
    due = r.due_at or DUE
    # An overdue request was marked after its due time: check it from then on.
    if state is not R.OVERDUE:
        assert is_overdue(r, due - MIN) is before
        assert is_overdue(r, due) is at_due
    assert is_overdue(r, due + MIN) is after


def test_mark_overdue() -> None:
    sent = _in(R.SENT)
    assert mark_overdue(sent, DUE) is None
    marked = mark_overdue(sent, DUE + timedelta(hours=3))
    assert marked is not None and marked.state is R.OVERDUE
    assert (marked.steps[-1].at, marked.steps[-1].recorded_at) == (DUE, DUE + timedelta(hours=3))
    assert mark_overdue(marked, LATE) is None                  # once
    assert mark_overdue(_in(R.REMOVED), LATE) is None          # has an outcome
    assert mark_overdue(_in(R.DRAFT), LATE) is None            # never sent


def test_answering_info_requested_sends_again_with_a_new_due_time() -> None:
    asked = _in(R.INFO_REQUESTED)
    assert (asked.attempt, asked.due_at) == (1, DUE)
    again = apply_step(asked, Step.SENT, T0 + timedelta(hours=5), LATE)
    assert (again.state, again.attempt) == (R.SENT, 2)
    assert again.due_at == T0 + timedelta(hours=53)


def test_ticket_is_kept_until_replaced() -> None:
    r = apply_step(_in(R.SENT), Step.ACKNOWLEDGED, T0 + MIN, LATE, ticket="CASE-1")
    r = apply_step(r, Step.REMOVED, T0 + 2 * MIN, LATE)
    assert r.ticket == "CASE-1"


@pytest.mark.parametrize(("route", "hours"), [
    ("take_it_down", 48), ("copyright", 72), ("kcsc", 24)])
def test_due_hours_per_route(route: str, hours: int) -> None:
    r = X.route(route)
    assert r is not None
    req = apply_step(draft_request(X, r, T0), Step.SENT, T0, T0)
    assert (req.due_hours, req.due_at) == (hours, T0 + timedelta(hours=hours))


@pytest.mark.parametrize(("basis", "route_hours", "due"), [
    (LegalBasis.TAKE_IT_DOWN_US, 100, 48),   # the law is stricter than the route
    (LegalBasis.TAKE_IT_DOWN_US, 12, 12),    # the route is stricter than the law
    (LegalBasis.KR_REGULATOR, 72, 24),
    (LegalBasis.PLATFORM_POLICY, 72, 72),    # no legal deadline
    (LegalBasis.EU_DSA_ART16, 30, 30),
    (LegalBasis.COPYRIGHT, 200, 200),
])
def test_due_time_is_the_strictest_deadline(basis: LegalBasis, route_hours: int,
                                            due: int) -> None:
    route = Route("r", RouteKind.EMAIL, basis, route_hours, ())
    platform = Platform("other", "Other", X.type, "", (route,))
    assert draft_request(platform, route, T0).due_hours == due


def test_escalation_ladder() -> None:
    overdue = _in(R.OVERDUE)
    assert needs_escalation(overdue, LATE)
    rung = next_rung(X, overdue)
    assert rung is not None and rung.code == "copyright"
    nxt = draft_escalation(X, overdue, LATE)
    assert nxt is not None
    assert (nxt.route, nxt.rung, nxt.state, nxt.legal_basis, nxt.due_hours) == (
        "copyright", 1, R.DRAFT, LegalBasis.COPYRIGHT, 72)
    sent = apply_step(nxt, Step.SENT, LATE, LATE)
    old = mark_escalated(overdue, LATE, LATE)
    assert old.state is R.ESCALATED and old.steps[-1].at == sent.steps[0].at
    # the top rung has nowhere to go
    kcsc_route = X.route("kcsc")
    assert kcsc_route is not None
    top = _apply(draft_request(X, kcsc_route, T0, rung=2), [(Step.SENT, T0),
                                                            (Step.REFUSED, T0 + MIN)], LATE)
    assert next_rung(X, top) is None and draft_escalation(X, top, LATE) is None


@pytest.mark.parametrize(("state", "now", "proposed", "allowed"), [
    (R.OVERDUE, LATE, True, True),
    (R.REFUSED, LATE, True, True),
    (R.SENT, LATE, True, True),               # past due, the job has not run yet
    (R.ACKNOWLEDGED, LATE, True, True),
    (R.SENT, DUE - MIN, False, False),
    (R.PARTIALLY_REMOVED, LATE, False, True),  # staff may escalate the rest
    (R.REMOVED, LATE, False, False),
    (R.INFO_REQUESTED, LATE, False, False),
    (R.VERIFIED, LATE, False, False),
    (R.ESCALATED, LATE, False, False),
    (R.DRAFT, LATE, False, False),
])
def test_which_requests_escalate(state: RequestState, now: datetime, proposed: bool,
                                 allowed: bool) -> None:
    r = _in(state) if state is not R.SENT or now > DUE else _apply(
        _draft(), [(Step.SENT, T0)], T0)
    assert needs_escalation(r, now) is proposed
    if allowed:
        assert draft_escalation(X, r, now) is not None
        assert mark_escalated(r, now, now).state is R.ESCALATED
    else:
        with pytest.raises(ImpossibleStep) as e:
            draft_escalation(X, r, now)
        assert e.value.code == "not_escalatable"


def test_mark_escalated_marks_overdue_first() -> None:
    sent = _in(R.SENT)
    old = mark_escalated(sent, LATE, LATE)
    assert [s.step for s in old.steps] == [T.SENT, T.OVERDUE, T.ESCALATED]
    assert old.steps[1].at == DUE


def test_naive_times_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="time zone"):
        apply_step(_draft(), Step.SENT, datetime(2026, 5, 20), LATE)
    with pytest.raises(ValueError, match="time zone"):
        draft_request(X, TIDA, datetime(2026, 5, 20))


def test_times_in_other_zones_compare_as_instants() -> None:
    seoul = timezone(timedelta(hours=9))
    sent = apply_step(_draft(), Step.SENT, T0.astimezone(seoul), LATE)
    assert sent.due_at == DUE
    with pytest.raises(ImpossibleStep):
        apply_step(sent, Step.REMOVED, (T0 - MIN).astimezone(seoul), LATE)


# --- the step body ------------------------------------------------------------------------

def test_parse_step_input() -> None:
    s = parse_step_input({"step": "acknowledged", "at": "2026-05-20T18:30:00+09:00",
                          "ticket": " CASE-123 ", "reason": "line one\nline two"})
    assert s.step is Step.ACKNOWLEDGED
    assert s.at == datetime(2026, 5, 20, 9, 30, tzinfo=UTC)
    assert (s.ticket, s.reason) == ("CASE-123", "line one\nline two")
    bare = parse_step_input({"step": "sent"})
    assert (bare.at, bare.ticket, bare.reason) == (None, None, None)
    assert parse_step_input({"step": "sent", "ticket": "  "}).ticket is None


@pytest.mark.parametrize(("body", "field"), [
    ({}, "step"),
    ({"step": "overdue"}, "step"),        # the job's, not staff's
    ({"step": "escalated"}, "step"),
    ({"step": "verified"}, "step"),
    ({"step": "SENT"}, "step"),
    ({"step": 1}, "step"),
    ({"step": "sent", "at": "2026-05-20T09:30:00"}, "at"),   # no offset
    ({"step": "sent", "at": "yesterday"}, "at"),
    ({"step": "sent", "at": 1716000000}, "at"),
    ({"step": "sent", "at": "2026-05-20T09:30:00+09:00" + " " * 40}, "at"),
    ({"step": "sent", "ticket": "x" * 121}, "ticket"),
    ({"step": "sent", "ticket": "a\nb"}, "ticket"),
    ({"step": "sent", "ticket": "a\x00b"}, "ticket"),
    ({"step": "sent", "ticket": 5}, "ticket"),
    ({"step": "sent", "reason": "x" * 2001}, "reason"),
    ({"step": "sent", "reason": "bell\x07"}, "reason"),
    ({"step": "sent", "by": "me"}, "by"),
])
def test_parse_step_input_rejects(body: dict[str, object], field: str) -> None:
    with pytest.raises(TakedownInputError) as e:
        parse_step_input(body)
    assert e.value.field == field


# --- random sequences ---------------------------------------------------------------------

@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(list(Step)), st.integers(-120, 3000),
                          st.integers(0, 3000)), max_size=12))
def test_random_step_sequences_keep_the_invariants(
        moves: list[tuple[Step, int, int]]) -> None:
    """Whatever staff and jobs try, in any order and with any times: a step is recorded
    exactly when the table allows it, and the request stays consistent."""
    r = _draft()
    now = T0
    for step, at_offset, advance in moves:
        now = now + timedelta(minutes=advance)
        at = T0 + timedelta(minutes=at_offset)
        try:
            after = apply_step(r, step, at, now)
        except ImpossibleStep:
            continue
        assert after.state is TRANSITIONS[(r.state, step)]
        assert at <= now
        r = after
    state = R.DRAFT
    for rec in r.steps:
        state = TRANSITIONS[(state, rec.step)]
    assert state is r.state
    real = [s.at for s in r.steps if s.step is not T.OVERDUE]
    assert real == sorted(real)
    recorded = [s.recorded_at for s in r.steps]
    assert recorded == sorted(recorded)
    sends = [s for s in r.steps if s.step is T.SENT]
    assert r.attempt == max(1, len(sends))
    if sends:
        assert r.due_at == sends[-1].at + timedelta(hours=r.due_hours)
    for rec in r.steps:
        if rec.step is T.OVERDUE:
            assert r.due_at is not None and rec.at >= sends[-1].at
