"""The deadline job: marks requests overdue when their due time passes without an outcome,
pages the takedown staff on shift one at a time and then the leads (as urgent alerts do),
and so puts the next rung before them (the request page's one-click "draft next rung").

Runs through the project's job runner (hotline.jobs.supervise) on one instance at a
time (a Redis lock per pass); its clock is the desk's, so tests move time themselves.
See docs/takedown.md, "Deadlines and escalation".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.exceptions import RedisError

from hotline.audit import log as audit
from hotline.cases import alerts
from hotline.domain import policy
from hotline.domain.event_types import EventType
from hotline.domain.policy import DeskNotFound
from hotline.domain.removal import mark_overdue
from hotline.domain.staff import Role, Staff
from hotline.jobs import run_leased
from hotline.takedown import alert_queries, queries
from hotline.takedown import requests as req_svc
from hotline.takedown.desk import Desk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pass:
    """What one pass did: requests marked overdue, alerts raised and alerts moved on."""

    overdue: tuple[int, ...]
    raised: tuple[int, ...]
    moved: tuple[int, ...]


async def _present(desk: Desk) -> set[int]:
    try:
        return await desk.deps.live.present()
    except (RedisError, OSError):
        return set()  # presence only orders who is paged first


async def deadline_pass(desk: Desk, now: datetime | None = None) -> Pass:
    """One pass at `now` (the desk's clock by default)."""
    now = now or desk.clock()
    timeout = timedelta(seconds=desk.deps.config.alerts.ack_timeout_seconds)
    present = await _present(desk)
    overdue, raised, moved, events = [], [], [], []
    async with desk.deps.engine.begin() as conn:
        targets = await alerts.on_shift_with_role(conn, Role.TAKEDOWN, now, present)
        for rid in await queries.awaiting_past_due(conn, now):
            row = await queries.get_request(conn, rid, lock=True)
            after = mark_overdue(row.request, now) if row is not None else None
            if row is None or after is None:
                continue
            await req_svc.save_step(desk, conn, None, row, after, via="deadline_job")
            overdue.append(rid)
            if await alert_queries.open_alert_for(conn, rid) is not None:
                continue
            target = targets[0] if targets else None
            aid = await alert_queries.insert_alert(conn, rid, at=now, target_id=target,
                                             escalate_at=now + timeout if target else None)
            await audit.record(conn, at=now, actor_id=None, action="takedown.alert.raised",
                               target_kind="takedown_request", target_id=str(rid), alert=aid,
                               to=target, item=row.item_id)
            raised.append(aid)
            events.append(_event(aid, rid, row.item_id, 0, target))
        for a in await alert_queries.alerts_due(conn, now):
            step = a.step + 1
            nxt = targets[step] if step < len(targets) else None
            await alert_queries.move_alert(conn, a.id, step=step, target_id=nxt,
                                     escalate_at=now + timeout if nxt is not None else None)
            await audit.record(conn, at=now, actor_id=None, action="takedown.alert.escalated",
                               target_kind="takedown_request", target_id=str(a.request_id),
                               alert=a.id, step=step, to=nxt)
            moved.append(a.id)
            row = await queries.get_request(conn, a.request_id)
            events.append(_event(a.id, a.request_id, row.item_id if row else None, step, nxt))
    for ev in events:
        log.warning("takedown alert", extra={k: ev[k] for k in ("alert", "request", "step")})
    if events:
        await desk.deps.publish_all(events)
    return Pass(tuple(overdue), tuple(raised), tuple(moved))


def _event(alert_id: int, request_id: int, item_id: int | None, step: int,
           target: int | None) -> dict[str, object]:
    return {"type": EventType.TAKEDOWN_ALERT, "alert": alert_id, "request": request_id,
            "item": item_id, "step": step, "target": target, "leads": target is None}


async def ack(desk: Desk, staff: Staff, alert_id: int) -> bool:
    """Acknowledge a desk alert; False if it already was."""
    if not policy.acts_on_desk(staff):
        raise DeskNotFound(alert_id)
    now = desk.clock()
    async with desk.deps.engine.begin() as conn:
        found = await alert_queries.get_alert(conn, alert_id)
        if found is None:
            raise DeskNotFound(alert_id)
        if not await alert_queries.ack_alert(conn, alert_id, staff.id, now):
            return False
        await audit.record(conn, at=now, actor_id=staff.id, action="takedown.alert.acked",
                           target_kind="takedown_request", target_id=str(found.request_id),
                           alert=alert_id)
    await desk.deps.publish({"type": EventType.TAKEDOWN_ALERT, "alert": alert_id,
                             "request": found.request_id, "acked": True})
    return True


async def open_alerts(desk: Desk, staff: Staff) -> list[dict[str, object]]:
    """Unacknowledged desk alerts, oldest first (desk staff only)."""
    if not policy.acts_on_desk(staff):
        raise DeskNotFound("alerts")
    async with desk.deps.engine.connect() as conn:
        found = await alert_queries.open_alerts(conn)
    return [{"id": a.id, "request": a.request_id, "step": a.step, "target": a.target_id,
             "created_at": a.created_at.isoformat(), "leads": a.target_id is None,
             "mine": a.target_id == staff.id or (a.target_id is None
                                                 and staff.role is Role.LEAD)}
            for a in found]


async def run_deadlines(desk: Desk, stop: asyncio.Event) -> None:
    """Forever: one pass every takedown.check_seconds (one instance at a time)."""
    every = desk.config.check_seconds
    await run_leased(desk.deps.redis, desk.deps.keys.job_lock("takedown-deadlines"), every,
                     lambda: deadline_pass(desk), stop)


@dataclass(frozen=True)
class AlertFacts:
    """What a desk alert's post says: the request's platform and route, its due time."""

    request_id: int
    item_id: int
    platform: str  # its name, or its code when the directory no longer has it
    route: str
    due_at: datetime | None
    platform_names: Mapping[str, str]  # by language, where its name is words

    def platform_in(self, lang: str) -> str:
        return self.platform_names.get(lang, self.platform)


async def alert_facts(desk: Desk, request_id: int) -> AlertFacts | None:
    """The facts a Telegram post of a desk alert shows (no content, no victim detail)."""
    async with desk.deps.engine.connect() as conn:
        row = await queries.get_request(conn, request_id)
    if row is None:
        return None
    r = row.request
    p = desk.directory.get(r.platform)
    return AlertFacts(row.id, row.item_id, p.name if p else r.platform, r.route, r.due_at,
                      p.names if p else {})

