"""aiohttp's own log lines about requests it could not parse ("Error handling request from
<address>", with the parser's error quoting the first bytes of the bad line) carry neither the
client's address nor any byte of the request: over a real socket, with every logger at DEBUG,
every record formatted both as the server writes it (JsonFormatter) and as pytest shows it."""

from __future__ import annotations

import logging

import pytest

from hotline.logs import JsonFormatter
from tests.conftest import AppRunner
from tests.raw_http import raw_request

# A loopback address of its own: no other log line (Redis, PostgreSQL) names it.
CLIENT = "127.0.0.57"
COOKIE = "Okapi-3319-chat-cookie-value"


async def test_unparsable_requests_leave_no_address_or_bytes_in_logs(
        app_runner: AppRunner, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = app_runner.server
    assert server is not None
    oversized = [b"Cookie: hl_chat=" + COOKIE.encode() * 400]  # past aiohttp's 8190 bytes
    sent = [
        ("GET", "/chat", oversized),
        ("GET", "/chat?t=" + COOKIE * 400, []),  # an oversized request line
        ("GET", "/chat", [b"X-Note: " + COOKIE.encode() + b"\x00\x01"]),  # bytes not allowed
        ("GET", "/chat", [COOKIE.encode() + b" no-colon"]),  # not a header line
    ]
    for method, path, headers in sent:
        status, _ = await raw_request(server, method, path, headers, from_host=CLIENT)
        assert 400 <= status < 500, (path[:40], status)
    records = list(caplog.records)
    assert any(r.name == "aiohttp.server" for r in records), "aiohttp logged nothing"
    fmt = JsonFormatter()
    lines = [fmt.format(r) for r in records] + caplog.text.splitlines()
    leaks = [line for line in lines if CLIENT in line or COOKIE[:12] in line]
    assert not leaks, "\n".join(line[:300] for line in leaks[:5])
    # What stays: aiohttp's words and the error's type.
    served = [fmt.format(r) for r in records if r.name == "aiohttp.server"]
    assert any("Error handling request" in line and "LineTooLong" in line
               for line in served), served[:3]
