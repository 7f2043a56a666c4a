"""The monitoring job: re-checks every watched location that is due, records what it saw, and
applies what that means (hotline.domain.monitoring): a removal verified after two offline
checks, an item all removed, content online again reopening its item as a re-upload with an
urgent page to the desk (and, for a victim's case, the staff alert the Telegram bot posts).

Work per pass is what is due (ix_takedown_locations_next_check), at most `batch` locations.
The checks run outside any transaction; their results are written in one. A check is not an
audit event; every change of state the job makes is (actor none, via "monitor"). Runs under
the one job runner (hotline.jobs.supervise), its clock the desk's. See
docs/takedown.md, "Monitoring".
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.audit import log as audit
from hotline.cases import alerts
from hotline.deps import Deps
from hotline.domain.event_types import EventType
from hotline.domain.monitoring import (
    Intervals,
    Watch,
    WatchEvent,
    item_event,
    next_check,
    next_watch,
    request_verifiable,
)
from hotline.domain.removal import ImpossibleStep, Step, apply_step
from hotline.domain.staff import Role
from hotline.domain.takedown import ItemEvent, ItemStatus, next_item_status
from hotline.jobs import pause
from hotline.takedown import alert_queries, fetch, queries
from hotline.takedown import monitor_queries as mq
from hotline.takedown import requests as req_svc
from hotline.takedown.desk import Desk

log = logging.getLogger(__name__)

# A taken location is due again after this if its pass dies before recording it.
LEASE = timedelta(minutes=10)
REUPLOAD = "reupload"


@dataclass
class Pass:
    """What one pass did (ids), for tests, the bench and the log line (counts only)."""

    checked: dict[int, str] = field(default_factory=dict)
    verified_locations: list[int] = field(default_factory=list)
    verified_requests: list[int] = field(default_factory=list)
    items: dict[int, str] = field(default_factory=dict)
    reuploads: list[int] = field(default_factory=list)
    desk_alerts: list[tuple[int, int, int, int | None]] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)


def intervals(desk: Desk) -> Intervals:
    cfg = desk.config.monitor
    return Intervals(active=timedelta(minutes=cfg.active_minutes),
                     monitoring=timedelta(hours=cfg.monitoring_hours))


async def check_all(http: aiohttp.ClientSession, desk: Desk, urls: list[mq.Due]
                    ) -> dict[int, fetch.Answer]:
    """Each location's answer, concurrently within the limits."""
    cfg = desk.config.monitor
    gate = fetch.HostGate(cfg.per_host, cfg.per_host_per_second)
    everyone = asyncio.Semaphore(cfg.concurrency)
    statuses = await asyncio.gather(*(fetch.check(http, gate, everyone, cfg, d.url)
                                      for d in urls))
    return {d.id: s for d, s in zip(urls, statuses, strict=True)}


async def monitor_pass(desk: Desk, http: aiohttp.ClientSession, now: datetime | None = None
                       ) -> Pass:
    """Check what is due at `now` (the desk's clock by default) and apply the results."""
    now = now or desk.clock()
    async with desk.deps.engine.begin() as conn:
        due = await mq.claim_due(conn, now, desk.config.monitor.batch, now + LEASE)
    done = Pass()
    if not due:
        return done
    answers = await check_all(http, desk, due)
    at = desk.clock()
    async with desk.deps.engine.begin() as conn:
        await _apply(desk, conn, at, answers, done)
    await announce(desk.deps, done)
    log.info("monitor pass", extra={"checked": len(done.checked),
                                    "verified": len(done.verified_locations),
                                    "reuploads": len(done.reuploads)})
    return done


async def _apply(desk: Desk, conn: AsyncConnection, at: datetime,
                 answers: dict[int, fetch.Answer], done: Pass) -> None:
    rows = await mq.watched(conn, list(answers))
    every = intervals(desk)
    checked: list[mq.Checked] = []
    reappeared: list[mq.Watched] = []
    # Only these items' status can change: a location just verified, or one online on an
    # item that is not open (hotline.domain.monitoring.item_event).
    touched: set[int] = set()
    for lid, answer in answers.items():
        row = rows.get(lid)
        if row is None:
            continue  # deleted with its item meanwhile
        result, status = answer.state, answer.status
        watch, event = next_watch(row.watch, result)
        checked.append(mq.Checked(lid, result.value, status, watch,
                                  next_check(at, row.item_status, every)))
        done.checked[lid] = result.value
        if watch is not row.watch:
            await audit.record(conn, at=at, actor_id=None, action="takedown.location.watch",
                               target_kind="takedown_item", target_id=str(row.item_id),
                               location=lid, watch_before=row.watch.value, watch=watch.value,
                               result=result.value, http_status=status, via="monitor")
        if event is WatchEvent.VERIFIED or (watch is Watch.ONLINE
                                            and row.item_status is not ItemStatus.OPEN):
            touched.add(row.item_id)
        if event is WatchEvent.VERIFIED:
            done.verified_locations.append(lid)
        elif event is WatchEvent.REAPPEARED:
            reappeared.append(row)
    await mq.record_checks(conn, at, checked)
    await _verify_requests(desk, conn, at, done)
    for row in reappeared:
        await _reupload(desk, conn, at, row, done)
    await _item_events(conn, at, touched, done)
    for item_id, after in done.items.items():
        await mq.reschedule_item(conn, item_id, next_check(at, ItemStatus(after), every))


