"""An external Redis killed with SIGKILL (SQLite and PostgreSQL, the real app with SMS, phone
and Telegram on, each against its stand-in): while it is down no route answers 500, staff
pages and APIs answer 503 with Retry-After and a plain message, and a victim's message on every
channel is stored once and answered (a plain acknowledgement where the wait cannot be read).
When Redis comes back, empty or with its data, every case that arrived meanwhile reaches the
live queue once.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, select

from hotline.cases.tables import alerts, conversations, messages
from hotline.domain.conversation import Status
from hotline.domain.routing import Presence
from hotline.domain.staff import Role
from hotline.prompts import Prompts
from tests import telegram_standin
from tests.conftest import AppRunner, Database, RedisProcess, make_config, wait_for
from tests.floor import Staffer, deps_of, staff
from tests.helpers import PASSWORD, Counselor, Victim
from tests.telegram_standin import CHAT, BotApiStandin, Updates
from tests.test_telegram_media import picture
from tests.twilio_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OUR_NUMBER,
    PUBLIC_URL,
    Hooks,
    StandIn,
    call_params,
    new_sid,
    says,
    set_counselor_phone,
)

P = Prompts()
# Victims' words; the web chat message says content is being shared now (a takedown alert).
CHAT_TEXT = "my photos are being shared in a group right now"
SMS_SENDERS = {"ko": "+821055550101", "en": "+15005550102"}
SMS_FIRST = {"ko": "도와주세요 제 사진이 있어요", "en": "please help, someone has my pictures"}
SMS_NEXT = {"ko": "지금 이야기하고 싶어요", "en": "I want to talk to someone now"}
CALLER = "+821055550103"
TG_TEXT = "someone made a fake video of me"
TG_CAPTION = "Okapi-8812 this is the picture"


@dataclass
class Env:
    runner: AppRunner
    redis: RedisProcess
    twilio: StandIn
    telegram: BotApiStandin
    hooks: Hooks
    lead: Staffer
    counselor: Staffer


# No victim's number, words or Telegram id in any log line (tests.telegram_standin.log_guard).
log_guard = telegram_standin.log_guard
pytestmark = pytest.mark.usefixtures("log_guard")


@pytest.fixture
async def twilio() -> AsyncIterator[StandIn]:
    s = StandIn()
    await s.start()
    yield s
    await s.close()


@pytest.fixture(params=["empty", "kept"])
def outage_redis(request: pytest.FixtureRequest, tmp_path: Path) -> RedisProcess:
    """The test's own redis-server: one that comes back empty, or one that keeps its data
    (append-only, fsync always) across the SIGKILL."""
    server = RedisProcess(tmp_path / "redis-outage", persist=request.param == "kept")
    server.start()
    return server


@pytest.fixture
async def env(tmp_path: Path, database: Database, outage_redis: RedisProcess,
              twilio: StandIn, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    api = BotApiStandin()
    await api.start()
    monkeypatch.setenv("HOTLINE_TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("HOTLINE_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("HOTLINE_TELEGRAM_BOT_TOKEN", telegram_standin.TOKEN)
    monkeypatch.setenv("HOTLINE_TELEGRAM_WEBHOOK_SECRET", telegram_standin.SECRET)
    cfg = make_config(tmp_path / "data", database.url, outage_redis.url,
                      server={"public_url": PUBLIC_URL},
                      twilio={"api_base_url": twilio.url, "phone_number": OUR_NUMBER,
                              "rest_timeout_seconds": 1.0},
                      telegram={"api_base_url": api.url},
                      routing={"mode": "pull", "presence_timeout_seconds": 600})
    runner = AppRunner(cfg)
    await runner.start()
    try:
        lead = await staff(runner, "lead", Role.LEAD)
        counselor = await staff(runner, "mina", max_chats=10)
        yield Env(runner, outage_redis, twilio, api, Hooks(await runner.client()), lead,
                  counselor)
    finally:
        await runner.stop()
        await api.stop()
        outage_redis.stop()


def _kill(redis: RedisProcess) -> None:
    assert redis.proc is not None
    redis.proc.send_signal(signal.SIGKILL)
    redis.proc.wait(timeout=10)
    redis.proc = None


def _paths(app: web.Application, case_id: str) -> list[tuple[str, str]]:
    """Every staff route (/console, /api/) as (method, path); each path parameter is the
    first of the case id and sample values that fits the route's pattern."""
    out = []
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        if "path" in info:
            path = info["path"]
        elif "pattern" not in info:
            continue  # static files
        else:
            pattern = info["pattern"]
            formatter: str = info["formatter"]
            names = re.findall(r"\{(\w+)\}", formatter)
            values = {}
            for name in names:
                for candidate in (case_id, "shifts", "accept", "reactivate", "0" * 16,
                                  "2030-01-01", "minor", "1"):
                    values[name] = candidate
                    if pattern.fullmatch(formatter.format(**{n: values.get(n, "1")
                                                              for n in names})):
                        break
            path = formatter.format(**values)
            assert pattern.fullmatch(path), path
        if path.startswith(("/console", "/api/")):
            out.append((route.method, path))
    return sorted(set(out))


