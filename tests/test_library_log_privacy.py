"""aiohttp's own log lines about requests it could not parse ("Error handling request from
<address>", with the parser's error quoting the first bytes of the bad line) carry neither the
client's address nor any byte of the request: over a real socket, with every logger at DEBUG,
every record formatted both as the server writes it (JsonFormatter) and as pytest shows it.
Such lines, and aiohttp-remotes' about a malformed X-Forwarded-For, are INFO: the client's
error, never the server's."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hotline.config import Config
from hotline.logs import JsonFormatter
from tests.conftest import AppRunner, Database, RedisProcess, make_config
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


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    # The test's loopback client is a trusted proxy: its X-Forwarded-For is read.
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       server={"trusted_proxies": ["127.0.0.0/8"]})


async def test_a_request_the_client_got_wrong_is_not_logged_as_an_error(
        app_runner: AppRunner, caplog: pytest.LogCaptureFixture) -> None:
    """A bad header byte, or X-Forwarded-For twice from the proxy (found by the route fuzz):
    400, and the library's line is INFO, with the error's type and no address or header value
    in any field (any client could otherwise fill the log with ERROR lines)."""
    caplog.set_level(logging.DEBUG)
    server = app_runner.server
    assert server is not None
    forwarded = b"X-Forwarded-For: 198.51.100.23"
    for headers in ([b"X-Note: a\x01b"], [forwarded, forwarded]):
        status, _ = await raw_request(server, "GET", "/chat", headers, from_host=CLIENT)
        assert status == 400
    lines = [(r.levelno, JsonFormatter().format(r)) for r in caplog.records
             if r.name.startswith("aiohttp")]
    assert lines, "nothing logged"
    assert all(level < logging.WARNING for level, _ in lines), lines
    assert any("BadHttpMessage" in line for _, line in lines), lines
    assert any("Too many headers" in line for _, line in lines), lines
    assert not [line for _, line in lines if "198.51.100.23" in line or CLIENT in line]
