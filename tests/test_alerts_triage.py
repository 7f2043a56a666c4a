"""Urgency and alerts over the real app (SQLite and PostgreSQL): a victim writing that their
content is spreading makes the case critical (first in line) and alerts the takedown person on
shift, escalating to the next one and then to the leads until someone acknowledges; the
counselor's "flag spreading" button does the same; waiting cases age upward; self-harm words
make a case critical and the waiting victim is shown the emergency numbers; a console that goes
quiet turns its counselor offline and flags each of their open cases to the lead.

The app's own alert, presence, aging and router jobs are held off: the test calls
alerts.escalate_due, urgency.age_waiting, presence.sweep_lost and router.route_once itself,
with the time it chooses. Pull mode: no offer moves a case meanwhile."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hotline.cases import alerts, presence, router, urgency
from hotline.cases.live import now_ms
from hotline.config import Config
from hotline.domain.conversation import Urgency
from hotline.domain.routing import Presence
from hotline.domain.staff import Role
from hotline.domain.triage import IntakeAnswers
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import (
    Staffer,
    alert_rows,
    alerts_for,
    audit,
    conv,
    deps_of,
    hold_jobs,
    queue_ids,
    staff,
    stream_events,
    victim,
)
from tests.floor import presence as set_presence
from tests.helpers import statements_seen

SPREADING = [("en", "they posted my video and it is spreading now"),
             ("ko", "영상이 유포되고 있어요")]
ACK_TIMEOUT_S = 300


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"},
                       alerts={"ack_timeout_seconds": ACK_TIMEOUT_S})


@pytest.fixture
async def held(app_runner: AppRunner) -> AppRunner:
    await hold_jobs(deps_of(app_runner), "router", "alerts", "presence", "aging")
    return app_runner


async def _ack(who: Staffer, alert_id: int) -> tuple[int, dict[str, Any]]:
    resp = await who.post(f"/api/v1/alerts/{alert_id}/ack")
    body: dict[str, Any] = await resp.json()
    return resp.status, body


async def _takedown_team(runner: AppRunner) -> tuple[Staffer, Staffer, Staffer]:
    """Two takedown staff (not logged in: picked in id order) and a lead on a break."""
    tk1 = await staff(runner, "tk1", role=Role.TAKEDOWN, login=False)
    tk2 = await staff(runner, "tk2", role=Role.TAKEDOWN, login=False)
    lead = await staff(runner, "lead", role=Role.LEAD)
    await set_presence(lead, "break")
    return tk1, tk2, lead


@pytest.mark.parametrize(("lang", "text"), SPREADING, ids=["en", "ko"])
async def test_spreading_is_critical_first_in_line_and_alerts_takedown(
        held: AppRunner, lang: str, text: str) -> None:
    runner = held
    tk1, _tk2, lead = await _takedown_team(runner)
    _v1, old1 = await victim(runner, "hello, I need advice", lang=lang)
    _v2, old2 = await victim(runner, "is anyone there?", lang=lang)
    _v3, hot = await victim(runner, text, lang=lang)

    row = await conv(runner, hot)
    assert row.urgency.value == "critical" and row.reasons == ("content_spreading",)
    assert (await conv(runner, old1)).urgency.value == "normal"
    # Ahead of the older normal cases.
    assert await queue_ids(lead) == [(hot, None), (old1, None), (old2, None)]

    [alert] = await alert_rows(runner)
    assert (alert["conversation_id"], alert["kind"], alert["reasons"], alert["step"],
            alert["target_id"]) == (hot, "takedown", "content_spreading", 0, tk1.id)
    assert alert["escalate_at"] == alert["created_at"] + timedelta(seconds=ACK_TIMEOUT_S)
    assert [(e["alert"], e["kind"], e["target"], e["leads"])
            for e in await stream_events(runner, "alert")] == [
        (alert["id"], "takedown", tk1.id, False)]
    [raised] = await audit(runner, "alert.raised", hot)
    assert raised["detail"]["to"] == tk1.id and raised["detail"]["kind"] == "takedown"
    # The takedown person sees it on their console.
    assert await tk1.login("tk1") == 303
    assert [(a["id"], a["conversation"], a["target"]) for a in await alerts_for(tk1)] == [
        (alert["id"], hot, tk1.id)]
    # A second message about it does not raise a second alert.
    v3 = _v3
    assert (await v3.send("now it's on another site too, it is spreading", lang=lang)
            ).status == 201
    assert len(await alert_rows(runner)) == 1


async def test_unacknowledged_alert_escalates_to_the_next_then_the_leads(
        held: AppRunner) -> None:
    runner = held
    deps = deps_of(runner)
    tk1, tk2, lead = await _takedown_team(runner)
    _v, hot = await victim(runner, SPREADING[0][1])
    [alert] = await alert_rows(runner)
    created = alert["created_at"]
    assert alert["target_id"] == tk1.id

    # A pass with nothing due reads no roster; one with an alert due, only the takedown
    # staff's entries (each pass read every counselor's week: 20-40 ms at 1,000 staff).
    with statements_seen(deps.engine, "FROM shifts") as reads:
        assert await alerts.escalate_due(
            deps, now=created + timedelta(seconds=ACK_TIMEOUT_S - 1)) == 0
    assert reads == []
    with statements_seen(deps.engine, "FROM shifts") as reads:
        assert await alerts.escalate_due(
            deps, now=created + timedelta(seconds=ACK_TIMEOUT_S + 1)) == 1
    assert reads and all("counselor_id IN" in s for s, _p in reads), reads
    [alert] = await alert_rows(runner)
    assert (alert["step"], alert["target_id"]) == (1, tk2.id)
    assert alert["escalate_at"] == created + timedelta(seconds=2 * ACK_TIMEOUT_S + 1)

    later = created + timedelta(seconds=2 * ACK_TIMEOUT_S + 2)
    assert await alerts.escalate_due(deps, now=later) == 1
    [alert] = await alert_rows(runner)
    assert (alert["step"], alert["target_id"], alert["escalate_at"]) == (2, None, None)
    # Nothing further to escalate: it is with the leads now.
    assert await alerts.escalate_due(deps, now=later + timedelta(hours=1)) == 0

    [seen] = await alerts_for(lead)
    assert (seen["id"], seen["target"], seen["step"], seen["kind"]) == (
        alert["id"], None, 2, "takedown")
    assert [(e["step"], e["target"], e["leads"]) for e in await stream_events(runner, "alert")
            ] == [(0, tk1.id, False), (1, tk2.id, False), (2, None, True)]
    assert [(a["detail"]["step"], a["detail"]["to"])
            for a in await audit(runner, "alert.escalated", hot)] == [(1, tk2.id), (2, None)]


async def test_ack_records_who_and_stops_escalation(held: AppRunner) -> None:
    runner = held
    deps = deps_of(runner)
    tk1, tk2, lead = await _takedown_team(runner)
    mina = await staff(runner, "mina")
    _v, hot = await victim(runner, SPREADING[1][1], lang="ko")
    [alert] = await alert_rows(runner)
    aid = alert["id"]

    # A counselor may not acknowledge a takedown alert; it looks missing to them.
    status, body = await _ack(mina, aid)
    assert status == 404 and body["error"] == "no such alert"
    assert await alerts_for(mina) == []
    assert (await _ack(mina, 999_999))[0] == 404

    assert await tk1.login("tk1") == 303
    status, body = await _ack(tk1, aid)
    assert status == 200 and body == {"alert": aid, "acked": True}
    [alert] = await alert_rows(runner)
    assert alert["acked_by"] == tk1.id and alert["acked_via"] == "console"
    assert alert["acked_at"] is not None and alert["escalate_at"] is None
    assert await alerts.escalate_due(
        deps, now=alert["created_at"] + timedelta(seconds=10 * ACK_TIMEOUT_S)) == 0
    [alert] = await alert_rows(runner)
    assert (alert["step"], alert["target_id"]) == (0, tk1.id)

    # A second acknowledgement, by anyone allowed, is a conflict.
    status, body = await _ack(tk1, aid)
    assert status == 409 and body["error"] == "already acknowledged"
    assert (await _ack(lead, aid))[0] == 409
    assert await alerts_for(tk1) == [] and await alerts_for(lead) == []
    [acked] = await audit(runner, "alert.acked", hot)
    assert acked["actor_id"] == tk1.id and acked["detail"] == {"alert": aid, "via": "console"}
    assert [(e["alert"], e["by"]) for e in await stream_events(runner, "alert.acked")] == [
        (aid, tk1.id)]
    assert tk2.id != tk1.id


async def test_flag_spreading_button_raises_the_same_alert(held: AppRunner) -> None:
    runner = held
    tk1, _tk2, lead = await _takedown_team(runner)
    mina = await staff(runner, "mina")
    jun = await staff(runner, "jun")
    _v1, cid = await victim(runner, "someone has my photos")
    _v2, other = await victim(runner, "hello")
    assert await mina.take_next() == cid
    assert (await conv(runner, cid)).urgency.value == "normal"
    assert await alert_rows(runner) == []

    # Only someone who may see the case can flag it.
    assert (await jun.post(f"/api/v1/cases/{cid}/flag-spreading")).status == 404
    resp = await mina.post(f"/api/v1/cases/{cid}/flag-spreading")
    assert resp.status == 200 and await resp.json() == {"conversation": cid, "changed": True}
    case = await mina.case(cid)
    assert case["urgency"] == "critical" and case["reasons"] == ["content_spreading"]
    [alert] = await alert_rows(runner)
    assert (alert["conversation_id"], alert["kind"], alert["target_id"]) == (
        cid, "takedown", tk1.id)
    [flagged] = await audit(runner, "case.flagged_spreading", cid)
    assert flagged["actor_id"] == mina.id
    assert [e["urgency"] for e in await stream_events(runner, "urgency")
            if e["conversation"] == cid] == ["critical"]

    # Flagging again changes nothing and raises nothing new.
    resp = await mina.post(f"/api/v1/cases/{cid}/flag-spreading")
    assert resp.status == 200 and (await resp.json())["changed"] is False
    assert len(await alert_rows(runner)) == 1
    # A lead may flag a waiting case: it goes to the front.
    _v3, newest = await victim(runner, "hi again")
    resp = await lead.post(f"/api/v1/cases/{newest}/flag-spreading")
    assert resp.status == 200 and (await resp.json())["changed"] is True
    assert await queue_ids(lead) == [(newest, None), (other, None)]


async def test_without_takedown_staff_on_shift_the_leads_are_alerted(held: AppRunner) -> None:
    runner = held
    lead = await staff(runner, "lead", role=Role.LEAD)
    _v, hot = await victim(runner, SPREADING[0][1])
    [alert] = await alert_rows(runner)
    assert (alert["target_id"], alert["escalate_at"]) == (None, None)
    [seen] = await alerts_for(lead)
    assert seen["conversation"] == hot and seen["kind"] == "takedown"
    assert [e["leads"] for e in await stream_events(runner, "alert")] == [True]
    assert (await _ack(lead, alert["id"]))[0] == 200


async def test_waiting_cases_age_upward(held: AppRunner) -> None:
    runner = held
    deps = deps_of(runner)
    limits = runner.config.triage.age_up_seconds
    lead = await staff(runner, "lead", role=Role.LEAD)
    mina = await staff(runner, "mina")
    _v0, held_case = await victim(runner, "first")
    assert await mina.take_next() == held_case  # active: never aged
    _v1, normal = await victim(runner, "I need to talk to someone")
    _v2, minor = await victim(runner, "I'm 15 years old and he has my pictures")
    assert (await conv(runner, minor)).urgency.value == "high"
    assert await queue_ids(lead) == [(minor, None), (normal, None)]
    enq = (await conv(runner, normal)).enqueued_at
    assert (await conv(runner, minor)).enqueued_at > enq + timedelta(milliseconds=1)

    # Just past the normal limit: the normal case is high now, and first (it waited longer).
    t1 = enq + timedelta(seconds=limits[Urgency.NORMAL], milliseconds=1)
    assert await urgency.age_waiting(deps, now=t1) == 1
    row = await conv(runner, normal)
    assert row.urgency.value == "high" and row.reasons == ("aged",)
    assert (await conv(runner, minor)).urgency.value == "high"
    assert await queue_ids(lead) == [(normal, None), (minor, None)]
    assert await urgency.age_waiting(deps, now=t1) == 0  # nothing more at that time

    # Past both limits: critical. The high (minor) case waited past its own limit too.
    t2 = enq + timedelta(seconds=limits[Urgency.NORMAL] + limits[Urgency.HIGH], milliseconds=1)
    assert await urgency.age_waiting(deps, now=t2) == 2
    row = await conv(runner, normal)
    assert row.urgency.value == "critical" and "aged" in row.reasons
    row = await conv(runner, minor)
    assert row.urgency.value == "critical" and row.reasons == ("minor", "aged")
    assert (await conv(runner, held_case)).urgency.value == "normal"
    assert await queue_ids(lead) == [(normal, None), (minor, None)]

    aged = await audit(runner, "case.aged", normal)
    assert [(a["detail"]["before"], a["detail"]["after"]) for a in aged] == [
        ("normal", "high"), ("high", "critical")]
    assert ("critical", ["aged"]) in [(e["urgency"], e["reasons"])
                                      for e in await stream_events(runner, "urgency")
                                      if e["conversation"] == normal]
    # Critical never ages further.
    assert await urgency.age_waiting(deps, now=t2 + timedelta(days=1)) == 0


@pytest.mark.parametrize(("lang", "text"), [("ko", "너무 힘들어서 죽고 싶어요"),
                                            ("ko", "자살하고싶어"),
                                            ("en", "I want to die")])
async def test_self_harm_words_are_critical_and_show_emergency_numbers(
        held: AppRunner, lang: str, text: str) -> None:
    runner = held
    v, cid = await victim(runner, text, lang=lang)
    row = await conv(runner, cid)
    assert row.urgency.value == "critical" and row.reasons == ("self_harm",)
    state = await v.state()
    assert state["state"] == "waiting" and state["wait"]["critical"] is True
    for number in ("112", "119", "109"):
        assert number in state["status_text"], state["status_text"]
    # Self-harm alone alerts no takedown staff.
    assert await alert_rows(runner) == []

    calm, _ = await victim(runner, "hello", lang=lang)
    calm_state = await calm.state()
    assert calm_state["wait"]["critical"] is False
    assert "112" not in calm_state["status_text"]


async def test_a_quiet_console_goes_offline_and_its_cases_are_flagged(held: AppRunner) -> None:
    runner = held
    deps = deps_of(runner)
    lead = await staff(runner, "lead", role=Role.LEAD)
    mina = await staff(runner, "mina")
    jun = await staff(runner, "jun")
    _v1, c1 = await victim(runner, "first")
    _v2, c2 = await victim(runner, "second")
    assert await mina.take_next() == c1
    assert await mina.take_next() == c2
    ttl_ms = runner.config.routing.presence_timeout_seconds * 1000
    # Mina's laptop closed: her last heartbeat is older than the presence timeout.
    await deps.live.heartbeat(mina.id, at_ms=now_ms() - ttl_ms - 5_000)

    assert await presence.sweep_lost(deps) == [mina.id]
    assert await deps.live.status_of(mina.id) == Presence.OFFLINE
    assert await deps.live.status_of(jun.id) == Presence.AVAILABLE
    floor = await (await lead.client.get("/api/v1/floor")).json()
    people = {a["id"]: a for a in floor["agents"]}
    assert people[mina.id]["status"] == "offline" and people[mina.id]["present"] is False
    assert people[mina.id]["load"] == 2
    # Her cases stay hers; the lead is alerted about each.
    assert (await conv(runner, c1)).counselor_id == mina.id
    found = await alerts_for(lead)
    assert sorted((a["conversation"], a["kind"], tuple(a["reasons"])) for a in found) == sorted(
        [(c1, "lead", ("presence_lost",)), (c2, "lead", ("presence_lost",))])
    [attention] = await stream_events(runner, "lead.attention")
    assert attention["counselor"] == mina.id and sorted(attention["conversations"]) == sorted(
        [c1, c2])
    # Named, for the lead's banner (the lead page holds no directory of every account).
    assert attention["name"] == "mina"
    # Nobody else was lost; a second sweep finds nothing.
    assert await presence.sweep_lost(deps) == []
    # While she is away the alerts stay open.
    assert await alerts.resolve_ended(deps) == 0
    # Mina back at her desk: a heartbeat and "available" make her routable again.
    await presence.beat(deps, mina.id)
    assert (await mina.post("/api/v1/presence", {"status": "available"})).status == 200
    assert await deps.live.status_of(mina.id) == Presence.AVAILABLE
    # Her console is back, so are her cases' holder: both alerts close by themselves (a
    # dropped network at a centre raised one per open case, each to acknowledge by hand).
    assert await alerts.resolve_ended(deps) == 2
    assert await alerts_for(lead) == []
    gone = await alerts_for(lead, acked=True)
    assert sorted((a["conversation"], a["acked_via"], a["acked_by"]) for a in gone) == sorted(
        [(c1, "presence_back", None), (c2, "presence_back", None)])


async def test_lost_console_alerts_even_after_an_earlier_lead_alert_on_the_case(
        held: AppRunner) -> None:
    """A case with an unacknowledged lead alert of another kind (here: nobody on duty when it
    arrived) must still produce a presence_lost alert when its counselor's console is lost."""
    runner = held
    deps = deps_of(runner)
    lead = await staff(runner, "lead", role=Role.LEAD, languages=("ko",))
    await set_presence(lead, "break")
    _v, cid = await victim(runner, "hello?", lang="en")
    await router.route_once(deps)
    assert [a["reasons"] for a in await alerts_for(lead)] == [["coverage_gap"]]

    mina = await staff(runner, "mina")
    assert await mina.take_next() == cid
    await deps.live.heartbeat(
        mina.id, at_ms=now_ms() - runner.config.routing.presence_timeout_seconds * 1000 - 5_000)
    assert await presence.sweep_lost(deps) == [mina.id]
    reasons = sorted(r for a in await alerts_for(lead) if a["conversation"] == cid
                     for r in a["reasons"])
    assert "presence_lost" in reasons, reasons


