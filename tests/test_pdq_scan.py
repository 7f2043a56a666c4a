"""services/pdq_scan.py on SQLite and PostgreSQL: the vectorized distance agrees with the
plain one, a chunked scan finds exactly the close stored hashes (not itself, not malformed
rows), pairs are stored both ways once even when two pieces are recorded together or scanned
twice, a scan cut short is finished by the evidence job's `scan_pending`, and a malformed hash
is refused before anything is stored."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from hotline.cases.tables import conversations
from hotline.config import Config
from hotline.deps import Deps
from hotline.evidence import pdq_scan
from hotline.evidence import service as ev
from hotline.evidence.tables import evidence, evidence_matches
from tests.service_deps import open_deps

A = "f" * 64


def _flip(h: str, bits: int) -> str:
    """`h` with its lowest `bits` bits flipped."""
    return f"{int(h, 16) ^ ((1 << bits) - 1):064x}"


@pytest.mark.parametrize(("a", "b", "expected"), [
    (A, A, 0),
    (A, _flip(A, 1), 1),
    (A, _flip(A, 31), 31),
    (A, _flip(A, 64), 64),
    (A, "0" * 64, 256),
    ("0123456789abcdef" * 4, "fedcba9876543210" * 4, 256),  # each nibble pair XORs to f
    ("0123456789abcdef" * 4, "0123456789abcdee" * 4, 4),
    ("8" + "0" * 63, "0" * 64, 1),  # the first (most significant) bit
])
def test_distances_table(a: str, b: str, expected: int) -> None:
    assert pdq_scan.pdq_distance(a, b) == expected
    assert pdq_scan.distances(a, [b]).tolist() == [expected]


def test_distances_agree_with_the_plain_count() -> None:
    target = secrets.token_hex(32)
    hashes = [secrets.token_hex(32) for _ in range(300)] + [target, _flip(target, 7)]
    assert pdq_scan.distances(target, hashes).tolist() == [
        pdq_scan.pdq_distance(target, h) for h in hashes]
    assert pdq_scan.distances(target, []).tolist() == []


async def _conversation(deps: Deps) -> str:
    cid = secrets.token_hex(16)
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        await conn.execute(insert(conversations).values(
            id=cid, channel="telegram", pseudonym=secrets.token_hex(8), language="ko",
            status="waiting", urgency="normal", created_at=now, enqueued_at=now,
            last_activity_at=now))
    return cid


async def _raw_evidence(deps: Deps, cid: str, pdq: str | None, *,
                        at: datetime | None = None, scanned: bool = False) -> int:
    """An evidence row written directly, as a crash after the commit would leave it."""
    at = at or datetime.now(UTC)
    async with deps.engine.begin() as conn:
        return int((await conn.execute(insert(evidence).values(
            conversation_id=cid, kind="photo", mime="image/png", size_bytes=1,
            sha256="0" * 64, pdq=pdq, pdq_quality=100 if pdq else None, consent="pending",
            created_at=at, pdq_scanned_at=at if scanned else None)
            .returning(evidence.c.id))).scalar_one())


async def _record(deps: Deps, cid: str, pdq: str | None) -> int:
    return await ev.record(deps, conversation_id=cid, message_seq=None, kind="photo",
                           mime="image/png", size_bytes=1, sha256="0" * 64, pdq=pdq,
                           pdq_quality=100 if pdq else None)


async def _pairs(deps: Deps) -> list[tuple[int, int, int]]:
    async with deps.engine.connect() as conn:
        rows = await conn.execute(select(evidence_matches).order_by(
            evidence_matches.c.evidence_id, evidence_matches.c.other_id))
        return [(r[0], r[1], r[2]) for r in rows]


async def _scanned(deps: Deps, eid: int) -> bool:
    async with deps.engine.connect() as conn:
        return (await conn.execute(select(evidence.c.pdq_scanned_at)
                                   .where(evidence.c.id == eid))).scalar_one() is not None


async def test_chunked_scan_finds_exactly_the_close_hashes(config: Config) -> None:
    async with open_deps(config) as deps:
        cid = await _conversation(deps)
        near = {await _raw_evidence(deps, cid, _flip(A, d), scanned=True): d
                for d in (0, 5, 31, 64)}
        far = [await _raw_evidence(deps, cid, _flip(A, 65), scanned=True)]
        far += [await _raw_evidence(deps, cid, secrets.token_hex(32), scanned=True)
                for _ in range(10)]
        await _raw_evidence(deps, cid, None)
        await _raw_evidence(deps, cid, "not a hash", scanned=True)
        me = await _raw_evidence(deps, cid, A)
        # Chunks of 3 rows: the scan crosses many chunk edges, and its own row is in one.
        found = await pdq_scan.close_to(deps.engine, me, A, chunk=3)
        assert sorted(found) == sorted(near.items())
        assert sorted(await pdq_scan.close_to(deps.engine, me, A)) == sorted(near.items())


async def test_record_stores_pairs_both_ways_and_marks_scanned(config: Config) -> None:
    async with open_deps(config) as deps:
        cid = await _conversation(deps)
        first = await _record(deps, cid, A)
        other = await _record(deps, cid, "0" * 64)
        assert await _pairs(deps) == []
        second = await _record(deps, await _conversation(deps), _flip(A, 9))
        assert await _pairs(deps) == [(first, second, 9), (second, first, 9)]
        assert all([await _scanned(deps, e) for e in (first, other, second)])
        assert [m[0] for m in await ev.matches(deps, second)] == [first]
        # Scanning again (the job after a crash that came after the insert) adds nothing.
        assert await pdq_scan.scan(deps, second, _flip(A, 9)) == 1
        assert len(await _pairs(deps)) == 2
        # A document has no hash: nothing to scan.
        doc = await _record(deps, cid, None)
        assert not await _scanned(deps, doc)


async def test_pieces_recorded_together_find_each_other_once(config: Config) -> None:
    async with open_deps(config) as deps:
        cids = [await _conversation(deps) for _ in range(6)]
        hashes = [_flip(A, d) for d in (0, 3, 6, 9, 12, 15)]
        ids = await asyncio.gather(*(_record(deps, c, h) for c, h in zip(cids, hashes,
                                                                          strict=True)))
        pairs = await _pairs(deps)
        # Every pair of the six, both ways, exactly once.
        assert len(pairs) == len(set(pairs)) == 6 * 5
        assert {(a, b) for a, b, _d in pairs} == {(a, b) for a in ids for b in ids if a != b}


async def test_scan_cut_short_is_finished_by_the_job(config: Config) -> None:
    async with open_deps(config) as deps:
        cid = await _conversation(deps)
        old = datetime.now(UTC) - timedelta(minutes=5)
        kept = await _raw_evidence(deps, cid, A, at=old, scanned=True)
        crashed = await _raw_evidence(deps, cid, _flip(A, 2), at=old)
        legacy = await _raw_evidence(deps, cid, "ABC", at=old)  # never written by record()
        in_flight = await _raw_evidence(deps, cid, _flip(A, 4))  # its request is scanning
        assert await pdq_scan.scan_pending(deps) == 2
        assert await _scanned(deps, crashed) and await _scanned(deps, legacy)
        assert not await _scanned(deps, in_flight)
        assert (kept, crashed, 2) in await _pairs(deps)
        assert (crashed, in_flight, 2) in await _pairs(deps)
        assert await pdq_scan.scan_pending(deps) == 0
        later = datetime.now(UTC) + pdq_scan.PENDING_AFTER + timedelta(seconds=1)
        assert await pdq_scan.scan_pending(deps, now=later) == 1
        assert await _scanned(deps, in_flight)


async def test_malformed_hash_is_refused_and_nothing_stored(config: Config) -> None:
    async with open_deps(config) as deps:
        cid = await _conversation(deps)
        for bad in ("F" * 64, "f" * 63, "g" * 64, ""):
            with pytest.raises(ValueError, match="pdq"):
                await _record(deps, cid, bad)
        async with deps.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(evidence))
                    ).scalar_one() == 0
