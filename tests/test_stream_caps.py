"""Caps on open event streams, over real sockets from several client addresses (127.0.0.x):
per chat session, per address and in all for the anonymous chat (429 / 503 at once, never a
hang), separately for staff (anonymous streams cannot crowd them out), places given back when
a client leaves; and a real `hotline serve` under the shipped 1024 open-file limit holding
hundreds of idle streams and idle connections while /healthz, /chat and staff still work."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hotline.config_streams import StreamsConfig
from hotline.domain.staff import Role
from hotline.web.streamgate import fit_totals
from tests.conftest import AppRunner, Database, RedisProcess, make_config, wait_for
from tests.helpers import PASSWORD, add_staff
from tests.serve import Instance

# Answers come at once; this only keeps a broken server from hanging the test.
GUARD = aiohttp.ClientTimeout(total=10)


class Browsers:
    """Client sessions bound to one source address each, and what they hold open."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.open: list[aiohttp.ClientResponse] = []

    def at(self, address: str) -> aiohttp.ClientSession:
        if address not in self.sessions:
            self.sessions[address] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(local_addr=(address, 0), limit=0),
                cookie_jar=aiohttp.DummyCookieJar(), timeout=GUARD)
        return self.sessions[address]

    async def chat_cookie(self, address: str) -> str:
        async with self.at(address).get(f"{self.base}/chat") as resp:
            assert resp.status == 200
            return str(resp.cookies["hl_chat"].value)

    async def stream(self, address: str, path: str, cookie: str) -> tuple[int, dict[str, Any]]:
        """Open a stream; an admitted one is kept open (status, {}), a refusal read."""
        resp = await self.at(address).get(f"{self.base}{path}", headers={"Cookie": cookie})
        if resp.status == 200:
            self.open.append(resp)
            return 200, {}
        body: dict[str, Any] = await resp.json()
        assert int(resp.headers["Retry-After"]) > 0
        resp.release()
        return resp.status, body

    async def chat(self, address: str, cookie: str) -> tuple[int, dict[str, Any]]:
        return await self.stream(address, "/chat/api/events", f"hl_chat={cookie}")

    async def close(self) -> None:
        for resp in self.open:
            resp.close()
        for session in self.sessions.values():
            await session.close()


async def _login(browsers: Browsers, name: str) -> str:
    """A staff session cookie (the login form's double-submit token is ours to choose)."""
    token = secrets.token_urlsafe(24)
    async with browsers.at("127.0.0.1").post(
            f"{browsers.base}/console/login", allow_redirects=False,
            headers={"Cookie": f"hl_login={token}"},
            data={"name": name, "password": PASSWORD, "csrf": token}) as resp:
        assert resp.status == 303, await resp.text()
        return f"hl_staff={resp.cookies['hl_staff'].value}"


async def _answers(browsers: Browsers, address: str) -> tuple[int, int]:
    """/healthz and /chat, from an address that holds no stream."""
    async with browsers.at(address).get(f"{browsers.base}/healthz") as health, \
            browsers.at(address).get(f"{browsers.base}/chat") as page:
        return health.status, page.status


CAPS = {"chat_per_session": 2, "chat_per_address": 6, "chat_total": 14,
        "staff_per_session": 2, "staff_total": 4, "heartbeat_seconds": 0.3}


@pytest.fixture
async def capped(tmp_path: Path, database: Database, redis_server: RedisProcess
                 ) -> AsyncIterator[tuple[AppRunner, Browsers]]:
    runner = AppRunner(make_config(tmp_path / "data", database.url, redis_server.url,
                                   streams=CAPS))
    server = await runner.start()
    browsers = Browsers(str(server.make_url("")).rstrip("/"))
    yield runner, browsers
    await browsers.close()
    await runner.stop()


