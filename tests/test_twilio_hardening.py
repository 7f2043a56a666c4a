"""Twilio webhooks and call-back requests given input that once crashed a handler (500), over
the real app (SQLite and PostgreSQL): forms that cannot be decoded (checked before the
signature), a signature header that is not UTF-8, keys that are digits only to isdigit, a
window out of datetime's range, and the 503 of calls switched off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import AppRunner, Database, RedisProcess
from tests.floor import presence, staff, victim
from tests.helpers import row_counts
from tests.raw_http import raw_request
from tests.twilio_support import (
    Env,
    Hooks,
    StandIn,
    call_params,
    env,
    new_sid,
    says,
    sms_params,
    standin,
    twilio_app,
)

__all__ = ["env", "standin"]  # fixtures

V = "/webhooks/twilio/voice"
SMS = "/webhooks/twilio/sms"
BAD_FORMS: list[tuple[str, bytes]] = [
    ("application/x-www-form-urlencoded", b"From=\xff&Body=x"),
    ("application/x-www-form-urlencoded; charset=nope", b"From=a&Body=x"),
    ("multipart/form-data", b"--x\r\n"),
    # A charset that decodes to a lone surrogate, which no later .encode() accepts.
    ("application/x-www-form-urlencoded; charset=unicode_escape", b"From=\\ud800&Body=x"),
]


@pytest.mark.parametrize(("ctype", "body"), BAD_FORMS,
                         ids=["not-utf8", "charset", "no-boundary", "surrogate"])
@pytest.mark.parametrize("path", [SMS, V])
async def test_undecodable_webhook_forms_are_400(env: Env, path: str, ctype: str,
                                                 body: bytes) -> None:
    before = await row_counts(env.runner.config)
    resp = await env.hooks.client.post(path, data=body, headers={
        "Content-Type": ctype, "X-Twilio-Signature": "A" * 28})
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "malformed form"
    assert await row_counts(env.runner.config) == before


async def test_signature_header_bytes_that_are_not_utf8_are_403(env: Env) -> None:
    server = env.runner.server
    assert server is not None
    params = sms_params("+821012340001", "help me")
    body = "&".join(f"{k}={v}" for k, v in params.items()).replace("+", "%2B").encode()
    before = await row_counts(env.runner.config)
    for sig in (b"\xff" * 28, b"\xc3\x28" + b"A" * 26):
        status, text = await raw_request(server, "POST", SMS, [
            b"Content-Type: application/x-www-form-urlencoded",
            b"X-Twilio-Signature: " + sig], body)
        assert status == 403, text[:300]
    assert await row_counts(env.runner.config) == before
    # The same form, properly signed, is taken.
    assert (await env.hooks.sms("+821012340001", "help me")).find("Message") is not None


@pytest.mark.parametrize("digits", ["²", "\u0661", "9" * 5000])
async def test_language_key_that_is_not_an_ascii_digit_means_the_default(
        env: Env, digits: str) -> None:
    sid = new_sid("CA")
    await env.hooks.twiml(V, call_params(sid))
    root = await env.hooks.twiml(f"{V}/language", call_params(sid, Digits=digits))
    assert says(root)[0].get("language") == "ko-KR"


@pytest.mark.parametrize(("start", "end", "field"), [
    ("0001-01-01T00:00:00+01:00", "0001-01-01T02:00:00+01:00", "window_start"),
    ("9999-12-31T18:00:00-05:00", "9999-12-31T20:00:00-05:00", "window_end"),
])
async def test_callback_window_out_of_range_is_400_naming_the_field(
        env: Env, start: str, end: str, field: str) -> None:
    _v, cid = await victim(env.runner, "call me back")
    mina = await staff(env.runner, "mina")
    await presence(mina, "available")
    assert await mina.take_next() == cid
    before = await row_counts(env.runner.config)
    resp = await mina.post("/api/v1/callbacks", {
        "conversation_id": cid, "number": "+821033334444", "window_start": start,
        "window_end": end, "leave_message": False, "client_id": "abcdef0123"})
    assert resp.status == 400, await resp.text()
    body = await resp.json()
    assert body["error"].startswith(f"{field}:") and body["field"] == field
    assert await row_counts(env.runner.config) == before


@pytest.fixture
async def no_number(tmp_path: Path, database: Database, redis_server: RedisProcess,
                    standin: StandIn, monkeypatch: pytest.MonkeyPatch
                    ) -> AsyncIterator[tuple[AppRunner, Hooks]]:
    """The Twilio channels on, but without our own number: no calls."""
    async with twilio_app(tmp_path, database, redis_server, standin, monkeypatch,
                          twilio={"phone_number": ""}) as runner:
        yield runner, Hooks(await runner.client())


async def test_calls_without_our_number_are_a_clear_503(
        no_number: tuple[AppRunner, Hooks]) -> None:
    runner, hooks = no_number
    before = await row_counts(runner.config)
    for path in (V, f"{V}/dial"):
        resp = await hooks.post(path, call_params(new_sid("CA"), DialCallStatus="completed"))
        assert resp.status == 503, (path, await resp.text())
        assert "error" in await resp.json()
    assert await row_counts(runner.config) == before
