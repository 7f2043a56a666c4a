"""One staff member's console event stream: what it may carry, and what ends it.

A counselor hears of the cases they may read (the one read rule: casework.CaseFacts, over
domain.policy.may_read_case) and, for other cases, only that the queue moved; leads and admins
hear everything; takedown staff also hear of cases that raised a takedown alert. The stream
starts from SQL (the cases the person may read) and follows holder changes and takedown
alerts from the events themselves, in order; at each heartbeat it reads SQL again, checks the
session is still alive and keeps the person present. A `session.revoked` event for its session
ends it on every instance. A page that takes the queue's pushed first page (`queue.page`,
cases/queue_feed.py) is sent "the queue moved" only for cases that were the person's until
then. See docs/events.md.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from hotline.cases.casework import CaseFacts, readable_cases
from hotline.deps import Deps
from hotline.domain.event_types import EventType
from hotline.domain.policy import (
    HEARD_WITHOUT_READING,
    INTERNAL,
    QUEUE_MOVES,
    EventForm,
    event_form,
    shaped,
)
from hotline.domain.staff import Role, Staff
from hotline.events import Event, Subscription
from hotline.staff import accounts as staff_store
from hotline.staff.sessions import revokes, session_ref
from hotline.web.sse import Frames, StreamView

log = logging.getLogger(__name__)

# A stream starts from the cases open, or closed, within this window: later events of a case
# closed before it (a late delivery receipt, evidence) are seldom; its page reloads anyway.
SCOPE_WINDOW = timedelta(days=30)
_UNKNOWN = CaseFacts(holder=None)
# The events that change who may read a case (the rest leave `cases` as it is).
_FOLLOWED = frozenset({EventType.ASSIGNED, EventType.QUEUED, EventType.ALERT,
                       EventType.ERASED})
# The events that end an offer made to someone.
_ENDS_OFFER = frozenset({EventType.ASSIGNED, EventType.CLOSED, EventType.OFFER_EXPIRED,
                         EventType.OFFER_DECLINED, EventType.QUEUED})


# The kinds a stream hears of without reading the event's case (and those it follows, and
# those that may end it).
_HEARD = HEARD_WITHOUT_READING | _FOLLOWED | INTERNAL
_NO_CASES: frozenset[str] = frozenset()
# What a counselor's page taking the queue's pages hears of cases that are not theirs: no
# move ("the queue moved" comes as the page itself), only what names no case or ends the stream.
_HEARD_BESIDE_PAGES = HEARD_WITHOUT_READING - QUEUE_MOVES | INTERNAL


@dataclass(frozen=True)
class _Theirs:
    """The cases a counselor reads or is offered now (the Hub's test of an event's case)."""

    cases: dict[str, CaseFacts]
    offers: set[str]

    def __contains__(self, cid: object) -> bool:
        return cid in self.cases or cid in self.offers

    def __iter__(self) -> Iterator[str]:
        return itertools.chain(self.cases, self.offers)

    def __len__(self) -> int:
        return len(self.cases.keys() | self.offers)


class StaffStream(StreamView):
    """The console stream of one staff session.

    Who may read a case is followed, and each event's form decided, on the Hub's reader
    (`wants`), in the order events happened: an event this person may not hear is never queued
    for the stream (on a busy floor most are victims' messages on others' cases), and what the
    stream writes of an event is what the read rule said when it happened."""

    def __init__(self, deps: Deps, staff: Staff, token_digest: str,
                 kinds: frozenset[str] | None = None) -> None:
        self.deps = deps
        self.staff = staff
        self.digest = token_digest
        self.ref = session_ref(token_digest)
        # The kinds the page listens for (None: all). The lead's page has no use for the
        # victims' messages, which were most of what its stream carried on a busy floor.
        self.kinds = None if kinds is None else kinds | {EventType.RESET.value}
        # A page that takes the queue's first page as it is pushed (cases/queue_feed.py) has
        # no use for "the queue moved": it read the queue again after each. Only asked for by
        # name: the page is a frame of some 10 KB every two seconds.
        self.pages = kinds is not None and EventType.QUEUE_PAGE.value in kinds
        # The cases this person may read now, with what the rule needs to know of each.
        self.cases: dict[str, CaseFacts] = {}
        self._started = False
        # Forms decided on the Hub's reader for events queued and not yet written, by id.
        self._forms: dict[str, EventForm] = {}
        # The kinds of "the queue moved" queued and not yet written: another of a kind already
        # on its way adds nothing (the page reads the queue after it, and sees this one's
        # change too); under a surge each console was sent hundreds a second.
        self._moved: set[str] = set()
        # The cases offered to this person now, as the stream has seen them offered (an offer
        # made before it opened is not known: a page reads its offers when it opens).
        self._offers: set[str] = set()
        # While SQL is read at a (re)load: the events followed meanwhile, to apply again.
        self._reloading: list[Event] | None = None
        self._sub: Subscription | None = None

    def subscribed(self, sub: Subscription) -> None:
        # Not narrowed until the first load (_narrow).
        sub.heard = _HEARD
        self._sub = sub

    def _theirs_only(self) -> bool:
        return self.pages and self.staff.role == Role.COUNSELOR

    def _narrow(self) -> None:
        """What the Hub offers this stream, set at each load (the role may have changed): an
        event about a case only when it may matter to this person (a kind they hear of
        without reading the case, one that changes who reads it, one that may end the
        stream, or one about a case they read); everything while SQL is read."""
        if self._sub is not None:
            self._sub.heard, self._sub.cases, self._sub.counselor = self._offered()

    def _offered(self) -> tuple[frozenset[str], Collection[str] | None, int | None]:
        """(heard, cases, counselor) for the Hub's test (Subscription)."""
        if self._reloading is not None:
            return _HEARD, None, None
        if self.staff.sees_all_cases:
            # Leads and admins may read every case: offered the kinds their page asked for
            # (the lead's page has no use for the victims' messages, most of a busy floor).
            return (_HEARD, None, None) if self.kinds is None else (
                self.kinds | INTERNAL, _NO_CASES, None)
        if self._theirs_only():
            # A counselor's page taking the queue's pages hears of a case's moves only while
            # the case is theirs or offered to them, or when one names them (assigned or
            # offered to them): the rest of a surge's moves (every console was offered each,
            # 8.7% of the server's CPU) are not offered at all.
            return _HEARD_BESIDE_PAGES, _Theirs(self.cases, self._offers), self.staff.id
        return _HEARD, self.cases, None

    def ends(self, ev: Event) -> bool:
        return revokes(ev, self.staff.id, self.ref)

    def wants(self, ev: Event) -> bool:
        kind = ev.get("type")
        cid = ev.get("conversation")
        # Whether this person had the case (to read, or offered) until this event.
        offered = self._offered_here(ev)
        was_theirs = offered or cid in self.cases
        if kind in _FOLLOWED:
            _follow(self.cases, self.staff, ev)
            if self._reloading is not None:
                self._reloading.append(ev)
                return True  # decided when written, against what the load found
        elif self._reloading is not None:
            return True
        elif (kind not in HEARD_WITHOUT_READING and not self.staff.sees_all_cases
              and cid not in self.cases):
            return False  # the most of a busy floor: a message on someone else's case
        if not self._listens(ev):
            return False  # followed above all the same
        form = self._form(ev, was_theirs)
        if form is None:
            return False
        eid = ev.get("id")
        if isinstance(eid, str):
            if form is EventForm.MOVED:
                if kind in self._moved:
                    return False
                self._moved.add(str(kind))
            self._forms[eid] = form
        return True

    def _listens(self, ev: Event) -> bool:
        kind = ev.get("type")
        if kind == EventType.QUEUE_PAGE:
            return self.pages
        return self.kinds is None or kind in self.kinds

    def _offered_here(self, ev: Event) -> bool:
        """Whether the event's case was offered to this person until it; keeps that up to
        date (an offer ends with its own event, or when the case is taken or closed)."""
        cid, kind = ev.get("conversation"), ev.get("type")
        was = cid in self._offers
        if kind == EventType.OFFERED and ev.get("counselor") == self.staff.id:
            self._offers.add(str(cid))
        elif was and kind in _ENDS_OFFER:
            self._offers.discard(str(cid))
        return was

    def _form(self, ev: Event, was_theirs: bool = True) -> EventForm | None:
        """event_form, less what a page taking the queue's pages has no use for: of "the
        queue moved", only what concerns a case this person had until then (theirs to read,
        now taken, closed or requeued; or offered to them, now taken or closed: their lists
        change). `was_theirs` unknown, as on a replay: kept."""
        form = event_form(self.staff, ev, self._may_read(ev))
        if form is EventForm.MOVED and self.pages and not was_theirs:
            return None
        return form

    def _may_read(self, ev: Event) -> bool:
        # `cases` holds only what the person may read now (_follow drops the rest).
        return self.staff.sees_all_cases or ev.get("conversation") in self.cases

    def show(self, ev: Event) -> Event | None:
        if not self._listens(ev):
            return None
        form = self._form(ev)
        return None if form is None else shaped(ev, form)

    def frame(self, ev: Event, frames: Frames) -> bytes | None:
        eid = ev.get("id")
        form = self._forms.pop(eid, None) if isinstance(eid, str) else None
        if form is EventForm.MOVED:
            self._moved.discard(str(ev.get("type")))
        elif form is None:
            # Queued while SQL was read (wants decided nothing then): decided here.
            if not self._listens(ev):
                return None
            form = self._form(ev)
            if form is None:
                return None
        # Every console shows an event in one of two forms: encoded once for all of them.
        return frames.get(ev, form, lambda: shaped(ev, form))

    async def refresh(self) -> bool:
        first, self._started = not self._started, True
        try:
            alive = await self._reload()
        except (SQLAlchemyError, OSError) as e:
            if first:
                raise
            # The database is away: keep the stream on what it knows; the next beat retries.
            log.warning("console stream not refreshed", extra={"error": type(e).__name__})
            alive = True
        if alive:
            # Presence is best effort: a Redis hiccup must not end the stream.
            with contextlib.suppress(RedisError, OSError):
                await self.deps.live.heartbeat(self.staff.id)
        return alive

    async def _reload(self) -> bool:
        now = datetime.now(UTC)
        idle = now - timedelta(hours=self.deps.config.retention.session_hours)
        async with self.deps.engine.connect() as conn:
            found = await staff_store.session(conn, self.digest, idle)
            if found is None:
                return False  # logged out, deactivated or idle: the stream ends
            # The role may have changed since the stream opened.
            self.staff = found[0]
            self._reloading = []
            self._narrow()  # every event offered while SQL is read
            try:
                cases = await readable_cases(conn, self.staff, now - SCOPE_WINDOW)
                for ev in self._reloading:  # happened while SQL was read: maybe not in it
                    _follow(cases, self.staff, ev)
                self.cases = cases
            finally:
                self._reloading = None
                self._narrow()
        return True


def _follow(cases: dict[str, CaseFacts], staff: Staff, ev: Event) -> None:
    """Keep `cases` (what `staff` may read) up to date with one event of _FOLLOWED."""
    if staff.sees_all_cases:
        return  # leads and admins read every case: nothing to keep
    cid, kind = ev.get("conversation"), ev.get("type")
    if not isinstance(cid, str):
        return
    facts = cases.get(cid)
    if facts is None:
        if kind == EventType.QUEUED or (kind == EventType.ASSIGNED
                                        and ev.get("counselor") != staff.id):
            return  # a case nobody lets this person read stays so (most of a busy floor)
        facts = _UNKNOWN
    if kind == EventType.ASSIGNED:
        counselor = ev.get("counselor")
        facts = replace(facts, holder=counselor if isinstance(counselor, int) else None)
    elif kind == EventType.QUEUED:
        facts = replace(facts, holder=None)
    elif kind == EventType.ALERT and ev.get("kind") == "takedown":
        facts = replace(facts, takedown_alerted=True)
    elif kind == EventType.ERASED:
        facts = _UNKNOWN
    else:
        return
    if facts.readable_by(staff):
        cases[cid] = facts
    else:
        cases.pop(cid, None)
