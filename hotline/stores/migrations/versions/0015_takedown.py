"""takedown: content items, locations, removal requests and their steps, consent, alerts

Revision ID: 0015
Revises: 0018
Create Date: 2026-12-05 02:00:00

The takedown desk (issue 14). Written by hand; tests/test_takedown_migration.py checks it
against hotline.takedown.tables on SQLite and PostgreSQL. See docs/takedown.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0018"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "takedown_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("minor", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("reporter", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("pdq_quality", sa.Integer(), nullable=True),
        sa.Column("evidence_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="SET NULL",
                                name=op.f("fk_takedown_items_conversation_id_conversations")),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"], ondelete="SET NULL",
                                name=op.f("fk_takedown_items_evidence_id_evidence")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_items")),
    )
    op.create_index("ix_takedown_items_status", "takedown_items", ["status"])
    op.create_index(op.f("ix_takedown_items_conversation_id"), "takedown_items",
                    ["conversation_id"])
    op.create_table(
        "takedown_locations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("telegram_kind", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("first_seen_at", _TZ, nullable=False),
        sa.Column("last_checked_at", _TZ, nullable=True),
        sa.Column("online", sa.String(length=16), server_default=sa.text("'unknown'"),
                  nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["takedown_items.id"], ondelete="CASCADE",
                                name=op.f("fk_takedown_locations_item_id_takedown_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_locations")),
        sa.UniqueConstraint("item_id", "url", name="uq_takedown_locations_item_url"),
    )
    op.create_table(
        "takedown_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("route", sa.String(length=40), nullable=False),
        sa.Column("legal_basis", sa.String(length=24), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("due_hours", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("due_at", _TZ, nullable=True),
        sa.Column("attempt", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("rung", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("ticket", sa.String(length=120), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("fields_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("text_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("relay_reply", sa.String(length=255), nullable=True),
        sa.Column("sending_at", _TZ, nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["takedown_items.id"], ondelete="CASCADE",
                                name=op.f("fk_takedown_requests_item_id_takedown_items")),
        sa.ForeignKeyConstraint(["parent_id"], ["takedown_requests.id"], ondelete="SET NULL",
                                name=op.f("fk_takedown_requests_parent_id_takedown_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_requests")),
    )
    op.create_index(op.f("ix_takedown_requests_item_id"), "takedown_requests", ["item_id"])
    op.create_index("ix_takedown_requests_state_due", "takedown_requests", ["state", "due_at"])
    op.create_table(
        "takedown_request_locations",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["takedown_requests.id"], ondelete="CASCADE",
            name=op.f("fk_takedown_request_locations_request_id_takedown_requests")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["takedown_locations.id"], ondelete="CASCADE",
            name=op.f("fk_takedown_request_locations_location_id_takedown_locations")),
        sa.PrimaryKeyConstraint("request_id", "location_id",
                                name=op.f("pk_takedown_request_locations")),
    )
    op.create_index(op.f("ix_takedown_request_locations_location_id"),
                    "takedown_request_locations", ["location_id"])
    op.create_table(
        "takedown_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=24), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("recorded_at", _TZ, nullable=False),
        sa.Column("ticket", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["takedown_requests.id"], ondelete="CASCADE",
                                name=op.f("fk_takedown_steps_request_id_takedown_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_steps")),
    )
    op.create_index(op.f("ix_takedown_steps_request_id"), "takedown_steps", ["request_id"])
    op.create_table(
        "takedown_consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("given", sa.Boolean(), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["takedown_items.id"], ondelete="CASCADE",
                                name=op.f("fk_takedown_consents_item_id_takedown_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_consents")),
    )
    op.create_index(op.f("ix_takedown_consents_item_id"), "takedown_consents", ["item_id"])
    op.create_table(
        "takedown_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("step", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("escalate_at", _TZ, nullable=True),
        sa.Column("acked_at", _TZ, nullable=True),
        sa.Column("acked_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["takedown_requests.id"], ondelete="CASCADE",
                                name=op.f("fk_takedown_alerts_request_id_takedown_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_alerts")),
    )
    op.create_index(op.f("ix_takedown_alerts_request_id"), "takedown_alerts", ["request_id"])
    op.create_index(op.f("ix_takedown_alerts_escalate_at"), "takedown_alerts",
                    ["escalate_at"])


def downgrade() -> None:
    for table in ("takedown_alerts", "takedown_consents", "takedown_steps",
                  "takedown_request_locations", "takedown_requests", "takedown_locations",
                  "takedown_items"):
        op.drop_table(table)
