"""The reports' own tables (migration 0021): per-request takedown facts and daily intake counts,
folded in from the takedown steps and intake records they have not yet seen (queries.fold_*),
and the marks saying how far each fold has read. Only hotline.reports.queries uses them.

They are rollups: everything in them can be rebuilt from the source tables (delete the rows
and the marks). See docs/reports.md, "How the figures are kept".
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Index, Integer, String, Table, text

from hotline.stores.sql.schema import UTCDateTime, metadata

_WAITING = "state IN ('sent', 'acknowledged') AND overdue_at IS NULL"

# One row per takedown request that has been sent: its platform, route and state, and the
# first time of each step the figures use (copied from takedown_requests / takedown_steps).
report_takedown_facts = Table(
    "report_takedown_facts",
    metadata,
    Column("request_id", Integer, primary_key=True, autoincrement=False),
    Column("item_id", Integer, nullable=False),
    # The item's kind (intimate, synthetic, threat), for the kind filter.
    Column("kind", String(16), nullable=False),
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
                              "escalated_at", "verified_at", "removal_seconds", "kind"]),
    # The exact percentiles' second step: the removal times of one platform (or route) in one
    # hour's bucket (figures.py, "two steps").
    Index("ix_report_takedown_facts_platform_removal", "platform", "removal_seconds",
          "sent_at", sqlite_where=text("removal_seconds IS NOT NULL"),
          postgresql_where=text("removal_seconds IS NOT NULL")),
    Index("ix_report_takedown_facts_route_removal", "route", "legal_basis", "removal_seconds",
          "sent_at", sqlite_where=text("removal_seconds IS NOT NULL"),
          postgresql_where=text("removal_seconds IS NOT NULL")),
    # Requests still waiting without an overdue mark: "overdue now" depends on the time, so it
    # is counted live from these (the desk's open work, not the history).
    Index("ix_report_takedown_facts_waiting", "sent_at", "due_at",
          sqlite_where=text(_WAITING), postgresql_where=text(_WAITING),
          postgresql_include=["platform", "route", "legal_basis", "rung"]),
)

# Requests per local month of sending and group, as counts of each figure's requests (what
# does not depend on the time of asking): a calendar month's or year's figures read these
# instead of every request. Kept by the fold, which moves a request's counts when it changes.
report_takedown_monthly = Table(
    "report_takedown_monthly",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("platform", String(32), primary_key=True),
    Column("route", String(40), primary_key=True),
    Column("legal_basis", String(24), primary_key=True),
    Column("rung", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), primary_key=True),
    *[Column(n, Integer, nullable=False) for n in (
        "requests", "removed", "verified", "refused", "unanswered", "overdue", "settled",
        "escalated", "within_24h", "within_48h")],
)

# Removed requests per local month of sending, group and whole hour from sent to removed:
# where the percentiles' ranks fall (the first step).
report_takedown_hours = Table(
    "report_takedown_hours",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("platform", String(32), primary_key=True),
    Column("route", String(40), primary_key=True),
    Column("legal_basis", String(24), primary_key=True),
    Column("hour", Integer, primary_key=True, autoincrement=False),
    Column("removed", Integer, nullable=False),
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
