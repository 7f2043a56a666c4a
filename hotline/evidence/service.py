"""Evidence a victim sends: fingerprints always, the file itself only with their consent.

Photos and documents are evidence, not content to keep: each is recorded by its SHA-256 and,
for images, its PDQ perceptual hash with the hash's quality, plus where the victim says it
appeared. The file is kept only if the victim says yes, then sealed (AES-GCM, bound to the
evidence id) and deleted after telegram.evidence_days. PDQ matches across cases use the
configured distance and quality thresholds, which are logged with every match. Counselors see
a blurred preview; the original only on an audited reveal (hotline/evidence/api.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.audit import log as audit
from hotline.deps import Deps
from hotline.domain.event_types import EventType
from hotline.evidence import pdq_scan
from hotline.evidence.tables import evidence, evidence_files, evidence_matches
from hotline.jobs import in_batches, run_leased

log = logging.getLogger(__name__)

PENDING, KEPT, DECLINED, EXPIRED = "pending", "kept", "declined", "expired"
PURGE_EVERY_S = 300.0
# Files per transaction (jobs.in_batches).
PURGE_BATCH = 200


@dataclass(frozen=True)
class Evidence:
    id: int
    conversation_id: str
    message_seq: int | None
    kind: str
    mime: str
    size_bytes: int
    sha256: str
    pdq: str | None
    pdq_quality: int | None
    platform: str | None
    location: str | None
    consent: str
    kept: bool
    created_at: datetime
    purge_at: datetime | None

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "message_seq": self.message_seq, "kind": self.kind,
                "mime": self.mime, "size_bytes": self.size_bytes, "sha256": self.sha256,
                "pdq": self.pdq, "pdq_quality": self.pdq_quality, "platform": self.platform,
                "location": self.location, "consent": self.consent, "kept": self.kept,
                "image": self.kept and self.mime.startswith("image/"),
                "created_at": self.created_at.isoformat(),
                "purge_at": self.purge_at.isoformat() if self.purge_at else None}


def _location_context(evidence_id: int) -> str:
    return f"evidence-location:{evidence_id}"


def file_context(evidence_id: int) -> str:
    """Associated data of a sealed evidence file: the blob cannot be moved to another row."""
    return f"evidence:{evidence_id}"


async def record(deps: Deps, *, conversation_id: str, message_seq: int | None, kind: str,
                 mime: str, size_bytes: int, sha256: str, pdq: str | None,
                 pdq_quality: int | None, location: str | None = None) -> int:
    """Store one piece of evidence's fingerprints (no file); returns its id. An image's PDQ
    hash is then compared with every stored one (pdq_scan.py), outside the transaction."""
    if pdq is not None and not pdq_scan.PDQ_HEX.fullmatch(pdq):
        raise ValueError("pdq: expected 64 lowercase hex digits")
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        eid = int((await conn.execute(insert(evidence).values(
            conversation_id=conversation_id, message_seq=message_seq, kind=kind, mime=mime,
            size_bytes=size_bytes, sha256=sha256, pdq=pdq, pdq_quality=pdq_quality,
            consent=PENDING, created_at=now).returning(evidence.c.id))).scalar_one())
        if location:
            await conn.execute(update(evidence).where(evidence.c.id == eid).values(
                location_sealed=deps.keyring.seal_text(location, _location_context(eid))))
        await audit.record(conn, at=now, actor_id=None, action="evidence.recorded",
                           target_kind="conversation", target_id=conversation_id,
                           evidence=eid, kind=kind, pdq=pdq is not None)
    if pdq is not None:
        await pdq_scan.scan(deps, eid, pdq)
    found = await matches(deps, eid)
    cfg = deps.config.telegram
    for other, _cid, dist in found:
        log.info("pdq match", extra={"evidence": eid, "other": other, "distance": dist,
                                     "max_distance": cfg.pdq_match_distance,
                                     "min_quality": cfg.pdq_min_quality})
    log.info("evidence recorded", extra={"conversation": conversation_id, "evidence": eid,
                                         "kind": kind, "pdq_quality": pdq_quality,
                                         "matches": len(found)})
    await deps.publish({"type": EventType.EVIDENCE, "conversation": conversation_id,
                        "evidence": eid, "change": "recorded"})
    return eid


async def set_platform(deps: Deps, evidence_id: int, platform: str) -> None:
    async with deps.engine.begin() as conn:
        await conn.execute(update(evidence).where(evidence.c.id == evidence_id)
                           .values(platform=platform))


async def keep(deps: Deps, evidence_id: int, data: bytes) -> bool:
    """The victim consented: seal and store the file under retention; False if not pending."""
    now = datetime.now(UTC)
    purge_at = now + timedelta(days=deps.config.telegram.evidence_days)
    blob = deps.keyring.seal_bytes(data, file_context(evidence_id))
    async with deps.engine.begin() as conn:
        result = await conn.execute(update(evidence).where(and_(
            evidence.c.id == evidence_id, evidence.c.consent == PENDING)).values(
            consent=KEPT, purge_at=purge_at))
        if result.rowcount != 1:
            return False
        await conn.execute(insert(evidence_files).values(
            evidence_id=evidence_id, blob_sealed=blob, created_at=now))
        cid = await _conversation(conn, evidence_id)
        await audit.record(conn, at=now, actor_id=None, action="evidence.kept",
                           target_kind="conversation", target_id=cid or "",
                           evidence=evidence_id, purge_at=purge_at.isoformat())
    # The counselor's evidence panel shows the kept file (its preview) without a reload.
    await deps.publish({"type": EventType.EVIDENCE, "conversation": cid, "evidence": evidence_id,
                        "change": "kept"})
    return True


async def decline(deps: Deps, evidence_id: int) -> bool:
    """The victim said no (or the window passed): fingerprints only, forever."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        result = await conn.execute(update(evidence).where(and_(
            evidence.c.id == evidence_id, evidence.c.consent == PENDING)).values(
            consent=DECLINED))
        if result.rowcount != 1:
            return False
        cid = await _conversation(conn, evidence_id)
        await audit.record(conn, at=now, actor_id=None, action="evidence.declined",
                           target_kind="conversation", target_id=cid or "",
                           evidence=evidence_id)
    await deps.publish({"type": EventType.EVIDENCE, "conversation": cid, "evidence": evidence_id,
                        "change": "declined"})
    return True


