"""Every room's tables on the one metadata: for Alembic (hotline/stores/migrations/env.py) and
for checks that compare the migrated database with the schema. Rooms import only their own
tables; this module imports them all so that none is missing from `metadata`."""

from __future__ import annotations

from hotline.audit import tables as _audit
from hotline.callbacks import tables as _callbacks
from hotline.cases import tables as _cases
from hotline.channels.twilio import tables as _twilio
from hotline.evidence import tables as _evidence
from hotline.limits import tables as _limits
from hotline.reports import tables as _reports
from hotline.staff import tables as _staff
from hotline.stores.sql.schema import metadata
from hotline.takedown import tables as _takedown
from hotline.victim import tables as _victim

ROOM_TABLES = (_audit, _callbacks, _cases, _twilio, _evidence, _limits, _reports, _staff,
               _takedown, _victim)

__all__ = ["ROOM_TABLES", "metadata"]
