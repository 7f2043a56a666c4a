"""What a waiting victim is told, over the real app (SQLite and PostgreSQL): GET
/chat/api/state while waiting carries the queue position, `wait` (coverage "gap" when nobody
suitable is on duty, "ok" when someone available is present, "full" when all of them are at
capacity) and `status_text` from the wait_status prompt in the chat's language.

Pull mode: the waiting case stays in the queue while the test looks."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hotline.cases import waitinfo
from hotline.cases.live import now_ms
from hotline.config import Config
from hotline.domain.staff import Role
from hotline.prompts import Prompts
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import (
    add_override,
    add_shift,
    deps_of,
    hold_jobs,
    presence,
    staff,
    utc_now,
    victim,
)
from tests.helpers import Victim

# Words each language's wait_status says in each case (prompts/<lang>/wait_status.txt).
GAP_WORDS = {"en": "no counselor for your language is on duty",
             "ko": "상담원이 근무하고 있지 않습니다"}
CONNECTING_WORDS = {"en": "We are connecting you with a counselor",
                    "ko": "상담원과 연결하고 있습니다"}
POSITION_WORDS = {"en": "number {n} in line", "ko": "{n}번째"}


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"})


@pytest.fixture
async def app_runner(app_runner: AppRunner) -> AppRunner:
    """The app with its shift-edge job stopped: roster edits reach routing through the edit
    itself only (see tests.floor.stop_task for the race this avoids)."""
    await hold_jobs(deps_of(app_runner), "shift-edges")
    return app_runner


def _expected(lang: str, position: int, coverage: str, critical: bool = False) -> str:
    return Prompts().render(lang, "wait_status", position=position, minutes=None,
                            coverage=coverage, critical=critical, callback=False)


async def _waiting_now(v: Victim) -> dict[str, Any]:
    """The victim's state once the floor's change is in every estimate: an estimate may use
    the floor's coverage of up to STAFF_FRESH_S ago (waitinfo._coverage_now)."""
    await asyncio.sleep(waitinfo.STAFF_FRESH_S + 0.05)
    return await _waiting(v)


async def _waiting(v: Victim) -> dict[str, Any]:
    state = await v.state()
    assert state["state"] == "waiting", state
    return state


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_gap_when_nobody_is_on_duty(app_runner: AppRunner, lang: str) -> None:
    v, _cid = await victim(app_runner, "도와주세요" if lang == "ko" else "please help", lang=lang)
    state = await _waiting(v)
    assert state["position"] == 1
    assert state["wait"] == {"position": 1, "minutes": None, "coverage": "gap",
                             "critical": False, "callback": False}
    assert state["status_text"] == _expected(lang, 1, "gap")
    assert GAP_WORDS[lang] in state["status_text"]
    assert "112" not in state["status_text"]

    v2, _ = await victim(app_runner, "hello", lang=lang)
    state = await _waiting(v2)
    assert state["position"] == 2 and state["wait"]["coverage"] == "gap"
    assert "2" in state["status_text"]


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_ok_when_someone_available_is_present(app_runner: AppRunner, lang: str) -> None:
    await staff(app_runner, "mina")
    v1, _ = await victim(app_runner, "first", lang=lang)
    v2, _ = await victim(app_runner, "second", lang=lang)
    for v, n in ((v1, 1), (v2, 2)):
        state = await _waiting(v)
        assert state["position"] == n
        assert state["wait"]["coverage"] == "ok" and state["wait"]["minutes"] is None
        assert state["status_text"] == _expected(lang, n, "ok")
        assert CONNECTING_WORDS[lang] in state["status_text"]
        assert POSITION_WORDS[lang].format(n=n) in state["status_text"]
        assert GAP_WORDS[lang] not in state["status_text"]


async def test_full_when_everyone_suitable_is_at_capacity(app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina", max_chats=1)
    _v1, first = await victim(app_runner, "first", lang="en")
    assert await mina.take_next() == first
    v2, _ = await victim(app_runner, "second", lang="en")
    state = await _waiting_now(v2)
    assert state["position"] == 1
    assert state["wait"]["coverage"] == "full"
    # "Full" is still an honest "we are connecting you", not "nobody is on duty".
    assert state["status_text"] == _expected("en", 1, "full")
    assert CONNECTING_WORDS["en"] in state["status_text"]

    assert (await mina.close(first)).status == 200
    state = await _waiting_now(v2)
    assert state["wait"]["coverage"] == "ok"


async def test_coverage_follows_status_presence_language_and_roster(
        app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    lead = await staff(app_runner, "lead", role=Role.LEAD, languages=("ko",))
    await presence(lead, "break")
    await staff(app_runner, "kim", languages=("ko",))  # speaks Korean only
    mina = await staff(app_runner, "mina")
    now = utc_now()
    await add_shift(lead, mina.id, now + timedelta(hours=3), now + timedelta(hours=4))
    v, _ = await victim(app_runner, "can anyone help me in English?", lang="en")
    kv, _ = await victim(app_runner, "도와주세요", lang="ko")

    # English: kim does not speak it, mina is off shift.
    assert (await _waiting_now(v))["wait"]["coverage"] == "gap"
    assert (await _waiting(kv))["wait"]["coverage"] == "ok"

    # A cover override puts mina on duty.
    oid = await add_override(lead, mina.id, now - timedelta(minutes=5), now + timedelta(hours=1),
                             on_shift=True, reason="cover")
    state = await _waiting_now(v)
    assert state["wait"]["coverage"] == "ok"
    assert state["status_text"] == _expected("en", 1, "ok")

    # On a break she does not count.
    await presence(mina, "break")
    assert (await _waiting_now(v))["wait"]["coverage"] == "gap"
    await presence(mina, "available")
    assert (await _waiting_now(v))["wait"]["coverage"] == "ok"

    # Her console gone quiet (no heartbeat within the presence timeout): she does not count.
    ttl_ms = app_runner.config.routing.presence_timeout_seconds * 1000
    # (Quiet only for a moment: the presence job would set her away meanwhile.)
    await asyncio.sleep(waitinfo.STAFF_FRESH_S + 0.05)
    await deps.live.heartbeat(mina.id, at_ms=now_ms() - ttl_ms - 5_000)
    quiet = (await _waiting(v))["wait"]["coverage"]
    await deps.live.heartbeat(mina.id)
    assert quiet == "gap"
    assert (await _waiting_now(v))["wait"]["coverage"] == "ok"

    # The override removed (it ends her shift now: confirmed): off shift again.
    resp = await lead.client.delete(f"/api/v1/roster/overrides/{oid}?confirm=true",
                                    headers={"X-CSRF-Token": lead.csrf})
    assert resp.status == 200
    state = await _waiting_now(v)
    assert state["wait"]["coverage"] == "gap"
    assert state["status_text"] == _expected("en", 1, "gap")


async def test_no_wait_info_once_taken(app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina")
    v, cid = await victim(app_runner, "hello", lang="ko")
    assert "status_text" in await _waiting(v)
    assert await mina.take_next() == cid
    state = await v.state()
    assert state["state"] == "active"
    assert not {"position", "wait", "status_text"} & set(state)


async def test_the_chat_language_decides_the_words(app_runner: AppRunner) -> None:
    """A chat page opened in Korean whose victim writes in English is answered in English:
    the conversation's language, not the page's, picks the prompt."""
    v = Victim(await app_runner.client())
    await v.open("ko")
    assert (await v.send("hello, I need help", lang="en")).status == 201
    state = await _waiting(v)
    assert state["status_text"] == _expected("en", 1, "gap")
    assert GAP_WORDS["en"] in state["status_text"]
