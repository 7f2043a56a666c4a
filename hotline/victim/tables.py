"""The victim room's tables (SQLAlchemy Core). Only this room's modules use them;
other rooms ask its services. See docs/stores.md.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    text,
)

from hotline.stores.sql.schema import UTCDateTime, metadata

# Web chat sessions ended with Quick exit (migration 0012): their cookie is refused on every
# instance. `chat_ref` is a keyed digest of the session (webchat.chat_ref), not the cookie.
chat_exits = Table(
    "chat_exits",
    metadata,
    Column("chat_ref", String(64), primary_key=True),
    Column("ended_at", UTCDateTime, nullable=False),
)


# A case number and PIN a victim can use later on any channel (the PIN only as an argon2 hash).
case_codes = Table(
    "case_codes",
    metadata,
    Column("case_number", String(16), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False, unique=True),
    Column("pin_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("failed_attempts", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", UTCDateTime, nullable=True),
)


# How many times the case's lock has struck: each lock lasts twice the one before (capped),
# so guessing stays slow however many addresses try (services/casecode.py).
case_codes.append_column(Column("locks", Integer, nullable=False, server_default=text("0")))


# The victim chose not to see platform names on their case page (someone may look over their
# shoulder): the page then says "a platform".
case_codes.append_column(Column("hide_platforms", Boolean, nullable=False,
                                server_default=text("false")))


# What a victim asked of the takedown desk from their case page when the desk had no item to
# attach it to: a new link (sealed) or a withdrawal of consent. Takedown staff see them with
# the case; `done_at` is set when one is handled (or attached to an item).
case_requests = Table(
    "case_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False, index=True),
    # link | consent_withdrawn
    Column("kind", String(24), nullable=False),
    # The link, sealed with "case-request:<conversation id>"; NULL for a withdrawal.
    Column("body_sealed", LargeBinary, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
)


# Referrals given to a victim (a directory code of config [[referrals]]): offered by the
# prompts at close, or picked by the counselor. Copied into the intake record at close.
referrals_made = Table(
    "referrals_made",
    metadata,
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("code", String(32), primary_key=True),
    # auto | counselor
    Column("via", String(16), nullable=False),
    Column("made_at", UTCDateTime, nullable=False),
)
