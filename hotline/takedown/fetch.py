"""Fetching a location for the monitoring job: one GET with a short timeout and our user
agent, redirects followed by hand (each hop through the same gates), bounded in all and per
host, and never to a private address unless the configuration allows it.

The answer is an HTTP status (hotline.domain.monitoring.classify reads it) and, for a
Telegram post only, the start of its embed page (hotline.domain.telegram_post); no other body
is read. Nothing here logs a URL. See docs/takedown.md, "Monitoring".
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from hotline.domain.monitoring import classify
from hotline.domain.takedown import OnlineState
from hotline.domain.telegram_post import (
    EMBED_QUERY,
    PAGE_BYTES,
    embed_state,
    is_telegram,
    telegram_post,
)
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


@dataclass(frozen=True)
class Answer:
    """One check of a location: the final HTTP status (None: no answer) and what it means."""

    status: int | None
    state: OnlineState


async def check(http: aiohttp.ClientSession, gate: HostGate, everyone: asyncio.Semaphore,
                cfg: MonitorConfig, url: str) -> Answer:
    """Check one location. A Telegram address is read through its post's embed page, whose
    text says whether the post is there (its own page answers 200 either way); any other
    address by its status alone."""
    at = URL(url, encoded=True)
    if not is_telegram(at.host or "", cfg.telegram_hosts):
        status = await fetch_status(http, gate, everyone, cfg, url)
        return Answer(status, classify(status))
    post = telegram_post(at.host or "", at.path, at.query_string)
    if post is None:
        return Answer(None, OnlineState.UNKNOWN)  # nothing a page can tell: not fetched
    embed = at.with_path(post.embed_path()).with_query(EMBED_QUERY)
    seen = await _get(http, gate, everyone, cfg, embed, PAGE_BYTES)
    if seen is None:
        return Answer(None, OnlineState.UNKNOWN)
    status, page = seen
    return Answer(status, embed_state(status, page, post))


async def fetch_status(http: aiohttp.ClientSession, gate: HostGate, everyone: asyncio.Semaphore,
                       cfg: MonitorConfig, url: str) -> int | None:
    """The final HTTP status of `url` (redirects followed), or None when there was no
    answer (timeout, refused, a private address, too many redirects)."""
    seen = await _get(http, gate, everyone, cfg, URL(url, encoded=True), 0)
    return None if seen is None else seen[0]


async def _get(http: aiohttp.ClientSession, gate: HostGate, everyone: asyncio.Semaphore,
               cfg: MonitorConfig, at: URL, read: int) -> tuple[int, str] | None:
    """The final status and the first `read` bytes of its body (as text), redirects
    followed by hand; None when there was no answer."""
    for _hop in range(MAX_REDIRECTS + 1):
        if not _allowed(at, cfg):
            return None
        try:
            async with gate.slot(_host_key(at)), everyone:
                kw: dict[str, Any] = {"allow_redirects": False}
                async with http.get(at, **kw) as resp:
                    status, location = resp.status, resp.headers.get("Location")
                    redirect = status in (301, 302, 303, 307, 308) and location
                    body = (await resp.content.read(read) if read and not redirect
                            else b"")
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            return None
        if not redirect or not location:
            return status, body.decode("utf-8", "replace")
        try:
            at = at.join(URL(location))
        except ValueError:
            return None
    return None
