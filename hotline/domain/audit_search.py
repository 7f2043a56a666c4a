"""Searching the audit log: the query a person may run, checked field by field, and the rows
of its CSV export. Pure.

Admins search everything. A lead searches the floor's records only: events about cases,
callbacks, bans, debriefs, the roster and the takedown desk (FLOOR_KINDS); staff accounts,
logins, settings and the log's own exports stay the admin's. Filters: person (the actor's
id), case (a conversation id), action (exact, or a prefix ending in "." such as
"takedown."), and a time range [from, to). Pages go back by id (`before`), newest first.
See docs/audit.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hotline.domain.policy import Action, may
from hotline.domain.staff import Role

FLOOR_KINDS = frozenset({"conversation", "callback", "ban", "debrief", "roster",
                         "takedown_item", "takedown_request"})
PAGE_DEFAULT = 100
PAGE_MAX = 500
EXPORT_MAX = 50_000
PARAMS = ("actor", "case", "action", "from", "to", "target_kind", "target_id", "before",
          "limit")
CSV_HEADER = ("id", "at", "actor_id", "action", "target_kind", "target_id", "detail")
_ACTION = re.compile(r"[a-z][a-z0-9_.]{0,47}")
_CASE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class AuditInputError(ValueError):
    """A bad search parameter (HTTP 400 naming it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class AuditQuery:
    actor_id: int | None = None
    case_id: str | None = None
    action: str | None = None         # exact, or a prefix when it ends in "."
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = PAGE_DEFAULT
    kinds: frozenset[str] | None = None  # None: every kind (an admin)
    target_kind: str | None = None
    target_id: str | None = None

    def as_filter(self) -> dict[str, Any]:
        """The filters as recorded in the export's own audit event (no limit, no page)."""
        return {"actor": self.actor_id, "case": self.case_id, "action": self.action,
                "from": self.since.isoformat() if self.since else None,
                "to": self.until.isoformat() if self.until else None,
                "target_kind": self.target_kind, "target_id": self.target_id}


def scope(role: Role) -> frozenset[str] | None:
    """The target kinds `role` may search; None: all (who may read the whole log)."""
    return None if may(role, Action.READ_AUDIT) else FLOOR_KINDS


def _int(raw: str, field: str, low: int, high: int) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or not low <= int(raw) <= high:
        raise AuditInputError(field, f"expected a whole number {low}..{high}")
    return int(raw)


def _time(raw: str, field: str, end: bool) -> datetime:
    """A date (the whole day: `to` takes the next midnight) or a time with its offset."""
    if len(raw) > 40:
        raise AuditInputError(field, "expected a date like 2026-12-01 or a time with offset")
    try:
        if len(raw) == 10:
            at = datetime.combine(date.fromisoformat(raw), time(0), UTC)
            return at + timedelta(days=1) if end else at
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise AuditInputError(field, "expected a date like 2026-12-01 or a time with "
                                     "offset") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise AuditInputError(field, "expected a time with its UTC offset")
    return parsed.astimezone(UTC)


def parse_query(params: Mapping[str, str], role: Role, *, export: bool = False) -> AuditQuery:
    """The checked query from URL parameters (blank ones are absent)."""
    given = {k: v for k, v in params.items() if v != ""}
    unknown = sorted(set(given) - set(PARAMS))
    if unknown:
        raise AuditInputError(unknown[0], "unknown parameter")
    actor = _int(given["actor"], "actor", 0, 2**31 - 1) if "actor" in given else None
    case = given.get("case")
    if case is not None and not _CASE.fullmatch(case):
        raise AuditInputError("case", "expected a case id")
    action = given.get("action")
    if action is not None and not _ACTION.fullmatch(action):
        raise AuditInputError("action", "expected an action such as case.viewed or takedown.")
    since = _time(given["from"], "from", end=False) if "from" in given else None
    until = _time(given["to"], "to", end=True) if "to" in given else None
    if since is not None and until is not None and until <= since:
        raise AuditInputError("to", "expected a time after from")
    target = {}
    for name in ("target_kind", "target_id"):
        value = given.get(name)
        if value is not None and not (len(value) <= 64 and value.isprintable()):
            raise AuditInputError(name, "expected 1-64 characters")
        target[name] = value
    before = _int(given["before"], "before", 1, 2**31 - 1) if "before" in given else None
    most = EXPORT_MAX if export else PAGE_MAX
    limit = _int(given["limit"], "limit", 1, most) if "limit" in given else (
        most if export else PAGE_DEFAULT)
    return AuditQuery(actor, case, action, since, until, before, limit, scope(role), **target)


def csv_row(event: Mapping[str, Any]) -> list[str]:
    """One event as CSV cells (the detail as compact JSON). A cell starting with =, +, - or
    @ would be a formula in a spreadsheet: it is prefixed with a quote."""
    cells = [str(event["id"]), str(event["at"]),
             "" if event["actor_id"] is None else str(event["actor_id"]), event["action"],
             event["target_kind"], event["target_id"],
             json.dumps(event["detail"], sort_keys=True, separators=(",", ":"),
                        ensure_ascii=False)]
    return [f"'{c}" if c[:1] in ("=", "+", "-", "@") else c for c in cells]


def csv_rows(events: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    return [list(CSV_HEADER), *(csv_row(e) for e in events)]
