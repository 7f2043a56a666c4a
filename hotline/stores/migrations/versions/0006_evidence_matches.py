"""evidence matches: PDQ matches found once at record time, read by the evidence panel

Revision ID: 0006
Revises: 0004, 0005
Create Date: 2026-11-26 09:00:00

Joins the Telegram (0004) and Twilio (0005) branches: one head again. Written by hand.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = ("0004", "0005")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_matches",
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"],
                                name=op.f("fk_evidence_matches_evidence_id_evidence"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["other_id"], ["evidence.id"],
                                name=op.f("fk_evidence_matches_other_id_evidence"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("evidence_id", "other_id", name=op.f("pk_evidence_matches")),
    )
    with op.batch_alter_table("evidence_matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_matches_other_id"), ["other_id"],
                              unique=False)
    # Pairs among evidence recorded before this revision, found the same way, once
    # (services/evidence.STORE_MAX_DISTANCE; the configured thresholds apply when read).
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, pdq FROM evidence WHERE pdq IS NOT NULL")).fetchall()
    pairs = []
    for i, (a_id, a_pdq) in enumerate(rows):
        a = int(a_pdq, 16)
        for b_id, b_pdq in rows[i + 1:]:
            d = (a ^ int(b_pdq, 16)).bit_count()
            if d <= 64:
                pairs += [{"e": a_id, "o": b_id, "d": d}, {"e": b_id, "o": a_id, "d": d}]
    if pairs:
        conn.execute(sa.text("INSERT INTO evidence_matches (evidence_id, other_id, distance) "
                             "VALUES (:e, :o, :d)"), pairs)


def downgrade() -> None:
    with op.batch_alter_table("evidence_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_matches_other_id"))
    op.drop_table("evidence_matches")
