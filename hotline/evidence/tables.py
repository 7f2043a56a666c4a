"""The evidence room's tables (SQLAlchemy Core). Only this room's modules use them;
other rooms ask its services. See docs/stores.md.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    text,
)

from hotline.stores.sql.schema import UTCDateTime, metadata

# Evidence a victim sent: fingerprints always, the file itself only with consent (below).
evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    # The inbound message that carried it (its caption or "[photo]").
    Column("message_seq", Integer, nullable=True),
    # photo | document
    Column("kind", String(16), nullable=False),
    Column("mime", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    # PDQ perceptual hash (64 hex digits) and its quality 0-100, for images only.
    Column("pdq", String(64), nullable=True),
    Column("pdq_quality", Integer, nullable=True),
    # Where the victim says it appeared (intake platform code), and their note/link, sealed.
    Column("platform", String(32), nullable=True),
    Column("location_sealed", LargeBinary, nullable=True),
    # pending | kept | declined | expired
    Column("consent", String(16), nullable=False, server_default=text("'pending'")),
    Column("created_at", UTCDateTime, nullable=False),
    # When the kept file is deleted (evidence retention).
    Column("purge_at", UTCDateTime, nullable=True, index=True),
    # When its PDQ hash was compared with every stored one (services/pdq_scan.py); NULL with a
    # hash: not yet, or a crash cut the scan short (found through ix_evidence_unscanned).
    Column("pdq_scanned_at", UTCDateTime, nullable=True),
    Index("ix_evidence_unscanned", "id",
          sqlite_where=text("pdq IS NOT NULL AND pdq_scanned_at IS NULL"),
          postgresql_where=text("pdq IS NOT NULL AND pdq_scanned_at IS NULL")),
)


# PDQ matches between pieces of evidence, found once, when the newer one is recorded (one
# scan of the stored hashes then, services/pdq_scan.py), stored both ways: an evidence panel
# reads them instead of comparing every hash again on every load. Deleting either piece
# deletes the pair.
evidence_matches = Table(
    "evidence_matches",
    metadata,
    Column("evidence_id", Integer, ForeignKey("evidence.id", ondelete="CASCADE"),
           primary_key=True),
    Column("other_id", Integer, ForeignKey("evidence.id", ondelete="CASCADE"),
           primary_key=True, index=True),
    Column("distance", Integer, nullable=False),
)


# The file of a piece of evidence, AES-GCM sealed with "evidence:<id>" as associated data.
evidence_files = Table(
    "evidence_files",
    metadata,
    Column("evidence_id", Integer, ForeignKey("evidence.id", ondelete="CASCADE"),
           primary_key=True),
    Column("blob_sealed", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
