"""reports: takedown facts and daily intake counts (rollups), marks; intake relation

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 00:10:00

The statistics subsystem (issue 15). `report_takedown_facts` holds one row per sent takedown
request with the first time of each step, read by a year's figures through the covering index
`ix_report_takedown_facts_sent` alone; `report_intake_daily` counts intake records per local
day, dimension and value. Both are filled from the source tables by hotline.reports.queries
(the fold) from what `report_marks` says it has read; being empty here, they fill on the first
report. `intake_records.relation` is the new intake question (relation to the perpetrator).
Written by hand; tests/test_reports_migration.py checks it against the tables on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)
_TIMES = ("due_at", "sent_at", "answered_at", "decided_at", "removed_at", "refused_at",
          "overdue_at", "escalated_at", "verified_at")


def upgrade() -> None:
    op.create_table(
        "report_takedown_facts",
        sa.Column("request_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
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
                                        "removal_seconds"])
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
    op.drop_table("report_intake_daily")
    op.drop_index("ix_report_takedown_facts_sent", table_name="report_takedown_facts")
    op.drop_table("report_takedown_facts")
