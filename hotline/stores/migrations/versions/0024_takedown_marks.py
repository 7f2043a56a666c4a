"""takedown_marks: how far the desk's re-upload matching has read the evidence

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 03:30:00

New evidence was compared with removed items only when its event reached the desk (the event
stream is at most once: a match lost in a Redis outage was never retried). The mark
"rematch" holds the newest evidence id compared; a periodic pass compares what came after it.
No row: the first pass starts from the newest evidence (older pictures were never meant to
be compared with items removed after them). Written by hand.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "takedown_marks",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("takedown_marks")
