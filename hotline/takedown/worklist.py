"""The desk's worklist: every request still in play and every item with nothing in play,
sorted by what must happen first: overdue first, then critical cases, then the items of a
cluster with two or more victims, then by due time (hotline.domain.clusters.worklist_rank).

Needs only a connection and a time (the console, the API and `hotline takedown list` share
it). Rows hold ids, codes and times: no text, no case content.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.cases import conversations as convs
from hotline.domain.clusters import worklist_rank
from hotline.domain.conversation import Urgency
from hotline.domain.removal import is_overdue
from hotline.domain.takedown import ItemStatus
from hotline.takedown import monitor_queries as mq
from hotline.takedown import queries

# The state shown for an open item that has no request yet.
NO_REQUEST = "no_request"


async def worklist(conn: AsyncConnection, now: datetime, *, state: str | None = None,
                   platform: str | None = None, overdue_only: bool = False
                   ) -> list[dict[str, Any]]:
    rows = ([] if state == NO_REQUEST
            else await queries.worklist(conn, state=state, platform=platform))
    items = {i.id: i for i in await queries.list_items(conn)}
    cases = {cid for cid in (i.conversation_id for i in items.values()) if cid}
    critical = set()
    for cid in cases:
        conv = await convs.get(conn, cid)
        if conv is not None and conv.urgency is Urgency.CRITICAL:
            critical.add(cid)
    clustered = await mq.cluster_victims_of_items(conn, items)
    out: list[dict[str, Any]] = []
    busy: set[int] = set()
    for row in rows:
        item = items.get(row.item_id)
        if item is None:
            continue
        r = row.request
        busy.add(item.id)
        out.append({"request": row.id, "item": item.id, "kind": item.kind.value,
                    "minor": item.minor, "platform": r.platform, "route": r.route,
                    "state": r.state.value, "due_at": r.due_at.isoformat() if r.due_at else None,
                    "overdue": is_overdue(r, now) or r.state.value == "overdue",
                    "critical": item.conversation_id in critical, "rung": r.rung,
                    "ticket": r.ticket, "cluster_victims": clustered.get(item.id, 0)})
    if state in (None, NO_REQUEST):
        waiting = [i for i in items.values()
                   if i.id not in busy and i.status is ItemStatus.OPEN]
        locs = await queries.locations_of(conn, [i.id for i in waiting])
        for i in waiting:
            first = locs[i.id][0].platform if locs[i.id] else None
            if platform is not None and first != platform:
                continue
            out.append({"request": None, "item": i.id, "kind": i.kind.value,
                        "minor": i.minor, "platform": first,
                        "route": None, "state": NO_REQUEST, "due_at": None,
                        "overdue": False, "critical": i.conversation_id in critical,
                        "rung": None, "ticket": None,
                        "cluster_victims": clustered.get(i.id, 0)})
    if overdue_only:
        out = [w for w in out if w["overdue"]]
    out.sort(key=lambda w: (*worklist_rank(w["overdue"], w["critical"], w["cluster_victims"],
                                           w["due_at"]), w["item"], w["request"] or 0))
    return out
