"""Console login throttling over real sockets and a real Redis: anonymous guessers cannot stop a
staff member logging in, guessing one name stays under the bound docs/console.md states, the
client address comes from X-Forwarded-For only through a trusted proxy, and with the Redis
server killed the limiter keeps limiting in the process and login never answers 500.

Clients come from distinct loopback addresses (127.0.0.2, 127.0.0.3, ...) by binding their
sockets there, so the server sees different peers exactly as it would on a network.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from hotline.logs import JsonFormatter
from hotline.staff.login_throttle import DEVICE_COOKIE
from tests.conftest import AppRunner, RedisProcess, make_config
from tests.helpers import PASSWORD, add_staff

_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
WRONG = PASSWORD + "-wrong"
FREE = 5  # console.login_free_failures (the default)


class Browser:
    """One browser (its own cookies) on one source address, optionally behind a proxy that
    sets X-Forwarded-For."""

    def __init__(self, client: TestClient[Any, Any], forwarded_for: str | None = None) -> None:
        self.client = client
        self.forwarded_for = forwarded_for

    def _headers(self, forwarded_for: str | None) -> dict[str, str]:
        xff = forwarded_for or self.forwarded_for
        return {"X-Forwarded-For": xff} if xff else {}

    async def csrf(self, forwarded_for: str | None = None) -> str:
        page = await self.client.get("/console/login", headers=self._headers(forwarded_for))
        assert page.status == 200
        m = _CSRF_FIELD.search(await page.text())
        assert m
        return m.group(1)

    async def login(self, name: str, password: str = PASSWORD,
                    forwarded_for: str | None = None) -> aiohttp.ClientResponse:
        csrf = await self.csrf(forwarded_for)
        resp: aiohttp.ClientResponse = await self.client.post(
            "/console/login", allow_redirects=False, headers=self._headers(forwarded_for),
            data={"name": name, "password": password, "csrf": csrf})
        await resp.read()
        return resp

    async def statuses(self, name: str, password: str, times: int) -> list[int]:
        return [(await self.login(name, password)).status for _ in range(times)]

    def device_cookie(self) -> str | None:
        for cookie in self.client.session.cookie_jar:
            if cookie.key == DEVICE_COOKIE:
                return cookie.value
        return None

    async def logout(self) -> None:
        floor = await self.client.get("/console")
        m = re.search(r'<meta name="csrf-token" content="([^"]+)">', await floor.text())
        assert m
        resp = await self.client.post("/console/logout", data={"csrf": m.group(1)},
                                      allow_redirects=False, headers=self._headers(None))
        assert resp.status == 303


async def browser(runner: AppRunner, source: str = "127.0.0.1",
                  forwarded_for: str | None = None) -> Browser:
    """A new browser whose connections come from `source` (a loopback address)."""
    assert runner.server is not None
    client: TestClient[Any, Any] = TestClient(
        runner.server, connector=aiohttp.TCPConnector(local_addr=(source, 0)))
    await client.start_server()
    runner.clients.append(client)
    return Browser(client, forwarded_for)


@pytest.fixture
async def start(tmp_path: Path, redis_server: RedisProcess
                ) -> AsyncIterator[Callable[..., Any]]:
    """Start the app on SQLite and the session's Redis with config overrides; stopped after."""
    runners: list[AppRunner] = []

    async def _start(redis_url: str | None = None, **overrides: Any) -> AppRunner:
        # Delays far longer than any test step, so a throttled client stays throttled for the
        # rest of the test however slow the machine is (the bound test sets its own).
        overrides["console"] = {"login_first_delay_seconds": 60, "login_max_delay_seconds": 600,
                                **overrides.get("console", {})}
        cfg = make_config(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'h.db'}",
                          redis_url or redis_server.url, **overrides)
        runner = AppRunner(cfg)
        await runner.start()
        runners.append(runner)
        await add_staff(cfg, "mina")
        await add_staff(cfg, "jun")
        return runner

    yield _start
    for r in runners:
        await r.stop()


