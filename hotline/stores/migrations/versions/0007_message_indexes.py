"""message indexes: only the rows each index is read for

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:40:00

Every inbound message wrote entries for NULL `next_attempt_at` and `provider_ref` into two
indexes. Nothing reads the first (the outbox looks for undelivered replies, which it could not
find through it, so it scanned the whole table every second); the second is read only for
values that exist. Now: `provider_ref` is indexed where it is set, and undelivered replies have
an index of their own, which the outbox's query uses. Written by hand.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_UNDELIVERED = sa.text("delivery IN ('pending', 'retrying')")
_HAS_REF = sa.text("provider_ref IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_messages_next_attempt_at", table_name="messages")
    op.drop_index("ix_messages_provider_ref", table_name="messages")
    op.create_index("ix_messages_provider_ref", "messages", ["provider_ref"],
                    sqlite_where=_HAS_REF, postgresql_where=_HAS_REF)
    op.create_index("ix_messages_undelivered", "messages", ["conversation_id", "seq"],
                    sqlite_where=_UNDELIVERED, postgresql_where=_UNDELIVERED)


def downgrade() -> None:
    op.drop_index("ix_messages_undelivered", table_name="messages")
    op.drop_index("ix_messages_provider_ref", table_name="messages")
    op.create_index("ix_messages_provider_ref", "messages", ["provider_ref"])
    op.create_index("ix_messages_next_attempt_at", "messages", ["next_attempt_at"])
