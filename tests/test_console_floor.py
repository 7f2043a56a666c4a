"""The console under pressure, over the real app (SQLite and PostgreSQL): the queue and offers
say why a case is urgent; the status line's `blocked` is what take-next answers; a case shows
how long the victim waited, whether they are still there, their answers, each reply's delivery
(and why it failed), and whether takedown acknowledged; a case reassigned away cannot be
answered by its former holder; alerts close by themselves when their case closes and show who
acknowledged them; the lead sees durations and unanswered waits; takedown staff get their alerts
and a read-only case page; the intake form starts from nothing it was not told.

The app's periodic jobs are held off (tests/floor.py: hold_jobs); pull mode."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from hotline.cases import alerts, outbox, urgency
from hotline.config import Config
from hotline.domain.staff import Role
from hotline.domain.triage import IntakeAnswers
from tests.conftest import AppRunner, Database, RedisProcess, make_config, wait_for
from tests.floor import (
    add_override,
    alerts_for,
    audit,
    deps_of,
    hold_jobs,
    staff,
    take_next_status,
    utc_now,
    victim,
)
from tests.floor import presence as set_presence


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"})


@pytest.fixture
async def held(app_runner: AppRunner) -> AppRunner:
    await hold_jobs(deps_of(app_runner), "router", "alerts", "aging")
    return app_runner


async def test_queue_and_offers_say_why_a_case_is_urgent(held: AppRunner) -> None:
    mina = await staff(held, "mina")
    _v, cid = await victim(held, "please help me")
    await urgency.set_answers(deps_of(held), cid, IntakeAnswers(age_group="14_17"))
    waiting = (await (await mina.client.get("/api/v1/queue")).json())["waiting"]
    assert [(w["id"], w["reasons"]) for w in waiting] == [(cid, ["minor"])]
    assert waiting[0]["waited_seconds"] >= 0


async def test_the_status_line_says_what_take_next_would(held: AppRunner) -> None:
    lead = await staff(held, "lee", Role.LEAD)
    mina = await staff(held, "mina")
    await set_presence(mina, "available")
    me = await (await mina.client.get("/api/v1/me")).json()
    assert (me["status"], me["blocked"]) == ("available", None)
    # Taken off shift from now on: the status line and take-next give the same reason.
    now = utc_now()
    await add_override(lead, mina.id, now - timedelta(minutes=1), now + timedelta(hours=2),
                       on_shift=False, reason="sick")
    await victim(held, "please help me")

    async def blocked() -> object:
        return (await (await mina.client.get("/api/v1/me")).json())["blocked"]

    assert await wait_for(lambda: _equals(blocked, "shift")) is True
    status, body = await take_next_status(mina)
    assert (status, body["reason"]) == (409, "shift")
    await set_presence(mina, "break")
    me = await (await mina.client.get("/api/v1/me")).json()
    assert (me["status"], me["blocked"]) == ("break", "status")


async def _equals(get: object, value: object) -> bool:
    return bool(await get() == value)  # type: ignore[operator]


async def test_a_case_shows_wait_presence_answers_and_delivery(held: AppRunner) -> None:
    deps = deps_of(held)
    mina = await staff(held, "mina")
    await set_presence(mina, "available")
    v, cid = await victim(held, "please help me")
    await urgency.set_answers(deps, cid, IntakeAnswers(spreading=True, age_group="under_14",
                                                       platform="telegram"))
    assert await mina.take_next() == cid
    data = await mina.case(cid)
    assert data["waited_seconds"] >= 0 and data["may_act"] is True
    assert data["victim_left_at"] is None and data["last_victim_at"] is not None
    assert data["unanswered_since"] is not None
    assert data["intake_answers"] == {"spreading": True, "age_group": "under_14",
                                      "platform": "telegram"}
    assert data["suggested_age_band"] == "under_14"
    assert data["holder_name"] == "mina"
    # Answered: the victim no longer waits for a reply.
    assert (await mina.reply(cid, "I am here")).status == 201
    data = await mina.case(cid)
    assert data["unanswered_since"] is None
    out = [m for m in data["messages"] if m["direction"] == "out"]
    assert [(m["delivery"], m["delivery_error"]) for m in out] == [("delivered", None)]
    # A reply the provider could not deliver says so, and why.
    await outbox.mark_seq(deps, cid, out[0]["seq"], "failed", "sms_30003")
    data = await mina.case(cid)
    out = [m for m in data["messages"] if m["direction"] == "out"]
    assert [(m["delivery"], m["delivery_error"]) for m in out] == [("failed", "sms_30003")]
    # Quick exit: the case says the victim left, and the note is a system line.
    resp = await v.client.post("/chat/api/exit", data={"csrf": v.csrf})
    assert resp.status == 200, await resp.text()
    data = await mina.case(cid)
    assert data["victim_left_at"] is not None
    assert data["messages"][-1]["direction"] == "system"


async def test_takedown_acknowledgement_shows_on_the_case(held: AppRunner) -> None:
    tari = await staff(held, "tari", Role.TAKEDOWN)
    mina = await staff(held, "mina")
    await set_presence(mina, "available")
    _v, cid = await victim(held, "please help me")
    assert await mina.take_next() == cid
    assert (await mina.case(cid))["takedown"] == []
    assert (await mina.post(f"/api/v1/cases/{cid}/flag-spreading")).status == 200
    [alert] = (await mina.case(cid))["takedown"]
    assert alert["acked_at"] is None and alert["acked_by"] is None
    [open_alert] = await alerts_for(tari)
    assert (await tari.post(f"/api/v1/alerts/{open_alert['id']}/ack")).status == 200
    [alert] = (await mina.case(cid))["takedown"]
    assert alert["acked_by"] == "tari" and alert["acked_at"] is not None
    # Their alerts list keeps it a while, with who acknowledged it.
    [shown] = await alerts_for(tari, acked=True)
    assert (shown["acked_by_name"], shown["acked_via"]) == ("tari", "console")


async def test_alerts_close_by_themselves_when_their_case_closes(held: AppRunner) -> None:
    deps = deps_of(held)
    lead = await staff(held, "lee", Role.LEAD)
    mina = await staff(held, "mina")
    await set_presence(mina, "available")
    _v, cid = await victim(held, "please help me")
    assert await mina.take_next() == cid
    assert (await mina.post(f"/api/v1/cases/{cid}/flag-spreading")).status == 200
    assert len(await alerts_for(lead)) == 1
    # Nothing ended yet: nothing closes.
    assert await alerts.resolve_ended(deps) == 0
    assert (await mina.close(cid)).status == 200
    assert await alerts.resolve_ended(deps) == 1
    assert await alerts_for(lead) == []
    [gone] = await alerts_for(lead, acked=True)
    assert (gone["acked_via"], gone["acked_by"]) == ("case_closed", None)
    [row] = await audit(held, "alert.resolved", cid)
    assert row["detail"]["why"] == "case_closed"
    assert await alerts.resolve_ended(deps) == 0


async def test_a_case_reassigned_away_is_read_only_for_its_former_holder(
        held: AppRunner) -> None:
    lead = await staff(held, "lee", Role.LEAD)
    mina = await staff(held, "mina")
    jun = await staff(held, "jun")
    for who in (mina, jun):
        await set_presence(who, "available")
    _v, cid = await victim(held, "please help me")
    assert await mina.take_next() == cid
    resp = await lead.post(f"/api/v1/cases/{cid}/reassign",
                           {"counselor_id": jun.id, "reason": "workload"})
    assert resp.status == 200, await resp.text()
    resp = await mina.reply(cid, "are you still there?")
    assert resp.status in (404, 409)
    page = await (await jun.client.get(f"/console/cases/{cid}")).text()
    assert 'id="reply"' in page
    data = await jun.case(cid)
    assert (data["counselor_id"], data["holder_name"], data["may_act"]) == (jun.id, "jun", True)


async def test_the_lead_sees_durations_unanswered_waits_and_who_may_take(
        held: AppRunner) -> None:
    lead = await staff(held, "lee", Role.LEAD)
    mina = await staff(held, "mina", languages=("ko",))
    jun = await staff(held, "jun")
    for who in (mina, jun):
        await set_presence(who, "available")
    _v, cid = await victim(held, "please help me", lang="en")
    assert await jun.take_next() == cid
    floor = await (await lead.client.get("/api/v1/floor")).json()
    [active] = floor["active"]
    assert active["assigned_ms"] > 0 and active["unanswered_since_ms"] > 0
    assert (await jun.reply(cid, "hello")).status == 201
    floor = await (await lead.client.get("/api/v1/floor")).json()
    assert floor["active"][0]["unanswered_since_ms"] is None
    people = {a["id"]: a for a in floor["agents"]}
    assert people[mina.id]["may_take"] is True and people[mina.id]["languages"] == ["ko"]
    assert "webchat" in people[jun.id]["channels"]
    # The lead is busy at login: not someone to give a case to.
    assert people[lead.id]["may_take"] is False


async def test_takedown_staff_get_their_alerts_and_a_read_only_case(held: AppRunner) -> None:
    tari = await staff(held, "tari", Role.TAKEDOWN)
    mina = await staff(held, "mina")
    await set_presence(mina, "available")
    _v, cid = await victim(held, "please help me")
    assert await mina.take_next() == cid
    floor = await (await tari.client.get("/console")).text()
    assert 'id="takedown-floor"' in floor and 'id="queue"' not in floor
    assert 'id="take-next"' not in floor
    # Before any takedown alert the case is not theirs to read.
    assert (await tari.client.get(f"/console/cases/{cid}")).status == 404
    assert (await mina.post(f"/api/v1/cases/{cid}/flag-spreading")).status == 200
    page = await (await tari.client.get(f"/console/cases/{cid}")).text()
    for control in ('id="reply"', 'id="close"', 'id="handover"', 'id="flag-spreading"',
                    'id="requeue"'):
        assert control not in page
    assert 'data-may-act=""' in page and 'id="transcript"' in page
    data = await tari.case(cid)
    assert data["may_act"] is False and data["messages"]
    mine = await (await mina.client.get(f"/console/cases/{cid}")).text()
    assert 'id="reply"' in mine and 'data-may-act="1"' in mine


def _selected(page: str, select_id: str) -> str:
    m = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert m, select_id
    found = re.search(r'<option value="([^"]*)" selected>', m.group(1))
    assert found, select_id
    return found.group(1)


async def test_the_intake_form_starts_from_nothing_it_was_not_told(held: AppRunner) -> None:
    deps = deps_of(held)
    mina = await staff(held, "mina")
    await set_presence(mina, "available")
    _v, plain = await victim(held, "please help me")
    assert await mina.take_next() == plain
    page = await (await mina.client.get(f"/console/cases/{plain}")).text()
    assert _selected(page, "close-harm") == "" and _selected(page, "close-outcome") == ""
    assert _selected(page, "close-age") == "unknown"
    # Words, not codes.
    assert "distribution_anxiety</option>" not in page and ">14_17<" not in page
    assert "유포 불안" in page and "14~17세" in page
    # Harm type and outcome must be chosen: the server refuses the form without them.
    resp = await mina.close(plain, harm_type="")
    assert resp.status == 400 and (await resp.json())["field"] == "harm_type"
    resp = await mina.close(plain, outcome="")
    assert resp.status == 400 and (await resp.json())["field"] == "outcome"
    # The minor signal chooses the age band (the counselor may change it).
    _v2, minor = await victim(held, "please help me")
    await urgency.set_answers(deps, minor, IntakeAnswers(age_group="14_17"))
    assert await mina.take_next() == minor
    page = await (await mina.client.get(f"/console/cases/{minor}")).text()
    assert _selected(page, "close-age") == "14_17" and 'id="close-age-hint"' in page


async def test_a_coverage_alert_closes_by_itself_when_its_case_is_taken(
        held: AppRunner) -> None:
    deps = deps_of(held)
    lead = await staff(held, "lee", Role.LEAD)
    mina = await staff(held, "mina")
    _v, cid = await victim(held, "please help me")
    # As the router raises it when nobody covers the case's language and channel.
    assert await alerts.raise_lead_alert(deps, cid, "coverage_gap") is not None
    assert await alerts.resolve_ended(deps) == 0
    [shown] = await alerts_for(lead)
    assert shown["reasons"] == ["coverage_gap"]
    await set_presence(mina, "available")
    assert await mina.take_next() == cid
    assert await alerts.resolve_ended(deps) == 1
    assert await alerts_for(lead) == []
    [gone] = await alerts_for(lead, acked=True)
    assert gone["acked_via"] == "coverage_back"