async def test_guesses_from_one_address_do_not_stop_staff_logging_in(
        start: Callable[..., Any]) -> None:
    """The reported defect: five wrong passwords locked the name (and the address) for
    everyone. Now the guesser is slowed down, and only the guesser."""
    runner = await start()
    attacker = await browser(runner, "127.0.0.2")
    statuses = await attacker.statuses("mina", WRONG, FREE + 4)
    assert statuses == [401] * FREE + [429] * 4
    refused = await attacker.login("mina", WRONG)
    assert refused.status == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "후에 다시 시도해 주세요" in await refused.text()  # the default: Korean
    assert DEVICE_COOKIE not in refused.cookies and "hl_staff" not in refused.cookies

    # Mina, on her own address, in a browser that never logged in before: straight in.
    mina = await browser(runner, "127.0.0.3")
    assert (await mina.login("mina")).status == 303
    # And anyone else from elsewhere.
    jun = await browser(runner, "127.0.0.4")
    assert (await jun.login("jun")).status == 303
    # The guesser keeps waiting, even with the right password: its address is throttled ...
    assert (await attacker.login("jun")).status == 429
    # ... and no device cookie gets it round that: not one of another name, not a forged one.
    for cookie in (jun.device_cookie() or "", "x" * 20 + ".y" * 16):
        attacker.client.session.cookie_jar.update_cookies({DEVICE_COOKIE: cookie})
        assert (await attacker.login("mina", WRONG)).status == 429
    # Mina's own cookie is hers alone: in the guesser's browser, it is a try at her name only.
    attacker.client.session.cookie_jar.update_cookies({DEVICE_COOKIE: mina.device_cookie() or ""})
    assert (await attacker.login("jun", WRONG)).status == 429


async def test_colleagues_logging_in_at_once_from_one_address_all_get_in(
        start: Callable[..., Any]) -> None:
    """An office at shift start: many first logins at the same moment from one address, and
    after a few wrong passwords there. Nobody is held back by the others."""
    runner = await start()
    names = [f"staff{i}" for i in range(3 * FREE)]
    for name in names:
        await add_staff(runner.config, name)
    office = [await browser(runner, "127.0.0.7") for _ in names]
    typo = await browser(runner, "127.0.0.7")
    assert await typo.statuses("staff0", WRONG, FREE - 1) == [401] * (FREE - 1)
    logins = await asyncio.gather(*(b.login(n) for b, n in zip(office, names, strict=True)))
    assert [r.status for r in logins] == [303] * len(names)
    # Next morning, the same again from the address they all logged in from.
    fresh = [await browser(runner, "127.0.0.7") for _ in names]
    again = await asyncio.gather(*(b.login(n) for b, n in zip(fresh, names, strict=True)))
    assert [r.status for r in again] == [303] * len(names)


async def test_guesses_through_the_proxy_do_not_stop_staff_behind_the_same_proxy(
        start: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    """Behind nginx every connection has nginx's address: the client address is the trusted
    proxy's X-Forwarded-For, so one client's guesses are one client's, not everyone's."""
    caplog.set_level(logging.DEBUG)
    runner = await start(server={"trusted_proxies": ["127.0.0.1"]})
    attacker = await browser(runner, forwarded_for="203.0.113.77")
    assert await attacker.statuses("mina", WRONG, FREE + 3) == [401] * FREE + [429] * 3
    for name in ("jun", "nobody"):  # its address is throttled whatever name it tries
        assert (await attacker.login(name, WRONG)).status == 429

    mina = await browser(runner, forwarded_for="198.51.100.23")
    assert (await mina.login("mina")).status == 303
    jun = await browser(runner, forwarded_for="2001:db8:5::17")
    assert (await jun.login("jun")).status == 303

    # IPv6 clients are throttled by /64: another address in the guesser's /64 is the guesser.
    v6 = await browser(runner, forwarded_for="2001:db8:66::1")
    assert await v6.statuses("jun", WRONG, FREE) == [401] * FREE
    same_64 = await browser(runner, forwarded_for="2001:db8:66::ffff:1")
    assert (await same_64.login("jun", WRONG)).status == 429

    lines = [JsonFormatter().format(r) for r in caplog.records]
    for address in ("203.0.113.77", "198.51.100.23", "2001:db8:5::17", "2001:db8:66"):
        assert not [line for line in lines if address in line], address


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
        start: Callable[..., Any]) -> None:
    runner = await start(server={"trusted_proxies": ["127.0.0.9"]})
    # A client talking to us directly writes a new X-Forwarded-For on every try: still one
    # address (its own), throttled after the free failures, whatever names it tries.
    spoofer = await browser(runner, "127.0.0.2")
    statuses = [(await spoofer.login(f"name{i}", WRONG, forwarded_for=f"192.0.2.{i}")).status
                for i in range(FREE + 2)]
    assert statuses == [401] * FREE + [429] * 2
    # Nor can it name a staff member's address to get that address throttled.
    framer = await browser(runner, "127.0.0.3")
    assert [(await framer.login("mina", WRONG, forwarded_for="198.51.100.23")).status
            for _ in range(FREE + 1)] == [401] * FREE + [429]
    mina = await browser(runner, "127.0.0.9", forwarded_for="198.51.100.23")
    assert (await mina.login("mina")).status == 303
    # A header that is not an address is simply ignored from an untrusted peer ...
    page = await spoofer.client.get("/console/login", headers={"X-Forwarded-For": "bogus"})
    assert page.status == 200

    # ... whereas through the trusted proxy each forwarded address is its own client.
    proxy = await browser(runner, "127.0.0.9")
    statuses = [(await proxy.login(f"other{i}", WRONG, forwarded_for=f"192.0.2.{i}")).status
                for i in range(FREE + 2)]
    assert statuses == [401] * (FREE + 2)
    bad = await proxy.client.get("/console/login", headers={"X-Forwarded-For": "bogus"})
    assert bad.status == 400


