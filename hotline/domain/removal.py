"""Removal requests: one request to one platform through one route, as a pure state machine.

    draft --sent--> sent --acknowledged--> acknowledged
                     |                          |
                     +--------------------------+--> removed | partially_removed | refused
                     |                          |        | info_requested
                     +--(due_at passed)---------+--> overdue --(next rung sent)--> escalated
    info_requested --sent (the answer)--> sent (attempt + 1, a new due time)
    refused | partially_removed --(next rung sent)--> escalated
    any state after sent but escalated --verified (checked offline)--> verified

The full table is TRANSITIONS. "removed" is the platform's claim; "verified" is our own check
that the content is offline, a different fact. Each step keeps the time it happened (`at`,
which staff may give as earlier than now) and the time it was recorded; a step in the future
or before the previous one is refused. Overdue marks are the system's: a real event recorded
late (removed at 09:30, logged after the 10:00 overdue mark) may precede them. The due time is
the strictest deadline that applies (hotline.domain.platforms.Route.due_hours). See
docs/takedown.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from hotline.domain.legal import LegalBasis
from hotline.domain.platforms import Platform, Route
from hotline.domain.takedown import ImpossibleTransition, TakedownInputError


class RequestState(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    REMOVED = "removed"                      # the platform says so
    PARTIALLY_REMOVED = "partially_removed"
    REFUSED = "refused"
    INFO_REQUESTED = "info_requested"
    OVERDUE = "overdue"
    ESCALATED = "escalated"                  # the next rung was sent; this one is done
    VERIFIED = "verified"                    # we checked: the content is offline


class Step(StrEnum):
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    REMOVED = "removed"
    PARTIALLY_REMOVED = "partially_removed"
    REFUSED = "refused"
    INFO_REQUESTED = "info_requested"
    OVERDUE = "overdue"      # the deadline job's
    ESCALATED = "escalated"  # recorded when the next rung's request is sent
    VERIFIED = "verified"    # the recheck job's


# What staff may record through `POST /api/v1/takedown/requests/{id}/steps`.
STAFF_STEPS = (Step.SENT, Step.ACKNOWLEDGED, Step.REMOVED, Step.PARTIALLY_REMOVED,
               Step.REFUSED, Step.INFO_REQUESTED)
# States whose deadline is running: no outcome yet.
AWAITING = frozenset({RequestState.SENT, RequestState.ACKNOWLEDGED, RequestState.OVERDUE})
# States from which the next rung may be sent.
ESCALATABLE = frozenset({RequestState.OVERDUE, RequestState.REFUSED,
                         RequestState.PARTIALLY_REMOVED})

_R, _T = RequestState, Step
_OUTCOMES = {_T.REMOVED: _R.REMOVED, _T.PARTIALLY_REMOVED: _R.PARTIALLY_REMOVED,
             _T.REFUSED: _R.REFUSED, _T.INFO_REQUESTED: _R.INFO_REQUESTED}
_VERIFY = {_T.VERIFIED: _R.VERIFIED}
TRANSITIONS: Mapping[tuple[RequestState, Step], RequestState] = MappingProxyType({
    (_R.DRAFT, _T.SENT): _R.SENT,
    **{(_R.SENT, s): r for s, r in {**_OUTCOMES, **_VERIFY, _T.ACKNOWLEDGED: _R.ACKNOWLEDGED,
                                     _T.OVERDUE: _R.OVERDUE}.items()},
    **{(_R.ACKNOWLEDGED, s): r for s, r in {**_OUTCOMES, **_VERIFY,
                                             _T.OVERDUE: _R.OVERDUE}.items()},
    # A late acknowledgement is recorded, but the request stays overdue: it has no outcome.
    **{(_R.OVERDUE, s): r for s, r in {**_OUTCOMES, **_VERIFY, _T.ACKNOWLEDGED: _R.OVERDUE,
                                        _T.ESCALATED: _R.ESCALATED}.items()},
    (_R.REMOVED, _T.VERIFIED): _R.VERIFIED,
    (_R.PARTIALLY_REMOVED, _T.REMOVED): _R.REMOVED,
    (_R.PARTIALLY_REMOVED, _T.ESCALATED): _R.ESCALATED,
    (_R.PARTIALLY_REMOVED, _T.VERIFIED): _R.VERIFIED,
    # Platforms do reverse refusals (after an appeal, or a copyright notice elsewhere).
    (_R.REFUSED, _T.REMOVED): _R.REMOVED,
    (_R.REFUSED, _T.PARTIALLY_REMOVED): _R.PARTIALLY_REMOVED,
    (_R.REFUSED, _T.ESCALATED): _R.ESCALATED,
    (_R.REFUSED, _T.VERIFIED): _R.VERIFIED,
    # The platform asked for more: our answer is sent again; the platform may decide anyway.
    (_R.INFO_REQUESTED, _T.SENT): _R.SENT,
    **{(_R.INFO_REQUESTED, s): r for s, r in {**_OUTCOMES, **_VERIFY}.items()
       if s is not _T.INFO_REQUESTED},
})


class ImpossibleStep(ImpossibleTransition):
    """The step cannot be recorded (HTTP 409, nothing changes). `code` is one of
    not_from_state, at_in_future, at_before_previous, not_yet_due, not_escalatable."""


@dataclass(frozen=True)
class StepRecord:
    step: Step
    at: datetime           # when it happened
    recorded_at: datetime  # when it was entered
    ticket: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RemovalRequest:
    platform: str
    route: str
    legal_basis: LegalBasis
    due_hours: int          # the strictest deadline, fixed when drafted
    created_at: datetime
    state: RequestState = RequestState.DRAFT
    steps: tuple[StepRecord, ...] = ()
    due_at: datetime | None = None   # set by each send
    attempt: int = 1                 # sends on this rung (an answer to info_requested adds one)
    rung: int = 0                    # 0 for the first route, +1 per escalation
    ticket: str | None = None        # the platform's latest ticket number


def _aware(t: datetime, name: str) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name}: a time with a time zone is required")


def draft_request(platform: Platform, route: Route, now: datetime,
                  rung: int = 0) -> RemovalRequest:
    """A new draft to `platform` through `route`."""
    _aware(now, "now")
    return RemovalRequest(platform=platform.code, route=route.code,
                          legal_basis=route.legal_basis, due_hours=route.due_hours,
                          created_at=now, rung=rung)


def _bound(request: RemovalRequest) -> datetime | None:
    """The time a new step may not precede: the last step that is not an overdue mark."""
    real = [s.at for s in request.steps if s.step is not Step.OVERDUE]
    return real[-1] if real else None


def is_overdue(request: RemovalRequest, now: datetime) -> bool:
    """Whether the due time has passed without an outcome, whether or not the job ran."""
    return (request.state in AWAITING and request.due_at is not None
            and now > request.due_at)


def apply_step(request: RemovalRequest, step: Step, at: datetime, now: datetime, *,
               ticket: str | None = None, reason: str | None = None) -> RemovalRequest:
    """The request after `step` happened at `at` (recorded `now`), or ImpossibleStep."""
    _aware(at, "at")
    _aware(now, "now")
    if at > now:
        raise ImpossibleStep("at_in_future", "a step cannot happen in the future")
    bound = _bound(request)
    if bound is not None and at < bound:
        raise ImpossibleStep("at_before_previous", "a step cannot happen before the previous "
                                                   "one")
    after = TRANSITIONS.get((request.state, step))
    if after is None:
        raise ImpossibleStep("not_from_state", f"{step.value} is not possible while the "
                                               f"request is {request.state.value}")
    if step is Step.OVERDUE and not (is_overdue(request, now) and request.due_at is not None
                                     and at >= request.due_at):
        raise ImpossibleStep("not_yet_due", "the request is not past its due time")
    changed = replace(
        request, state=after, ticket=ticket if ticket is not None else request.ticket,
        steps=(*request.steps, StepRecord(step, at, now, ticket, reason)))
    if step is Step.SENT:
        again = request.state is RequestState.INFO_REQUESTED
        changed = replace(changed, due_at=at + timedelta(hours=request.due_hours),
                          attempt=request.attempt + (1 if again else 0))
    return changed


def mark_overdue(request: RemovalRequest, now: datetime) -> RemovalRequest | None:
    """What the deadline job records: overdue at the due time, or None if not (yet) due."""
    if (request.state is RequestState.OVERDUE or request.due_at is None
            or not is_overdue(request, now)):
        return None
    return apply_step(request, Step.OVERDUE, request.due_at, now)


def needs_escalation(request: RemovalRequest, now: datetime) -> bool:
    """Whether the desk should propose the next rung: overdue (marked or not) or refused."""
    return request.state is RequestState.REFUSED or is_overdue(request, now)


def next_rung(platform: Platform, request: RemovalRequest) -> Route | None:
    """The route after this request's on the platform's ladder, if there is one."""
    route = platform.route(request.route)
    if route is None or route.escalate_to is None:
        return None
    return platform.route(route.escalate_to)


def draft_escalation(platform: Platform, request: RemovalRequest,
                     now: datetime) -> RemovalRequest | None:
    """The next rung's draft (None at the top of the ladder), or ImpossibleStep when the
    request is neither overdue, refused nor partially removed."""
    if request.state not in ESCALATABLE and not is_overdue(request, now):
        raise ImpossibleStep("not_escalatable", f"a {request.state.value} request is not "
                                                f"escalated")
    route = next_rung(platform, request)
    if route is None:
        return None
    return draft_request(platform, route, now, rung=request.rung + 1)


def mark_escalated(request: RemovalRequest, at: datetime, now: datetime) -> RemovalRequest:
    """The old request once the next rung was sent at `at`: marked overdue first if the job
    had not yet, then escalated."""
    marked = mark_overdue(request, now) if request.state is not RequestState.OVERDUE else None
    return apply_step(marked or request, Step.ESCALATED, at, now)


@dataclass(frozen=True)
class StepInput:
    """A checked `POST /api/v1/takedown/requests/{id}/steps` body; `at` None means now."""

    step: Step
    at: datetime | None
    ticket: str | None
    reason: str | None


MAX_TICKET_CHARS = 120
MAX_REASON_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def _optional_text(body: Mapping[str, object], name: str, limit: int,
                   lines: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if (not isinstance(value, str) or len(value) > limit or _CONTROL.search(value)
            or ("\n" in value and not lines)):
        raise TakedownInputError(name, f"expected text of at most {limit} characters")
    return value.strip() or None


def parse_step_input(body: Mapping[str, object]) -> StepInput:
    """`{step, at?, ticket?, reason?}` checked; `at` is ISO 8601 with its UTC offset
    ("2026-05-20T09:30:00+09:00"). Raises TakedownInputError naming the first bad field."""
    unknown = set(body) - {"step", "at", "ticket", "reason"}
    if unknown:
        raise TakedownInputError(sorted(map(str, unknown))[0], "unknown field")
    raw_step = body.get("step")
    if raw_step not in [s.value for s in STAFF_STEPS]:
        raise TakedownInputError("step", "expected one of " +
                                 ", ".join(s.value for s in STAFF_STEPS))
    raw_at = body.get("at")
    return StepInput(step=Step(str(raw_step)),
                     at=None if raw_at is None else _time(raw_at, "at"),
                     ticket=_optional_text(body, "ticket", MAX_TICKET_CHARS),
                     reason=_optional_text(body, "reason", MAX_REASON_CHARS, lines=True))


def _time(raw: object, name: str) -> datetime:
    try:
        at = datetime.fromisoformat(raw) if isinstance(raw, str) and len(raw) <= 40 else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or at.utcoffset() is None:
        raise TakedownInputError(name, "expected a time like 2026-05-20T09:30:00+09:00")
    return at