async def _verify_requests(desk: Desk, conn: AsyncConnection, at: datetime,
                           done: Pass) -> None:
    for rid, watches in (await mq.requests_at(conn, done.verified_locations)).items():
        row = await queries.get_request(conn, rid, lock=True)
        if row is None or not request_verifiable(row.request.state, watches):
            continue
        try:
            after = apply_step(row.request, Step.VERIFIED, at, at)
        except ImpossibleStep:
            continue  # a step recorded with a later time: staff are ahead of the job
        await req_svc.save_step(desk, conn, None, row, after, via="monitor")
        done.verified_requests.append(rid)


async def _item_events(conn: AsyncConnection, at: datetime, item_ids: set[int],
                       done: Pass) -> None:
    watches = await mq.watches_of_items(conn, sorted(item_ids))
    for item_id, seen in watches.items():
        item = await queries.get_item(conn, item_id, lock=True)
        if item is None:
            continue
        event = item_event(item.status, seen)
        if event is None:
            continue
        after = next_item_status(item.status, event)
        await queries.set_item_status(conn, item_id, after, at)
        await audit.record(conn, at=at, actor_id=None, action="takedown.item.status",
                           target_kind="takedown_item", target_id=str(item_id),
                           event=event.value, status_before=item.status.value,
                           status=after.value, via="monitor")
        done.items[item_id] = after.value


async def _reupload(desk: Desk, conn: AsyncConnection, at: datetime, row: mq.Watched,
                    done: Pass) -> None:
    rid = await mq.insert_reupload(conn, item_id=row.item_id, via="recheck", at=at,
                                   location_id=row.id, cluster_key=row.cluster_key)
    if rid is None:
        return  # not possible without evidence; kept for the type
    done.reuploads.append(rid)
    await audit.record(conn, at=at, actor_id=None, action="takedown.reupload",
                       target_kind="takedown_item", target_id=str(row.item_id),
                       reupload=rid, location=row.id, via="recheck")
    await reopen(desk.deps, conn, row.item_id, at, done, why="recheck")


async def reopen(deps: Deps, conn: AsyncConnection, item_id: int, at: datetime, done: Pass,
                 *, why: str) -> None:
    """Reopen an item found again (recheck or evidence) and page the desk on its newest
    request; the case alert (the staff bot's) is raised after the commit (`announce`)."""
    item = await queries.get_item(conn, item_id, lock=True)
    if item is None:
        return
    if item.status is not ItemStatus.OPEN:
        after = next_item_status(item.status, ItemEvent.REAPPEARED)
        await queries.set_item_status(conn, item_id, after, at)
        await audit.record(conn, at=at, actor_id=None, action="takedown.item.status",
                           target_kind="takedown_item", target_id=str(item_id),
                           event=ItemEvent.REAPPEARED.value, status_before=item.status.value,
                           status=after.value, via=why)
        done.items[item_id] = after.value
    request_id = await mq.newest_request(conn, item_id)
    if request_id is not None and await alert_queries.open_alert_for(conn, request_id) is None:
        # Paged as an overdue request is: the takedown staff on shift, then the leads.
        targets = await alerts.on_shift_with_role(conn, Role.TAKEDOWN, at, set())
        target = targets[0] if targets else None
        timeout = timedelta(seconds=deps.config.alerts.ack_timeout_seconds)
        aid = await alert_queries.insert_alert(conn, request_id, at=at, target_id=target,
                                         escalate_at=at + timeout if target else None)
        await audit.record(conn, at=at, actor_id=None, action="takedown.alert.raised",
                           target_kind="takedown_request", target_id=str(request_id),
                           alert=aid, to=target, item=item_id, reason=REUPLOAD)
        done.desk_alerts.append((aid, request_id, item_id, target))
    if item.conversation_id is not None:
        done.cases.append(item.conversation_id)


async def announce(deps: Deps, done: Pass) -> None:
    """After the commit: the consoles, the desk's pages, and the case alerts."""
    for item_id in sorted(done.items):
        await deps.publish({"type": EventType.TAKEDOWN, "item": item_id, "request": None,
                            "state": done.items[item_id]})
    if done.desk_alerts:
        await deps.publish_all([
            {"type": EventType.TAKEDOWN_ALERT, "alert": a, "request": r, "item": i, "step": 0,
             "target": t, "leads": t is None, "reason": REUPLOAD}
            for a, r, i, t in done.desk_alerts])
    for cid in done.cases:
        await alerts.raise_takedown_alert(deps, cid, (REUPLOAD,))


async def run_monitor(desk: Desk, stop: asyncio.Event) -> None:
    """Forever: a pass every takedown.monitor.check_seconds, sooner while a full batch was
    due (a backlog drains without waiting out the beat)."""
    cfg = desk.config.monitor
    async with fetch.session(cfg) as http:
        while not stop.is_set():
            done = await monitor_pass(desk, http)
            if len(done.checked) < cfg.batch:
                await pause(stop, cfg.check_seconds)


__all__ = ["LEASE", "Pass", "Watch", "announce", "monitor_pass", "reopen", "run_monitor"]
