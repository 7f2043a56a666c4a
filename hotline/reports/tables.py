"""The reports' own tables (migration 0021): per-request takedown facts and daily intake counts,
folded in from the takedown steps and intake records they have not yet seen (queries.fold_*),
and the marks saying how far each fold has read. Only hotline.reports.queries uses them.

They are rollups: everything in them can be rebuilt from the source tables (delete the rows
and the marks). See docs/reports.md, "How the figures are kept".
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Index, Integer, String, Table

from hotline.stores.sql.tables import UTCDateTime, metadata

# One row per takedown request that has been sent: its platform, route and state, and the
# first time of each step the figures use (copied from takedown_requests / takedown_steps).
report_takedown_facts = Table(
    "report_takedown_facts",
    metadata,
    Column("request_id", Integer, primary_key=True, autoincrement=False),
    Column("item_id", Integer, nullable=False),
    Column("platform", String(32), nullable=False),
    Column("route", String(40), nullable=False),
    Column("legal_basis", String(24), nullable=False),
    Column("rung", Integer, nullable=False),
    Column("state", String(24), nullable=False),
    Column("due_at", UTCDateTime, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    # The first answer of the platform (acknowledged or any outcome).
    Column("answered_at", UTCDateTime, nullable=True),
    # The first decision: removed, partially removed, refused, or verified offline.
    Column("decided_at", UTCDateTime, nullable=True),
    Column("removed_at", UTCDateTime, nullable=True),
    Column("refused_at", UTCDateTime, nullable=True),
    Column("overdue_at", UTCDateTime, nullable=True),
    Column("escalated_at", UTCDateTime, nullable=True),
    Column("verified_at", UTCDateTime, nullable=True),
    # Seconds from sent to removed (the percentiles' column).
    Column("removal_seconds", BigInteger, nullable=True),
    # A year's range is read from this index alone on PostgreSQL (an index-only scan).
    Index("ix_report_takedown_facts_sent", "sent_at", "platform",
          postgresql_include=["route", "legal_basis", "rung", "state", "due_at",
                              "answered_at", "decided_at", "removed_at", "refused_at", "overdue_at",
                              "escalated_at", "verified_at", "removal_seconds"]),
)

# Intake records counted per local day (roster.timezone), dimension and value: one record adds
# one to each of its dimensions (several to platforms and referrals, one per value named).
report_intake_daily = Table(
    "report_intake_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("dimension", String(16), primary_key=True),
    Column("value", String(32), primary_key=True),
    Column("records", Integer, nullable=False),
)

# How far each fold has read: the highest source id folded in.
report_marks = Table(
    "report_marks",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
)