async def test_flagging_a_closed_case_changes_nothing(held: AppRunner) -> None:
    runner = held
    deps = deps_of(runner)
    await _takedown_team(runner)
    mina = await staff(runner, "mina")
    _v, cid = await victim(runner, "someone has my photos")
    assert await mina.take_next() == cid
    assert (await mina.close(cid)).status == 200
    resp = await mina.post(f"/api/v1/cases/{cid}/flag-spreading")
    assert resp.status == 409, await resp.text()
    row = await conv(runner, cid)
    assert row.status.value == "closed" and row.urgency.value == "normal"
    assert await alert_rows(runner) == []
    # Nothing of the closed case is left in the live queue's records.
    assert not await deps.redis.hexists(deps.keys.queue_meta, cid)


async def test_intake_answers_after_the_close_change_nothing(held: AppRunner) -> None:
    """Answers that arrive after a case was closed (a late SMS reply) neither re-triage it nor
    raise a takedown alert."""
    runner = held
    deps = deps_of(runner)
    mina = await staff(runner, "mina")
    _v, cid = await victim(runner, "hello, I need advice")
    assert await mina.take_next() == cid
    assert (await mina.close(cid)).status == 200
    with pytest.raises(LookupError):
        await urgency.set_answers(deps, cid, IntakeAnswers(spreading=True))
    row = await conv(runner, cid)
    assert row.urgency.value == "normal" and row.reasons == ()
    assert await alert_rows(runner) == []


async def test_takedown_staff_read_alerted_cases_but_cannot_act_on_them(held: AppRunner) -> None:
    """Takedown staff need the links and platforms a victim gave to file deletion requests:
    once a case raised a takedown alert they may read it; replying, closing and other cases
    stay out of reach (a case with no alert is 404, like a missing one)."""
    runner = held
    tk1, _tk2, _lead = await _takedown_team(runner)
    mina = await staff(runner, "mina")
    _v1, hot = await victim(runner, SPREADING[0][1])
    _v2, calm = await victim(runner, "hello, I need advice")
    assert await tk1.login("tk1") == 303
    await tk1.case(hot)
    assert (await tk1.client.get(f"/api/v1/cases/{calm}")).status == 404
    assert (await tk1.client.get(f"/api/v1/cases/{hot}/evidence")).status == 200
    # Reading is not acting: the case is held by its counselor.
    assert await mina.take_next() == hot
    assert (await tk1.client.get(f"/api/v1/cases/{hot}")).status == 200
    resp = await tk1.reply(hot, "hello")
    assert resp.status == 409
    resp = await tk1.close(hot)
    assert resp.status == 409
    assert (await conv(runner, hot)).status.value == "active"
