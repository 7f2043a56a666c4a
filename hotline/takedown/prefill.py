"""What "create item from alert" starts from, so one click is enough: the case's kind and
minor flag from its triage reasons, the links the victim wrote (parsed as locations), the
evidence's platform and fingerprints. Read with the one case read rule (takedown staff may
read a case that paged them); reading the transcript is audited as every case view is."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hotline.cases import alerts, casework
from hotline.domain import policy
from hotline.domain.conversation import Direction
from hotline.domain.locations import Location, parse_location
from hotline.domain.staff import Staff
from hotline.domain.urls import LocationError
from hotline.evidence import service as evidence
from hotline.takedown.desk import Desk

# Links a victim may paste: a URL, or a t.me link without a scheme.
_LINK = re.compile(r"(?:https?://|tg://|(?<![\w.])t\.me/)[^\s<>\"']+", re.IGNORECASE)
MAX_SUGGESTIONS = 10


@dataclass(frozen=True)
class Prefill:
    alert_id: int
    case_id: str
    reasons: tuple[str, ...]
    kind: str
    minor: bool
    platform: str
    locations: tuple[Location, ...]
    evidence_id: int | None


def links_in(text: str) -> list[Location]:
    """Locations parsed from the links in a message (those that do not parse are left)."""
    found: list[Location] = []
    for raw in _LINK.findall(text):
        try:
            loc = parse_location(raw.rstrip(".,;:!?)"))
        except LocationError:
            continue
        if loc.url not in [f.url for f in found]:
            found.append(loc)
    return found


async def case_alerts(desk: Desk, staff: Staff) -> list[Prefill]:
    """The open takedown alerts of cases with what an item from each would start from."""
    if not policy.acts_on_desk(staff):
        return []
    out = []
    for a in await alerts.open_alerts(desk.deps, staff):
        if a.kind != alerts.TAKEDOWN:
            continue
        try:
            conv, lines = await casework.transcript(desk.deps, staff, a.conversation_id)
        except casework.CaseNotFound:
            continue
        locs: list[Location] = []
        for line in lines:
            if line.direction is Direction.IN and line.text:
                locs += [x for x in links_in(line.text) if x.url not in [y.url for y in locs]]
        found = [e for e in await evidence.list_for(desk.deps, conv.id)]
        reasons = tuple(conv.reasons)
        kind = ("synthetic" if "synthetic" in reasons
                else "threat" if any(r.startswith("sextortion") for r in reasons)
                else "intimate")
        platform = (locs[0].platform if locs and locs[0].platform != "other"
                    else next((e.platform for e in found if e.platform
                               and e.platform in desk.directory.codes), "other"))
        out.append(Prefill(a.id, conv.id, tuple(a.reasons), kind, "minor" in reasons,
                           platform, tuple(locs[:MAX_SUGGESTIONS]),
                           found[0].id if found else None))
    return out
