"""Fetching a location for the monitoring job: one GET with a short timeout and our user
agent, redirects followed by hand (each hop through the same gates), bounded in all and per
host, and never to a private address unless the configuration allows it.

The answer is only an HTTP status (hotline.domain.monitoring.classify reads it); the body is
never read. Nothing here logs a URL. See docs/takedown.md, "Monitoring".
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from hotline.takedown.config import MonitorConfig

MAX_REDIRECTS = 5


def _public(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_global
    except ValueError:
        return False


class PublicResolver(AbstractResolver):
    """Resolves names to public addresses only: a link typed by staff (or by a victim) must
    not make the server fetch from the centre's own network."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = [r for r in await self._inner.resolve(host, port, family)
                 if _public(r["host"])]
        if not found:
            raise OSError(f"no public address for {host}")
        return found

    async def close(self) -> None:
        await self._inner.close()


class HostGate:
    """At most `per_host` requests in flight to one host (name and port), and starts spaced
    1/per_second apart; made per pass, so it holds only the hosts of one batch."""

    def __init__(self, per_host: int, per_second: float) -> None:
        self._per_host = per_host
        self._spacing = 1.0 / per_second
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._next: dict[str, float] = {}

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        sem = self._sems.setdefault(host, asyncio.Semaphore(self._per_host))
        async with sem:
            loop = asyncio.get_running_loop()
            now = loop.time()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + self._spacing
            if start > now:
                await asyncio.sleep(start - now)
            yield


def session(cfg: MonitorConfig) -> aiohttp.ClientSession:
    """The job's client: our user agent, no cookies kept, public addresses only (unless
    allowed), at most `concurrency` connections."""
    resolver: AbstractResolver = DefaultResolver() if cfg.allow_private else PublicResolver()
    connector = aiohttp.TCPConnector(limit=cfg.concurrency, limit_per_host=cfg.per_host,
                                     resolver=resolver, ttl_dns_cache=300)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                 headers={"User-Agent": cfg.user_agent},
                                 timeout=aiohttp.ClientTimeout(total=cfg.timeout_seconds))


def _host_key(url: URL) -> str:
    return f"{url.host}:{url.port}"


def _allowed(url: URL, cfg: MonitorConfig) -> bool:
    if url.scheme not in ("http", "https") or not url.host:
        return False
    if cfg.allow_private:
        return True
    try:  # an address literal never reaches the resolver
        return ipaddress.ip_address(url.host).is_global
    except ValueError:
        return True


async def fetch_status(http: aiohttp.ClientSession, gate: HostGate, everyone: asyncio.Semaphore,
                       cfg: MonitorConfig, url: str) -> int | None:
    """The final HTTP status of `url` (redirects followed), or None when there was no
    answer (timeout, refused, a private address, too many redirects)."""
    at = URL(url, encoded=True)
    for _hop in range(MAX_REDIRECTS + 1):
        if not _allowed(at, cfg):
            return None
        try:
            async with gate.slot(_host_key(at)), everyone:
                kw: dict[str, Any] = {"allow_redirects": False}
                async with http.get(at, **kw) as resp:
                    status, location = resp.status, resp.headers.get("Location")
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            return None
        if status not in (301, 302, 303, 307, 308) or not location:
            return status
        try:
            at = at.join(URL(location))
        except ValueError:
            return None
    return None