async def test_guessing_one_name_from_many_addresses_stays_under_the_bound(
        start: Callable[..., Any]) -> None:
    """Many addresses guessing one name: the guesses that are checked stay within the bound
    docs/console.md states (two keys per name, each within Policy.most_attempts), while the
    staff member's own browser and her usual address are never held back."""
    runner = await start(
        server={"trusted_proxies": ["127.0.0.1"]},
        console={"login_free_failures": 3, "login_first_delay_seconds": 0.1,
                 "login_max_delay_seconds": 0.4, "login_forget_seconds": 60})
    policy = runner.config.console.login_policy()
    # Before the attack, Mina logged in from her office (and logged out).
    office = "198.51.100.23"
    mina = await browser(runner, forwarded_for=office)
    assert (await mina.login("mina")).status == 303
    assert mina.device_cookie()
    await mina.logout()
    guesser = await browser(runner)
    csrf = await guesser.csrf()
    counts: dict[int, int] = {}
    loop = asyncio.get_running_loop()

    async def guess(i: int) -> None:
        resp = await guesser.client.post(
            "/console/login", allow_redirects=False,
            headers={"X-Forwarded-For": f"203.0.113.{i % 200 + 1}"},
            data={"name": "mina", "password": f"guess-{i}", "csrf": csrf})
        await resp.read()
        counts[resp.status] = counts.get(resp.status, 0) + 1

    began = loop.time()
    i = 0
    while loop.time() - began < 3.0:
        await asyncio.gather(*(guess(i + k) for k in range(8)))
        i += 8
    elapsed = loop.time() - began
    assert set(counts) == {401, 429}, counts
    assert counts[401] <= 2 * policy.most_attempts(elapsed), (counts, elapsed)
    assert counts[429] > counts[401]

    # Right after it: Mina's own browser, from an address never seen before, gets in ...
    travelling = await browser(runner, forwarded_for="192.0.2.200")
    travelling.client.session.cookie_jar.update_cookies(
        {DEVICE_COOKIE: mina.device_cookie() or ""})
    assert (await travelling.login("mina")).status == 303
    # ... and so does a fresh browser at her office.
    assert (await (await browser(runner, forwarded_for=office)).login("mina")).status == 303


def _sigkill(server: RedisProcess) -> None:
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)
    server.proc = None


async def test_with_redis_killed_the_limiter_still_limits_and_login_never_fails(
        start: Callable[..., Any], private_redis: RedisProcess,
        caplog: pytest.LogCaptureFixture) -> None:
    runner = await start(redis_url=private_redis.url)
    mina = await browser(runner, "127.0.0.3")
    assert (await mina.login("mina")).status == 303
    assert (await mina.client.get("/api/v1/me")).status == 200
    mina_device = mina.device_cookie()

    _sigkill(private_redis)
    try:
        attacker = await browser(runner, "127.0.0.2")
        statuses = await attacker.statuses("mina", WRONG, FREE + 3)
        assert statuses == [401] * FREE + [429] * 3
        # Other names from the guesser's address: throttled too (its address is counted).
        assert (await attacker.login("jun", WRONG)).status == 429

        # Staff still log in: Mina's browser from a new address, Jun for the first time.
        back = await browser(runner, "127.0.0.5")
        back.client.session.cookie_jar.update_cookies({DEVICE_COOKIE: mina_device or ""})
        assert (await back.login("mina")).status == 303
        assert (await (await browser(runner, "127.0.0.4")).login("jun")).status == 303
        assert any("counts in this process" in r.getMessage() for r in caplog.records)
    finally:
        private_redis.start()  # same port: the app's client reconnects

    # Redis is back (empty): counting moves back to it once the fallback period is over.
    assert (await (await browser(runner, "127.0.0.6")).login("jun")).status == 303
