"""A fuzz pass over every route of the real app (hypothesis), on SQLite and PostgreSQL.

The routes come from the app's own router, so a new route is fuzzed as soon as it exists, and
`test_every_route_has_a_strategy` fails until SPECS says what its inputs are. Each route gets a
bounded number of examples (HOTLINE_FUZZ_EXAMPLES, default 3; HEAD is fuzzed with its GET), each
one raw HTTP request over a real socket (so header and cookie bytes, request targets and bodies
can be anything): as an anonymous client, a victim with a chat cookie, a counselor and a lead
with their session cookies and CSRF tokens, and the webhooks signed as Twilio signs them (with
the test's auth token) or with Telegram's secret header, so their parsers are reached. Nothing
may answer 5xx, and the server may log no error and no exception (docs/architecture.md#faults).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.app import create_app
from hotline.config import config_from_mapping
from hotline.web.ops import METRICS_TOKEN_ENV
from tests.conftest import AppRunner, RedisProcess, make_config
from tests.fuzz_app import METRICS_TOKEN, Fuzz, send
from tests.fuzz_strategies import (
    ODD_HEADERS,
    Body,
    Identity,
    Request,
    Spec,
    World,
    form_body,
    header_value,
    json_body,
    raw_body,
    target,
    telegram_update,
    twilio_body,
)
from tests.local_servers import pg_admin, pg_database_name, pg_reachable, pg_url
from tests.telegram_standin import SECRET as TG_SECRET
from tests.telegram_standin import TOKEN as TG_TOKEN
from tests.telegram_standin import BotApiStandin
from tests.twilio_support import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, PUBLIC_URL, StandIn

EXAMPLES = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES", "3"))

_J: Body = "json"
_F: Body = "form"
_TW: Body = "twilio"
_VOICE = ("CallSid", "From", "To", "AccountSid", "CallStatus", "Direction", "Digits")
# Every route, by method and path as the router names it: what its body is and what it reads.
SPECS: dict[str, Spec] = {
    "GET /": Spec(),
    "GET /healthz": Spec(),
    "GET /readyz": Spec(),
    "GET /metrics": Spec(),
    "GET /static/{filename}": Spec(),
    "GET /chat": Spec(query=("lang",)),
    "POST /chat/api/messages": Spec(_J, ("text", "client_id", "language")),
    "POST /chat/api/callback": Spec(_J, ("number", "window", "leave_message", "client_id",
                                         "language")),
    "GET /chat/api/state": Spec(query=("after",)),
    "GET /chat/api/events": Spec(query=("last_event_id",)),
    "POST /chat/api/exit": Spec(_F, ("csrf",)),
    "GET /console/login": Spec(),
    "POST /console/login": Spec(_F, ("name", "password", "csrf")),
    "POST /console/logout": Spec(_F, ("csrf",)),
    "GET /console": Spec(),
    "GET /console/lead": Spec(),
    "GET /console/roster": Spec(),
    "GET /console/cases/{id}": Spec(),
    "GET /api/v1/me": Spec(),
    "POST /api/v1/me/language": Spec(_J, ("language",)),
    "GET /api/v1/queue": Spec(query=("limit", "after")),
    "GET /api/v1/cases/mine": Spec(),
    "POST /api/v1/queue/take-next": Spec(_J),
    "POST /api/v1/cases/{id}/take": Spec(_J),
    "GET /api/v1/cases/{id}": Spec(query=("after",)),
    "GET /api/v1/cases/{id}/colleagues": Spec(query=("limit",)),
    "GET /api/v1/cases/{id}/takers": Spec(query=("limit",)),
    "POST /api/v1/cases/{id}/messages": Spec(_J, ("text", "client_id")),
    "POST /api/v1/cases/{id}/close": Spec(_J, ("harm_type", "platforms", "age_band", "urgency",
                                               "referrals", "outcome")),
    "POST /api/v1/presence/heartbeat": Spec(_J),
    "GET /api/v1/events": Spec(query=("last_event_id",)),
    "POST /api/v1/presence": Spec(_J, ("status",)),
    "GET /api/v1/offers/mine": Spec(),
    "POST /api/v1/offers/{id}/{action}": Spec(_J),
    "POST /api/v1/cases/{id}/reassign": Spec(_J, ("counselor_id", "reason",
                                                  "override_capacity")),
    "POST /api/v1/cases/{id}/requeue": Spec(_J, ("reason",)),
    "POST /api/v1/cases/{id}/urgency": Spec(_J, ("urgency", "reason")),
    "POST /api/v1/cases/{id}/flag-spreading": Spec(_J),
    "POST /api/v1/cases/{id}/handover": Spec(_J, ("to_counselor_id", "note")),
    "GET /api/v1/alerts": Spec(query=("limit",)),
    "POST /api/v1/alerts/{id}/ack": Spec(_J),
    "GET /api/v1/floor": Spec(query=("limit",)),
    "GET /api/v1/floor/unassigned": Spec(query=("limit", "after")),
    "GET /api/v1/floor/active": Spec(query=("limit", "after")),
    "GET /api/v1/floor/agents": Spec(query=("limit", "after")),
    "GET /api/v1/roster": Spec(query=("at", "q", "limit", "after")),
    "GET /api/v1/roster/entries": Spec(query=("q", "limit")),
    "GET /api/v1/roster/shifts": Spec(query=("q", "limit", "after")),
    "GET /api/v1/roster/overrides": Spec(query=("q", "limit", "after")),
    "GET /api/v1/roster/people": Spec(query=("q", "limit", "after")),
    "GET /api/v1/roster/cover": Spec(query=("hours",)),
    "PUT /api/v1/roster/people/{id}": Spec(_J, ("rostered", "confirm")),
    "GET /api/v1/cases/{id}/signals": Spec(),
    "POST /api/v1/cases/{id}/signals/{signal}/withdraw": Spec(_J, ("reason",)),
    "POST /api/v1/roster/shifts": Spec(_J, ("counselor_id", "days", "start", "end", "tz",
                                            "confirm")),
    "DELETE /api/v1/roster/{kind}/{id}": Spec(),
    "POST /api/v1/roster/overrides": Spec(_J, ("counselor_id", "start", "end", "on_shift",
                                               "reason")),
    "GET /api/v1/bans": Spec(),
    "POST /api/v1/bans": Spec(_J, ("case", "scope", "pseudonym", "channel", "address",
                                   "reason", "expires_at")),
    "DELETE /api/v1/bans/{id}": Spec(),
    "GET /api/v1/cases/{id}/evidence": Spec(),
    "GET /api/v1/evidence/{eid}/preview": Spec(),
    "POST /api/v1/evidence/{eid}/reveal": Spec(_J),
    "GET /api/v1/evidence/{eid}/original": Spec(query=("t",)),
    "GET /api/v1/cases/{id}/callback": Spec(),
    "POST /api/v1/cases/{id}/callback/call": Spec(_J),
    "POST /api/v1/callbacks": Spec(_J, ("conversation_id", "number", "window", "window_start",
                                        "window_end", "leave_message", "client_id")),
    "POST /webhooks/twilio/sms": Spec(_TW, ("MessageSid", "AccountSid", "From", "To", "Body",
                                            "NumMedia")),
    "POST /webhooks/twilio/sms/status": Spec(_TW, ("MessageSid", "MessageStatus",
                                                   "ErrorCode")),
    "POST /webhooks/twilio/voice": Spec(_TW, _VOICE),
    "POST /webhooks/twilio/voice/language": Spec(_TW, _VOICE),
    "POST /webhooks/twilio/voice/menu": Spec(_TW, _VOICE),
    "POST /webhooks/twilio/voice/hold": Spec(_TW, (*_VOICE, "QueueTime")),
    "POST /webhooks/twilio/voice/hold/key": Spec(_TW, _VOICE),
    "POST /webhooks/twilio/voice/dequeued": Spec(_TW, (*_VOICE, "QueueResult")),
    "POST /webhooks/twilio/voice/callback/window": Spec(_TW, _VOICE),
    "POST /webhooks/twilio/voice/callback/message": Spec(_TW, _VOICE),
    "POST /webhooks/twilio/voice/status": Spec(_TW, _VOICE),
    "POST /webhooks/twilio/voice/dial": Spec(_TW, (*_VOICE, "DialCallStatus")),
    "POST /webhooks/twilio/voice/whisper": Spec(_TW, (*_VOICE, "ParentCallSid")),
    "POST /webhooks/twilio/voice/callback/screen": Spec(_TW, (*_VOICE, "ParentCallSid",
                                                              "AnsweredBy")),
    "POST /webhooks/twilio/voice/callback/dial": Spec(_TW, (*_VOICE, "DialCallStatus")),
    "POST /webhooks/telegram": Spec("telegram"),
    # The takedown desk (leads act on it; a counselor only on items of cases they hold).
    "GET /console/takedown": Spec(),
    "GET /console/takedown/items/{id}": Spec(),
    "GET /console/takedown/requests/{id}": Spec(),
    "GET /api/v1/takedown/platforms": Spec(),
    "POST /api/v1/takedown/items": Spec(_J, ("case_id", "kind", "minor", "platform", "location",
                                             "reporter", "alert_id", "evidence_id",
                                             "fingerprint")),
    "GET /api/v1/takedown/items": Spec(query=("state", "platform")),
    "GET /api/v1/takedown/items/{id}": Spec(),
    "POST /api/v1/takedown/items/{id}/locations": Spec(_J, ("platform", "location")),
    "POST /api/v1/takedown/items/{id}/status": Spec(_J, ("event",)),
    "POST /api/v1/takedown/items/{id}/consents": Spec(_J, ("purpose", "given", "via", "at")),
    "POST /api/v1/takedown/items/{id}/requests": Spec(_J, ("platform", "route", "location_ids",
                                                           "language", "fields", "address")),
    "POST /api/v1/takedown/items/{id}/export": Spec(_J, ("purpose",)),
    "GET /api/v1/takedown/requests/{id}": Spec(),
    "POST /api/v1/takedown/requests/{id}/steps": Spec(_J, ("step", "at", "ticket", "reason")),
    "POST /api/v1/takedown/requests/{id}/fields": Spec(_J, ("fields", "language", "address")),
    "POST /api/v1/takedown/requests/{id}/send": Spec(_J),
    "POST /api/v1/takedown/requests/{id}/escalate": Spec(_J),
    "GET /api/v1/takedown/worklist": Spec(query=("state", "platform", "overdue")),
    "GET /api/v1/takedown/alerts": Spec(),
    "POST /api/v1/takedown/alerts/{id}/ack": Spec(_J),
    "GET /console/takedown/clusters": Spec(query=("after",)),
    "GET /api/v1/takedown/clusters": Spec(query=("after", "limit", "min_victims")),
    "GET /api/v1/takedown/clusters/items": Spec(query=("key",)),
    # Staff administration, accounts and wellbeing (the admin party reaches the admin's).
    "GET /api/v1/staff": Spec(),
    "POST /api/v1/staff": Spec(_J, ("name", "role", "languages", "channels", "specialisms",
                                    "max_chats")),
    "POST /api/v1/staff/{id}": Spec(_J, ("role", "languages", "channels", "specialisms",
                                         "max_chats")),
    "POST /api/v1/staff/{id}/{action}": Spec(_J),
    "GET /api/v1/staff/{id}/sessions": Spec(),
    "DELETE /api/v1/staff/{id}/sessions/{ref}": Spec(),
    "GET /api/v1/audit": Spec(query=("actor", "case", "action", "from", "to", "target_kind",
                                     "target_id", "before", "limit")),
    "GET /api/v1/audit.csv": Spec(query=("actor", "case", "action", "from", "to", "limit")),
    "GET /api/v1/case-search": Spec(query=("number", "date")),
    "GET /console/staff": Spec(),
    "GET /console/audit": Spec(query=("actor", "case", "action", "from", "to", "before",
                                      "number", "date")),
    # Reports (leads and admins; docs/reports.md).
    "GET /console/reports": Spec(),
    "GET /console/reports/{name}": Spec(query=("from", "to", "platform", "kind", "channel",
                                               "dimension")),
    "GET /api/v1/reports/{name}": Spec(query=("from", "to", "platform", "kind", "channel",
                                              "dimension")),
    "GET /api/v1/reports/{name}.csv": Spec(query=("from", "to", "platform", "kind", "channel",
                                                  "dimension", "table")),
    "GET /console/account": Spec(query=("changed",)),
    "POST /console/account/password": Spec(_F, ("current", "password", "repeat", "csrf")),
    "GET /console/2fa": Spec(),
    "POST /console/2fa": Spec(_F, ("code", "csrf")),
    "GET /console/reset/{token}": Spec(),
    "POST /console/reset/{token}": Spec(_F, ("password", "repeat", "csrf")),
    "GET /api/v1/wellbeing": Spec(query=("limit", "after")),
    "GET /api/v1/me/wellbeing": Spec(),
    "POST /api/v1/cases/{id}/hard": Spec(_J),
    "POST /api/v1/debriefs/{id}/clear": Spec(_J),
    "GET /api/v1/holidays": Spec(),
    "POST /api/v1/holidays": Spec(_J, ("day", "kind", "opens", "closes", "label")),
    "DELETE /api/v1/holidays/{day}": Spec(),
    # A victim's own case: number and PIN, erasure, evidence fingerprints, returns, referrals.
    "GET /chat/case": Spec(query=("lang", "done")),
    "POST /chat/case": Spec(_F, ("number", "pin", "csrf", "lang")),
    "POST /chat/case/link": Spec(_F, ("link", "csrf", "lang")),
    "POST /chat/case/consent": Spec(_F, ("csrf", "lang")),
    "POST /chat/case/platforms": Spec(_F, ("hide", "csrf", "lang")),
    "POST /chat/case/leave": Spec(_F, ("csrf",)),
    "POST /chat/case/return": Spec(_F, ("text", "csrf", "lang")),
    "POST /chat/api/case": Spec(_J, ("language",)),
    "POST /chat/api/erase": Spec(_J, ("confirm",)),
    "POST /chat/api/evidence": Spec(_J, ("sha256", "mime", "size_bytes", "pdq", "pdq_quality",
                                         "where", "client_id")),
    "POST /chat/api/evidence/{id}/file": Spec("raw"),
    "GET /api/v1/cases/{id}/referrals": Spec(),
    "POST /api/v1/cases/{id}/referrals": Spec(_J, ("code",)),
}
# Routes after which a party's session or chat may have ended: they are set up again.
_ENDING = ("POST /console/logout", "POST /chat/api/exit", "POST /api/v1/staff/{id}/{action}",
           "DELETE /api/v1/staff/{id}/sessions/{ref}", "POST /console/account/password",
           "POST /console/reset/{token}", "POST /api/v1/staff/{id}", "POST /chat/api/erase")


_GROUP = re.compile(r"\(\?P<(\w+)>(.*?)\)(?:/|$)")
_ANY_SEGMENT = "[^{}/]+"


def route_keys(app: Any) -> dict[str, dict[str, str | None]]:
    """Every route of the app as "METHOD path" (HEAD folded into its GET), with the pattern of
    each path parameter that has one of its own (None: any segment)."""
    keys: dict[str, dict[str, str | None]] = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or (info["prefix"] + "/{filename}")
        pattern = info.get("pattern")
        params = {name: (None if regex == _ANY_SEGMENT else regex)
                  for name, regex in _GROUP.findall(pattern.pattern)} if pattern else {}
        if route.method != "HEAD":
            keys[f"{route.method} {path}"] = params
    return keys


def _collect_config() -> Any:
    return config_from_mapping({"storage": {"data_dir": "/nonexistent",
                                            "database_url": "sqlite+aiosqlite://"}})


ROUTE_PARAMS = route_keys(create_app(_collect_config()))
ROUTES = sorted(ROUTE_PARAMS)


def test_every_route_has_a_strategy() -> None:
    missing = sorted(set(ROUTES) - set(SPECS))
    stale = sorted(set(SPECS) - set(ROUTES))
    assert not missing, f"routes without a fuzz strategy (add them to SPECS): {missing}"
    assert not stale, f"SPECS names routes the app no longer has: {stale}"


# --- the running app and its parties ------------------------------------------------------

@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest,
                       tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz') / 'hotline.db'}"
        return
    if not pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is required under CI")
        pytest.skip("no PostgreSQL")
    name = pg_database_name("hotline_fuzz")
    await pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fuzz(database_url: str, redis_server: RedisProcess,
               tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fuzz]:
    twilio, bot_api = StandIn(), BotApiStandin()
    await twilio.start()
    await bot_api.start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOTLINE_TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        mp.setenv("HOTLINE_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        mp.setenv("HOTLINE_TELEGRAM_BOT_TOKEN", TG_TOKEN)
        mp.setenv("HOTLINE_TELEGRAM_WEBHOOK_SECRET", TG_SECRET)
        mp.setenv(METRICS_TOKEN_ENV, METRICS_TOKEN)
        cfg = make_config(
            tmp_path_factory.mktemp("fuzz-data"), database_url, redis_server.url,
            # The loopback client is a trusted proxy: X-Forwarded-For is parsed (and fuzzed).
            server={"public_url": PUBLIC_URL, "trusted_proxies": ["127.0.0.1"]},
            twilio={"api_base_url": twilio.url, "phone_number": OUR_NUMBER,
                    "rest_timeout_seconds": 1.0},
            telegram={"api_base_url": bot_api.url},
            routing={"mode": "pull"})
        runner = AppRunner(cfg)
        await runner.start()
        try:
            f = Fuzz(runner)
            await f.setup()
            assert route_keys(runner.server.app) == ROUTE_PARAMS  # type: ignore[union-attr]
            yield f
        finally:
            await runner.stop()
            await bot_api.stop()
            await twilio.close()


# --- requests -----------------------------------------------------------------------------

@st.composite
def request_for(draw: st.DrawFn, route: str, world: World) -> Request:
    """One request to `route`: a party, its cookies (sometimes spoilt), odd headers, a body."""
    method, _, path = route.partition(" ")
    spec = SPECS[route]
    if method == "GET" and draw(st.integers(0, 4)) == 0:
        method = "HEAD"
    if path == "/static/{filename}":
        path = "/static/" + draw(st.sampled_from(["chat.js", "console.css", "{filename}",
                                                  "..%2f..%2fapp.py", "%00", "a/../../x"]))
    tgt = draw(target(path, ROUTE_PARAMS[route], spec, world))
    if spec.body in ("twilio", "telegram"):
        party = spec.body
        ident = Identity(party)
    else:
        party = draw(st.sampled_from(_likely_parties(path)))
        ident = world.parties[party]
    cookies = dict(ident.cookies)
    if draw(st.integers(0, 5)) == 0 and cookies:
        name = draw(st.sampled_from(sorted(cookies)))
        cookies[name] = draw(st.sampled_from(["", cookies[name] + "x", cookies[name][:5],
                                              "a.b.c", '"quoted"', "%ff"]))
    heads: list[tuple[bytes, bytes]] = []
    if cookies:
        heads.append((b"Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    if draw(st.integers(0, 7)) == 0:
        heads.append((b"Cookie", draw(header_value)))
    if ident.csrf and draw(st.integers(0, 5)):
        heads.append((b"X-CSRF-Token", ident.csrf.encode()))
    if path == "/metrics" and draw(st.booleans()):
        heads.append((b"Authorization", f"Bearer {world.metrics_token}".encode()))
    ctype, body = "", b""
    if spec.body == "json":
        ctype, body = draw(json_body(spec))
    elif spec.body == "form":
        ctype, body = draw(form_body(spec, ident.csrf))
    elif spec.body == "twilio":
        signed, ctype, body = draw(twilio_body(spec, world, tgt))
        heads += signed
    elif spec.body == "raw":
        ctype, body = draw(raw_body())
    elif spec.body == "telegram":
        body = draw(telegram_update(world))
        ctype = "application/json"
        if draw(st.integers(0, 7)):
            heads.append((b"X-Telegram-Bot-Api-Secret-Token", world.telegram_secret.encode()))
    elif draw(st.integers(0, 5)) == 0:
        ctype, body = draw(raw_body())
    if ctype:
        heads.append((b"Content-Type", ctype.encode("utf-8", "surrogatepass")))
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 1, 2, 3]))):
        heads.append((draw(st.sampled_from(ODD_HEADERS)), draw(header_value)))
    return Request(method, tgt, heads, body, party)


def _likely_parties(path: str) -> list[str]:
    """Who sends it, mostly the party the route is for (the others are refused early)."""
    if path == "/console/login":
        return ["anonymous"] * 3 + ["victim", "counselor"]
    if path.startswith(("/api/", "/console")):
        return ["lead", "counselor"] * 3 + ["admin"] * 2 + ["anonymous", "victim"]
    if path.startswith("/chat"):
        return ["victim"] * 5 + ["anonymous", "counselor"]
    return ["anonymous", "victim", "counselor", "lead"]


def _troubles(records: list[logging.LogRecord]) -> list[str]:
    """Errors and exceptions logged (a library's exception is scrubbed to `error`/`where`)."""
    return [f"{r.name} {r.levelname}: {r.getMessage()} {getattr(r, 'error', r.exc_info)!r} "
            f"{getattr(r, 'where', '')}" for r in records
            if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("route", ROUTES)
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_route_answers_no_5xx(fuzz: Fuzz, route: str, data: st.DataObject,
                                    caplog: pytest.LogCaptureFixture) -> None:
    if route not in SPECS:
        pytest.fail(f"{route} has no fuzz strategy: add it to SPECS")
    req = data.draw(request_for(route, fuzz.world), label="request")
    seen = len(caplog.records)
    assert fuzz.runner.server is not None and fuzz.runner.server.port is not None
    status = await send(fuzz.runner.server.port, req)
    assert status < 500, f"{status} for {req!r}"
    if route in _ENDING:
        await fuzz.refresh()
    troubles = _troubles(caplog.records[seen:])
    assert not troubles, "\n".join(troubles)
