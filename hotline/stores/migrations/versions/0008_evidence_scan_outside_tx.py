"""evidence: PDQ scans leave the recording transaction

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 14:00:00

A new image's hash used to be compared with every stored one inside the transaction that
recorded it, holding SQLite's write lock for the whole scan. Now the scan runs after the commit
(services/pdq_scan.py), so a row records when it was scanned, and rows with a hash still
unscanned (a crash in between) have a small index of their own for the job that finishes them.
Evidence recorded before this revision was scanned in its own transaction (or by 0006): it is
marked scanned at its recording time. Written by hand.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_UNSCANNED = sa.text("pdq IS NOT NULL AND pdq_scanned_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pdq_scanned_at", sa.DateTime(timezone=True),
                                      nullable=True))
    op.execute("UPDATE evidence SET pdq_scanned_at = created_at WHERE pdq IS NOT NULL")
    op.create_index("ix_evidence_unscanned", "evidence", ["id"],
                    sqlite_where=_UNSCANNED, postgresql_where=_UNSCANNED)


def downgrade() -> None:
    op.drop_index("ix_evidence_unscanned", table_name="evidence")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_column("pdq_scanned_at")
