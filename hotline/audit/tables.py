"""The audit room's tables (SQLAlchemy Core). Only this room's modules use them;
other rooms ask its services. See docs/stores.md.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from hotline.stores.sql.schema import UTCDateTime, metadata

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor_id", Integer, nullable=True),
    Column("action", String(48), nullable=False),
    Column("target_kind", String(24), nullable=False),
    Column("target_id", String(64), nullable=False),
    # JSON with ids and enumerations only; never message text or addresses.
    Column("detail", Text, nullable=False, server_default=text("'{}'")),
    Index("ix_audit_events_target", "target_kind", "target_id"),
    # The audit search (migration 0023): by person and by action, newest first.
    Index("ix_audit_events_actor", "actor_id", "id"),
    Index("ix_audit_events_action", "action", "id"),
)
