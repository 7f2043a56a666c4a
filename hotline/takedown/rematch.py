"""New evidence against removed items: a picture whose PDQ hash is within the configured
distance of a removed item's fingerprint (both of at least the configured quality:
telegram.pdq_match_distance and pdq_min_quality, the thresholds evidence matching uses) is the
content found again. The evidence is linked to the item as a re-upload (via "evidence"), the
item reopens and the desk and the case are paged, as a re-upload found by the recheck job is.

Run for each `evidence` event of a newly recorded piece (the evidence room publishes it once
the row is committed; following the event keeps evidence from importing the desk). The items
compared are only those removed (all_removed, monitoring, closed) that carry a PDQ hash, at
once (numpy, as the evidence scan does). See docs/takedown.md, "Monitoring".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from hotline.audit import log as audit
from hotline.deps import Deps
from hotline.domain.event_types import EventType
from hotline.domain.takedown import ItemStatus
from hotline.events import Event, Hub
from hotline.evidence import service as evidence
from hotline.evidence.pdq_scan import distances
from hotline.takedown import monitor_queries as mq
from hotline.takedown.monitor import Pass, announce, reopen

log = logging.getLogger(__name__)

REMOVED = (ItemStatus.ALL_REMOVED, ItemStatus.MONITORING, ItemStatus.CLOSED)


async def match_removed(deps: Deps, evidence_id: int, pdq: str, quality: int | None
                        ) -> list[int]:
    """Reopen every removed item the new evidence matches; their ids."""
    cfg = deps.config.telegram
    if quality is None or quality < cfg.pdq_min_quality:
        return []
    async with deps.engine.connect() as conn:
        items = [i for i in await mq.items_with_pdq(conn, REMOVED)
                 if i[2] >= cfg.pdq_min_quality]
    if not items:
        return []
    dist = distances(pdq, [i[1] for i in items])
    found = [(items[k][0], int(d)) for k, d in enumerate(dist) if d <= cfg.pdq_match_distance]
    if not found:
        return []
    now = datetime.now(UTC)
    done = Pass()
    async with deps.engine.begin() as conn:
        for item_id, d in found:
            rid = await mq.insert_reupload(conn, item_id=item_id, via="evidence", at=now,
                                           evidence_id=evidence_id)
            if rid is None:
                continue  # this evidence was linked to this item already
            done.reuploads.append(rid)
            await audit.record(conn, at=now, actor_id=None, action="takedown.reupload",
                               target_kind="takedown_item", target_id=str(item_id),
                               reupload=rid, evidence=evidence_id, via="evidence",
                               distance=d, max_distance=cfg.pdq_match_distance,
                               min_quality=cfg.pdq_min_quality)
            await reopen(deps, conn, item_id, now, done, why="evidence")
    await announce(deps, done)
    log.info("evidence matches removed items", extra={"evidence": evidence_id,
                                                      "items": len(found)})
    return [i for i, _d in found]


async def _on_evidence(deps: Deps, ev: Event) -> None:
    eid = ev.get("evidence")
    if not isinstance(eid, int) or isinstance(eid, bool):
        return
    found = await evidence.get(deps, eid)
    if found is not None and found.pdq is not None:
        await match_removed(deps, eid, found.pdq, found.pdq_quality)


async def follow_evidence(hub: Hub, deps: Deps, stop: asyncio.Event) -> None:
    """Until `stop` (or the hub closes): match each new piece of evidence."""
    follow = asyncio.ensure_future(hub.follow(
        # Only a new piece: "kept" and "declined" are the same picture again.
        lambda ev: ev.get("type") == EventType.EVIDENCE and ev.get("change") == "recorded",
        lambda ev: _on_evidence(deps, ev)))
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({follow, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (follow, stopped):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
