"""Cover ahead: for each language and channel with cases waiting, the times from now to a few
hours ahead when nobody who serves it is on shift (by the roster, not by who is signed in:
routing's own coverage watch, services/router.py, covers the present floor). The roster and
lead pages warn with it. See docs/floor.md.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.cases import floor_queries, staffing
from hotline.deps import Deps
from hotline.domain import shifts
from hotline.shared_read import NextReads
from hotline.staff import accounts as staff_store


@dataclass(frozen=True)
class Gap:
    language: str
    channel: str
    waiting: int
    start: datetime
    # None: uncovered to the end of the horizon asked about.
    end: datetime | None

    def as_json(self) -> dict[str, object]:
        return {"language": self.language, "channel": self.channel, "waiting": self.waiting,
                "from": self.start.isoformat(), "until": self.end.isoformat() if self.end else None}


async def gaps_json(deps: Deps, hours: int) -> bytes:
    """{"at", "hours", "gaps"} as JSON, from now. The lead pages read it after the same
    events (every new case, in a surge): asked together, it is read once (shared_read), never
    older than the ask."""
    return await _reads.of(deps.redis, functools.partial(_gaps_body, deps)).get(hours)


async def _gaps_body(deps: Deps, hours: int) -> bytes:
    now = datetime.now(UTC)
    async with deps.reads.connect() as conn:
        found = await gaps(conn, now, hours)
    return json.dumps({"at": now.isoformat(), "hours": hours,
                       "gaps": [g.as_json() for g in found]}).encode()


# The shared reads, per Redis client (one per app), by hours ahead.
_reads: NextReads[Redis, int, bytes] = NextReads()


async def gaps(conn: AsyncConnection, now: datetime, hours: int) -> list[Gap]:
    """Uncovered times in [now, now + hours) of every language/channel with waiting cases."""
    # From the waiting cases' own index (its count by status read 10,000 rows of another).
    waiting = Counter[tuple[str, str]]()
    for g in await floor_queries.waiting_groups(conn):
        waiting[(g.language, g.channel.value)] += g.count
    if not waiting:
        return []
    people = await staff_store.active_skills(conn)
    roster = await staffing.load_roster(conn, since=now)
    end = now + timedelta(hours=hours)
    # Each person's shifts once, not once per group: 1,000 people on the roster took 20-30 ms
    # for each language and channel waiting (bench/README.md, "a rostered floor").
    on = await staffing.intervals_of(roster, [p.id for p in people], now, end)
    found = []
    for at, ((lang, chan), n) in enumerate(sorted(waiting.items())):
        if at:
            await asyncio.sleep(0)
        serving = (on[p.id] for p in people if lang in p.languages and chan in p.channels)
        for start, stop in shifts.uncovered_by(serving, now, end):
            found.append(Gap(lang, chan, n, start, None if stop >= end else stop))
    return found
