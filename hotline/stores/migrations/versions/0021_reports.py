"""reports: takedown facts and daily intake counts (rollups), marks; intake relation

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 00:10:00

The statistics subsystem (issue 15). `report_takedown_facts` holds one row per sent takedown
request with the first time of each step; `report_takedown_monthly` and
`report_takedown_hours` count them per month of sending (a calendar year's figures read these,
and only the removal times of the percentiles' hour from the facts); `report_intake_daily`
counts intake records per local day, dimension and value. All are filled from the source
tables by hotline.reports.fold from what `report_marks` says it has read; being empty here,
they fill on the first report. `intake_records.relation` is the new intake question
(relation to the perpetrator). Written by hand; tests/test_reports_migration.py checks it
against the tables on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)
_REMOVED = sa.text("removal_seconds IS NOT NULL")
_WAITING = sa.text("state IN ('sent', 'acknowledged') AND overdue_at IS NULL")
_GROUP = (("month", 7), ("platform", 32), ("route", 40), ("legal_basis", 24))
_COUNTS = ("requests", "removed", "verified", "refused", "unanswered", "overdue", "settled",
           "escalated", "within_24h", "within_48h")
_TIMES = ("due_at", "sent_at", "answered_at", "decided_at", "removed_at", "refused_at",
          "overdue_at", "escalated_at", "verified_at")


def upgrade() -> None:
    op.create_table(
        "report_takedown_facts",
        sa.Column("request_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("route", sa.String(length=40), nullable=False),
        sa.Column("legal_basis", sa.String(length=24), nullable=False),
        sa.Column("rung", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        *[sa.Column(n, _TZ, nullable=True) for n in _TIMES],
        sa.Column("removal_seconds", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_report_takedown_facts")),
    )
    op.create_index("ix_report_takedown_facts_sent", "report_takedown_facts",
                    ["sent_at", "platform"],
                    postgresql_include=["route", "legal_basis", "rung", "state", "due_at",
                                        "answered_at", "decided_at", "removed_at",
                                        "refused_at",
                                        "overdue_at", "escalated_at", "verified_at",
                                        "removal_seconds", "kind"])
    op.create_index("ix_report_takedown_facts_platform_removal", "report_takedown_facts",
                    ["platform", "removal_seconds", "sent_at"], sqlite_where=_REMOVED,
                    postgresql_where=_REMOVED)
    op.create_index("ix_report_takedown_facts_route_removal", "report_takedown_facts",
                    ["route", "legal_basis", "removal_seconds", "sent_at"],
                    sqlite_where=_REMOVED, postgresql_where=_REMOVED)
    op.create_index("ix_report_takedown_facts_waiting", "report_takedown_facts",
                    ["sent_at", "due_at"], sqlite_where=_WAITING, postgresql_where=_WAITING,
                    postgresql_include=["platform", "route", "legal_basis", "rung"])
    op.create_table(
        "report_takedown_monthly",
        *[sa.Column(n, sa.String(length=w), nullable=False) for n, w in _GROUP],
        sa.Column("rung", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        *[sa.Column(n, sa.Integer(), nullable=False) for n in _COUNTS],
        sa.PrimaryKeyConstraint("month", "platform", "route", "legal_basis", "rung", "kind",
                                name=op.f("pk_report_takedown_monthly")),
    )
    op.create_table(
        "report_takedown_hours",
        *[sa.Column(n, sa.String(length=w), nullable=False) for n, w in _GROUP],
        sa.Column("hour", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "platform", "route", "legal_basis", "hour",
                                name=op.f("pk_report_takedown_hours")),
    )
    op.create_table(
        "report_intake_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "dimension", "value",
                                name=op.f("pk_report_intake_daily")),
    )
    op.create_table(
        "report_marks",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_marks")),
    )
    with op.batch_alter_table("intake_records") as batch:
        batch.add_column(sa.Column("relation", sa.String(length=24), nullable=False,
                                   server_default=sa.text("'unknown'")))


def downgrade() -> None:
    with op.batch_alter_table("intake_records") as batch:
        batch.drop_column("relation")
    op.drop_table("report_marks")
    op.drop_table("report_takedown_hours")
    op.drop_table("report_takedown_monthly")
    for name in ("ix_report_takedown_facts_waiting", "ix_report_takedown_facts_route_removal",
                 "ix_report_takedown_facts_platform_removal"):
        op.drop_index(name, table_name="report_takedown_facts")
    op.drop_table("report_intake_daily")
    op.drop_index("ix_report_takedown_facts_sent", table_name="report_takedown_facts")
    op.drop_table("report_takedown_facts")
