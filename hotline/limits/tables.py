"""The limits room's tables (SQLAlchemy Core). Only this room's modules use them;
other rooms ask its services. See docs/stores.md.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
)

from hotline.stores.sql.schema import UTCDateTime, metadata

# Senders and client addresses a lead has banned (migration 0013): the subject is the sender's
# pseudonym or the address's keyed tag, never a phone number, chat id or address. A banned
# sender's messages are answered calmly and stored nowhere; see docs/limits.md.
bans = Table(
    "bans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # "sender" or "address".
    Column("kind", String(16), nullable=False),
    Column("subject", String(64), nullable=False),
    # The channel of a banned sender, when known (a ban by case knows it).
    Column("channel", String(16), nullable=True),
    # A reason code (hotline.domain.bans.REASONS).
    Column("reason", String(32), nullable=False),
    # The case a ban was made from ("ban the sender of case N"); no foreign key: a case the
    # victim asked us to forget goes, its ban stays until it expires.
    Column("conversation_id", String(32), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", Integer, ForeignKey("counselors.id"), nullable=True),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)
