"""Webhook security over the real app (SQLite and PostgreSQL): a forged, missing or
wrongly-addressed signature is refused with 403 and changes nothing; X-Forwarded-* headers are
never trusted; a signed but malformed form is a 400 that changes nothing; with no credentials
the channels answer 503 clearly. The signature is checked against the configured public URL,
here https (as behind a TLS proxy), while the request reaches the app over plain http."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import AppRunner, Database, RedisProcess
from tests.helpers import row_counts
from tests.twilio_support import (
    Hooks,
    StandIn,
    call_params,
    new_sid,
    sms_params,
    standin,
    twilio_app,
    twilio_config,
)

__all__ = ["standin"]  # fixture

TLS_URL = "https://hotline.example.org"
PATHS = ["/webhooks/twilio/sms", "/webhooks/twilio/sms/status", "/webhooks/twilio/voice",
         "/webhooks/twilio/voice/menu", "/webhooks/twilio/voice/hold",
         "/webhooks/twilio/voice/dequeued", "/webhooks/twilio/voice/status",
         "/webhooks/twilio/voice/dial", "/webhooks/twilio/voice/callback/message"]


@pytest.fixture
async def tls(tmp_path: Path, database: Database, redis_server: RedisProcess,
              standin: StandIn, monkeypatch: pytest.MonkeyPatch
              ) -> AsyncIterator[tuple[AppRunner, Hooks]]:
    async with twilio_app(tmp_path, database, redis_server, standin, monkeypatch,
                          server={"public_url": TLS_URL}) as runner:
        yield runner, Hooks(await runner.client(), public_url=TLS_URL)


def _params(path: str) -> dict[str, str]:
    if path.startswith("/webhooks/twilio/sms"):
        return {**sms_params("+821012340001", "help me"), "MessageStatus": "delivered"}
    return call_params(new_sid("CA"), Digits="1", QueueResult="hangup",
                       DialCallStatus="completed")


async def test_signed_request_behind_tls_proxy_is_accepted(
        tls: tuple[AppRunner, Hooks]) -> None:
    runner, hooks = tls
    before = await row_counts(runner.config)
    root = await hooks.sms("+821012340001", "help me")
    assert root.find("Message") is not None
    after = await row_counts(runner.config)
    assert after["messages"] == before["messages"] + 1


@pytest.mark.parametrize("path", PATHS)
async def test_forged_missing_or_misaddressed_signatures_are_refused(
        tls: tuple[AppRunner, Hooks], path: str) -> None:
    runner, hooks = tls
    before = await row_counts(runner.config)
    params = _params(path)
    good = hooks.sign(path, params)
    internal = Hooks(hooks.client, public_url=str(hooks.client.make_url("")).rstrip("/"))
    attempts = [
        await hooks.post(path, params, signature=""),                          # missing
        await hooks.post(path, params, signature="A" * len(good)),             # forged
        await hooks.post(path, {**params, "Body": "changed"}, signature=good),  # tampered
        # Signed over the internal URL the app is reached at: not what Twilio signs.
        await internal.post(path, params),
        # Signed over an attacker's URL, with X-Forwarded-* claiming it: never trusted.
        await Hooks(hooks.client, public_url="https://evil.example").post(
            path, params, headers={"X-Forwarded-Host": "evil.example",
                                   "X-Forwarded-Proto": "https", "Host": "evil.example"}),
        # Signed with another account's token.
        await Hooks(hooks.client, token="someone-else", public_url=TLS_URL).post(path, params),
        # A signature-settings header we hold no shared key for.
        await hooks.post(path, params, headers={
            "X-Twilio-Webhooks-Signature-Settings": "key=k1,algorithm=HMAC_SHA256"}),
    ]
    for resp in attempts:
        assert resp.status == 403, (path, resp.status, await resp.text())
    assert await row_counts(runner.config) == before


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/webhooks/twilio/sms", {"From": "+821012340001", "Body": "hi"}, "MessageSid"),
    ("/webhooks/twilio/sms", {"MessageSid": "SM123", "From": "+8210", "Body": "x"},
     "MessageSid"),
    ("/webhooks/twilio/sms", {"MessageSid": new_sid("SM"), "Body": "hi"}, "From"),
    ("/webhooks/twilio/sms", {"MessageSid": new_sid("SM"), "From": "<script>", "Body": "x"},
     "From"),
    ("/webhooks/twilio/sms", {"MessageSid": new_sid("SM"), "From": "+821012340001",
                              "Body": "x" * 1601}, "Body"),
    ("/webhooks/twilio/sms/status", {"MessageSid": new_sid("SM"), "MessageStatus": "bogus"},
     "MessageStatus"),
    ("/webhooks/twilio/voice", {"CallSid": "CA-not-a-sid", "From": "+821055556666"},
     "CallSid"),
    ("/webhooks/twilio/voice/menu", {"From": "+821055556666", "Digits": "1"}, "CallSid"),
    ("/webhooks/twilio/voice/dequeued", {"CallSid": new_sid("CA"), "QueueResult": "bogus"},
     "QueueResult"),
    ("/webhooks/twilio/voice/status", {"CallSid": new_sid("CA"), "CallStatus": "exploded"},
     "CallStatus"),
])
async def test_signed_but_malformed_forms_are_400_and_change_nothing(
        tls: tuple[AppRunner, Hooks], path: str, params: dict[str, str], field: str) -> None:
    runner, hooks = tls
    before = await row_counts(runner.config)
    resp = await hooks.post(path, params)
    assert resp.status == 400, await resp.text()
    assert field in (await resp.json())["error"]
    assert await row_counts(runner.config) == before


async def test_not_a_form_is_refused(tls: tuple[AppRunner, Hooks]) -> None:
    runner, hooks = tls
    before = await row_counts(runner.config)
    resp = await hooks.client.post("/webhooks/twilio/sms", data=b"\x00\xff garbage",
                                   headers={"Content-Type": "application/octet-stream",
                                            "X-Twilio-Signature": "x"})
    assert resp.status == 403
    assert await row_counts(runner.config) == before


async def test_without_credentials_the_channels_are_off(
        tmp_path: Path, database: Database, redis_server: RedisProcess, standin: StandIn,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.delenv("HOTLINE_TWILIO_AUTH_TOKEN", raising=False)
    runner = AppRunner(twilio_config(tmp_path, database, redis_server, standin))
    await runner.start()
    try:
        hooks = Hooks(await runner.client())
        for path in PATHS:
            resp = await hooks.post(path, _params(path))
            assert resp.status == 503
            assert "HOTLINE_TWILIO_AUTH_TOKEN" in (await resp.json())["error"]
    finally:
        await runner.stop()
