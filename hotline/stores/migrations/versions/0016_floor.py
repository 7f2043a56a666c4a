"""floor: rostered is a choice, abandoned contacts have a deadline, triage signals are kept

Revision ID: 0016
Revises: 0019
Create Date: 2026-12-05 01:40:00

- `counselors.rostered`: whether the person follows the roster (on shift only in their
  shifts) or not (on shift whenever signed in, except time off). Before, a first roster row
  made a person rostered as a side effect; people who have rows keep being rostered.
- `conversations.abandon_at`: when the floor's rule on abandoned contacts looks at the case
  next (services/abandon.py), with a partial index so the job reads only what is due.
- `conversations.signals_withdrawn`: the signals staff withdrew from the case (comma list):
  triage does not raise them again on the inbound path, which reads it with the case.
- `case_signals`: the triage signals of a case with the catalogue terms that raised them (ids,
  never message text) and, once a counselor withdrew one, who, when and why.
Written by hand; plain ADD/DROP COLUMN (no SQLite table rebuild, see 0010).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("counselors", sa.Column("rostered", sa.Boolean(), nullable=False,
                                          server_default=sa.text("false")))
    op.execute("UPDATE counselors SET rostered = true WHERE id IN "
               "(SELECT counselor_id FROM shifts UNION SELECT counselor_id FROM shift_overrides)")
    op.add_column("conversations", sa.Column("abandon_at", sa.DateTime(timezone=True),
                                             nullable=True))
    op.create_index("ix_conversations_abandon_at", "conversations", ["abandon_at"],
                    sqlite_where=sa.text("abandon_at IS NOT NULL"),
                    postgresql_where=sa.text("abandon_at IS NOT NULL"))
    op.add_column("conversations", sa.Column("signals_withdrawn", sa.String(length=255),
                                             nullable=False, server_default=sa.text("''")))
    op.create_table(
        "case_signals",
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("signal", sa.String(length=32), nullable=False),
        sa.Column("certainty", sa.String(length=16), nullable=False),
        sa.Column("terms", sa.String(length=255), nullable=False, server_default=sa.text("''")),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.Integer(), nullable=True),
        sa.Column("withdrawn_reason", sa.String(length=24), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_case_signals_conversation_id_conversations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", "signal", name=op.f("pk_case_signals")),
    )


def downgrade() -> None:
    op.drop_table("case_signals")
    op.drop_column("conversations", "signals_withdrawn")
    op.drop_index("ix_conversations_abandon_at", table_name="conversations")
    op.drop_column("conversations", "abandon_at")
    op.drop_column("counselors", "rostered")
