"""Test support for the phone and SMS channels: a stand-in Twilio REST server on loopback, a
signer that posts webhooks the way Twilio does (signed with twilio's own RequestValidator over
the configured public URL), and an app started with the Twilio channels switched on.

The stand-in serves what the real twilio client calls (Messages.json, Calls.json and
Calls/{sid}.json under /2010-04-01/Accounts/{AC}), checks Basic auth, records every request,
and can be told to answer the next requests with an error or to stall past the client's
timeout.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from twilio.request_validator import RequestValidator

from hotline.config import Config
from hotline.deps import Deps
from hotline.staff import store
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import deps_of

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "stand-in-auth-token-" + "9f" * 8  # a test credential
# Not the address the test client reaches (127.0.0.1:port): as behind a proxy. http, so the
# console's cookies (Secure under https) work in the test client; see test_twilio_security.
PUBLIC_URL = "http://hotline.example.org"
OUR_NUMBER = "+15005550006"
_DATE = "Thu, 26 Nov 2026 00:00:00 +0000"


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class Recorded:
    kind: str          # "message", "call_create", "call_update"
    path: str
    form: dict[str, str]
    call_sid: str = ""


@dataclass
class StandIn:
    """A stand-in for api.twilio.com (the parts hotline uses)."""

    account_sid: str = ACCOUNT_SID
    token: str = AUTH_TOKEN
    requests: list[Recorded] = field(default_factory=list)
    # For each of the next requests: (HTTP status, Twilio code) to refuse it, None to serve it.
    errors: list[tuple[int, int] | None] = field(default_factory=list)
    # The next `stall` requests sleep this long first (past the client's timeout).
    stall: int = 0
    stall_s: float = 3.0
    bad_auth: int = 0
    server: TestServer | None = None
    # Runs with a new message's sid before the create() reply is sent: Twilio's own status
    # callbacks can reach us before create() returns.
    before_reply: Callable[[str], Awaitable[None]] | None = None
    # MMS media served at Messages/{MM}/Media/{ME}: media sid -> (bytes, content type).
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    media_deleted: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> None:
        app = web.Application()
        base = "/2010-04-01/Accounts/{ac}"
        app.router.add_post(base + "/Messages.json", self._message)
        app.router.add_post(base + "/Calls.json", self._call_create)
        app.router.add_post(base + "/Calls/{ca}.json", self._call_update)
        app.router.add_get(base + "/Messages/{mm}/Media/{me}", self._media_get)
        app.router.add_delete(base + "/Messages/{mm}/Media/{me}.json", self._media_delete)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def of(self, kind: str) -> list[Recorded]:
        return [r for r in self.requests if r.kind == kind]

    async def _gate(self, request: web.Request) -> web.Response | None:
        expected = "Basic " + base64.b64encode(
            f"{self.account_sid}:{self.token}".encode()).decode()
        if request.headers.get("Authorization") != expected \
                or request.match_info["ac"] != self.account_sid:
            self.bad_auth += 1
            return web.json_response({"code": 20003, "message": "Authenticate",
                                      "status": 401}, status=401)
        if self.stall:
            self.stall -= 1
            await asyncio.sleep(self.stall_s)
            return web.json_response({"code": 20500, "message": "stalled", "status": 500},
                                     status=500)
        refusal = self.errors.pop(0) if self.errors else None
        if refusal is not None:
            status, code = refusal
            return web.json_response({"code": code, "message": "stand-in error",
                                      "more_info": "", "status": status}, status=status)
        return None

    async def _form(self, request: web.Request) -> dict[str, str]:
        return {k: str(v) for k, v in (await request.post()).items()}

    async def _message(self, request: web.Request) -> web.Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        form = await self._form(request)
        sid = new_sid("SM")
        self.requests.append(Recorded("message", request.path, form))
        if self.before_reply is not None:
            await self.before_reply(sid)
        return web.json_response({
            "sid": sid, "account_sid": self.account_sid, "to": form.get("To"),
            "from": form.get("From"), "body": form.get("Body"), "status": "queued",
            "num_segments": "1", "date_created": _DATE, "date_updated": _DATE,
            "date_sent": None, "direction": "outbound-api"}, status=201)

    async def _call_create(self, request: web.Request) -> web.Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        form = await self._form(request)
        sid = new_sid("CA")
        self.requests.append(Recorded("call_create", request.path, form, sid))
        return web.json_response({"sid": sid, "account_sid": self.account_sid,
                                  "status": "queued", "date_created": _DATE,
                                  "date_updated": _DATE}, status=201)

    async def _call_update(self, request: web.Request) -> web.Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        form = await self._form(request)
        sid = request.match_info["ca"]
        self.requests.append(Recorded("call_update", request.path, form, sid))
        return web.json_response({"sid": sid, "account_sid": self.account_sid,
                                  "status": "in-progress", "date_created": _DATE,
                                  "date_updated": _DATE})


    async def _media_get(self, request: web.Request) -> web.Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        found = self.media.get(request.match_info["me"])
        if found is None:
            return web.json_response({"code": 20404, "status": 404}, status=404)
        return web.Response(body=found[0], content_type=found[1])

    async def _media_delete(self, request: web.Request) -> web.Response:
        refused = await self._gate(request)
        if refused is not None:
            return refused
        self.media_deleted.append(request.match_info["me"])
        self.media.pop(request.match_info["me"], None)
        return web.Response(status=204)


class Hooks:
    """Posts webhooks as Twilio does: a form, signed over the configured public URL."""

    def __init__(self, client: TestClient[Any, Any], token: str = AUTH_TOKEN,
                 public_url: str = PUBLIC_URL) -> None:
        self.client = client
        self.validator = RequestValidator(token)
        self.public_url = public_url
        self.answers: list[str] = []

    def sign(self, path: str, params: dict[str, str]) -> str:
        return str(self.validator.compute_signature(self.public_url + path, params))

    async def post(self, path: str, params: dict[str, str], *,
                   signature: str | None = None, headers: dict[str, str] | None = None
                   ) -> Any:
        sig = self.sign(path, params) if signature is None else signature
        h = {"X-Twilio-Signature": sig} if sig else {}
        h.update(headers or {})
        return await self.client.post(path, data=params, headers=h)

    async def twiml(self, path: str, params: dict[str, str]) -> ET.Element:
        """Post, expect 200 TwiML, and return it parsed (<Response> element)."""
        resp = await self.post(path, params)
        text = await resp.text()
        assert resp.status == 200, text
        assert resp.content_type == "application/xml", resp.content_type
        self.answers.append(text)
        root = ET.fromstring(text)
        assert root.tag == "Response"
        return root

    async def sms(self, sender: str, body: str, sid: str | None = None) -> ET.Element:
        return await self.twiml("/webhooks/twilio/sms", sms_params(sender, body, sid))


def sms_params(sender: str, body: str, sid: str | None = None) -> dict[str, str]:
    return {"MessageSid": sid or new_sid("SM"), "AccountSid": ACCOUNT_SID, "From": sender,
            "To": OUR_NUMBER, "Body": body, "NumMedia": "0", "NumSegments": "1"}


def call_params(call_sid: str, sender: str = "+821055556666", **extra: str) -> dict[str, str]:
    return {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": sender, "To": OUR_NUMBER,
            "CallStatus": "in-progress", "Direction": "inbound", **extra}


def says(el: ET.Element) -> list[ET.Element]:
    return list(el.iter("Say"))


def twilio_config(tmp_path: Path, database: Database, redis_server: RedisProcess,
                  standin: StandIn, **overrides: Any) -> Config:
    sections: dict[str, Any] = {
        "server": {"public_url": PUBLIC_URL},
        "twilio": {"api_base_url": standin.url, "phone_number": OUR_NUMBER,
                   "rest_timeout_seconds": 1.0},
        "routing": {"mode": "pull", "presence_timeout_seconds": 600},
    }
    for k, v in overrides.items():
        sections.setdefault(k, {}).update(v)
    return make_config(tmp_path / "data", database.url, redis_server.url, **sections)


@dataclass
class Env:
    runner: AppRunner
    standin: StandIn
    hooks: Hooks

    @property
    def deps(self) -> Deps:
        return deps_of(self.runner)


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    s = StandIn()
    await s.start()
    yield s
    await s.close()


@contextlib.asynccontextmanager
async def twilio_app(tmp_path: Path, database: Database, redis_server: RedisProcess,
                     standin: StandIn, monkeypatch: pytest.MonkeyPatch, **overrides: Any
                     ) -> AsyncIterator[AppRunner]:
    """The real app with the Twilio channels on (credentials in the environment), pointed
    at the stand-in; `overrides` as for twilio_config."""
    monkeypatch.setenv("HOTLINE_TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("HOTLINE_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    runner = AppRunner(twilio_config(tmp_path, database, redis_server, standin, **overrides))
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


@pytest.fixture
async def env(tmp_path: Path, database: Database, redis_server: RedisProcess,
              standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    """The real app with the Twilio channels on, pointed at the stand-in."""
    async with twilio_app(tmp_path, database, redis_server, standin, monkeypatch) as runner:
        yield Env(runner, standin, Hooks(await runner.client()))


async def set_counselor_phone(deps: Deps, counselor_id: int, number: str) -> None:
    from datetime import UTC, datetime

    async with deps.engine.begin() as conn:
        await store.set_phone(conn, counselor_id,
                              deps.keyring.seal_text(number, f"counselor_phone:{counselor_id}"),
                              datetime.now(UTC))


def closed_window(config: Config) -> tuple[str, str]:
    """A call-back window choice (2-4) that has not opened yet now, in the centre's time zone,
    and its end as the confirmation says it ("21:00"): a test of a *scheduled* request must
    not depend on the hour it runs at (at most one of the three windows is open at a time)."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from hotline.callbacks import service as callback

    now = datetime.now(UTC)
    tz = ZoneInfo(config.roster.timezone)
    for choice in callback.WINDOWS:
        span = callback.window_for(choice, now, tz)
        assert span is not None
        if span[0] > now + timedelta(minutes=5):
            return choice, span[1].astimezone(tz).strftime("%H:%M")
    raise AssertionError("no call-back window ahead")