async def _conversation(conn: AsyncConnection, evidence_id: int) -> str | None:
    return (await conn.execute(select(evidence.c.conversation_id).where(
        evidence.c.id == evidence_id))).scalar_one_or_none()


async def conversation_of(deps: Deps, evidence_id: int) -> str | None:
    async with deps.engine.connect() as conn:
        return await _conversation(conn, evidence_id)


def _row(deps: Deps, r: object, kept: bool) -> Evidence:
    m = r._mapping  # type: ignore[attr-defined]
    loc = m["location_sealed"]
    return Evidence(
        id=m["id"], conversation_id=m["conversation_id"], message_seq=m["message_seq"],
        kind=m["kind"], mime=m["mime"], size_bytes=m["size_bytes"], sha256=m["sha256"],
        pdq=m["pdq"], pdq_quality=m["pdq_quality"], platform=m["platform"],
        location=deps.keyring.open_text_or_none(loc, _location_context(m["id"]))
        if loc else None,
        consent=m["consent"], kept=kept, created_at=m["created_at"], purge_at=m["purge_at"])


async def get(deps: Deps, evidence_id: int) -> Evidence | None:
    async with deps.engine.connect() as conn:
        r = (await conn.execute(select(evidence).where(evidence.c.id == evidence_id))).first()
        if r is None:
            return None
        kept = (await conn.execute(select(evidence_files.c.evidence_id).where(
            evidence_files.c.evidence_id == evidence_id))).first() is not None
    return _row(deps, r, kept)


async def list_for(deps: Deps, conversation_id: str) -> list[Evidence]:
    async with deps.engine.connect() as conn:
        rows = list(await conn.execute(select(evidence).where(
            evidence.c.conversation_id == conversation_id).order_by(evidence.c.id)))
        kept = set((await conn.execute(select(evidence_files.c.evidence_id).where(
            evidence_files.c.evidence_id.in_([r.id for r in rows])))).scalars())
    return [_row(deps, r, r.id in kept) for r in rows]


@dataclass(frozen=True)
class Fingerprint:
    """A piece of evidence's PDQ hash (None: not an image) and when it was recorded."""

    id: int
    pdq: str | None
    pdq_quality: int | None
    created_at: datetime


async def fingerprints_after(deps: Deps, after_id: int, limit: int) -> list[Fingerprint]:
    """Evidence with an id over `after_id`, oldest first: what a follower that keeps its own
    mark (the desk's re-upload matching) has not compared yet."""
    async with deps.engine.connect() as conn:
        rows = await conn.execute(
            select(evidence.c.id, evidence.c.pdq, evidence.c.pdq_quality, evidence.c.created_at)
            .where(evidence.c.id > after_id).order_by(evidence.c.id).limit(limit))
        return [Fingerprint(int(r.id), r.pdq, r.pdq_quality, r.created_at) for r in rows]


async def newest_id(deps: Deps) -> int:
    """The newest evidence id (0: none yet)."""
    async with deps.engine.connect() as conn:
        return int((await conn.execute(select(func.max(evidence.c.id)))).scalar_one() or 0)


async def matches(deps: Deps, evidence_id: int) -> list[tuple[int, str, int]]:
    """Other evidence whose image is the same as this one's by PDQ: (id, conversation, distance).

    Only hashes of at least telegram.pdq_min_quality take part; a distance up to
    telegram.pdq_match_distance is a match (the configured values when read)."""
    return (await matches_for(deps, [evidence_id])).get(evidence_id, [])


