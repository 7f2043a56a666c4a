"""Triage staff can trust and correct (issue 13): the case page's signals show the catalogue
terms that raised them (term ids in case_signals, never message text), and the holder, a lead
or an admin withdraws a wrong one with a reason code: audited, the urgency recomputed and
re-ranked, its takedown alert withdrawn, and the victim's words do not raise it again (a
counselor's own flag does). Over the real app on SQLite and PostgreSQL; pure parts too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hotline.cases.tables import case_signals
from hotline.config import Config
from hotline.domain import signal_terms
from hotline.domain.signals import Certainty, Finding, Signal
from hotline.domain.staff import Role
from hotline.domain.triage import IntakeAnswers, default_rules, triage
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import alert_rows, audit, conv, deps_of, queue_ids, staff, victim

RULES = default_rules()
SPREAD = "a deepfake video of me was posted on twitter"
SEXTORTION = "pay me 500,000 won by 9pm or I send your nudes to your school"


def test_terms_are_catalogue_ids_patterns_and_cues_never_text() -> None:
    found = {f.signal: f for f in triage(IntakeAnswers(), [SEXTORTION], RULES).findings}
    money = signal_terms.terms_of(found[Signal.SEXTORTION], RULES)
    assert money == ("p:money_demand",)
    assert signal_terms.show(Signal.SEXTORTION, money[0], RULES).kind == "pattern"
    hedged = {f.signal: f for f in triage(
        IntakeAnswers(), ["딥페이크 영상이 만들어졌다는 얘기를 들었어요. 아직 퍼졌는지는 몰라요."],
        RULES).findings}[Signal.CONTENT_SPREADING]
    terms = signal_terms.terms_of(hedged, RULES)
    assert terms[-1] == signal_terms.HEDGED
    assert [signal_terms.show(Signal.CONTENT_SPREADING, t, RULES).text for t in terms] == [
        "퍼졌", ""]
    answered = Finding(Signal.MINOR, Certainty.FIRED, ("answer:age_group",))
    assert signal_terms.terms_of(answered, RULES) == ("answer:age_group",)
    # A phrase no longer in the catalogue shows as removed, never as stored text.
    assert signal_terms.show(Signal.MINOR, "t:0000000000", RULES).kind == "removed"
    # Merged terms stay within the column, cut on a term.
    long = signal_terms.merge((f"t:{i:010d}" for i in range(40)), ("p:deadline",))
    assert len(long) <= signal_terms.MAX_TEXT and long.split(",")[-1].startswith("t:")


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"})


async def _signals(who: Any, cid: str) -> dict[str, Any]:
    resp = await who.client.get(f"/api/v1/cases/{cid}/signals")
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def _withdraw(who: Any, cid: str, signal: str, reason: str = "misread") -> Any:
    return await who.post(f"/api/v1/cases/{cid}/signals/{signal}/withdraw", {"reason": reason})


async def test_the_case_shows_which_words_fired_and_keeps_no_text(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    _v, cid = await victim(app_runner, SEXTORTION)
    data = await _signals(lead, cid)
    by = {s["signal"]: s for s in data["signals"]}
    assert by["sextortion"]["terms"] == [{"kind": "pattern", "text": "money_demand"}]
    assert by["sextortion"]["certainty"] == "fired" and by["sextortion"]["withdrawn"] is None
    assert by["sextortion_deadline"]["terms"] == [{"kind": "pattern", "text": "deadline"}]
    async with deps_of(app_runner).engine.connect() as conn:
        stored = " ".join(r.terms for r in await conn.execute(select(case_signals)))
    for text in ("500", "9pm", "nudes", "school"):
        assert text not in stored


async def test_a_wrong_spreading_signal_is_withdrawn_with_its_takedown_alert(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    mina = await staff(app_runner, "mina")
    v, cid = await victim(app_runner, SPREAD)
    _v2, other = await victim(app_runner, "please help me")
    row = await conv(app_runner, cid)
    assert row.urgency.value == "critical" and "content_spreading" in row.reasons
    [alert] = [a for a in await alert_rows(app_runner) if a["kind"] == "takedown"]
    by = {s["signal"]: s for s in (await _signals(lead, cid))["signals"]}
    assert by["content_spreading"]["terms"] == [{"kind": "phrase", "text": "was posted"}]
    assert by["synthetic"]["terms"] == [{"kind": "phrase", "text": "deepfake"}]

    # Bad input names the field; an unknown signal or one not raised is refused.
    resp = await _withdraw(lead, cid, "content_spreading", "because")
    assert resp.status == 400 and "reason" in (await resp.json())["error"]
    assert (await _withdraw(lead, cid, "no_such_signal")).status == 404
    resp = await _withdraw(lead, cid, "minor")
    assert resp.status == 409 and (await resp.json())["error"] == "not_raised"
    assert await audit(app_runner, "case.signal_withdrawn") == []

    resp = await _withdraw(lead, cid, "content_spreading", "misread")
    assert resp.status == 200, await resp.text()
    done = await resp.json()
    # Deepfake content remains: high, no page.
    assert done["urgency"] == "high" and done["reasons"] == ["synthetic"]
    assert done["alerts_withdrawn"] == [alert["id"]]
    [ended] = [a for a in await alert_rows(app_runner) if a["id"] == alert["id"]]
    assert (ended["acked_via"], ended["acked_by"]) == ("signal_withdrawn", None)
    [logged] = await audit(app_runner, "case.signal_withdrawn", cid)
    assert logged["actor_id"] == lead.id and logged["detail"] == {
        "signal": "content_spreading", "reason": "misread", "before": "critical",
        "after": "high"}
    assert [a["detail"]["alert"] for a in await audit(app_runner, "alert.withdrawn")] == [
        alert["id"]]
    by = {s["signal"]: s for s in (await _signals(lead, cid))["signals"]}
    assert by["content_spreading"]["withdrawn"]["reason"] == "misread"
    assert by["content_spreading"]["withdrawn"]["by"] == lead.id
    # Re-ranked in the live queue: high now, still before the normal one.
    assert [c for c, _o in await queue_ids(mina)] == [cid, other]

    # The same words again do not raise it, nor page anyone.
    assert (await v.send("it was posted again")).status == 201
    row = await conv(app_runner, cid)
    assert "content_spreading" not in row.reasons and row.urgency.value == "high"
    assert len([a for a in await alert_rows(app_runner) if a["kind"] == "takedown"]) == 1
    # A counselor's own flag does.
    assert await mina.take_next() == cid
    resp = await mina.post(f"/api/v1/cases/{cid}/flag-spreading")
    assert resp.status == 200, await resp.text()
    row = await conv(app_runner, cid)
    assert "content_spreading" in row.reasons and row.urgency.value == "critical"
    by = {s["signal"]: s for s in (await _signals(mina, cid))["signals"]}
    assert by["content_spreading"]["withdrawn"] is None
    assert {"kind": "flag", "text": ""} in by["content_spreading"]["terms"]


async def test_only_the_holder_or_a_lead_withdraws(app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina")
    jun = await staff(app_runner, "jun")
    _v, cid = await victim(app_runner, SPREAD)
    # Waiting: a counselor may read it but not withdraw; then held by mina.
    resp = await _withdraw(jun, cid, "synthetic")
    assert resp.status in (404, 409)
    assert await mina.take_next() == cid
    resp = await _withdraw(jun, cid, "synthetic")
    assert resp.status == 404
    resp = await _withdraw(mina, cid, "synthetic", "someone_else")
    assert resp.status == 200
    assert (await resp.json())["urgency"] == "critical"  # spreading stays
    assert (await mina.close(cid)).status == 200
    resp = await _withdraw(mina, cid, "content_spreading")
    assert resp.status == 409 and (await resp.json())["error"] == "closed"
