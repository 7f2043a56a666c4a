"""counselors: the presence status each counselor chose, kept in SQL

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 10:00:00

A counselor's status (available / busy / break / offline) lived only in Redis, so a Redis that
restarted empty turned everyone offline while every console still showed "available", and
nobody was routed. `presence.set_status` now writes it here too, and `livesync.rebuild`
restores it. Existing rows start 'offline' (the server default). Written by hand.

Plain ADD/DROP COLUMN, not a batch: on SQLite a batch with a server default recreates the
table, and dropping `counselors` with foreign keys on would cascade to its sessions, shifts
and phones (SQLite has had DROP COLUMN since 3.35).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("counselors", sa.Column("presence_status", sa.String(length=16),
                                          server_default=sa.text("'offline'"), nullable=False))


def downgrade() -> None:
    op.drop_column("counselors", "presence_status")
