"""A shift lead's actions over the real app (SQLite and PostgreSQL): reassigning a case to an
eligible colleague (ineligible: 409 with the reason; a full colleague only with
override_capacity), returning a case to the queue at its old position, and setting urgency up
or down with a reason code. Each is audited and announced on the event stream; counselors may
do none of it, except return their own case to the queue.

Pull mode: no background offer moves a case while a test looks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hotline.cases.handover import REASONS
from hotline.config import Config
from hotline.domain.staff import Role
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import (
    Staffer,
    audit,
    conv,
    deps_of,
    presence,
    queue_ids,
    staff,
    stream_events,
    victim,
)


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"})


async def _reassign(who: Staffer, cid: str, to: Any, reason: Any = "workload",
                    **extra: Any) -> tuple[int, dict[str, Any]]:
    resp = await who.post(f"/api/v1/cases/{cid}/reassign",
                          {"counselor_id": to, "reason": reason, **extra})
    body: dict[str, Any] = await resp.json()
    return resp.status, body


async def _requeue(who: Staffer, cid: str, reason: Any = "language") -> tuple[int, dict[str, Any]]:
    resp = await who.post(f"/api/v1/cases/{cid}/requeue", {"reason": reason})
    body: dict[str, Any] = await resp.json()
    return resp.status, body


async def _urgency(who: Staffer, cid: str, level: Any, reason: Any = "other"
                   ) -> tuple[int, dict[str, Any]]:
    resp = await who.post(f"/api/v1/cases/{cid}/urgency", {"urgency": level, "reason": reason})
    body: dict[str, Any] = await resp.json()
    return resp.status, body


async def test_lead_reassigns_to_an_eligible_colleague(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    jun = await staff(app_runner, "jun")
    _v, cid = await victim(app_runner)
    assert await mina.take_next() == cid

    status, body = await _reassign(lead, cid, jun.id, "workload")
    assert status == 200, body
    assert body == {"conversation": cid, "counselor": jun.id, "previous": mina.id}
    row = await conv(app_runner, cid)
    assert row.status.value == "active" and row.counselor_id == jun.id
    assert (await jun.case(cid))["counselor_id"] == jun.id
    assert (await mina.client.get(f"/api/v1/cases/{cid}")).status == 404
    deps = deps_of(app_runner)
    assert await deps.live.owners() == {cid: jun.id}
    assert await deps.live.loads() == {jun.id: 1}

    [entry] = await audit(app_runner, "case.reassigned", cid)
    assert entry["actor_id"] == lead.id
    assert entry["detail"] == {"previous": mina.id, "to": jun.id, "reason": "workload",
                               "override_capacity": False}
    assert {"type": "assigned", "conversation": cid, "counselor": jun.id,
            "previous": mina.id, "reason": "workload"} in await stream_events(app_runner,
                                                                              "assigned")
    # A waiting case can be given straight to someone too.
    _v2, waiting = await victim(app_runner)
    status, body = await _reassign(lead, waiting, mina.id, "skills")
    assert status == 200 and body["previous"] is None
    assert (await mina.case(waiting))["status"] == "active"
    assert await queue_ids(lead) == []


async def test_reassign_to_an_ineligible_colleague_is_409_with_the_reason(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    jun = await staff(app_runner, "jun")
    kim = await staff(app_runner, "kim", languages=("ko",))
    _v, cid = await victim(app_runner, lang="en")
    assert await mina.take_next() == cid
    await presence(jun, "break")

    for to, reason in ((jun.id, "status"), (kim.id, "language"), (mina.id, "same"),
                       (999_999, "status")):
        status, body = await _reassign(lead, cid, to)
        assert status == 409, body
        assert body == {"error": f"counselor not eligible: {reason}", "reason": reason}
    row = await conv(app_runner, cid)
    assert row.counselor_id == mina.id
    assert await deps_of(app_runner).live.owners() == {cid: mina.id}
    assert await audit(app_runner, "case.reassigned") == []
    status, _ = await _reassign(lead, "0123456789abcdef0123456789abcdef", jun.id)
    assert status == 404


async def test_full_colleague_only_with_override_capacity(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    jun = await staff(app_runner, "jun", max_chats=1)
    _v1, juns = await victim(app_runner, "first")
    _v2, cid = await victim(app_runner, "second")
    assert await jun.take_next() == juns
    assert await mina.take_next() == cid

    status, body = await _reassign(lead, cid, jun.id, "continuity")
    assert status == 409 and body["reason"] == "capacity"
    status, body = await _reassign(lead, cid, jun.id, "continuity", override_capacity=False)
    assert status == 409 and body["reason"] == "capacity"
    assert (await conv(app_runner, cid)).counselor_id == mina.id

    status, body = await _reassign(lead, cid, jun.id, "continuity", override_capacity=True)
    assert status == 200, body
    assert (await conv(app_runner, cid)).counselor_id == jun.id
    assert (await deps_of(app_runner).live.loads())[jun.id] == 2
    [entry] = await audit(app_runner, "case.reassigned", cid)
    assert entry["detail"]["override_capacity"] is True
    assert entry["detail"]["reason"] == "continuity"
    # The override skips capacity only: a colleague on a break is still refused.
    await presence(mina, "break")
    status, body = await _reassign(lead, juns, mina.id, "wellbeing", override_capacity=True)
    assert status == 409 and body["reason"] == "status"


@pytest.mark.parametrize(("body", "field"), [
    ({"reason": "because"}, "reason"),
    ({"reason": ""}, "reason"),
    ({"reason": None}, "reason"),
    ({"counselor_id": "jun"}, "counselor_id"),
    ({"counselor_id": -1}, "counselor_id"),
    ({"override_capacity": "yes"}, "override_capacity"),
])
async def test_reassign_bad_input_is_400(app_runner: AppRunner, body: dict[str, Any],
                                         field: str) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    jun = await staff(app_runner, "jun")
    _v, cid = await victim(app_runner)
    assert await mina.take_next() == cid
    resp = await lead.post(f"/api/v1/cases/{cid}/reassign",
                           {"counselor_id": jun.id, "reason": "workload", **body})
    assert resp.status == 400
    assert (await resp.json())["error"].startswith(f"{field}:")
    assert (await conv(app_runner, cid)).counselor_id == mina.id
    assert await audit(app_runner, "case.reassigned") == []


async def test_every_reason_code_is_accepted(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    jun = await staff(app_runner, "jun")
    _v, cid = await victim(app_runner)
    assert await mina.take_next() == cid
    holders = [jun, mina]
    for i, reason in enumerate(REASONS):
        status, body = await _reassign(lead, cid, holders[i % 2].id, reason)
        assert status == 200, (reason, body)
    assert [a["detail"]["reason"] for a in await audit(app_runner, "case.reassigned")] == list(
        REASONS)


async def test_requeue_puts_the_case_back_at_its_old_position(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    jun = await staff(app_runner, "jun")
    _v1, oldest = await victim(app_runner, "first")
    _v2, second = await victim(app_runner, "second")
    _v3, third = await victim(app_runner, "third")
    assert await mina.take_next() == oldest
    assert await queue_ids(lead) == [(second, None), (third, None)]

    status, body = await _requeue(lead, oldest, "language")
    assert status == 200 and body == {"conversation": oldest, "status": "waiting"}
    # Again first: it keeps the wait it had.
    assert await queue_ids(lead) == [(oldest, None), (second, None), (third, None)]
    row = await conv(app_runner, oldest)
    assert row.status.value == "waiting" and row.counselor_id is None
    assert (await mina.client.get(f"/api/v1/cases/{oldest}")).status == 404
    assert await deps_of(app_runner).live.loads() == {}

    [entry] = await audit(app_runner, "case.requeued", oldest)
    assert entry["actor_id"] == lead.id
    assert entry["detail"] == {"previous": mina.id, "reason": "language"}
    queued = [e for e in await stream_events(app_runner, "queued")
              if e["conversation"] == oldest and "reason" in e]
    assert queued == [{"type": "queued", "conversation": oldest, "previous": mina.id,
                       "reason": "language", "language": "en", "channel": "webchat",
                       "urgency": "normal"}]
    assert await jun.take_next() == oldest

    # A waiting case cannot be returned to the queue; nor can a bad reason be given.
    status, body = await _requeue(lead, second)
    assert status == 409 and body["error"] == "already waiting"
    status, body = await _requeue(lead, oldest, "bored")
    assert status == 400 and body["error"].startswith("reason:")


async def test_requeue_of_a_closed_case_is_a_clear_conflict(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    _v, cid = await victim(app_runner)
    assert await mina.take_next() == cid
    assert (await mina.close(cid)).status == 200
    status, body = await _requeue(lead, cid)
    assert status == 409 and body["error"] == "case is closed", body
    assert (await conv(app_runner, cid)).status.value == "closed"
    assert await queue_ids(lead) == []
    status, body = await _urgency(lead, cid, "critical")
    assert status == 409 and body["error"] == "case is closed"
    status, body = await _reassign(lead, cid, mina.id)
    assert status == 404


async def test_lead_sets_urgency_up_and_down_with_a_reason(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    _v1, older = await victim(app_runner, "first")
    _v2, newer = await victim(app_runner, "second")
    assert await queue_ids(lead) == [(older, None), (newer, None)]

    status, body = await _urgency(lead, newer, "critical", "other")
    assert status == 200, body
    assert body == {"conversation": newer, "urgency": "critical", "reasons": ["lead"],
                    "changed": True}
    assert await queue_ids(lead) == [(newer, None), (older, None)]
    row = await conv(app_runner, newer)
    assert row.urgency.value == "critical" and row.reasons == ("lead",)

    status, body = await _urgency(lead, newer, "normal", "risk_lower")
    assert status == 200 and body["urgency"] == "normal"
    # Back down: the older case is first again (the newer one kept its own wait).
    assert await queue_ids(lead) == [(older, None), (newer, None)]

    changes = await audit(app_runner, "case.urgency_set", newer)
    assert [(a["actor_id"], a["detail"]) for a in changes] == [
        (lead.id, {"before": "normal", "after": "critical", "reason": "other"}),
        (lead.id, {"before": "critical", "after": "normal", "reason": "risk_lower"})]
    announced = [(e["urgency"], e["reasons"]) for e in await stream_events(app_runner, "urgency")
                 if e["conversation"] == newer]
    assert announced == [("critical", ["lead"]), ("normal", ["lead"])]

    # The urgency the case already has is no change: nothing recorded or announced.
    status, body = await _urgency(lead, newer, "normal", "other")
    assert (status, body) == (200, {"conversation": newer, "urgency": "normal", "changed": False})
    assert len(await audit(app_runner, "case.urgency_set", newer)) == 2
    # Handover reasons are not urgency reasons: those have their own codes.
    status, body = await _urgency(lead, newer, "high", "skills")
    assert status == 400 and body["error"].startswith("reason:")

    for bad in ({"urgency": "extreme", "reason": "other"}, {"urgency": "high", "reason": "x"},
                {"urgency": "high"}):
        resp = await lead.post(f"/api/v1/cases/{newer}/urgency", bad)
        assert resp.status == 400
        assert (await resp.json())["error"].split(":")[0] in ("urgency", "reason")
    assert len(await audit(app_runner, "case.urgency_set")) == 2


async def test_lead_urgency_on_an_active_case_is_kept_for_a_requeue(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    _v1, held = await victim(app_runner, "first")
    _v2, waiting = await victim(app_runner, "second")
    _v3, later = await victim(app_runner, "third")
    assert await mina.take_next() == held
    status, _ = await _urgency(lead, later, "high", "other")
    assert status == 200
    status, _ = await _urgency(lead, held, "critical", "other")
    assert status == 200
    assert (await mina.case(held))["urgency"] == "critical"
    status, _ = await _requeue(lead, held, "unresponsive")
    assert status == 200
    # Critical first, then high, then normal.
    assert await queue_ids(lead) == [(held, None), (later, None), (waiting, None)]


@pytest.mark.parametrize("role", [Role.COUNSELOR, Role.TAKEDOWN])
async def test_non_leads_may_not_reassign_or_set_urgency(app_runner: AppRunner,
                                                         role: Role) -> None:
    mina = await staff(app_runner, "mina", role=role)
    jun = await staff(app_runner, "jun")
    _v, cid = await victim(app_runner)
    if role != Role.COUNSELOR:
        await presence(mina, "available")  # takedown staff start busy
    assert await mina.take_next() == cid
    # The policy (hotline/domain/policy.py) answers 404 to a role without the right, as for a
    # missing record.
    status, body = await _reassign(mina, cid, jun.id)
    assert status == 404 and body["error"] == "not found"
    status, body = await _urgency(mina, cid, "critical")
    assert status == 404
    row = await conv(app_runner, cid)
    assert row.counselor_id == mina.id and row.urgency.value == "normal"
    assert await audit(app_runner, "case.reassigned") == []
    assert await audit(app_runner, "case.urgency_set") == []


async def test_a_counselor_may_requeue_their_own_case_only(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    jun = await staff(app_runner, "jun")
    _v1, minas = await victim(app_runner, "first")
    _v2, juns = await victim(app_runner, "second")
    _v3, waiting = await victim(app_runner, "third")
    assert await mina.take_next() == minas
    assert await jun.take_next() == juns

    # Someone else's case, or a waiting one, looks missing to a counselor (404, not 403).
    status, _ = await _requeue(mina, juns)
    assert status == 404
    status, _ = await _requeue(mina, waiting)
    assert status == 404
    assert (await conv(app_runner, juns)).counselor_id == jun.id

    status, body = await _requeue(mina, minas, "language")
    assert status == 200, body
    assert await queue_ids(lead) == [(minas, None), (waiting, None)]
    [entry] = await audit(app_runner, "case.requeued")
    assert entry["actor_id"] == mina.id and entry["target_id"] == minas


async def test_who_read_a_case_is_audited_once_per_reader(app_runner: AppRunner) -> None:
    """"Who saw a record" is answerable from the audit log: each reader's first read of a
    transcript (the holder's, a lead's) is one case.viewed row; refreshes add none."""
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    _v, cid = await victim(app_runner)
    assert await mina.take_next() == cid
    for _ in range(3):
        await mina.case(cid)
        await lead.case(cid)
    rows = await audit(app_runner, "case.viewed", cid)
    assert sorted((r["actor_id"], r["detail"]["role"], r["detail"]["holder"]) for r in rows) == \
        sorted([(mina.id, "counselor", True), (lead.id, "lead", False)])