async def test_chat_streams_over_a_cap_are_refused_at_once(
        capped: tuple[AppRunner, Browsers]) -> None:
    runner, b = capped
    # One chat session: two tabs, not three.
    k1 = await b.chat_cookie("127.0.0.2")
    assert [(await b.chat("127.0.0.2", k1))[0] for _ in range(2)] == [200, 200]
    assert await b.chat("127.0.0.2", k1) == (429, {
        "error": "too many open event streams; try again later", "limit": "chat_per_session"})
    # One address: six streams, whatever the sessions.
    for _ in range(4):
        assert (await b.chat("127.0.0.2", await b.chat_cookie("127.0.0.2")))[0] == 200
    status, body = await b.chat("127.0.0.2", await b.chat_cookie("127.0.0.2"))
    assert (status, body["limit"]) == (429, "chat_per_address")
    # In all: fourteen chat streams in this process.
    for address, n in (("127.0.0.3", 6), ("127.0.0.4", 2)):
        for _ in range(n):
            assert (await b.chat(address, await b.chat_cookie(address)))[0] == 200
    status, body = await b.chat("127.0.0.5", await b.chat_cookie("127.0.0.5"))
    assert (status, body["limit"]) == (503, "chat_total")
    assert len(b.open) == 14

    # The server still answers everything else.
    assert await _answers(b, "127.0.0.9") == (200, 200)
    # Staff have caps of their own: the full chat takes nothing from them.
    for name in ("mina", "jun", "lee"):
        await add_staff(runner.config, name, Role.LEAD if name == "lee" else Role.COUNSELOR)
    mina, jun, lee = [await _login(b, n) for n in ("mina", "jun", "lee")]
    staff = [(await b.stream("127.0.0.1", "/api/v1/events", c))[0] for c in (mina, mina)]
    assert staff == [200, 200]
    assert (await b.stream("127.0.0.1", "/api/v1/events", mina))[1]["limit"] == \
        "staff_per_session"
    assert [(await b.stream("127.0.0.1", "/api/v1/events", jun))[0] for _ in range(2)] == \
        [200, 200]
    assert await b.stream("127.0.0.1", "/api/v1/events", lee) == (503, {
        "error": "too many open event streams; try again later", "limit": "staff_total"})


async def test_a_place_is_given_back_when_the_client_leaves(
        capped: tuple[AppRunner, Browsers]) -> None:
    _runner, b = capped
    cookie = await b.chat_cookie("127.0.0.2")
    for _ in range(2):
        assert (await b.chat("127.0.0.2", cookie))[0] == 200
    assert (await b.chat("127.0.0.2", cookie))[0] == 429
    b.open.pop().close()  # one tab closes

    async def admitted() -> bool:
        # The server sees the socket gone at its next heartbeat at the latest.
        return (await b.chat("127.0.0.2", cookie))[0] == 200
    await wait_for(admitted)
    assert (await b.chat("127.0.0.2", cookie))[0] == 429


def test_totals_fit_the_open_file_limit() -> None:
    cfg = StreamsConfig()
    # The shipped unit's old limit: streams take at most half, staff keep their share.
    assert fit_totals(cfg, 1024) == (256, 256)
    assert fit_totals(cfg, 65536) == (cfg.chat_total, cfg.staff_total)
    assert fit_totals(StreamsConfig(staff_total=10), 1024) == (502, 10)


# --- a real process under the old systemd unit's open-file limit ------------------------------


async def test_hundreds_of_idle_streams_and_connections_under_1024_open_files(
        tmp_path: Path, private_redis: RedisProcess, instances: list[Instance]) -> None:
    """What took the server down: 600 anonymous streams and 500 idle connections against the
    1024 open files the shipped systemd unit allowed. Now streams over the (lowered) cap get
    503 at once and the server keeps answering."""
    db = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    await add_staff(make_config(tmp_path / "staff", db, private_redis.url), "mina")
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    inst = Instance(tmp_path, "capped", db, private_redis.url, f"t{secrets.token_hex(5)}",
                    secret, open_files=1024)
    instances.append(inst)
    inst.start()
    b = Browsers(inst.url)
    idle: list[asyncio.StreamWriter] = []
    try:
        await inst.wait_ready(b.at("127.0.0.1"))
        chat_total, _staff_total = fit_totals(StreamsConfig(), 1024)

        gate = asyncio.Semaphore(25)

        async def one(i: int) -> int:
            address = f"127.0.0.{10 + i % 6}"  # 100 from each of six addresses
            async with gate:
                status, _body = await b.chat(address, await b.chat_cookie(address))
                return status
        statuses = Counter(await asyncio.gather(*(one(i) for i in range(600))))
        assert statuses == {200: chat_total, 503: 600 - chat_total}

        for _ in range(500):
            _reader, writer = await asyncio.open_connection("127.0.0.1", inst.port)
            idle.append(writer)
        assert await _answers(b, "127.0.0.30") == (200, 200)
        mina = await _login(b, "mina")
        assert (await b.stream("127.0.0.1", "/api/v1/events", mina))[0] == 200
        assert "stream caps lowered to fit the open-file limit" in inst.output()
        assert inst.proc is not None and inst.proc.poll() is None
    except BaseException:
        print(f"--- server log ---\n{inst.output()[-5000:]}")
        raise
    finally:
        for writer in idle:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await b.close()