async def matches_for(deps: Deps, evidence_ids: list[int]
                      ) -> dict[int, list[tuple[int, str, int]]]:
    """`matches` for several pieces of evidence in one query (an evidence panel)."""
    cfg = deps.config.telegram
    if not evidence_ids:
        return {}
    mine, other = evidence.alias("mine"), evidence.alias("other")
    async with deps.engine.connect() as conn:
        rows = await conn.execute(
            select(evidence_matches.c.evidence_id, other.c.id, other.c.conversation_id,
                   evidence_matches.c.distance)
            .join(mine, mine.c.id == evidence_matches.c.evidence_id)
            .join(other, other.c.id == evidence_matches.c.other_id)
            .where(and_(evidence_matches.c.evidence_id.in_(evidence_ids),
                        evidence_matches.c.distance <= cfg.pdq_match_distance,
                        mine.c.pdq_quality >= cfg.pdq_min_quality,
                        other.c.pdq_quality >= cfg.pdq_min_quality))
            .order_by(evidence_matches.c.evidence_id, evidence_matches.c.distance,
                      other.c.id))
        out: dict[int, list[tuple[int, str, int]]] = {}
        for r in rows:
            out.setdefault(r[0], []).append((r[1], r[2], r[3]))
    return out


async def original(deps: Deps, evidence_id: int) -> bytes | None:
    """The decrypted file, if it was kept (callers audit the access)."""
    async with deps.engine.connect() as conn:
        blob = (await conn.execute(select(evidence_files.c.blob_sealed).where(
            evidence_files.c.evidence_id == evidence_id))).scalar_one_or_none()
    if blob is None:
        return None
    return deps.keyring.open_bytes(blob, file_context(evidence_id))


async def forget_locations(conn: AsyncConnection, conversation_ids: list[str]) -> None:
    """Delete the victim's notes on where their evidence appeared (their words, which go with
    the transcript); the fingerprints stay."""
    await conn.execute(update(evidence).where(and_(
        evidence.c.conversation_id.in_(conversation_ids), evidence.c.location_sealed.is_not(None)))
        .values(location_sealed=None))


async def erase(conn: AsyncConnection, conversation_ids: list[str]) -> list[int]:
    """Within an erasure's transaction: delete the evidence (and kept files) of conversations;
    returns the erased ids."""
    if not conversation_ids:
        return []
    ids = list((await conn.execute(select(evidence.c.id).where(
        evidence.c.conversation_id.in_(conversation_ids)))).scalars())
    if ids:
        # Explicit, not only ON DELETE CASCADE: SQLite enforces cascades per connection.
        await conn.execute(delete(evidence_files).where(evidence_files.c.evidence_id.in_(ids)))
        await conn.execute(delete(evidence).where(evidence.c.id.in_(ids)))
    return ids


async def purge_due(deps: Deps, now: datetime | None = None,
                    batch: int = PURGE_BATCH) -> int:
    """Delete every kept file whose retention has ended, `batch` files per transaction; the
    fingerprints stay. (The victim's location note goes with the transcript: retention.py.)"""
    now = now or datetime.now(UTC)
    deleted, _ = await in_batches(deps.engine, lambda c: _purge_files(c, now, batch), batch)
    if deleted:
        log.info("evidence files deleted under retention", extra={"count": deleted})
    return deleted


async def _purge_files(conn: AsyncConnection, now: datetime, batch: int) -> tuple[int, int]:
    due = list(await conn.execute(select(evidence.c.id, evidence.c.conversation_id).where(
        and_(evidence.c.purge_at.is_not(None), evidence.c.purge_at <= now)).limit(batch)))
    if not due:
        return 0, 0
    ids = [r.id for r in due]
    await conn.execute(delete(evidence_files).where(evidence_files.c.evidence_id.in_(ids)))
    await conn.execute(update(evidence).where(evidence.c.id.in_(ids)).values(
        consent=EXPIRED, purge_at=None))
    for r in due:
        await audit.record(conn, at=now, actor_id=None, action="retention.evidence_deleted",
                           target_kind="conversation", target_id=r.conversation_id,
                           evidence=r.id)
    return len(due), len(due)


async def run_purge(deps: Deps, stop: asyncio.Event, every_s: float = PURGE_EVERY_S) -> None:
    """Forever: delete expired evidence files and finish PDQ scans that a crash or restart
    cut short (one instance at a time)."""
    async def one_pass() -> None:
        await purge_due(deps)
        await pdq_scan.scan_pending(deps)

    await run_leased(deps.redis, deps.keys.job_lock("evidence-purge"), every_s, one_pass, stop,
                     lease_ms=max(1, int(every_s) - 1) * 1000)
