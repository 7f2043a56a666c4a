"""New evidence against removed items: a picture whose PDQ hash is within the configured
distance of a removed item's fingerprint (both of at least the configured quality:
telegram.pdq_match_distance and pdq_min_quality, the thresholds evidence matching uses) is the
content found again. The evidence is linked to the item as a re-upload (via "evidence"), the
item reopens and the desk and the case are paged, as a re-upload found by the recheck job is.

A pass compares the evidence recorded after the mark "rematch" (takedown_marks: the newest
evidence id compared) and moves the mark on. Each `evidence` event of a newly recorded piece
wakes a pass at once (following the event keeps evidence from importing the desk); a pass also
runs every EVERY_S, so evidence whose event was lost (a Redis outage: the stream is at most
once) is compared all the same. Passes run one instance at a time (a lease); a match is one
row per item and evidence (a unique key), so a piece compared twice pages nobody twice. The
items compared are only those removed (all_removed, monitoring, closed) that carry a PDQ
hash, at once (numpy, as the evidence scan does). See docs/takedown.md, "Monitoring".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from hotline.audit import log as audit
from hotline.deps import Deps
from hotline.domain.event_types import EventType
from hotline.domain.takedown import ItemStatus
from hotline.events import Event, Hub
from hotline.evidence import service as evidence
from hotline.evidence.pdq_scan import distances
from hotline.jobs import run_leased
from hotline.takedown import monitor_queries as mq
from hotline.takedown.monitor import Pass, announce, reopen

log = logging.getLogger(__name__)

REMOVED = (ItemStatus.ALL_REMOVED, ItemStatus.MONITORING, ItemStatus.CLOSED)


MARK = "rematch"
# A pass every minute catches what no event announced; a pass reads at most BATCH pieces.
EVERY_S = 60.0
BATCH = 500
# PostgreSQL may commit an evidence row after one with a higher id was read: the pieces just
# under the mark that are younger than SETTLE_S are compared again (a match is one row per item
# and piece, and an item created after the piece is never its match).
OVERLAP = 32
SETTLE_S = 30.0


async def catch_up(deps: Deps) -> list[int]:
    """Compare the evidence recorded since the last pass with the removed items; the ids of
    the items reopened. Without a mark (migration 0024 sets one), a pass only sets it to the
    newest evidence."""
    async with deps.engine.connect() as conn:
        mark = await mq.mark(conn, MARK)
    if mark is None:
        newest = await evidence.newest_id(deps)
        async with deps.engine.begin() as conn:
            await mq.advance_mark(conn, MARK, newest)
        return []
    reopened: list[int] = []
    while True:
        pieces = await evidence.fingerprints_after(deps, max(0, mark - OVERLAP), BATCH)
        if not pieces or pieces[-1].id <= mark:
            return reopened
        recent = datetime.now(UTC) - timedelta(seconds=SETTLE_S)
        due = [p for p in pieces if p.id > mark or p.created_at > recent]
        # The removed items once a batch, not once a piece.
        items = await _removed_items(deps) if any(p.pdq is not None for p in due) else []
        for p in due:
            reopened += await match_removed(deps, p, items)
        mark = pieces[-1].id
        async with deps.engine.begin() as conn:
            await mq.advance_mark(conn, MARK, mark)
        if len(pieces) < BATCH:
            return reopened


async def _removed_items(deps: Deps) -> list[mq.Fingerprinted]:
    """Removed items whose fingerprint is good enough to match."""
    async with deps.engine.connect() as conn:
        return [i for i in await mq.items_with_pdq(conn, REMOVED)
                if i.quality >= deps.config.telegram.pdq_min_quality]


async def match_removed(deps: Deps, piece: evidence.Fingerprint,
                        removed: list[mq.Fingerprinted]) -> list[int]:
    """Reopen every removed item (of `removed`) the piece of evidence matches and it was not
    linked to before; their ids. Only items created before the piece was recorded, and not
    from it: a picture that was there before the item is the spread the item is about, not a
    re-upload."""
    cfg = deps.config.telegram
    if piece.pdq is None or piece.pdq_quality is None \
            or piece.pdq_quality < cfg.pdq_min_quality:
        return []
    items = [i for i in removed if i.created_at < piece.created_at and i.evidence_id != piece.id]
    if not items:
        return []
    dist = distances(piece.pdq, [i.pdq for i in items])
    found = [(items[k].id, int(d)) for k, d in enumerate(dist) if d <= cfg.pdq_match_distance]
    if not found:
        return []
    evidence_id = piece.id
    now = datetime.now(UTC)
    done = Pass()
    reopened: list[int] = []
    async with deps.engine.begin() as conn:
        for item_id, d in found:
            rid = await mq.insert_reupload(conn, item_id=item_id, via="evidence", at=now,
                                           evidence_id=evidence_id)
            if rid is None:
                continue  # this evidence was linked to this item already
            done.reuploads.append(rid)
            reopened.append(item_id)
            await audit.record(conn, at=now, actor_id=None, action="takedown.reupload",
                               target_kind="takedown_item", target_id=str(item_id),
                               reupload=rid, evidence=evidence_id, via="evidence",
                               distance=d, max_distance=cfg.pdq_match_distance,
                               min_quality=cfg.pdq_min_quality)
            await reopen(deps, conn, item_id, now, done, why="evidence")
    await announce(deps, done)
    if reopened:
        log.info("evidence matches removed items", extra={"evidence": evidence_id,
                                                          "items": len(reopened)})
    return reopened


async def run_rematch(hub: Hub, deps: Deps, stop: asyncio.Event) -> None:
    """Until `stop`: a pass on each new piece's event and every EVERY_S, one instance at a
    time."""
    wake = asyncio.Event()

    async def on_evidence(_ev: Event) -> None:
        wake.set()

    follow = asyncio.ensure_future(hub.follow(
        # Only a new piece: "kept" and "declined" are the same picture again.
        lambda ev: ev.get("type") == EventType.EVIDENCE and ev.get("change") == "recorded",
        on_evidence))
    try:
        await run_leased(deps.redis, deps.keys.job_lock("takedown-rematch"), EVERY_S,
                         lambda: catch_up(deps), stop, release=True, wake=wake)
    finally:
        follow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follow
