"""counselors: the console language each staff member chose

Revision ID: 0018
Revises: 0013
Create Date: 2026-12-05 01:30:00

The console speaks Korean and English (prompts/<lang>/console/); each staff member picks one in
its header. NULL means the centre's console.default_language. Written by hand.

Plain ADD/DROP COLUMN, not a batch: on SQLite a batch recreates the table, and dropping
`counselors` with foreign keys on would cascade to its sessions, shifts and phones.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("counselors", sa.Column("ui_language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column("counselors", "ui_language")