async def _request(who: Counselor, method: str, path: str) -> tuple[int, dict[str, str], str]:
    kw: dict[str, Any] = {"headers": {"X-CSRF-Token": who.csrf}, "allow_redirects": False}
    if method != "GET":
        kw["json"] = {}
    async with who.client.request(method, path, **kw) as resp:
        if resp.content_type == "text/event-stream":
            return resp.status, dict(resp.headers), ""
        return resp.status, dict(resp.headers), await resp.text()


async def test_redis_killed_no_500_victims_answered_queue_rebuilt(
        env: Env, log_guard: dict[str, str]) -> None:
    log_guard.update({f"sender {lang}": n for lang, n in SMS_SENDERS.items()},
                     caller=CALLER, chat=CHAT_TEXT, caption="Okapi-8812",
                     **{f"sms {lang}": t for lang, t in SMS_NEXT.items()})
    runner = env.runner
    deps = deps_of(runner)
    app = runner.server.app if runner.server else None
    assert app is not None
    # A case before the outage, held by the counselor, so case routes have one to act on.
    before = Victim(await runner.client())
    await before.open("en")
    assert (await before.send("hello, I need help")).status == 201
    held = await env.counselor.take_next()

    _kill(env.redis)

    # Staff: what needs the live state answers 503 with Retry-After (the list), and
    # login too.
    for method, path, who in [("GET", "/console", env.lead), ("GET", "/api/v1/queue", env.lead),
                              ("GET", "/api/v1/floor", env.lead),
                              ("GET", "/api/v1/offers/mine", env.counselor),
                              ("POST", "/api/v1/queue/take-next", env.counselor),
                              ("POST", "/api/v1/presence/heartbeat", env.counselor)]:
        status, headers, body = await _request(who, method, path)
        assert status == 503 and headers.get("Retry-After", "").isdigit(), (method, path)
        if path.startswith("/api/"):
            assert json.loads(body)["error"] == "live state unavailable"
        else:  # a page: one plain sentence, no markup, no error id
            assert headers["Content-Type"].startswith("text/plain") and "<" not in body
    # Every staff page and API route answers without a 500; those that need the live state
    # answer 503 with Retry-After and a plain message (logout, last, ends the lead's session).
    for method, path in _paths(app, held):
        status, headers, body = await _request(env.lead, method, path)
        assert status != 500, (method, path, body)
        if status == 503:
            assert headers.get("Retry-After", "").isdigit(), (method, path)
            assert body
    resp = await env.counselor.post("/api/v1/presence", {"status": "break"})
    assert resp.status == 503 and resp.headers.get("Retry-After")
    # Logging in needs only SQL (the per-process limiter counts meanwhile): the session is
    # made, and the console itself answers 503 until the live state is back.
    fresh = Counselor(await runner.client())
    page = await fresh.client.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert csrf
    resp = await fresh.client.post("/console/login", allow_redirects=False, data={
        "name": "mina", "password": PASSWORD, "csrf": csrf.group(1)})
    assert resp.status == 303
    resp = await fresh.client.get("/console")
    assert resp.status == 503 and resp.headers.get("Retry-After", "").isdigit()
    # The readiness probe says so.
    async with env.hooks.client.get("/readyz") as resp:
        assert resp.status == 503

    # Victims: every channel stores and answers.
    chat = Victim(await runner.client())
    await chat.open("en")
    resp = await chat.send(CHAT_TEXT)
    assert resp.status == 201, await resp.text()
    state = await chat.state()
    assert state["state"] == "waiting"
    assert [m["text"] for m in state["messages"]] == [CHAT_TEXT]
    # Content spreading: critical, so the acknowledgement carries the emergency numbers.
    assert state["status_text"] == _ack("en", critical=True)

    for lang, sender in SMS_SENDERS.items():
        first = await env.hooks.sms(sender, SMS_FIRST[lang])
        assert _texts(first) == [P.render(lang, "sms_welcome") + "\n"
                                 + P.render(lang, "sms_q_spreading")]
        # Free text instead of an answer: the wait, which cannot be read.
        sid = new_sid("SM")
        again = await env.hooks.sms(sender, SMS_NEXT[lang], sid)
        expected = _ack(lang, callback=True) + " " + P.render(lang, "sms_callback_hint")
        assert _texts(again) == [expected]
        # A retry of the same message is answered (200) and stores nothing twice.
        await env.hooks.sms(sender, SMS_NEXT[lang], sid)

    call = new_sid("CA")
    v = "/webhooks/twilio/voice"
    await env.hooks.twiml(v, call_params(call, CALLER))
    await env.hooks.twiml(f"{v}/language", call_params(call, CALLER, Digits="1"))
    menu = await env.hooks.twiml(f"{v}/menu", call_params(call, CALLER, Digits="0"))
    assert [el.tag for el in menu] == ["Enqueue"]
    hold = await env.hooks.twiml(f"{v}/hold", call_params(call, CALLER, QueuePosition="1"))
    assert [el.text for el in says(hold)] == [_ack("ko", callback=True, spoken=True),
                                              P.render("ko", "voice_hold_callback")]

    victim_tg = Updates()
    resp = await _telegram(env, victim_tg.text(TG_TEXT))
    assert resp == {"ok": True, "handled": True}
    assert env.telegram.texts_to(CHAT)[0] == (P.render("en", "tg_queued") + "\n\n"
                                              + _ack("en"))
    # A picture: recorded as evidence and answered (its file id cannot be held for consent).
    env.telegram.add_file("outage-photo", picture())
    update = victim_tg.photo("outage-photo", len(picture()), caption=TG_CAPTION)
    assert await _telegram(env, update) == {"ok": True, "handled": True}
    assert P.render("en", "tg_media_received") in env.telegram.texts_to(CHAT)

    # Stored once each, in SQL: one waiting case per victim, every message once.
    cases = await _open_cases(env)
    assert sorted(c for c, _ in cases.values()) == sorted(
        ["webchat", "sms", "sms", "voice", "telegram"])
    assert all(n == (2 if channel in ("sms", "telegram") else 1)
               for channel, n in cases.values())
    # The web chat's spreading content alerted takedown staff although Redis was down.
    async with deps.engine.connect() as conn:
        alerted = {r.conversation_id for r in await conn.execute(
            select(alerts.c.conversation_id).where(alerts.c.kind == "takedown"))}
    assert {cid for cid, (channel, _) in cases.items() if channel == "webchat"} <= alerted

    # Redis comes back (empty, or with its data): every case of the outage reaches the live
    # queue once, and each is taken once.
    env.redis.start()
    await wait_for(lambda: _ready(env), timeout=30, interval=0.2)

    async def all_queued() -> bool:
        return {w.conversation_id for w in await deps.live.waiting()} == set(cases)

    await wait_for(all_queued, timeout=30, interval=0.2)
    assert len(await deps.live.waiting()) == len(cases)
    # A call is taken by someone with nothing else open (and a phone to bridge it to); the
    # chats by the counselor.
    [call_case] = [cid for cid, (channel, _) in cases.items() if channel == "voice"]
    jun = await staff(runner, "jun")
    await set_counselor_phone(deps, jun.id, "+821099990000")
    resp = await jun.post(f"/api/v1/cases/{call_case}/take")
    assert resp.status == 200, await resp.text()
    taken = [await env.counselor.take_next() for _ in range(len(cases) - 1)]
    assert sorted([call_case, *taken]) == sorted(cases)
    for who in (env.counselor, jun):
        status, _h, body = await _request(who, "POST", "/api/v1/queue/take-next")
        assert status == 409, body


