"""takedown: monitoring after removal (checks, re-uploads) and clusters

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 00:10:00

Locations get their watch (unchecked | online | offline_once | verified), the time they are
next due a check (indexed: the job reads only what is due) and their cluster's key (indexed:
the cluster list groups by it). Existing locations of items not closed are due at once; their
keys are computed with the domain's own function. Written by hand; tests/
test_takedown_migration.py checks it against hotline.takedown.tables. See docs/takedown.md.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from hotline.domain.clusters import cluster_key

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("takedown_locations") as batch:
        batch.add_column(sa.Column("watch", sa.String(length=16),
                                   server_default=sa.text("'unchecked'"), nullable=False))
        batch.add_column(sa.Column("next_check_at", _TZ, nullable=True))
        batch.add_column(sa.Column("cluster_key", sa.String(length=160), nullable=True))
    op.create_index("ix_takedown_locations_next_check", "takedown_locations",
                    ["next_check_at"])
    op.create_index("ix_takedown_locations_cluster", "takedown_locations", ["cluster_key"])
    op.create_table(
        "takedown_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_id"], ["takedown_locations.id"], ondelete="CASCADE",
            name=op.f("fk_takedown_checks_location_id_takedown_locations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_checks")),
    )
    op.create_index("ix_takedown_checks_location_at", "takedown_checks",
                    ["location_id", "at"])
    op.create_table(
        "takedown_reuploads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("cluster_key", sa.String(length=160), nullable=True),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("found_at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["takedown_items.id"], ondelete="CASCADE",
                                name=op.f("fk_takedown_reuploads_item_id_takedown_items")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["takedown_locations.id"], ondelete="SET NULL",
            name=op.f("fk_takedown_reuploads_location_id_takedown_locations")),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"], ondelete="SET NULL",
                                name=op.f("fk_takedown_reuploads_evidence_id_evidence")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_reuploads")),
        sa.UniqueConstraint("item_id", "evidence_id",
                            name="uq_takedown_reuploads_item_evidence"),
    )
    op.create_index(op.f("ix_takedown_reuploads_item_id"), "takedown_reuploads", ["item_id"])
    op.create_index(op.f("ix_takedown_reuploads_cluster_key"), "takedown_reuploads",
                    ["cluster_key"])
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    locs = sa.table("takedown_locations", sa.column("id", sa.Integer),
                    sa.column("item_id", sa.Integer), sa.column("url", sa.String),
                    sa.column("host", sa.String), sa.column("telegram_kind", sa.String),
                    sa.column("channel", sa.String), sa.column("cluster_key", sa.String),
                    sa.column("next_check_at", _TZ))
    items = sa.table("takedown_items", sa.column("id", sa.Integer),
                     sa.column("status", sa.String))
    now = datetime.now(UTC)
    rows = conn.execute(sa.select(locs.c.id, locs.c.url, locs.c.host, locs.c.telegram_kind,
                                  locs.c.channel, items.c.status)
                        .join(items, items.c.id == locs.c.item_id)).all()
    for r in rows:
        conn.execute(sa.update(locs).where(locs.c.id == r.id).values(
            cluster_key=cluster_key(r.url, r.host, r.telegram_kind, r.channel),
            next_check_at=None if r.status == "closed" else now))


def downgrade() -> None:
    op.drop_table("takedown_reuploads")
    op.drop_table("takedown_checks")
    op.drop_index("ix_takedown_locations_cluster", table_name="takedown_locations")
    op.drop_index("ix_takedown_locations_next_check", table_name="takedown_locations")
    with op.batch_alter_table("takedown_locations") as batch:
        batch.drop_column("cluster_key")
        batch.drop_column("next_check_at")
        batch.drop_column("watch")
