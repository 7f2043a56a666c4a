"""Finding stored evidence whose picture is the same as a new one's, by PDQ hash.

Each new hash is compared once with every stored one, after its evidence row is committed:
on read-only connections, in chunks of ids, with the event loop free between chunks. So the
scan never holds the write lock (on SQLite every inbound message waits for that lock) and never
stalls the loop for long, however many hashes a centre has stored. A chunk is compared at once
(numpy: XOR and popcount of four 64-bit words a hash). Close pairs are stored both ways and the
row is marked scanned in one short transaction; `scan_pending` (the evidence job) finishes a
scan that a crash cut short. See docs/telegram.md, "Media (evidence)".

Two pieces recorded at the same moment still find each other: each scan starts after its own
row is committed, so if one scan missed the other row, that row was committed later and its own
scan sees the first. Should both find the pair, the second insert changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
from sqlalchemy import Insert, String, and_, bindparam, case, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.deps import Deps
from hotline.evidence.tables import evidence, evidence_matches

log = logging.getLogger(__name__)

# Pairs up to this distance are stored (above any sensible telegram.pdq_match_distance), so a
# later change of the configured thresholds applies to pairs already found.
STORE_MAX_DISTANCE = 64
# Hashes read and compared per step. Measured (bench/evidence_bench.py): about 5 ms of the
# event loop per chunk on SQLite, so an inbound message waits at most that long for a scan.
SCAN_CHUNK = 5000
# A scan is normally finished within a second of the row's commit; rows unscanned for longer
# were cut short (a crash, a restart) and are picked up by `scan_pending`.
PENDING_AFTER = timedelta(minutes=1)
# Ids per IN list (both databases' bound-parameter limits are far above this).
_IN_BATCH = 1000

PDQ_HEX = re.compile(r"[0-9a-f]{64}")

_ROWS = (select(evidence.c.id, evidence.c.pdq)
         .where(and_(evidence.c.id > bindparam("after"), evidence.c.pdq.is_not(None)))
         .order_by(evidence.c.id).limit(bindparam("limit")))
_IN_CHUNK = _ROWS.subquery()
# A chunk comes back as one row, its ids and hashes concatenated (both aggregates see the rows
# in the same order): no Python object per stored hash. With a row object each, 200,000 hashes
# set off gen-2 garbage collections of 40 ms in the middle of the scan.
_CHUNK = select(
    func.count(), func.max(_IN_CHUNK.c.id),
    func.sum(case((func.length(_IN_CHUNK.c.pdq) == 64, 0), else_=1)),
    func.aggregate_strings(cast(_IN_CHUNK.c.id, String), ","),
    func.aggregate_strings(_IN_CHUNK.c.pdq, ""))


def pdq_distance(a: str, b: str) -> int:
    """Hamming distance between two 64-hex-digit PDQ hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def distances(target: str, hashes: Sequence[str]) -> npt.NDArray[np.int64]:
    """Hamming distance from `target` to each of `hashes`, at once; ValueError unless every
    one is 64 hex digits."""
    if any(len(h) != 64 for h in hashes):
        raise ValueError("pdq: expected 64 hex digits each")
    return _distances(target, "".join(hashes), len(hashes))


def _distances(target: str, joined: str, n: int) -> npt.NDArray[np.int64]:
    # n hashes of 64 hex digits each, end to end. fromhex skips whitespace: hence the check.
    raw = bytes.fromhex(joined)
    if len(raw) != 32 * n:
        raise ValueError("pdq: expected 64 hex digits each")
    words = np.frombuffer(bytes.fromhex(target), dtype=np.uint64)
    table = np.frombuffer(raw, dtype=np.uint64).reshape(n, 4)
    counts: npt.NDArray[np.int64] = np.bitwise_count(table ^ words).sum(axis=1, dtype=np.int64)
    return counts


