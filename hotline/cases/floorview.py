"""What the floor looks like, bounded: counts per urgency, language and channel with the
oldest waits, and pages of unassigned cases, active cases and staff, each with a cursor.

However long the queue, a read costs the same: the counts come from one grouped query over
ix_conversations_waiting, the pages from the live queue's sorted set by score (paging.py) and
from SQL by assignment time. Used by the lead's floor, /api/v1/queue, `hotline queue` and
/metrics. See docs/routing.md ("The floor, bounded").
"""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from hotline.cases import conversations as convs
from hotline.cases import floor_queries, paging
from hotline.cases import staffing as staff_profiles
from hotline.cases.live import now_ms
from hotline.cases.live_records import Waiting
from hotline.cases.paging import BadCursor, Cursor, QueuePage
from hotline.deps import Deps
from hotline.domain.conversation import Urgency
from hotline.domain.routing import why_not
from hotline.shared_read import NextReads
from hotline.staff import accounts as staff_store

DEFAULT_LIMIT = 50
MAX_LIMIT = paging.MAX_LIMIT
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "BadCursor", "Cursor", "active", "agents_json",
           "floor", "floor_json", "queue", "queue_json", "staff_names", "summary",
           "waiting_json"]


def waiting_json(w: Waiting, offered_to: int | None, now: int, reasons: tuple[str, ...]
                 ) -> dict[str, Any]:
    return {"id": w.conversation_id, "channel": w.channel.value, "language": w.language,
            "urgency": w.urgency.value, "waited_seconds": max(0, (now - w.enqueued_ms) // 1000),
            "reasons": list(reasons), "offered_to": offered_to}


def _ms(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1000)


async def offers_to(deps: Deps, counselor_id: int
                    ) -> list[tuple[Waiting, int | None, tuple[str, ...]]]:
    """The cases offered to one counselor now, with each offer's deadline (ms) and the
    case's urgency reasons."""
    mine = await paging.offers_to(deps.redis, deps.keys, counselor_id)
    async with deps.engine.connect() as conn:
        reasons = await convs.reasons_of(conn, [w.conversation_id for w, _ in mine])
    return [(w, deadline, reasons.get(w.conversation_id, ())) for w, deadline in mine]


@dataclass(frozen=True)
class _SharedPage:
    """A queue page as read once for every console that asked, and as JSON, encoded once:
    two hundred consoles sent the same 9 KB, each encoding it in the one loop turn that woke
    them all."""

    data: dict[str, Any]
    body: bytes


async def queue(deps: Deps, limit: int, after: str | None) -> dict[str, Any]:
    """One page of the unassigned cases, best first: {"waiting", "total", "by_urgency",
    "next"}. BadCursor if `after` is not a cursor this wrote. Every console asks for the same
    first page after the queue moves: asked together, it is read once (shared_read)."""
    return (await _shared_queue(deps, limit, after)).data


async def queue_json(deps: Deps, limit: int, after: str | None) -> bytes:
    """`queue` as JSON: the same bytes for every caller of the same read."""
    return (await _shared_queue(deps, limit, after)).body


async def _shared_queue(deps: Deps, limit: int, after: str | None) -> _SharedPage:
    cursor = Cursor.decode(after) if after else None
    return await _queue_reads.of(deps.redis, functools.partial(_queue, deps)).get(
        (limit, cursor))


# The queue's shared reads, per Redis client (one per app).
_queue_reads: NextReads[Redis, tuple[int, Cursor | None], _SharedPage] = NextReads()


async def _queue(deps: Deps, key: tuple[int, Cursor | None]) -> _SharedPage:
    limit, cursor = key
    page: QueuePage = await paging.page(deps.redis, deps.keys, limit, cursor)
    now = now_ms()
    # Who each offer is out to, by name: a counselor reads "offered to Mina", not "#12".
    offered = sorted({to for _, to in page.items if to is not None})
    async with deps.engine.connect() as conn:
        reasons = await convs.reasons_of(conn, [w.conversation_id for w, _ in page.items])
        names = await staff_store.names(conn, offered)
    data = {"waiting": [waiting_json(w, to, now, reasons.get(w.conversation_id, ()))
                        for w, to in page.items],
            "total": page.total, "by_urgency": page.by_urgency,
            "next": page.next.encode() if page.next else None,
            "names": _by_id(names)}
    return _SharedPage(data, json.dumps(data).encode())


async def summary(deps: Deps) -> dict[str, Any]:
    """Counts of waiting cases per urgency and per language and channel, with each group's
    longest wait (seconds) and its count per urgency."""
    async with deps.reads.connect() as conn:
        found = await floor_queries.waiting_groups(conn)
    now = datetime.now(UTC)
    by_urgency = {u.value: 0 for u in Urgency}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for g in found:
        by_urgency[g.urgency.value] += g.count
        entry = groups.setdefault((g.language, g.channel.value), {
            "language": g.language, "channel": g.channel.value, "waiting": 0,
            "by_urgency": {u.value: 0 for u in Urgency}, "oldest_waited_seconds": 0})
        entry["waiting"] += g.count
        entry["by_urgency"][g.urgency.value] += g.count
        entry["oldest_waited_seconds"] = max(entry["oldest_waited_seconds"],
                                             int((now - g.oldest).total_seconds()))
    ordered = sorted(groups.values(), key=lambda e: (-e["oldest_waited_seconds"],
                                                     e["language"], e["channel"]))
    return {"waiting": sum(by_urgency.values()), "by_urgency": by_urgency, "groups": ordered}


def _active_cursor(when: datetime, cid: str) -> str:
    return f"{(when - _EPOCH) // timedelta(microseconds=1)}.{cid}"


def _parse_active_cursor(text: str) -> tuple[datetime, str]:
    us, _, cid = text.partition(".")
    if not (us.isascii() and us.isdigit() and len(us) <= 18 and 0 < len(cid) <= 64
            and cid.isascii() and cid.isalnum()):
        raise BadCursor(text)
    return _EPOCH + timedelta(microseconds=int(us)), cid


async def active(deps: Deps, limit: int, after: str | None) -> dict[str, Any]:
    """One page of the active cases, longest held first: {"items", "total", "next"}."""
    cut = _parse_active_cursor(after) if after else None
    async with deps.reads.connect() as conn:
        rows, total = await floor_queries.active_page(conn, limit, cut)
        unanswered = await floor_queries.unanswered_since(conn, [c.id for c in rows])
    last = rows[-1] if len(rows) == limit and rows[-1].assigned_at else None
    return {"items": [{"id": c.id, "counselor": c.counselor_id, "urgency": c.urgency.value,
                       "channel": c.channel.value, "language": c.language,
                       "assigned_ms": _ms(c.assigned_at),
                       "unanswered_since_ms": _ms(unanswered.get(c.id))} for c in rows],
            "total": total,
            "next": _active_cursor(last.assigned_at, last.id)
            if last and last.assigned_at and total > limit else None}


async def agents_json(deps: Deps, limit: int, after: int) -> dict[str, Any]:
    """One page of staff in routing (by id): {"items", "total", "present", "next"}."""
    now = now_ms()
    page = await paging.people(deps.redis, deps.keys, limit, after,
                               now - deps.rules.presence_ttl_s * 1000)
    async with deps.engine.connect() as conn:
        names = await staff_store.names(conn, [a.id for a in page.people])
    return {"items": [{
        "id": a.id, "name": names.get(a.id), "status": a.status.value,
        "on_shift": a.shift_start_ms <= now < a.shift_end_ms,
        "shift_end_ms": a.shift_end_ms if a.shift_end_ms < 2**50 else None,
        "present": a.heartbeat_ms >= now - deps.rules.presence_ttl_s * 1000,
        "load": a.load, "max_chats": a.max_chats, "on_call": a.on_call,
        "languages": sorted(a.languages), "channels": sorted(a.channels),
        # Whether a case could be given to them now at all (capacity aside, which a lead may
        # override), as the reassign picker's own list (handover.takers) judges it.
        "may_take": why_not(a, None, now, deps.rules, skip_capacity=True) is None}
        for a in page.people],
        "total": page.total, "present": page.present, "next": page.next}


async def floor_json(deps: Deps, limit: int) -> bytes:
    """`floor` as JSON. Every lead page reads its floor after the same events, so the leads'
    reads come together: asked together, it is read and encoded once (shared_read), never
    older than the ask."""
    return await _floor_reads.of(deps.redis, functools.partial(_floor_body, deps)).get(limit)


async def _floor_body(deps: Deps, limit: int) -> bytes:
    return json.dumps(await floor(deps, limit)).encode()


# The floor's shared reads, per Redis client (one per app), by page size.
_floor_reads: NextReads[Redis, int, bytes] = NextReads()


async def floor(deps: Deps, limit: int) -> dict[str, Any]:
    """The lead's floor: the summary and the first page of each list."""
    now = datetime.now(UTC)
    # Independent reads, at once: the floor waits for the slowest, not for their sum (on a
    # busy loop each of the reader's statements waits for a turn of it to hear back).
    waiting, staff, held, edge, counts = await asyncio.gather(
        queue(deps, limit, None), agents_json(deps, limit, 0), active(deps, limit, None),
        staff_profiles.next_edge(deps, now), summary(deps))
    # Whom the waiting cases are offered to, the queue page names already.
    names = {**waiting["names"],
             **await staff_names(deps, [a["counselor"] for a in held["items"]])}
    counts.update(unassigned=waiting["total"], active=held["total"],
                  staff=staff["total"], present=staff["present"])
    return {"summary": counts,
            "agents": staff["items"], "agents_next": staff["next"],
            "unassigned": waiting["waiting"], "unassigned_next": waiting["next"],
            "active": held["items"], "active_next": held["next"], "names": names,
            "next_shift_edge": edge.isoformat() if edge else None}


async def staff_names(deps: Deps, ids: list[int | None]) -> dict[str, str]:
    """The names of the staff a floor list mentions (who holds a case, who it is offered
    to), by id: the lead page names them from these, not from a directory of every account
    (64 KB of the page's 124 on every load at 1,000 staff)."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    async with deps.engine.connect() as conn:
        return _by_id(await staff_store.names(conn, wanted))


def _by_id(names: dict[int, str]) -> dict[str, str]:
    """Names keyed as JSON keys them (the pages look them up by id as text)."""
    return {str(i): n for i, n in names.items()}
