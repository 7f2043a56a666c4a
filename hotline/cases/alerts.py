"""Urgent alerts that a person must acknowledge, with escalation.

Takedown alerts (content spreading now) go to the takedown staff on shift one at a time: an
alert not acknowledged within alerts.ack_timeout_seconds moves to the next person, and after the
last one to the leads. Lead alerts (repeated missed offers, a lost console with open cases,
nobody on shift) go to every lead. Alerts are SQL rows, so an acknowledgement is recorded like
any other decision; events carry ids, kind and reason codes only. See docs/routing.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Select, and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.audit import log as audit
from hotline.cases import staffing
from hotline.cases.tables import alerts, conversations
from hotline.deps import Deps
from hotline.domain import policy
from hotline.domain.conversation import Status
from hotline.domain.event_types import EventType
from hotline.domain.staff import Role, Staff
from hotline.jobs import run_leased
from hotline.staff import accounts as staff_store
from hotline.steps import in_parts

log = logging.getLogger(__name__)

TAKEDOWN = "takedown"
LEAD = "lead"


@dataclass(frozen=True)
class Alert:
    id: int
    conversation_id: str
    kind: str
    reasons: tuple[str, ...]
    step: int
    target_id: int | None
    created_at: datetime
    acked_at: datetime | None
    acked_by: int | None
    # "console", "telegram", or why it closed by itself ("case_closed", "coverage_back").
    acked_via: str | None = None
    acked_by_name: str | None = None

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "conversation": self.conversation_id, "kind": self.kind,
                "reasons": list(self.reasons), "step": self.step, "target": self.target_id,
                "created_at": self.created_at.isoformat(),
                "acked_at": self.acked_at.isoformat() if self.acked_at else None,
                "acked_by": self.acked_by, "acked_by_name": self.acked_by_name,
                "acked_via": self.acked_via}


def _alert(r: object, names: dict[int, str] | None = None) -> Alert:
    m = r._mapping  # type: ignore[attr-defined]
    return Alert(m["id"], m["conversation_id"], m["kind"],
                 tuple(x for x in m["reasons"].split(",") if x), m["step"], m["target_id"],
                 m["created_at"], m["acked_at"], m["acked_by"], m.get("acked_via"),
                 (names or {}).get(m["acked_by"]) if m["acked_by"] is not None else None)


async def _named(conn: AsyncConnection, query: Select[Any]) -> list[Alert]:
    """The alerts a query selects, each with the name of who acknowledged it (the staff
    room's answer: one more read, of the few acknowledgers)."""
    rows = list(await conn.execute(query))
    names = await staff_store.names(conn, sorted({r.acked_by for r in rows
                                                  if r.acked_by is not None}))
    return [_alert(r, names) for r in rows]


async def on_shift_with_role(conn: AsyncConnection, role: Role, at: datetime,
                             present: set[int]) -> list[int]:
    """Staff of a role on shift now: those with a live console first, then by id."""
    ids = await staff_store.active_with_role(conn, role)
    # Only their roster entries: the whole roster (every counselor's week) held the loop
    # 20-40 ms on each pass of the escalation job at 1,000 staff.
    roster = await staffing.load_roster(conn, since=at, staff=ids)
    on = [i for i in ids if staffing.is_on_shift(roster, i, at)]
    return sorted(on, key=lambda i: (i not in present, i))


async def _open_alert(conn: AsyncConnection, conversation_id: str, kind: str,
                      reason: str | None = None) -> bool:
    """Whether an unacknowledged alert of this kind (and, given one, reason) is open."""
    where = [alerts.c.conversation_id == conversation_id, alerts.c.kind == kind,
             alerts.c.acked_at.is_(None)]
    if reason is not None:
        where.append(alerts.c.reasons == reason)
    row = (await conn.execute(select(alerts.c.id).where(and_(*where)))).first()
    return row is not None


async def raise_takedown_alert(deps: Deps, conversation_id: str, reasons: tuple[str, ...],
                               actor_id: int | None = None) -> int | None:
    """Alert the takedown staff on shift that content is spreading; None if already alerted."""
    now = datetime.now(UTC)
    try:
        present = await deps.live.present()
    except (RedisError, OSError):
        # Presence only orders who is alerted first; the alert must not wait for Redis.
        present = set()
    async with deps.engine.begin() as conn:
        if await _open_alert(conn, conversation_id, TAKEDOWN):
            return None
        targets = await on_shift_with_role(conn, Role.TAKEDOWN, now, present)
        target = targets[0] if targets else None
        escalate = now + timedelta(seconds=deps.config.alerts.ack_timeout_seconds)
        alert_id = int((await conn.execute(insert(alerts).values(
            conversation_id=conversation_id, kind=TAKEDOWN, reasons=",".join(reasons),
            created_at=now, step=0, target_id=target,
            escalate_at=escalate if target is not None else None,
        ).returning(alerts.c.id))).scalar_one())
        await audit.record(conn, at=now, actor_id=actor_id, action="alert.raised",
                           target_kind="conversation", target_id=conversation_id,
                           alert=alert_id, kind=TAKEDOWN, to=target, reasons=list(reasons))
    await _announce(deps, alert_id, conversation_id, TAKEDOWN, reasons, 0,
                    target, to_leads=target is None)
    return alert_id


async def raise_lead_alert(deps: Deps, conversation_id: str, reason: str) -> int | None:
    """Alert every lead about a case (repeated misses, lost console, no coverage)."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        # One open alert per case and reason: an older alert about something else (say, no
        # coverage when it arrived) must not hide a new one (its counselor's console is lost).
        if await _open_alert(conn, conversation_id, LEAD, reason):
            return None
        alert_id = int((await conn.execute(insert(alerts).values(
            conversation_id=conversation_id, kind=LEAD, reasons=reason, created_at=now,
            step=0, target_id=None, escalate_at=None).returning(alerts.c.id))).scalar_one())
        await audit.record(conn, at=now, actor_id=None, action="alert.raised",
                           target_kind="conversation", target_id=conversation_id,
                           alert=alert_id, kind=LEAD, reasons=[reason])
    await _announce(deps, alert_id, conversation_id, LEAD, (reason,), 0, None, to_leads=True)
    return alert_id


async def _announce(deps: Deps, alert_id: int, conversation_id: str, kind: str,
                    reasons: tuple[str, ...], step: int, target: int | None,
                    to_leads: bool) -> None:
    log.warning("alert", extra={"alert": alert_id, "conversation": conversation_id,
                                "kind": kind, "step": step, "target": target})
    await deps.publish({"type": EventType.ALERT, "alert": alert_id, "conversation": conversation_id,
                        "kind": kind, "reasons": list(reasons), "step": step,
                        "target": target, "leads": to_leads})


async def ack(deps: Deps, staff: Staff, alert_id: int, via: str = "console") -> bool:
    """Acknowledge an alert; False if it was already acknowledged or is not for this person."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        row = (await conn.execute(select(alerts).where(alerts.c.id == alert_id))).first()
        if row is None or not policy.may_ack_alert(staff, _alert(row).kind):
            raise LookupError(alert_id)
        result = await conn.execute(update(alerts).where(and_(
            alerts.c.id == alert_id, alerts.c.acked_at.is_(None))).values(
            acked_at=now, acked_by=staff.id, acked_via=via, escalate_at=None))
        if result.rowcount != 1:
            return False
        await audit.record(conn, at=now, actor_id=staff.id, action="alert.acked",
                           target_kind="conversation", target_id=row.conversation_id,
                           alert=alert_id, via=via)
    await deps.publish({"type": EventType.ALERT_ACKED, "alert": alert_id,
                        "conversation": row.conversation_id, "by": staff.id})
    return True


async def withdraw_takedown(conn: AsyncConnection, conversation_id: str, actor_id: int,
                            at: datetime) -> tuple[list[int], list[int]]:
    """In the caller's transaction: end the case's open takedown alerts (the signal that
    raised them was withdrawn as wrong), audited; (withdrawn ids, ids takedown had already
    acknowledged). Announce with `announce_withdrawn` after the commit."""
    rows = list(await conn.execute(select(alerts.c.id, alerts.c.acked_at).where(and_(
        alerts.c.conversation_id == conversation_id, alerts.c.kind == TAKEDOWN))))
    ended = []
    for r in rows:
        if r.acked_at is not None:
            continue
        # Closed by its cause ending, as resolve_ended closes alerts (no acked_by: nobody from
        # takedown acknowledged it); who withdrew the signal is in the audit.
        done = await conn.execute(update(alerts).where(and_(
            alerts.c.id == r.id, alerts.c.acked_at.is_(None))).values(
            acked_at=at, acked_via=SIGNAL_WITHDRAWN, escalate_at=None))
        if done.rowcount == 1:
            ended.append(r.id)
            await audit.record(conn, at=at, actor_id=actor_id, action="alert.withdrawn",
                               target_kind="conversation", target_id=conversation_id,
                               alert=r.id)
    return ended, [r.id for r in rows if r.acked_at is not None]


async def announce_withdrawn(deps: Deps, conversation_id: str, ids: list[int],
                             actor_id: int) -> None:
    # As an acknowledgement (every console already drops it), marked as a withdrawal.
    for alert_id in ids:
        await deps.publish({"type": EventType.ALERT_ACKED, "alert": alert_id,
                            "conversation": conversation_id, "by": None, "withdrawn": True,
                            "withdrawn_by": actor_id})


async def open_alerts(deps: Deps, staff: Staff) -> list[Alert]:
    """Every unacknowledged alert this person may act on, oldest first (the takedown desk's
    prefill; the panels read `panel`)."""
    async with deps.engine.connect() as conn:
        found = await _named(conn, select(alerts).where(alerts.c.acked_at.is_(None))
                             .order_by(alerts.c.id))
    return [a for a in found if policy.may_ack_alert(staff, a.kind)]


@dataclass(frozen=True)
class Panel:
    """What an alerts panel shows: the first open alerts this person may act on (the takedown
    desk's first, then the leads', oldest first), how many are open in all and of which kind
    and reasons, and those closed lately (newest first)."""

    open: list[Alert]
    closed: list[Alert]
    total: int
    counts: list[tuple[str, tuple[str, ...], int]]


async def panel(deps: Deps, staff: Staff, limit: int, recent: timedelta,
                closed_most: int = 20) -> Panel:
    """The panel, bounded: a floor whose consoles all dropped at once raised an alert for
    every open case (3,000 in a try-out at 10,000 waiting), and every lead page read and drew
    all of them on each alert event (800 KB a read). Each kind's open alerts come through
    ix_alerts_open in id order, up to `limit` in all; the counts from the same index; the
    closed ones through ix_alerts_acked."""
    kinds = [k for k in (TAKEDOWN, LEAD) if policy.may_ack_alert(staff, k)]
    if not kinds:
        return Panel([], [], 0, [])
    since = datetime.now(UTC) - recent
    shown: list[Alert] = []
    async with deps.engine.connect() as conn:
        for kind in kinds:
            if len(shown) < limit:
                shown += await _named(conn, select(alerts).where(and_(
                    alerts.c.acked_at.is_(None), alerts.c.kind == kind))
                    .order_by(alerts.c.id).limit(limit - len(shown)))
        counts = [(r.kind, tuple(x for x in r.reasons.split(",") if x), int(r.n))
                  for r in await conn.execute(
                      select(alerts.c.kind, alerts.c.reasons, func.count().label("n"))
                      .where(and_(alerts.c.acked_at.is_(None), alerts.c.kind.in_(kinds)))
                      .group_by(alerts.c.kind, alerts.c.reasons)
                      .order_by(func.count().desc(), alerts.c.kind, alerts.c.reasons))]
        closed = await _named(conn, select(alerts).where(and_(
            alerts.c.acked_at > since, alerts.c.kind.in_(kinds)))
            .order_by(alerts.c.acked_at.desc()).limit(closed_most))
    return Panel(shown, closed, sum(n for _k, _r, n in counts), counts)


# Why an alert closed by itself (alerts.acked_via, with no acked_by).
CASE_CLOSED = "case_closed"
COVERAGE_BACK = "coverage_back"
PRESENCE_BACK = "presence_back"
SIGNAL_WITHDRAWN = "signal_withdrawn"
# The lead alert raised for each open case of a counselor whose console went quiet.
PRESENCE_LOST = "presence_lost"


async def resolve_ended(deps: Deps, now: datetime | None = None) -> int:
    """Close by themselves the open alerts whose cause has ended (`why_ended`). A centre
    whose network dropped for a minute raised one for every open case, and a lead had to
    acknowledge thousands of them by hand. Read on the reader and closed _RESOLVE_PART a
    transaction, the loop let go between: 3,000 closed in one transaction held the loop
    0.85 s. Audited as alert.resolved; consoles hear alert.acked."""
    now = now or datetime.now(UTC)
    cover: Any = await deps.redis.hgetall(deps.keys.coverage)
    present = await deps.live.present()
    async with deps.reads.connect() as conn:
        rows = (await conn.execute(
            select(alerts.c.id, alerts.c.conversation_id, alerts.c.kind, alerts.c.reasons,
                   conversations.c.status, conversations.c.language, conversations.c.channel,
                   conversations.c.counselor_id)
            .join(conversations, conversations.c.id == alerts.c.conversation_id)
            .where(alerts.c.acked_at.is_(None)))).all()
    ended = [(r, why) for r in rows if (why := why_ended(
        r.kind, r.reasons, r.status, f"{r.language}|{r.channel}", r.counselor_id, cover,
        present)) is not None]
    closed = 0
    async for part in in_parts(ended, _RESOLVE_PART):
        closed += await _resolve(deps, part, now)
    return closed


# Alerts closed a transaction (an update and an audit row each, on the loop's thread on
# SQLite): 100 a part held the loop 63 ms, 10 a part 13-15 ms (bench/resolve_bench.py).
_RESOLVE_PART = 10


def why_ended(kind: str, reasons: str, status: str, group: str, holder: int | None,
              cover: Mapping[str, str], present: Collection[int]) -> str | None:
    """Why an open alert's cause has ended, or None while it goes on: its case was closed
    (any kind); for a coverage alert, cover is back for its language and channel (`group`,
    "ko|sms"; or its case was taken); for a lost console's, whoever holds the case now has a
    live console (the same counselor back, or a colleague it was given to)."""
    if status == Status.CLOSED.value:
        return CASE_CLOSED
    if kind == LEAD and reasons.startswith("coverage_") and (
            cover.get(group) == "ok" or status != Status.WAITING.value):
        return COVERAGE_BACK
    if kind == LEAD and reasons == PRESENCE_LOST and status == Status.ACTIVE.value \
            and holder in present:
        return PRESENCE_BACK
    return None


async def _resolve(deps: Deps, ended: Sequence[tuple[Any, str]], now: datetime) -> int:
    done: list[tuple[int, str]] = []
    async with deps.engine.begin() as conn:
        for r, why in ended:
            # Only while its case is as it was read: a holder or status that moved since is
            # the next pass's to judge.
            same = select(conversations.c.id).where(and_(
                conversations.c.id == r.conversation_id, conversations.c.status == r.status,
                conversations.c.counselor_id.is_not_distinct_from(r.counselor_id))).exists()
            moved = await conn.execute(update(alerts).where(and_(
                alerts.c.id == r.id, alerts.c.acked_at.is_(None), same)).values(
                acked_at=now, acked_via=why, escalate_at=None))
            if moved.rowcount == 1:
                await audit.record(conn, at=now, actor_id=None, action="alert.resolved",
                                   target_kind="conversation", target_id=r.conversation_id,
                                   alert=r.id, why=why)
                done.append((r.id, r.conversation_id))
    for alert_id, cid in done:
        await deps.publish({"type": EventType.ALERT_ACKED, "alert": alert_id, "conversation": cid,
                            "by": None})
    return len(done)


async def escalate_due(deps: Deps, now: datetime | None = None) -> int:
    """Move every overdue takedown alert to the next person on shift, then to the leads."""
    now = now or datetime.now(UTC)
    present = await deps.live.present()
    moved = []
    async with deps.engine.begin() as conn:
        due = [_alert(r) for r in await conn.execute(select(alerts).where(and_(
            alerts.c.acked_at.is_(None), alerts.c.escalate_at.is_not(None),
            alerts.c.escalate_at <= now)))]
        if not due:
            return 0
        targets = await on_shift_with_role(conn, Role.TAKEDOWN, now, present)
        for a in due:
            step = a.step + 1
            nxt = targets[step] if step < len(targets) else None
            escalate = (now + timedelta(seconds=deps.config.alerts.ack_timeout_seconds)
                        if nxt is not None else None)
            await conn.execute(update(alerts).where(alerts.c.id == a.id).values(
                step=step, target_id=nxt, escalate_at=escalate))
            await audit.record(conn, at=now, actor_id=None, action="alert.escalated",
                               target_kind="conversation", target_id=a.conversation_id,
                               alert=a.id, step=step, to=nxt)
            moved.append((a, step, nxt))
    for a, step, nxt in moved:
        await _announce(deps, a.id, a.conversation_id, a.kind, a.reasons, step, nxt,
                        to_leads=nxt is None)
    return len(moved)


async def run_alerts(deps: Deps, stop: asyncio.Event) -> None:
    """Forever: escalate overdue alerts every alerts.check_seconds (one instance at a time)."""
    async def one_pass() -> None:
        await escalate_due(deps)
        await resolve_ended(deps)

    await run_leased(deps.redis, deps.keys.job_lock("alerts"), deps.config.alerts.check_seconds,
                     one_pass, stop)


async def of_case(deps: Deps, conversation_id: str, kind: str) -> list[Alert]:
    """Every alert of one kind a case raised, oldest first, with who acknowledged each."""
    async with deps.engine.connect() as conn:
        return await _named(conn, select(alerts).where(and_(
            alerts.c.conversation_id == conversation_id, alerts.c.kind == kind))
            .order_by(alerts.c.id))
