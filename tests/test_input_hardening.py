"""Input that once crashed a handler (500), over the real app (SQLite and PostgreSQL): bodies
that cannot be decoded, digits that are not ASCII, numbers too large for SQL, forms without a
usable encoding, header and cookie bytes that are not UTF-8, a 503 from the API helper, a
fresh chat visitor's event stream (only queue moves, nothing about other people), and a static
file name too long for the file system."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from hotline.domain.staff import Role
from hotline.web.appkeys import DEPS
from tests.conftest import AppRunner
from tests.floor import staff, victim
from tests.helpers import Victim, row_counts
from tests.raw_http import raw_request
from tests.test_sse import SSE

BAD_JSON: list[tuple[str, bytes]] = [
    ("application/json; charset=nope", b'{"text": "hi", "client_id": "abcdef0123"}'),
    ("application/json", b"[" * 60_000),
    ("application/json", b'{"text": "\xff\xfe", "client_id": "abcdef0123"}'),
    # Valid JSON, but a lone surrogate: no string that can be sealed or stored.
    ("application/json", b'{"text": "a\\ud800", "client_id": "abcdef0123"}'),
]


@pytest.mark.parametrize(("ctype", "body"), BAD_JSON,
                         ids=["charset", "deep", "not-utf8", "surrogate"])
async def test_json_body_that_cannot_be_decoded_is_400(app_runner: AppRunner, ctype: str,
                                                       body: bytes) -> None:
    v = Victim(await app_runner.client())
    await v.open()
    before = await row_counts(app_runner.config)
    resp = await v.client.post("/chat/api/messages", data=body,
                               headers={"Content-Type": ctype, "X-CSRF-Token": v.csrf})
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "malformed JSON"
    assert await row_counts(app_runner.config) == before


async def test_console_reply_with_a_lone_surrogate_is_400(app_runner: AppRunner) -> None:
    _v, cid = await victim(app_runner)
    mina = await staff(app_runner, "mina")
    assert await mina.take_next() == cid
    before = await row_counts(app_runner.config)
    resp = await mina.client.post(
        f"/api/v1/cases/{cid}/messages", data=b'{"text": "a\\udfff", "client_id": "abcdef0123"}',
        headers={"Content-Type": "application/json", "X-CSRF-Token": mina.csrf})
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "malformed JSON"
    assert await row_counts(app_runner.config) == before


@pytest.mark.parametrize("after", ["²", "١٢", "1" * 19, "9" * 400])
async def test_query_int_with_non_ascii_or_huge_digits_is_400(app_runner: AppRunner,
                                                              after: str) -> None:
    v, cid = await victim(app_runner, "a case to read")
    resp = await v.client.get("/chat/api/state", params={"after": after})
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"].startswith("after:")
    mina = await staff(app_runner, "mina")
    assert await mina.take_next() == cid
    resp = await mina.client.get(f"/api/v1/cases/{cid}", params={"after": after})
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"].startswith("after:")


async def test_evidence_id_with_non_ascii_digits_or_too_large_is_404(
        app_runner: AppRunner) -> None:
    mina = await staff(app_runner, "mina")
    for eid in ("²", "١٢", "9" * 12, str(2**31)):
        resp = await mina.client.get(f"/api/v1/evidence/{eid}/preview")
        assert resp.status == 404, await resp.text()
        assert (await resp.json())["error"] == "no such evidence"


@pytest.mark.parametrize("value", [10**30, 2**31, 2**63, -1])
async def test_field_int_out_of_range_is_400_naming_the_field(app_runner: AppRunner,
                                                              value: int) -> None:
    lead = await staff(app_runner, "lead1", role=Role.LEAD)
    _v, cid = await victim(app_runner)
    mina = await staff(app_runner, "mina")
    assert await mina.take_next() == cid
    before = await row_counts(app_runner.config)
    shift = await lead.post("/api/v1/roster/shifts", {
        "counselor_id": value, "days": ["mon"], "start": "09:00", "end": "17:00", "tz": "UTC"})
    assert shift.status == 400, await shift.text()
    assert (await shift.json())["error"].startswith("counselor_id:")
    moved = await lead.post(f"/api/v1/cases/{cid}/reassign",
                            {"counselor_id": value, "reason": "workload"})
    assert moved.status == 400, await moved.text()
    assert (await moved.json())["error"].startswith("counselor_id:")
    assert await row_counts(app_runner.config) == before


BAD_FORMS: list[tuple[str, bytes]] = [
    ("application/x-www-form-urlencoded", b"name=\xff&password=x&csrf=y"),
    ("application/x-www-form-urlencoded; charset=nope", b"name=a&password=x&csrf=y"),
    ("multipart/form-data", b"--x\r\n"),
]
FORM_IDS = ["not-utf8", "charset", "no-boundary"]


@pytest.mark.parametrize(("ctype", "body"), BAD_FORMS, ids=FORM_IDS)
async def test_undecodable_forms_are_400(app_runner: AppRunner, ctype: str,
                                         body: bytes) -> None:
    v, _cid = await victim(app_runner)
    mina = await staff(app_runner, "mina")
    login = await app_runner.client()
    await login.get("/console/login")  # the login CSRF cookie
    before = await row_counts(app_runner.config)
    attempts = [
        await login.post("/console/login", data=body, headers={"Content-Type": ctype},
                         allow_redirects=False),
        await v.client.post("/chat/api/exit", data=body, headers={"Content-Type": ctype}),
        await mina.client.post("/console/logout", data=body, allow_redirects=False,
                               headers={"Content-Type": ctype, "X-CSRF-Token": mina.csrf}),
    ]
    for resp in attempts:
        assert resp.status == 400, (resp.url.path, resp.status, await resp.text())
    assert await row_counts(app_runner.config) == before
    # Nothing ended: the chat and the counselor's session still work.
    assert (await v.client.get("/chat/api/state")).status == 200
    assert (await mina.client.get("/api/v1/me")).status == 200


async def test_callbacks_without_the_phone_channel_are_503(app_runner: AppRunner) -> None:
    _v, cid = await victim(app_runner)
    mina = await staff(app_runner, "mina")
    assert await mina.take_next() == cid
    resp = await mina.post("/api/v1/callbacks", {
        "conversation_id": cid, "number": "+821033334444", "window": "2",
        "leave_message": False, "client_id": "abcdef0123"})
    assert resp.status == 503, await resp.text()
    assert (await resp.json())["error"] == "the phone channel is off"


def _cookie(client: Any, name: str, path: str) -> str:
    return str(client.session.cookie_jar.filter_cookies(client.make_url(path))[name].value)


async def test_header_and_cookie_bytes_that_are_not_utf8_are_refused(
        app_runner: AppRunner) -> None:
    server = app_runner.server
    assert server is not None
    v, _cid = await victim(app_runner)
    mina = await staff(app_runner, "mina")
    chat = _cookie(v.client, "hl_chat", "/chat").encode()
    session = _cookie(mina.client, "hl_staff", "/").encode()
    bad = b"\xff\xfe" * 16
    before = await row_counts(app_runner.config)
    message = json.dumps({"text": "not stored", "client_id": "abcdef0123"}).encode()
    as_json = b"Content-Type: application/json"
    cases: list[tuple[str, str, list[bytes], bytes, int]] = [
        # A forged chat cookie: a new chat page, or 401 from the API.
        ("GET", "/chat", [b"Cookie: hl_chat=" + bad + b".abc"], b"", 200),
        ("GET", "/chat/api/state", [b"Cookie: hl_chat=abc." + bad], b"", 401),
        ("POST", "/chat/api/messages",
         [b"Cookie: hl_chat=" + chat, b"X-CSRF-Token: " + bad, as_json], message, 403),
        # The console: a forged session cookie, a wrong CSRF header, a forged login cookie.
        ("GET", "/api/v1/me", [b"Cookie: hl_staff=" + bad], b"", 401),
        ("GET", "/console", [b"Cookie: hl_staff=" + bad], b"", 303),
        ("POST", "/api/v1/queue/take-next",
         [b"Cookie: hl_staff=" + session, b"X-CSRF-Token: " + bad, as_json], b"{}", 403),
        # An Origin that urlsplit cannot even parse is not ours either.
        ("POST", "/api/v1/queue/take-next",
         [b"Cookie: hl_staff=" + session, b"X-CSRF-Token: " + mina.csrf.encode(),
          b"Origin: http://[", as_json], b"{}", 403),
        ("GET", "/console/login", [b"Cookie: hl_login=" + bad], b"", 200),
        ("POST", "/console/login",
         [b"Cookie: hl_login=" + bad, b"Content-Type: application/x-www-form-urlencoded"],
         b"name=mina&password=x&csrf=" + b"a" * 32, 403),
    ]
    for method, path, headers, body, status in cases:
        got, text = await raw_request(server, method, path, headers, body)
        assert got == status, (method, path, got, text[:300])
    assert await row_counts(app_runner.config) == before
    assert (await mina.client.get("/api/v1/me")).status == 200


async def test_a_fresh_visitors_stream_hears_only_that_the_queue_moved(
        app_runner: AppRunner) -> None:
    deps = app_runner.server.app[DEPS]  # type: ignore[union-attr]
    fresh = Victim(await app_runner.client())
    await fresh.open()
    resp = await fresh.client.get("/chat/api/events")
    stream = SSE(resp)
    private: list[dict[str, Any]] = [
        {"type": "presence", "counselor": 7, "status": "available"},
        {"type": "roster", "counselor": 7},
        {"type": "coverage", "language": "en", "channel": "webchat", "covered": False},
        {"type": "lead.attention", "reason": "presence_lost", "counselor": 7,
         "conversations": ["0123456789abcdef0123456789abcdef"]},
        {"type": "callback", "callback": 3, "state": "expired", "conversation": None},
        {"type": "alert", "alert": 5, "reasons": "callback_missed"},
    ]
    for ev in private:
        await deps.publish(ev)
    # Then the queue moves: someone else writes.
    _other, _cid = await victim(app_runner, "someone else's case")

    async def first_queue_move() -> None:
        await stream.until(lambda e: e["type"] == "queue")

    await asyncio.wait_for(first_queue_move(), 10)
    resp.close()
    assert [e["type"] for e in stream.seen] == ["queue"], stream.seen
    assert stream.seen[0]["data"] == {"type": "queue", "id": stream.seen[0]["id"]}


@pytest.mark.parametrize("name", ["a" * 300, "a/" * 2100 + "b", "é" * 200])
async def test_static_file_name_too_long_for_the_file_system_is_404(app_runner: AppRunner,
                                                                     name: str) -> None:
    """Found by the route fuzz: aiohttp's static handler let ENAMETOOLONG through (500)."""
    client = await app_runner.client()
    for method in ("GET", "HEAD"):
        resp = await client.request(method, "/static/" + name)
        assert resp.status == 404, (method, resp.status)
    assert (await client.get("/static/chat.css")).status == 200
