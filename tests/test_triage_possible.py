"""Possible signals over the real app (SQLite and PostgreSQL): a hedged signal raises a case to
high and is stored as "possible:<signal>" beside the fired ones, but pages no takedown staff;
the same signal fired later replaces it and pages; the cases reported in issue 13 come out as
expected end to end.

The app's periodic jobs are held off (the test calls nothing that needs them); pull mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.config import Config
from hotline.domain.staff import Role
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import (
    alert_rows,
    audit,
    conv,
    deps_of,
    hold_jobs,
    queue_ids,
    staff,
    stream_events,
    victim,
)

DEEPFAKE_UNSURE = "딥페이크 영상이 만들어졌다는 얘기를 들었어요. 아직 퍼졌는지는 몰라요."


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"})


@pytest.fixture
async def held(app_runner: AppRunner) -> AppRunner:
    await hold_jobs(deps_of(app_runner), "router", "alerts", "presence", "aging")
    return app_runner


async def test_possible_spreading_is_high_and_pages_nobody_until_it_is_fired(
        held: AppRunner) -> None:
    runner = held
    await staff(runner, "tk1", role=Role.TAKEDOWN, login=False)
    lead = await staff(runner, "lead", role=Role.LEAD)
    _v1, calm = await victim(runner, "안녕하세요 상담 받고 싶어요", lang="ko")
    v, cid = await victim(runner, DEEPFAKE_UNSURE, lang="ko")

    row = await conv(runner, cid)
    assert row.urgency.value == "high"
    assert row.reasons == ("synthetic", "possible:content_spreading")
    assert await alert_rows(runner) == []
    assert [e["reasons"] for e in await stream_events(runner, "queued")
            if e["conversation"] == cid] == [["synthetic", "possible:content_spreading"]]
    [triaged] = await audit(runner, "case.triaged", cid)
    assert triaged["detail"]["reasons"] == ["synthetic", "possible:content_spreading"]
    # Ahead of the normal case that waited longer.
    assert await queue_ids(lead) == [(cid, None), (calm, None)]

    # The victim writes again, still unsure: nothing changes, still no page.
    assert (await v.send("아직 안 올라온 것 같아요", lang="ko")).status == 201
    assert (await conv(runner, cid)).reasons == ("synthetic", "possible:content_spreading")
    assert await alert_rows(runner) == []

    # Now it is out: the fired signal replaces the possible one, the case is critical and the
    # takedown staff are paged, once.
    assert (await v.send("방금 트위터에 올라왔어요", lang="ko")).status == 201
    row = await conv(runner, cid)
    assert row.urgency.value == "critical"
    assert row.reasons == ("content_spreading", "synthetic")
    [alert] = await alert_rows(runner)
    assert (alert["conversation_id"], alert["kind"]) == (cid, "takedown")
    assert [e["reasons"] for e in await stream_events(runner, "urgency")
            if e["conversation"] == cid] == [["content_spreading", "synthetic"]]


async def test_a_possible_signal_on_a_later_message_raises_without_a_page(
        held: AppRunner) -> None:
    runner = held
    await staff(runner, "tk1", role=Role.TAKEDOWN, login=False)
    v, cid = await victim(runner, "hello, I need some advice")
    assert (await conv(runner, cid)).urgency.value == "normal"
    assert (await v.send("I don't know if he has posted the video")).status == 201
    row = await conv(runner, cid)
    assert (row.urgency.value, row.reasons) == ("high", ("possible:content_spreading",))
    assert await alert_rows(runner) == []
    [triaged] = await audit(runner, "case.triaged", cid)
    assert triaged["detail"]["new"] == ["possible:content_spreading"]


async def test_a_fired_signal_is_not_lowered_by_a_later_hedged_one(held: AppRunner) -> None:
    runner = held
    await staff(runner, "tk1", role=Role.TAKEDOWN, login=False)
    v, cid = await victim(runner, "my video is being shared on telegram")
    assert (await v.send("I'm not sure if it's been shared anywhere else")).status == 201
    row = await conv(runner, cid)
    assert (row.urgency.value, row.reasons) == ("critical", ("content_spreading",))
    assert len(await alert_rows(runner)) == 1


@pytest.mark.parametrize(("lang", "text", "urgency", "reasons"), [
    ("en", "I'm 15... he will send my nudes to my school by tonight unless I pay him "
     "500,000 won", "high", ("minor", "sextortion_deadline", "sextortion")),
    ("en", "Someone made a fake porn video with my face", "high", ("synthetic",)),
    ("ko", "몸캠 당했어요 오늘 밤 12시까지 50만원 안 보내면 가족한테 뿌린대요", "high",
     ("sextortion_deadline", "sextortion")),
], ids=["minor-sextortion-deadline", "deepfake", "ko-sextortion-deadline"])
async def test_reported_cases_end_to_end(held: AppRunner, lang: str, text: str,
                                         urgency: str, reasons: tuple[str, ...]) -> None:
    runner = held
    await staff(runner, "tk1", role=Role.TAKEDOWN, login=False)
    _v, cid = await victim(runner, text, lang=lang)
    row = await conv(runner, cid)
    assert (row.urgency.value, row.reasons) == (urgency, reasons)
    assert await alert_rows(runner) == []
