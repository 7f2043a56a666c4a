"""No phone number in logs, intake records or any stored column in plain text: SMS in and out,
a call through the IVR into the queue and to a counselor, a hang-up, a call-back request and
the console placing it, with every logger at DEBUG and each record formatted as the server
writes it (hotline.logs.JsonFormatter)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from hotline.cases.tables import intake_records
from hotline.logs import JsonFormatter
from hotline.schema import metadata
from tests.conftest import wait_for
from tests.floor import presence, staff
from tests.twilio_support import (
    Env,
    call_params,
    env,
    new_sid,
    set_counselor_phone,
    standin,
)

__all__ = ["env", "standin"]  # fixtures

SMS_VICTIM = "+821047114711"
CALLER = "+821058125812"
CALLER_2 = "+821069236923"
COUNSELOR_PHONE = "+821077347734"
NUMBERS = [SMS_VICTIM, CALLER, CALLER_2, COUNSELOR_PHONE]
V = "/webhooks/twilio/voice"


def _forms(n: str) -> list[str]:
    # +821047114711, 821047114711 and the national form 01047114711.
    return [n, n.lstrip("+"), "0" + n[3:]]


async def test_no_phone_number_in_logs_or_records(env: Env,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="hotline")
    hooks = env.hooks
    # SMS in, intake, a reply out with a delivery report.
    await hooks.sms(SMS_VICTIM, "help, my photos were posted")
    await hooks.sms(SMS_VICTIM, "1")
    mina = await staff(env.runner, "mina")
    await set_counselor_phone(env.deps, mina.id, COUNSELOR_PHONE)
    await presence(mina, "available")
    sms_case = await mina.take_next()
    await mina.reply(sms_case, "we are here")

    async def sent() -> Any:
        return env.standin.of("message")
    await wait_for(sent)
    # A caller who presses 1 and is bridged to the counselor; a second who hangs up.
    sid = new_sid("CA")
    for path, extra in ((V, {}), (f"{V}/language", {"Digits": "2"}),
                        (f"{V}/menu", {"Digits": "1"})):
        await hooks.twiml(path, call_params(sid, CALLER, **extra))
    await mina.close(sms_case)
    await mina.take_next()

    async def bridged() -> Any:
        return env.standin.of("call_update")
    await wait_for(bridged)
    await hooks.twiml(f"{V}/dial", call_params(sid, CALLER, DialCallStatus="completed"))
    sid2 = new_sid("CA")
    for path, extra in ((V, {}), (f"{V}/language", {"Digits": "1"}), (f"{V}/menu", {}),
                        (f"{V}/dequeued", {"QueueResult": "hangup"})):
        await hooks.twiml(path, call_params(sid2, CALLER_2, **extra))
    # A call-back requested by phone; its window is open, so it is queued at once.
    sid3 = new_sid("CA")
    for path, extra in ((V, {}), (f"{V}/language", {"Digits": "2"}),
                        (f"{V}/menu", {"Digits": "2"}),
                        (f"{V}/callback/window", {"Digits": "1"}),
                        (f"{V}/callback/message", {"Digits": "2"})):
        await hooks.twiml(path, call_params(sid3, CALLER_2, **extra))

    lines = [JsonFormatter().format(r) for r in caplog.records]
    assert any("inbound stored" in line for line in lines)
    leaks = [(n, line) for line in lines for number in NUMBERS for n in _forms(number)
             if n in line]
    assert not leaks, leaks[:5]

    async with env.deps.engine.connect() as conn:
        records = [dict(r._mapping) for r in await conn.execute(select(intake_records))]
        everything = {t.name: [dict(r._mapping) for r in await conn.execute(select(t))]
                      for t in metadata.sorted_tables}
    assert records, "the abandoned call and the closed SMS case wrote intake records"
    for table, rows in everything.items():
        for row in rows:
            for col, value in row.items():
                blob = value if isinstance(value, bytes | memoryview) else str(value)
                raw = bytes(blob) if not isinstance(blob, str) else blob.encode()
                for number in NUMBERS:
                    for form in _forms(number):
                        assert form.encode() not in raw, f"{table}.{col} holds a number"
