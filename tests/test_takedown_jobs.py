"""The desk's deadline job and SMTP sending over the real app on SQLite and PostgreSQL.

The job runs with a clock the test controls: a request past its due time is marked overdue
(at its due time), the takedown staff on shift are paged one at a time and then the leads,
and the next rung is proposed. E-mail routes go through aiosmtplib to a real aiosmtpd server
on loopback; a refusing relay changes nothing."""

from __future__ import annotations

import asyncio
import email
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from hotline.config import Config
from hotline.takedown.deadlines import deadline_pass, run_deadlines
from hotline.takedown.desk import Desk
from tests.conftest import AppRunner, Database, RedisProcess, free_port, make_config
from tests.floor import audit, deps_of
from tests.helpers import row_counts
from tests.takedown_support import (
    DESK_DETAILS,
    EXPLANATION,
    Floor,
    call,
    consent,
    floor,
    new_item,
    new_request,
    step,
)

ACK_S = 300


class Inbox:
    """An aiosmtpd handler that keeps every message, or refuses them all."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []
        self.refuse = False

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return "554 5.7.1 rejected"
        raw = envelope.content
        assert isinstance(raw, bytes)
        self.messages.append((envelope, email.message_from_bytes(raw)))
        return "250 2.0.0 Ok: queued as ABC123"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess,
           smtp: tuple[Inbox, int]) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"}, alerts={"ack_timeout_seconds": ACK_S},
                       takedown={**DESK_DETAILS, "smtp_host": "127.0.0.1",
                                 "smtp_port": smtp[1], "smtp_security": "none",
                                 "smtp_from": "desk@centre.example", "check_seconds": 1.0})


@pytest.fixture
async def desk_floor(app_runner: AppRunner) -> Floor:
    return await floor(app_runner)


def _clocked(f: Floor, now: list[datetime]) -> Desk:
    return Desk(f.desk.deps, f.desk.prompts, clock=lambda: now[0])


async def _sent_request(f: Floor, route: str = "kcsc", hours_ago: float = 0.0
                        ) -> dict[str, Any]:
    item = await new_item(f.tk)
    req = await new_request(f.tk, item["id"], route=route, fields=EXPLANATION)
    at = (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()
    status, sent = await step(f.tk, req["id"], "sent", at=at)
    assert status == 200, sent
    return dict(sent)


async def test_overdue_is_marked_paged_on_shift_then_leads(desk_floor: Floor) -> None:
    f = desk_floor
    sent = await _sent_request(f, hours_ago=1)  # the regulator's 24 h
    due = datetime.fromisoformat(sent["due_at"])
    now = [due - timedelta(minutes=1)]
    desk = _clocked(f, now)
    assert (await deadline_pass(desk)).overdue == ()
    now[0] = due + timedelta(seconds=1)
    first = await deadline_pass(desk)
    assert first.overdue == (sent["id"],) and len(first.raised) == 1
    _s, seen = await call(f.tk, "GET", f"/api/v1/takedown/requests/{sent['id']}")
    assert seen["state"] == "overdue" and seen["next_rung"] is None  # kcsc: top rung
    overdue_step = seen["steps"][-1]
    assert overdue_step["step"] == "overdue"
    assert datetime.fromisoformat(overdue_step["at"]) == due
    alert_id = first.raised[0]
    _s, listed = await call(f.tk, "GET", "/api/v1/takedown/alerts")
    assert [(a["id"], a["target"], a["mine"]) for a in listed["alerts"]] == [
        (alert_id, f.tk.id, True)]
    # A second pass marks nothing again and raises no second alert.
    again = await deadline_pass(desk)
    assert again.overdue == () and again.raised == () and again.moved == ()
    # Not acknowledged in time: the next takedown person, then the leads.
    now[0] += timedelta(seconds=ACK_S)
    assert (await deadline_pass(desk)).moved == (alert_id,)
    now[0] += timedelta(seconds=ACK_S)
    assert (await deadline_pass(desk)).moved == (alert_id,)
    _s, listed = await call(f.lead, "GET", "/api/v1/takedown/alerts")
    assert listed["alerts"][0]["leads"] is True and listed["alerts"][0]["mine"] is True
    moves = await audit(f.runner, "takedown.alert.escalated", str(sent["id"]))
    assert [m["detail"]["to"] for m in moves] == [f.tk2.id, None]
    _status, acked = await call(f.lead, "POST", f"/api/v1/takedown/alerts/{alert_id}/ack")
    assert acked == {"acked": True}
    assert (await call(f.lead, "GET", "/api/v1/takedown/alerts"))[1]["alerts"] == []
    assert (await call(f.counselor, "POST",
                       f"/api/v1/takedown/alerts/{alert_id}/ack"))[0] == 404
    job_steps = [s for s in await audit(f.runner, "takedown.step", str(sent["id"]))
                 if s["detail"]["via"] == "deadline_job"]
    assert len(job_steps) == 1 and job_steps[0]["actor_id"] is None


async def test_an_outcome_closes_the_alert_and_the_next_rung_is_proposed(
        desk_floor: Floor) -> None:
    f = desk_floor
    sent = await _sent_request(f, route="take_it_down", hours_ago=49)
    result = await deadline_pass(f.desk)
    assert result.overdue == (sent["id"],)
    _s, seen = await call(f.tk, "GET", f"/api/v1/takedown/requests/{sent['id']}")
    assert seen["next_rung"] == "copyright"
    _status, removed = await step(f.tk, sent["id"], "removed", ticket="X-77")
    assert removed["state"] == "removed"
    assert (await call(f.tk, "GET", "/api/v1/takedown/alerts"))[1]["alerts"] == []


async def test_the_job_loop_runs_on_the_desks_clock(desk_floor: Floor) -> None:
    f = desk_floor
    sent = await _sent_request(f, hours_ago=1)
    deps = deps_of(f.runner)
    now = [datetime.now(UTC) + timedelta(hours=25)]
    await deps.redis.delete(deps.keys.job_lock("takedown-deadlines"))
    stop = asyncio.Event()
    task = asyncio.create_task(run_deadlines(_clocked(f, now), stop))

    async def marked() -> bool:
        _s, seen = await call(f.tk, "GET", f"/api/v1/takedown/requests/{sent['id']}")
        return bool(seen["state"] == "overdue")

    for _ in range(200):
        if await marked():
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert await marked()


async def test_email_route_is_sent_through_smtp(desk_floor: Floor,
                                               smtp: tuple[Inbox, int]) -> None:
    f = desk_floor
    inbox, _port = smtp
    item = await new_item(f.tk, case_id=f.case_id, platform="telegram",
                          location="https://t.me/leakchannel/42")
    req = await new_request(f.tk, item["id"], platform="telegram", route="abuse_email",
                            fields={**EXPLANATION, "policy_broken": "Non-consensual imagery"})
    assert req["missing_fields"] == [] and req["email"] == "abuse@telegram.org"
    path = f"/api/v1/takedown/requests/{req['id']}/send"
    status, data = await call(f.tk, "POST", path)
    assert status == 409 and data["code"] == "consent_required" and inbox.messages == []
    await consent(f.tk, item["id"])
    status, sent = await call(f.tk, "POST", path)
    assert status == 200 and sent["state"] == "sent", sent
    envelope, msg = inbox.messages[0]
    assert envelope.rcpt_tos == ["abuse@telegram.org"]
    assert envelope.mail_from == "desk@centre.example"
    assert msg["Message-ID"] == sent["message_id"]
    assert f"TD-{req['id']}" in str(msg["Subject"])
    body = msg.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode().replace("\r\n", "\n")
    assert "https://t.me/leakchannel/42" in text and sent["text"] in text
    assert "queued as ABC123" in sent["relay_reply"]
    emailed = await audit(f.runner, "takedown.emailed", str(req["id"]))
    assert emailed[0]["detail"]["message_id"] == sent["message_id"]
    # Sent is sent: a second send is refused and nothing more is mailed.
    status, data = await call(f.tk, "POST", path)
    assert status == 409 and len(inbox.messages) == 1
    # A web form is filed by hand.
    form = await new_request(f.tk, item["id"], platform="telegram", route="in_app",
                             fields={**EXPLANATION, "policy_broken": "NCII"})
    status, data = await call(f.tk, "POST", f"/api/v1/takedown/requests/{form['id']}/send")
    assert status == 409 and data["code"] == "not_email_route"


async def test_a_refusing_relay_changes_nothing(desk_floor: Floor, config: Config,
                                               smtp: tuple[Inbox, int]) -> None:
    f = desk_floor
    inbox, _port = smtp
    inbox.refuse = True
    item = await new_item(f.tk, platform="other", location="https://tube.example/v/1")
    req = await new_request(f.tk, item["id"], platform="other", route="host_abuse",
                            address="abuse@host.example",
                            fields={**EXPLANATION, "policy_broken": "NCII"})
    before = await row_counts(config)
    status, data = await call(f.tk, "POST", f"/api/v1/takedown/requests/{req['id']}/send")
    assert status == 502 and data["code"] == "smtp_failed", data
    after = await row_counts(config)
    assert {k: v for k, v in after.items() if k != "audit_events"} == \
        {k: v for k, v in before.items() if k != "audit_events"}
    status, seen = await call(f.tk, "GET", f"/api/v1/takedown/requests/{req['id']}")
    assert seen["state"] == "draft" and seen["message_id"] is None
    inbox.refuse = False
    status, _sent = await call(f.tk, "POST", f"/api/v1/takedown/requests/{req['id']}/send")
    assert status == 200 and inbox.messages[0][0].rcpt_tos == ["abuse@host.example"]
    failed = await audit(f.runner, "takedown.send_failed", str(req["id"]))
    assert failed[0]["detail"]["error"] == "SMTPDataError"
