"""The real client address, set once for the whole app as `request.remote`.

Behind the shipped nginx every connection comes from nginx, and its X-Forwarded-For names the
client. Anyone can write that header, so it is believed only when the connection's peer is one
of `server.trusted_proxies`; aiohttp-remotes' XForwardedFiltered then reads it (the rightmost
address that is not itself a trusted proxy) and X-Forwarded-Proto and -Host with it. From any
other peer the header is ignored and the peer is the client. Every per-address limit uses
`request.remote`; it is never logged (docs/privacy.md).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from aiohttp import web
from aiohttp_remotes import XForwardedFiltered

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RealAddress:
    """The middleware; `trusted` as config's server.trusted_proxies (validated there)."""

    def __init__(self, trusted: tuple[str, ...]) -> None:
        self._proxies: tuple[IPv4Network | IPv6Network, ...] = tuple(
            ip_network(p) for p in trusted)
        self._forwarded = XForwardedFiltered(set(self._proxies)) if self._proxies else None
        # Parsing an address costs more than the rest of the check; behind a proxy the few
        # peers repeat on every request.
        self._is_proxy = functools.lru_cache(maxsize=1024)(self._parse_is_proxy)

    def _parse_is_proxy(self, host: str) -> bool:
        try:
            ip = ip_address(host)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
        return any(ip in net for net in self._proxies)

    def _from_proxy(self, request: web.Request) -> bool:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if not isinstance(peer, tuple) or not peer or not isinstance(peer[0], str):
            return False  # not a TCP peer (a Unix socket): no proxy of ours
        return self._is_proxy(peer[0])

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._forwarded is None or not self._from_proxy(request):
            return await handler(request)
        return await self._forwarded.middleware(request, handler)