def _ack(lang: str, critical: bool = False, callback: bool = False,
         spoken: bool = False) -> str:
    """The plain acknowledgement: wait_status when the wait cannot be read."""
    return P.render(lang, "wait_status", position=None, minutes=None, coverage="ok",
                    critical=critical, callback=callback, spoken=spoken)


def _texts(root: Any) -> list[str]:
    return [m.text or "" for m in root.iter("Message")]


async def _telegram(env: Env, update: dict[str, Any]) -> Any:
    resp = await env.hooks.client.post(
        "/webhooks/telegram", json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": telegram_standin.SECRET})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _ready(env: Env) -> bool:
    async with env.hooks.client.get("/readyz") as resp:
        return resp.status == 200


async def _open_cases(env: Env) -> dict[str, tuple[str, int]]:
    """Waiting cases: id -> (channel, inbound and system messages stored)."""
    deps = deps_of(env.runner)
    async with deps.engine.connect() as conn:
        rows = await conn.execute(
            select(conversations.c.id, conversations.c.channel, func.count(messages.c.seq))
            .join(messages, messages.c.conversation_id == conversations.c.id)
            .where(conversations.c.status == Status.WAITING.value)
            .group_by(conversations.c.id, conversations.c.channel))
        return {r[0]: (r[1], r[2]) for r in rows}



# A short presence timeout, so the test outlasts it; sweeps every 0.3 s.
PRESENCE_S = 5


async def test_consoles_are_not_swept_offline_by_an_outage(
        tmp_path: Path, database: Database) -> None:
    """Redis back with its data after an outage longer than the presence timeout: the
    heartbeats that failed meanwhile do not turn counselors offline (nor flag their cases to
    the lead) before their consoles have had a timeout to beat again; a console that stays
    silent is still swept after that."""
    redis = RedisProcess(tmp_path / "redis-kept", persist=True)
    redis.start()
    cfg = make_config(tmp_path / "data", database.url, redis.url,
                      routing={"mode": "pull", "presence_timeout_seconds": PRESENCE_S},
                      alerts={"check_seconds": 0.3})
    runner = AppRunner(cfg)
    await runner.start()
    try:
        deps = deps_of(runner)
        mina = await staff(runner, "mina")
        chat = Victim(await runner.client())
        await chat.open("en")
        assert (await chat.send("hello, I need help")).status == 201
        await mina.take_next()

        _kill(redis)
        await asyncio.sleep(PRESENCE_S + 1)  # no heartbeat can land
        redis.start()

        async def ready() -> bool:
            async with mina.client.get("/readyz") as resp:
                return resp.status == 200

        await wait_for(ready, timeout=30, interval=0.1)
        # The console's next heartbeats, as a browser sends them, a while after the return
        # (long after the first sweep would have run: every 0.3 s).
        await asyncio.sleep(1.5)
        for _ in range(PRESENCE_S + 2):
            resp = await mina.post("/api/v1/presence/heartbeat")
            assert resp.status == 200, await resp.text()
            await asyncio.sleep(1)
        assert await deps.live.status_of(mina.id) == Presence.AVAILABLE
        assert not await _lost_alerts(deps)

        # Silent from now on: swept offline one timeout later, the held case flagged.
        async def swept() -> bool:
            return await deps.live.status_of(mina.id) == Presence.OFFLINE

        await wait_for(swept, timeout=PRESENCE_S * 3 + 10, interval=0.2)

        # The alert job runs on its own beat (every 0.3 s): the flag follows the sweep.
        async def flagged() -> bool:
            return bool(await _lost_alerts(deps))

        await wait_for(flagged, timeout=10, interval=0.1)
    finally:
        await runner.stop()
        redis.stop()


async def _lost_alerts(deps: Any) -> list[Any]:
    async with deps.engine.connect() as conn:
        return list(await conn.execute(select(alerts.c.id).where(
            alerts.c.reasons == "presence_lost")))
