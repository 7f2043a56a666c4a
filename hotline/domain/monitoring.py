"""Monitoring after removal: what one check of a location means, as pure functions.

A location's watch is a small state machine over check results (WATCH_TRANSITIONS):

    unchecked --offline--> offline_once --offline--> verified (event: verified)
        |                      |                        |
        +--online--> online <--+----online--------------+  (from verified: event reappeared)
    unknown (timeout, 5xx, refused) changes nothing: a failed check neither closes nor reopens.

"verified" is our own finding that the content is gone: two offline checks in a row. A request
whose locations are all verified becomes `verified` (hotline.domain.removal); an item whose
locations are all verified is `all_removed`. Content online again after it was verified is a
re-upload: the item reopens and the desk is paged. See docs/takedown.md, "Monitoring".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from hotline.domain.removal import TRANSITIONS, RequestState, Step
from hotline.domain.takedown import ItemEvent, ItemStatus, OnlineState, item_event_for_checks


class Watch(StrEnum):
    UNCHECKED = "unchecked"
    ONLINE = "online"
    OFFLINE_ONCE = "offline_once"
    VERIFIED = "verified"        # checked offline twice in a row


class WatchEvent(StrEnum):
    VERIFIED = "verified"        # this check made the location verified offline
    REAPPEARED = "reappeared"    # online again after it was verified offline


_W, _O = Watch, OnlineState
WATCH_TRANSITIONS: Mapping[tuple[Watch, OnlineState], tuple[Watch, WatchEvent | None]] = (
    MappingProxyType({
        (_W.UNCHECKED, _O.ONLINE): (_W.ONLINE, None),
        (_W.UNCHECKED, _O.OFFLINE): (_W.OFFLINE_ONCE, None),
        (_W.UNCHECKED, _O.UNKNOWN): (_W.UNCHECKED, None),
        (_W.ONLINE, _O.ONLINE): (_W.ONLINE, None),
        (_W.ONLINE, _O.OFFLINE): (_W.OFFLINE_ONCE, None),
        (_W.ONLINE, _O.UNKNOWN): (_W.ONLINE, None),
        # One 404 then a 200 is a flaky answer, not a re-upload: the content never left.
        (_W.OFFLINE_ONCE, _O.ONLINE): (_W.ONLINE, None),
        (_W.OFFLINE_ONCE, _O.OFFLINE): (_W.VERIFIED, WatchEvent.VERIFIED),
        (_W.OFFLINE_ONCE, _O.UNKNOWN): (_W.OFFLINE_ONCE, None),
        (_W.VERIFIED, _O.ONLINE): (_W.ONLINE, WatchEvent.REAPPEARED),
        (_W.VERIFIED, _O.OFFLINE): (_W.VERIFIED, None),
        (_W.VERIFIED, _O.UNKNOWN): (_W.VERIFIED, None),
    }))


def next_watch(watch: Watch, result: OnlineState) -> tuple[Watch, WatchEvent | None]:
    """The watch after one check's result, and the event it raises (if any)."""
    return WATCH_TRANSITIONS[(watch, result)]


# HTTP answers that mean the content is gone (not found, gone, unavailable for legal reasons).
OFFLINE_STATUSES = frozenset({404, 410, 451})


def classify(status: int | None) -> OnlineState:
    """One HTTP answer (after redirects; None: no answer, a timeout or a refused connection)
    as online, offline or unknown. 401/403/429/5xx say nothing about the content."""
    if status is None:
        return OnlineState.UNKNOWN
    if 200 <= status < 300:
        return OnlineState.ONLINE
    if status in OFFLINE_STATUSES:
        return OnlineState.OFFLINE
    return OnlineState.UNKNOWN


def item_event(status: ItemStatus, watches: Iterable[Watch]) -> ItemEvent | None:
    """The item's event after its locations' watches changed: all verified on an open item is
    all_offline; any online on an item not open is reappeared (item_event_for_checks)."""
    seen = [OnlineState.OFFLINE if w is Watch.VERIFIED
            else OnlineState.ONLINE if w is Watch.ONLINE else OnlineState.UNKNOWN
            for w in watches]
    return item_event_for_checks(status, seen)


def request_verifiable(state: RequestState, watches: Iterable[Watch]) -> bool:
    """Whether a request becomes `verified`: every one of its locations is verified offline
    and its state allows it (a draft was never sent: it does not)."""
    seen = list(watches)
    return (bool(seen) and all(w is Watch.VERIFIED for w in seen)
            and (state, Step.VERIFIED) in TRANSITIONS)


@dataclass(frozen=True)
class Intervals:
    """How often a location is checked: hourly while its item is open, daily once removed."""

    active: timedelta
    monitoring: timedelta


def next_check(now: datetime, item_status: ItemStatus, every: Intervals) -> datetime | None:
    """When to check a location next; None for a closed item's (no longer watched)."""
    if item_status is ItemStatus.CLOSED:
        return None
    return now + (every.active if item_status is ItemStatus.OPEN else every.monitoring)
