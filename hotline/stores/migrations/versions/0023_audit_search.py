"""audit_events: indexes for searching the log by person and by action; closed cases by day

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 00:30:00

The console's audit search (docs/audit.md) filters by the actor or the action and pages back
by id: (actor_id, id) and (action, id) let either filter read one index range, newest first,
instead of the whole log. `ix_conversations_closed_at`: a lead finds the cases closed on a day
(services/casefind.py) in one range. Written by hand.
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_actor", "audit_events", ["actor_id", "id"])
    op.create_index("ix_audit_events_action", "audit_events", ["action", "id"])
    op.create_index("ix_conversations_closed_at", "conversations", ["closed_at"])


def downgrade() -> None:
    op.drop_index("ix_conversations_closed_at", table_name="conversations")
    op.drop_index("ix_audit_events_action", table_name="audit_events")
    op.drop_index("ix_audit_events_actor", table_name="audit_events")
