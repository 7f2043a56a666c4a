"""Content items of the takedown desk: what the content is, whose report, where it is, and the
item's status as a pure transition function.

Pure. An item is one piece of content about one victim (or none: staff find content
proactively), at one or more locations. Its status:

    open --all_offline--> all_removed --monitor--> monitoring --close--> closed
      ^                        |                        |                   |
      +------ reappeared ------+------------------------+-------------------+
    (close is allowed from open, all_removed and monitoring; reappeared from every status)

"all_offline" means every location was *checked* offline (verified), never that platforms
said so. Removal requests are in hotline.domain.removal; see docs/takedown.md.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from hotline.domain.locations import Location, check_platform, parse_location
from hotline.domain.urls import LocationError


class ItemKind(StrEnum):
    INTIMATE = "intimate"    # a real intimate image or video shared without consent
    SYNTHETIC = "synthetic"  # a sexual deepfake or other manipulated content
    THREAT = "threat"        # a threat to publish (sextortion); nothing may be online yet


class Reporter(StrEnum):
    VICTIM = "victim"
    STAFF = "staff"        # found proactively by the desk
    PARTNER = "partner"    # a partner body (police, another centre, a trusted flagger)


class ItemStatus(StrEnum):
    OPEN = "open"
    ALL_REMOVED = "all_removed"
    MONITORING = "monitoring"
    CLOSED = "closed"


class ItemEvent(StrEnum):
    ALL_OFFLINE = "all_offline"  # every location checked offline
    MONITOR = "monitor"          # start watching for re-uploads
    CLOSE = "close"              # staff close the item (done, withdrawn, not actionable)
    REAPPEARED = "reappeared"    # content online again, or a new location found


class OnlineState(StrEnum):
    """What the last check of one location saw."""

    ONLINE = "online"
    OFFLINE = "offline"
    UNKNOWN = "unknown"  # not checked yet, or the check failed


class TakedownInputError(ValueError):
    """A request body field is missing or malformed; `field` names it (HTTP 400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class ImpossibleTransition(Exception):
    """A step or event the current state does not allow (HTTP 409); `code` names the rule."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_S, _E = ItemStatus, ItemEvent
ITEM_TRANSITIONS: Mapping[tuple[ItemStatus, ItemEvent], ItemStatus] = MappingProxyType({
    (_S.OPEN, _E.ALL_OFFLINE): _S.ALL_REMOVED,
    (_S.OPEN, _E.CLOSE): _S.CLOSED,
    (_S.OPEN, _E.REAPPEARED): _S.OPEN,
    (_S.ALL_REMOVED, _E.MONITOR): _S.MONITORING,
    (_S.ALL_REMOVED, _E.CLOSE): _S.CLOSED,
    (_S.ALL_REMOVED, _E.REAPPEARED): _S.OPEN,
    (_S.MONITORING, _E.CLOSE): _S.CLOSED,
    (_S.MONITORING, _E.REAPPEARED): _S.OPEN,
    (_S.CLOSED, _E.REAPPEARED): _S.OPEN,
})


def next_item_status(status: ItemStatus, event: ItemEvent) -> ItemStatus:
    """The status after `event`, or ImpossibleTransition (e.g. monitoring an open item)."""
    after = ITEM_TRANSITIONS.get((status, event))
    if after is None:
        raise ImpossibleTransition("item_event", f"{event.value} is not possible while the "
                                                 f"item is {status.value}")
    return after


def item_event_for_checks(status: ItemStatus,
                          states: Iterable[OnlineState]) -> ItemEvent | None:
    """The event the recheck job should apply after checking an item's locations: reappeared
    when any location is online on an item not open; all_offline when an open item's
    locations were all checked offline; otherwise none (unknown never closes anything)."""
    seen = list(states)
    if OnlineState.ONLINE in seen:
        return None if status is ItemStatus.OPEN else ItemEvent.REAPPEARED
    if status is ItemStatus.OPEN and seen and all(s is OnlineState.OFFLINE for s in seen):
        return ItemEvent.ALL_OFFLINE
    return None


_SHA256 = re.compile(r"[0-9a-f]{64}")
_PDQ = re.compile(r"[0-9a-f]{64}")
_CASE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Fingerprint:
    """A content fingerprint (never the media): SHA-256, and PDQ with its quality (0-100)."""

    sha256: str | None = None
    pdq: str | None = None
    pdq_quality: int | None = None


def parse_fingerprint(raw: object, field: str = "fingerprint") -> Fingerprint:
    """`{sha256?, pdq?, pdq_quality?}` checked: lower-case hex of 64 digits each, a quality
    0-100 exactly when a PDQ is given, and at least one of the two hashes."""
    if not isinstance(raw, Mapping):
        raise TakedownInputError(field, "expected an object with sha256 and/or pdq")
    unknown = set(raw) - {"sha256", "pdq", "pdq_quality"}
    if unknown:
        raise TakedownInputError(f"{field}.{sorted(map(str, unknown))[0]}", "unknown field")
    sha, pdq, quality = raw.get("sha256"), raw.get("pdq"), raw.get("pdq_quality")
    if sha is not None and not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
        raise TakedownInputError(f"{field}.sha256", "expected 64 lower-case hex digits")
    if pdq is not None and not (isinstance(pdq, str) and _PDQ.fullmatch(pdq)):
        raise TakedownInputError(f"{field}.pdq", "expected 64 lower-case hex digits")
    if sha is None and pdq is None:
        raise TakedownInputError(field, "expected sha256 or pdq")
    quality_ok = quality is None or (isinstance(quality, int) and not isinstance(quality, bool)
                                     and 0 <= quality <= 100)
    if (pdq is None) != (quality is None) or not quality_ok:
        raise TakedownInputError(f"{field}.pdq_quality",
                                 "expected a quality 0-100 with a pdq, and none without")
    return Fingerprint(sha256=sha, pdq=pdq, pdq_quality=quality)


@dataclass(frozen=True)
class NewItem:
    """A checked `POST /api/v1/takedown/items` body."""

    kind: ItemKind
    minor: bool
    platform: str
    location: Location
    case_id: str | None
    reporter: Reporter


def _choice(body: Mapping[str, object], name: str, allowed: Collection[str],
            default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or value not in allowed:
        raise TakedownInputError(name, f"expected one of {', '.join(sorted(allowed))}")
    return value


def parse_new_item(body: Mapping[str, object], platforms: Collection[str]) -> NewItem:
    """`{case_id?, kind, minor?, platform, location, reporter?}` checked; `platforms` are the
    directory's codes. Raises TakedownInputError naming the first bad field."""
    unknown = set(body) - {"case_id", "kind", "minor", "platform", "location", "reporter"}
    if unknown:
        raise TakedownInputError(sorted(map(str, unknown))[0], "unknown field")
    kind = ItemKind(_choice(body, "kind", [k.value for k in ItemKind]))
    minor = body.get("minor", False)
    if not isinstance(minor, bool):
        raise TakedownInputError("minor", "expected true or false")
    platform = _choice(body, "platform", platforms)
    case_id = body.get("case_id")
    if case_id is not None and not (isinstance(case_id, str) and _CASE_ID.fullmatch(case_id)):
        raise TakedownInputError("case_id", "expected a case id")
    default_reporter = Reporter.VICTIM.value if case_id is not None else Reporter.STAFF.value
    reporter = Reporter(_choice(body, "reporter", [r.value for r in Reporter],
                                default_reporter))
    try:
        location = parse_location(body.get("location"), "location")
        check_platform(location, platform, "platform")
    except LocationError as e:
        raise TakedownInputError(e.field, e.detail) from None
    return NewItem(kind=kind, minor=minor, platform=platform, location=location,
                   case_id=case_id, reporter=reporter)
