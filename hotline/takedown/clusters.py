"""Clusters for the desk: one channel, bot, account or site named by several victims' items
(keys from hotline.domain.clusters, stored with each location), with the number of victims
(distinct cases), items, locations and re-uploads. Takedown staff and leads read them; a
cluster of two or more victims puts its items' requests higher on the worklist.

Paged by key (`after`), at most PAGE_MAX a page. See docs/takedown.md, "Clusters".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hotline.domain.clusters import CLUSTER_MIN_VICTIMS
from hotline.domain.staff import Staff
from hotline.domain.takedown import TakedownInputError
from hotline.takedown import monitor_queries as mq
from hotline.takedown.desk import Desk
from hotline.takedown.items import require_desk

PAGE_DEFAULT = 50
PAGE_MAX = 200
_KEY_MAX = 160


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return PAGE_DEFAULT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not 1 <= int(raw) <= PAGE_MAX:
        raise TakedownInputError("limit", f"expected 1..{PAGE_MAX}")
    return int(raw)


def _key(raw: str | None, field: str) -> str | None:
    if raw is None or raw == "":
        return None
    if len(raw) > _KEY_MAX or not raw.isprintable():
        raise TakedownInputError(field, "expected a cluster key")
    return raw


async def list_clusters(desk: Desk, staff: Staff, query: Mapping[str, str]
                        ) -> dict[str, Any]:
    """`{clusters: [...], next}`: clusters of at least `min_victims` (default 2) victims."""
    require_desk(staff)
    unknown = sorted(set(query) - {"after", "limit", "min_victims"})
    if unknown:
        raise TakedownInputError(unknown[0], "unknown parameter")
    limit = _limit(query.get("limit"))
    after = _key(query.get("after"), "after")
    raw_min = query.get("min_victims") or str(CLUSTER_MIN_VICTIMS)
    if not (raw_min.isascii() and raw_min.isdigit() and len(raw_min) <= 4
            and 1 <= int(raw_min) <= 1000):
        raise TakedownInputError("min_victims", "expected 1..1000")
    async with desk.deps.engine.connect() as conn:
        found = await mq.clusters(conn, int(raw_min), limit, after)
    return {"clusters": found, "next": found[-1]["key"] if len(found) == limit else None}


async def cluster(desk: Desk, staff: Staff, key: str | None) -> dict[str, Any]:
    """One cluster's items and locations (ids, states and platforms)."""
    require_desk(staff)
    checked = _key(key, "key")
    if checked is None:
        raise TakedownInputError("key", "expected a cluster key")
    async with desk.deps.engine.connect() as conn:
        rows = await mq.cluster_items(conn, checked)
    return {"key": checked, "locations": rows}
