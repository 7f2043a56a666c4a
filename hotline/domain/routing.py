"""Routing decisions as pure functions: who may take what, who is best, what to tell a victim.

The Lua scripts in hotline/stores/live/lua enforce the same eligibility rule atomically; a
parity test keeps the two in step. See docs/routing.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from hotline.domain.conversation import Channel, Urgency
from hotline.domain.signals import POSSIBLE_PREFIX


class Presence(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    BREAK = "break"
    OFFLINE = "offline"


class RoutingMode(StrEnum):
    # The router offers each waiting case to the best counselor; "take next" also works.
    OFFER = "offer"
    # Counselors pull with "take next" only.
    PULL = "pull"


@dataclass(frozen=True)
class RoutingRules:
    mode: RoutingMode = RoutingMode.OFFER
    offer_timeout_s: int = 30
    # No new cases in the last minutes of a shift, so nobody is handed a crisis at the door.
    no_new_before_end_s: int = 600
    # A console silent for this long counts as gone (its heartbeat comes every 15 s).
    presence_ttl_s: int = 60
    # This many missed or declined offers for one case alert the lead.
    miss_alert_after: int = 2
    # How deep "take next" and the router look into the ranked queue for a match.
    scan_limit: int = 200


@dataclass(frozen=True)
class StaffState:
    """One counselor's live routing state (from Redis)."""

    id: int
    status: Presence
    shift_start_ms: int
    shift_end_ms: int
    heartbeat_ms: int
    max_chats: int
    languages: frozenset[str]
    channels: frozenset[str]
    skills: frozenset[str]
    # Active conversations plus outstanding offers.
    load: int
    on_call: bool
    idle_since_ms: int


@dataclass(frozen=True)
class WaitingItem:
    """One waiting conversation as routing sees it."""

    id: str
    channel: Channel
    language: str
    urgency: Urgency
    enqueued_ms: int
    needs: frozenset[str] = frozenset()


# Why an person cannot take an item; None means it can. The Lua `eligible` returns the same codes.
REASONS = ("status", "shift", "ending", "absent", "language", "channel", "on_call", "capacity")


def why_not(person: StaffState, item: WaitingItem | None, now_ms: int, rules: RoutingRules,
            skip_capacity: bool = False) -> str | None:
    """The first reason `person` may not take `item` now (item None: any item), or None."""
    if person.status != Presence.AVAILABLE:
        return "status"
    if not person.shift_start_ms <= now_ms < person.shift_end_ms:
        return "shift"
    if now_ms >= person.shift_end_ms - rules.no_new_before_end_s * 1000:
        return "ending"
    if person.heartbeat_ms < now_ms - rules.presence_ttl_s * 1000:
        return "absent"
    if item is not None and item.language not in person.languages:
        return "language"
    if item is not None and item.channel.value not in person.channels:
        return "channel"
    if person.on_call:
        return "on_call"
    if skip_capacity:
        return None
    if item is not None and item.channel == Channel.VOICE:
        return "capacity" if person.load > 0 else None
    return "capacity" if person.load >= person.max_chats else None


def eligible(person: StaffState, item: WaitingItem | None, now_ms: int,
             rules: RoutingRules) -> bool:
    return why_not(person, item, now_ms, rules) is None


def rank_staff(people: Iterable[StaffState], item: WaitingItem, now_ms: int,
                rules: RoutingRules, exclude: frozenset[int] = frozenset()
                ) -> list[StaffState]:
    """Eligible people for `item`, best first: the right specialism, least loaded, longest idle."""
    ok = [a for a in people if a.id not in exclude and eligible(a, item, now_ms, rules)]
    return sorted(ok, key=lambda a: (len(item.needs - a.skills), a.load, a.idle_since_ms, a.id))


def handover_candidates(people: Iterable[StaffState], me: int, language: str, channel: str,
                        now_ms: int, rules: RoutingRules, limit: int
                        ) -> tuple[list[StaffState], int]:
    """Colleagues a case may be handed to at its holder's shift end: on shift now, speaking
    its language and serving its channel; those with a live console first, then whoever
    stays on longest, then by id. The first `limit`, and how many there are in all (a
    thousand on shift made a select nobody could use)."""
    fresh = now_ms - rules.presence_ttl_s * 1000
    ok = [p for p in people if p.id != me and p.shift_start_ms <= now_ms < p.shift_end_ms
          and language in p.languages and channel in p.channels]
    ok.sort(key=lambda p: (p.heartbeat_ms < fresh, -p.shift_end_ms, p.id))
    return ok[:limit], len(ok)


def reassign_candidates(people: Iterable[StaffState], holder: int | None, language: str,
                        channel: str, now_ms: int, rules: RoutingRules, limit: int
                        ) -> tuple[list[StaffState], int]:
    """Whom a lead may give a case to now: routable (`why_not`, capacity aside: a lead may
    override it), speaking its language and serving its channel, not its holder; those with
    room first, then the least loaded, then by id. The first `limit`, and how many in all
    (the lead page's picker had only the staff of its first floor page, by id)."""
    ok = [p for p in people if p.id != holder and language in p.languages
          and channel in p.channels and why_not(p, None, now_ms, rules, skip_capacity=True) is None]
    ok.sort(key=lambda p: (p.load >= p.max_chats, p.load, p.id))
    return ok[:limit], len(ok)


def full(person: StaffState) -> bool:
    """No room for any case: a chat needs load < max_chats, a call needs load 0."""
    return person.load > 0 and person.load >= person.max_chats


def needs_for(reasons: Iterable[str]) -> frozenset[str]:
    """Specialisms a case calls for, from its triage reasons (fired or possible: a specialism
    is only preferred, never required)."""
    out = set()
    for r in reasons:
        signal = r.removeprefix(POSSIBLE_PREFIX)
        if signal == "minor":
            out.add("minors")
        elif signal.startswith("sextortion"):
            out.add("sextortion")
    return frozenset(out)


class Coverage(StrEnum):
    OK = "ok"
    # Someone suitable is on shift and present, but all are at capacity.
    FULL = "full"
    # Nobody suitable is on shift and present at all.
    GAP = "gap"


def serving(people: Iterable[StaffState], language: str, channel: Channel, now_ms: int,
            rules: RoutingRules) -> tuple[Coverage, int]:
    """The coverage of this language and channel (whether a new case in it can be served
    now), and how many people serve it now (on shift, present, speaking the language; whether
    or not at capacity). The rule coverage.lua applies in Redis, for the router and the wait
    estimates: stated here, held to it by tests/test_live_sifted_reads.py."""
    probe = WaitingItem("", channel, language, Urgency.NORMAL, now_ms)
    present = [a for a in people
               if why_not(a, probe, now_ms, rules, skip_capacity=True) is None]
    if not present:
        return Coverage.GAP, 0
    if any(eligible(a, probe, now_ms, rules) for a in present):
        return Coverage.OK, len(present)
    return Coverage.FULL, len(present)


def wait_estimate_s(position: int, recent_handling_s: Sequence[int], servers: int) -> int | None:
    """A rough wait: cases ahead x mean handling time / counselors serving; None if unknown."""
    if not recent_handling_s or servers <= 0:
        return None
    mean = sum(recent_handling_s) / len(recent_handling_s)
    return int(max(0, position - 1) * mean / servers + mean / (2 * servers))
