"""conversations: a sender index; contact deadlines cleared once done

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 14:00:00

A victim's latest conversation (their chat page, their status check) was found by scanning
the whole conversations table: the only index on (channel, pseudonym) is the partial one for
open conversations. `ix_conversations_sender` serves it and the erasure of a sender.

Retention cleared a contact address but left its deadline, and conversations with no address
(web chats) kept theirs too, so every sweep walked every conversation ever closed through the
`purge_contact_at` index. Now the sweep clears the deadline with the address; here, deadlines
of conversations with nothing left to delete are cleared once. Written by hand.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_conversations_sender", "conversations",
                    ["channel", "pseudonym", "created_at"])
    op.execute("UPDATE conversations SET purge_contact_at = NULL "
               "WHERE contact_sealed IS NULL AND purge_contact_at IS NOT NULL")


def downgrade() -> None:
    # The cleared deadlines are not restored: there was nothing left for them to delete.
    op.drop_index("ix_conversations_sender", table_name="conversations")
