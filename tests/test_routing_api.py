"""Offer-mode routing over the real app (SQLite and PostgreSQL, the session's redis-server):
the router offers a victim's case to the best available counselor, who accepts or declines;
unanswered offers time out back to the case's old queue position and, after
routing.miss_alert_after misses, alert the lead; presence status and language decide who may
be offered anything; pull mode leaves it to "take next"; a language gap alerts the lead.

Most tests hold the app's router lock and run `router.route_once` themselves (at chosen times),
so nothing races them; one test lets the app's own router make the offer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hotline.cases import router
from hotline.cases.live import now_ms
from hotline.config import Config
from hotline.domain.staff import Role
from tests.conftest import AppRunner, Database, RedisProcess, make_config, wait_for
from tests.floor import (
    GUARD_S,
    Staffer,
    alerts_for,
    conv,
    deps_of,
    hold_jobs,
    my_offers,
    presence,
    queue_ids,
    staff,
    stream_events,
    take_next_status,
    victim,
)


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    # Short offers in time the test chooses (route_once at_ms); a generous presence window so
    # routing passes "in the future" do not find the consoles gone.
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "offer", "offer_timeout_seconds": 5,
                                "presence_timeout_seconds": 600, "miss_alert_after": 2})


async def _lead(runner: AppRunner, name: str = "lead", languages: tuple[str, ...] = ("ko", "en")
                ) -> Staffer:
    """A lead who is logged in but on a break, so the router never offers them cases."""
    lead = await staff(runner, name, role=Role.LEAD, languages=languages)
    await presence(lead, "break")
    return lead


async def _missed(lead: Staffer) -> list[dict[str, Any]]:
    """The lead's open alerts about repeatedly missed offers (others, such as a full floor's
    coverage alert, may be open too)."""
    return [a for a in await alerts_for(lead) if a["reasons"] == ["repeated_misses"]]


async def test_app_router_offers_to_the_available_counselor_who_accepts(
        app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina")
    _v, cid = await victim(app_runner, "I need help, someone is sharing my photos")

    async def offered() -> list[str]:
        return await my_offers(mina)

    # The app's own router (a pass every second, or on the "queued" event) makes the offer.
    assert await wait_for(offered, timeout=GUARD_S) == [cid]
    resp = await mina.client.get("/api/v1/offers/mine")
    offer = (await resp.json())["offers"][0]
    assert set(offer) == {"id", "channel", "language", "urgency", "deadline_ms", "reasons"}
    assert offer["channel"] == "webchat" and offer["language"] == "en"
    assert offer["deadline_ms"] > 0
    assert await queue_ids(mina) == [(cid, mina.id)]
    assert any(e["conversation"] == cid and e["counselor"] == mina.id
               for e in await stream_events(app_runner, "offered"))

    resp = await mina.post(f"/api/v1/offers/{cid}/accept")
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"conversation": cid, "action": "accept"}
    case = await mina.case(cid)
    assert case["status"] == "active" and case["counselor_id"] == mina.id
    mine = await (await mina.client.get("/api/v1/cases/mine")).json()
    assert [c["id"] for c in mine["cases"]] == [cid]
    assert await my_offers(mina) == []
    assert await queue_ids(mina) == []
    # Accepting twice, or accepting what was never offered, is a conflict.
    assert (await mina.post(f"/api/v1/offers/{cid}/accept")).status == 409
    # The counselor can reply at once.
    assert (await mina.reply(cid, "I am here with you.")).status == 201


async def test_only_the_offeree_can_accept_or_decline(app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    await hold_jobs(deps, "router")
    mina = await staff(app_runner, "mina")
    jun = await staff(app_runner, "jun", login=False)
    _v, cid = await victim(app_runner)
    report = await router.route_once(deps)
    assert report.offered == [(cid, mina.id)]
    assert await my_offers(mina) == [cid]
    # jun logs in after the offer went out: it is not his.
    assert await jun.login("jun") == 303
    assert await my_offers(jun) == []
    resp = await jun.post(f"/api/v1/offers/{cid}/accept")
    assert resp.status == 409 and (await resp.json())["error"] == "offer no longer open"
    assert (await jun.post(f"/api/v1/offers/{cid}/decline")).status == 409
    assert (await conv(app_runner, cid)).status.value == "waiting"
    assert await queue_ids(mina) == [(cid, mina.id)]


async def test_decline_goes_to_another_counselor_never_back(app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    await hold_jobs(deps, "router")
    lead = await _lead(app_runner)
    mina = await staff(app_runner, "mina")
    jun = await staff(app_runner, "jun")
    _v, cid = await victim(app_runner)

    first = await router.route_once(deps)
    assert len(first.offered) == 1
    first_to = first.offered[0][1]
    assert first_to in (mina.id, jun.id)
    one, other = (mina, jun) if first_to == mina.id else (jun, mina)
    assert await my_offers(one) == [cid] and await my_offers(other) == []

    resp = await one.post(f"/api/v1/offers/{cid}/decline")
    assert resp.status == 200, await resp.text()
    assert await my_offers(one) == []
    assert await queue_ids(one) == [(cid, None)]
    declined = [e for e in await stream_events(app_runner, "offer.declined")
                if e["conversation"] == cid]
    assert declined == [{"type": "offer.declined", "conversation": cid, "counselor": one.id,
                         "misses": 1}]
    assert await alerts_for(lead) == []  # one miss is below routing.miss_alert_after

    second = await router.route_once(deps)
    assert second.offered == [(cid, other.id)]
    assert await my_offers(other) == [cid] and await my_offers(one) == []

    assert (await other.post(f"/api/v1/offers/{cid}/decline")).status == 200
    # Both declined: the lead is alerted (routing.miss_alert_after = 2) ...
    found = await alerts_for(lead)
    assert [(a["conversation"], a["kind"], a["reasons"]) for a in found] == [
        (cid, "lead", ["repeated_misses"])]
    # ... and the case is never offered back to either decliner.
    for _ in range(3):
        again = await router.route_once(deps)
        assert again.offered == []
    assert await queue_ids(one) == [(cid, None)]
    assert await my_offers(one) == [] and await my_offers(other) == []
    # Take next still works for a decliner who changes their mind.
    status, body = await take_next_status(one)
    assert status == 200 and body == {"conversation": cid}


async def test_offer_timeout_returns_case_to_its_old_place_then_alerts_lead(
        app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    await hold_jobs(deps, "router")
    lead = await _lead(app_runner)
    mina = await staff(app_runner, "mina", max_chats=1)
    _v1, older = await victim(app_runner, "first")
    _v2, newer = await victim(app_runner, "second")
    t0 = now_ms()

    r = await router.route_once(deps, at_ms=t0)
    assert r.offered == [(older, mina.id)]  # the oldest first; mina has room for one
    assert await queue_ids(mina) == [(older, mina.id), (newer, None)]

    # Mina does not answer within offer_timeout_seconds (5 s): the offer expires.
    r = await router.route_once(deps, at_ms=t0 + 6_000)
    assert r.expired == [(older, mina.id)]
    # The newer case may go to her now; the older one is not offered to her again.
    assert r.offered == [(newer, mina.id)]
    # The older case is back at its old place: first in line.
    assert await queue_ids(mina) == [(older, None), (newer, mina.id)]
    assert [e["misses"] for e in await stream_events(app_runner, "offer.expired")
            if e["conversation"] == older] == [1]
    assert await _missed(lead) == []  # one miss is below routing.miss_alert_after

    jun = await staff(app_runner, "jun", max_chats=1)
    r = await router.route_once(deps, at_ms=t0 + 7_000)
    assert r.offered == [(older, jun.id)]
    # Jun misses it too: the second miss alerts the lead.
    r = await router.route_once(deps, at_ms=t0 + 13_000)
    assert sorted(r.expired) == sorted([(older, jun.id), (newer, mina.id)])
    assert [(a["conversation"], a["kind"], a["target"]) for a in await _missed(lead)] == [
        (older, "lead", None)]
    assert (await conv(app_runner, older)).status.value == "waiting"
    # Nobody who missed the older case is offered it again.
    assert (older, mina.id) not in r.offered and (older, jun.id) not in r.offered
    assert not any(c == older for c, _ in (await router.route_once(deps, t0 + 14_000)).offered)
    # Counselors cannot see the lead's alerts.
    assert await alerts_for(mina) == []


# A pass with its coverage check (once a second) and a wake between two (with_coverage False)
# both offer from the read of those who could take a case (staff_states(free_only=True)).
@pytest.mark.parametrize("with_coverage", [True, False], ids=["coverage-pass", "wake-pass"])
@pytest.mark.parametrize("status", ["busy", "break"])
async def test_busy_or_on_break_gets_no_offers_and_cannot_take(app_runner: AppRunner,
                                                               status: str,
                                                               with_coverage: bool) -> None:
    deps = deps_of(app_runner)
    await hold_jobs(deps, "router")
    mina = await staff(app_runner, "mina")
    await presence(mina, status)
    _v, cid = await victim(app_runner)
    assert (await router.route_once(deps, with_coverage=with_coverage)).offered == []
    assert await my_offers(mina) == []
    code, body = await take_next_status(mina)
    assert code == 409 and body["reason"] == "status"
    assert (await mina.post(f"/api/v1/cases/{cid}/take")).status == 409
    assert [e["status"] for e in await stream_events(app_runner, "presence")
            if e["counselor"] == mina.id][-1] == status

    # Back to available: the next pass offers it.
    await presence(mina, "available")
    assert (await router.route_once(deps, with_coverage=with_coverage)).offered == [
        (cid, mina.id)]


async def test_presence_rejects_unknown_status(app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina")
    resp = await mina.post("/api/v1/presence", {"status": "asleep"})
    assert resp.status == 400
    assert (await resp.json())["error"].startswith("status:")


async def test_case_in_a_language_nobody_speaks_is_never_offered_and_alerts_lead(
        app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    await hold_jobs(deps, "router")
    lead = await _lead(app_runner, languages=("ko",))
    mina = await staff(app_runner, "mina", languages=("ko",))
    _v, cid = await victim(app_runner, "hello, can anyone help in English?", lang="en")
    _vk, ko_case = await victim(app_runner, "도와주세요", lang="ko")

    report = await router.route_once(deps)
    assert report.offered == [(ko_case, mina.id)]
    # Coverage is watched for cases still waiting (the Korean one is out on offer).
    assert report.coverage == {"en|webchat": "gap"}
    for _ in range(2):
        assert (await router.route_once(deps)).offered == []
    assert await my_offers(mina) == [ko_case]
    code, body = await take_next_status(mina)
    # take-next gives her the Korean offer first ...
    assert code == 200 and body["conversation"] == ko_case
    # ... and never the English case.
    code, body = await take_next_status(mina)
    assert code == 409 and body["reason"] == "language"

    found = await alerts_for(lead)
    assert [(a["conversation"], a["kind"], a["reasons"]) for a in found] == [
        (cid, "lead", ["coverage_gap"])]
    gaps = [e for e in await stream_events(app_runner, "coverage")]
    assert gaps == [{"type": "coverage", "language": "en", "channel": "webchat",
                     "state": "gap"}]  # raised once, not on every pass


async def test_pull_mode_router_offers_nothing_take_next_works(
        tmp_path: Path, database: Database, redis_server: RedisProcess) -> None:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      routing={"mode": "pull"})
    runner = AppRunner(cfg)
    await runner.start()
    try:
        deps = deps_of(runner)
        await hold_jobs(deps, "router")
        mina = await staff(runner, "mina")
        _v1, older = await victim(runner, "first")
        _v2, newer = await victim(runner, "second")
        assert (await router.route_once(deps)).offered == []
        assert await my_offers(mina) == []
        assert await queue_ids(mina) == [(older, None), (newer, None)]
        assert await mina.take_next() == older
        assert await mina.take_next() == newer
        code, body = await take_next_status(mina)
        assert code == 409 and body["reason"] == "empty"
        assert (await mina.case(older))["counselor_id"] == mina.id
    finally:
        await runner.stop()


@pytest.mark.parametrize("role", [Role.LEAD, Role.TAKEDOWN, Role.ADMIN])
async def test_staff_other_than_counselors_start_busy_and_are_not_offered_chats(
        app_runner: AppRunner, role: Role) -> None:
    deps = deps_of(app_runner)
    await hold_jobs(deps, "router")
    boss = await staff(app_runner, "boss", role=role)
    assert await deps.live.status_of(boss.id) == "busy"
    _v, cid = await victim(app_runner)
    assert (await router.route_once(deps)).offered == []
    # Choosing "available" puts them on the floor like anyone else.
    await presence(boss, "available")
    assert (await router.route_once(deps)).offered == [(cid, boss.id)]


async def test_a_counselor_starts_available(app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    mina = await staff(app_runner, "mina")
    assert await deps.live.status_of(mina.id) == "available"