async def close_to(engine: AsyncEngine, evidence_id: int, pdq: str,
                   chunk: int = SCAN_CHUNK) -> list[tuple[int, int]]:
    """Every other stored hash within STORE_MAX_DISTANCE of `pdq`: (evidence id, distance)."""
    found: list[tuple[int, int]] = []
    after = 0
    while True:
        async with engine.connect() as conn:
            n, last, bad, ids_text, joined = (
                await conn.execute(_CHUNK, {"after": after, "limit": chunk})).one()
            if n == 0:
                return found
            try:
                if bad:
                    raise ValueError("pdq: malformed rows")
                ids = np.array(ids_text.split(","), dtype=np.int64)
                dist = _distances(pdq, joined, n)
            except ValueError:
                ids, dist = await _checked_rows(conn, pdq, after, chunk)
        close = np.flatnonzero((dist <= STORE_MAX_DISTANCE) & (ids != evidence_id))
        found += [(int(ids[k]), int(dist[k])) for k in close]
        if n < chunk:
            return found
        after = int(last)
        await asyncio.sleep(0)  # let waiting requests run between chunks


async def _checked_rows(conn: AsyncConnection, pdq: str, after: int, chunk: int
                        ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    # Only rows written before hashes were checked on the way in can be malformed: the chunk
    # is read again row by row and those are skipped.
    rows = (await conn.execute(_ROWS, {"after": after, "limit": chunk})).all()
    good = [(i, h) for i, h in rows if PDQ_HEX.fullmatch(h)]
    log.warning("malformed pdq hashes skipped", extra={"count": len(rows) - len(good)})
    return (np.array([i for i, _h in good], dtype=np.int64),
            distances(pdq, [h for _i, h in good]))


async def scan(deps: Deps, evidence_id: int, pdq: str) -> int:
    """Compare one committed piece of evidence with every stored hash, store the close pairs
    both ways and mark it scanned; the number of pairs stored (0 if it was erased meanwhile).
    A malformed hash (none is recorded now) is marked scanned with nothing to compare."""
    found = await close_to(deps.engine, evidence_id, pdq) if PDQ_HEX.fullmatch(pdq) else []
    async with deps.engine.begin() as conn:
        if (await conn.execute(select(evidence.c.id).where(evidence.c.id == evidence_id))
                ).first() is None:
            return 0
        alive = await _existing(conn, [other for other, _d in found])
        pairs = [p for other, d in found if other in alive
                 for p in ({"evidence_id": evidence_id, "other_id": other, "distance": d},
                           {"evidence_id": other, "other_id": evidence_id, "distance": d})]
        # In key order: two scans storing the same pair then wait for each other instead of
        # each holding one direction and waiting for the other (a deadlock on PostgreSQL).
        pairs.sort(key=lambda p: (p["evidence_id"], p["other_id"]))
        if pairs:
            await conn.execute(_insert_pairs(conn.dialect.name), pairs)
        await conn.execute(update(evidence).where(evidence.c.id == evidence_id)
                           .values(pdq_scanned_at=datetime.now(UTC)))
    return len(pairs) // 2


async def _existing(conn: AsyncConnection, ids: list[int]) -> set[int]:
    # A piece found by the scan may have been erased since (its case was forgotten).
    out: set[int] = set()
    for at in range(0, len(ids), _IN_BATCH):
        out.update((await conn.execute(select(evidence.c.id).where(
            evidence.c.id.in_(ids[at:at + _IN_BATCH])))).scalars())
    return out


def _insert_pairs(dialect: str) -> Insert:
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    return make(evidence_matches).on_conflict_do_nothing()


async def scan_pending(deps: Deps, now: datetime | None = None, limit: int = 100) -> int:
    """Finish scans a crash or restart cut short (rows with a hash, unscanned for longer than
    PENDING_AFTER); how many were scanned."""
    before = (now or datetime.now(UTC)) - PENDING_AFTER
    async with deps.engine.connect() as conn:
        rows = (await conn.execute(
            select(evidence.c.id, evidence.c.pdq)
            .where(and_(evidence.c.pdq.is_not(None), evidence.c.pdq_scanned_at.is_(None),
                        evidence.c.created_at <= before))
            .order_by(evidence.c.id).limit(limit))).all()
    for eid, pdq in rows:
        await scan(deps, eid, pdq)
    if rows:
        log.info("interrupted pdq scans finished", extra={"count": len(rows)})
    return len(rows)
