"""staff administration: second factor, password resets, login challenges, exposure, debriefs,
holidays

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-05 02:00:00

Columns on `counselors`: the sealed TOTP secret, when it was confirmed, the last time step
used (a used code is refused within its window), the last login, the deactivation time and the
last break. New tables: one-time recovery codes (digests only), password reset tokens
(digests only), login challenges between the password and the second factor, exposure events,
debrief flags and the holiday calendar. Written by hand; plain ADD/DROP COLUMN, not a batch
(see 0010: a batch recreates `counselors` on SQLite and cascades to its sessions).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("totp_secret", sa.LargeBinary()),
    ("totp_enabled_at", sa.DateTime(timezone=True)),
    ("totp_last_step", sa.BigInteger()),
    ("last_login_at", sa.DateTime(timezone=True)),
    ("deactivated_at", sa.DateTime(timezone=True)),
    ("last_break_at", sa.DateTime(timezone=True)),
)


def _owner(table: str) -> sa.Column[int]:
    return sa.Column("counselor_id", sa.Integer(),
                     sa.ForeignKey("counselors.id", ondelete="CASCADE",
                                   name=op.f(f"fk_{table}_counselor_id_counselors")),
                     nullable=False)


def upgrade() -> None:
    for name, kind in _COLUMNS:
        op.add_column("counselors", sa.Column(name, kind, nullable=True))
    op.create_table(
        "staff_recovery_codes",
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        _owner("staff_recovery_codes"),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code_digest", name=op.f("pk_staff_recovery_codes")),
    )
    op.create_index(op.f("ix_staff_recovery_codes_counselor_id"), "staff_recovery_codes",
                    ["counselor_id"])
    op.create_table(
        "password_resets",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        _owner("password_resets"),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_password_resets")),
    )
    op.create_table(
        "login_challenges",
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        _owner("login_challenges"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_login_challenges")),
    )
    op.create_table(
        "exposure_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _owner("exposure_events"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exposure_events")),
    )
    op.create_index("ix_exposure_events_counselor_at", "exposure_events",
                    ["counselor_id", "at"])
    op.create_table(
        "debrief_flags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _owner("debrief_flags"),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debrief_flags")),
    )
    op.create_table(
        "holidays",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("opens_minute", sa.Integer(), nullable=True),
        sa.Column("closes_minute", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=64), server_default=sa.text("''"), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_holidays")),
    )


def downgrade() -> None:
    op.drop_table("holidays")
    op.drop_table("debrief_flags")
    op.drop_index("ix_exposure_events_counselor_at", table_name="exposure_events")
    op.drop_table("exposure_events")
    op.drop_table("login_challenges")
    op.drop_table("password_resets")
    op.drop_index(op.f("ix_staff_recovery_codes_counselor_id"),
                  table_name="staff_recovery_codes")
    op.drop_table("staff_recovery_codes")
    for name, _kind in reversed(_COLUMNS):
        op.drop_column("counselors", name)
