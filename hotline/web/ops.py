"""Operations endpoints: /healthz (alive), /readyz (stores answer, and the live state is not
waiting for its rebuild after the embedded Redis restarted), /metrics (Prometheus).

/metrics (queue sizes, the oldest wait) is for operators only: on a listener of its own
(`server.metrics_listen`, never proxied), and on the public port only with
`Authorization: Bearer $HOTLINE_METRICS_TOKEN` (404 when no token is set). See
docs/configuration.md.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hotline import metrics
from hotline.cases import floor_queries
from hotline.crypto import tokens_equal
from hotline.web.appkeys import CONFIG, DEPS, EMBEDDED_REDIS

routes = web.RouteTableDef()
_PROBE_TIMEOUT_S = 2.0
METRICS_TOKEN_ENV = "HOTLINE_METRICS_TOKEN"  # noqa: S105 (a variable's name)
# The bearer token /metrics asks for ("" when none is set).
METRICS_TOKEN = web.AppKey("metrics_token", str)


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S), deps.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["sql"] = "ok"
    except (SQLAlchemyError, OSError, TimeoutError) as e:
        checks["sql"] = type(e).__name__
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S):
            await deps.redis.ping()
        checks["redis"] = "ok"
    except (RedisError, OSError, TimeoutError) as e:
        checks["redis"] = type(e).__name__
    watch = request.app.get(EMBEDDED_REDIS)
    if checks["redis"] == "ok" and watch is not None and watch.stale:
        # The embedded redis-server died and is back, but its live state is not rebuilt yet.
        checks["redis"] = "rebuilding"
    ok = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ok" if ok else "unavailable", **checks},
                             status=200 if ok else 503)


@routes.get("/metrics")
async def public_metrics(request: web.Request) -> web.Response:
    """On the public port: only for the bearer of the metrics token."""
    if not request.app[METRICS_TOKEN]:
        raise web.HTTPNotFound()
    _require_token(request)
    return await _metrics(request)


def _require_token(request: web.Request) -> None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not tokens_equal(given.strip(), request.app[METRICS_TOKEN]):
        raise web.HTTPUnauthorized(headers={"WWW-Authenticate": "Bearer"})


async def _metrics(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    # Counts per group from SQL's index of the waiting cases: reading the live queue whole
    # stalled the loop at every scrape on a large floor.
    async with deps.reads.connect() as conn:
        groups = await floor_queries.waiting_groups(conn)
    try:
        present = len(await deps.live.present())
    except (RedisError, OSError):
        present = 0
    body = metrics.render(groups, present, datetime.now(UTC))
    return web.Response(body=body, content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


def setup(app: web.Application) -> None:
    """The routes, the token from the environment, and the metrics listener (after the
    services' cleanup context: it serves their Deps)."""
    app.router.add_routes(routes)
    app[METRICS_TOKEN] = os.environ.get(METRICS_TOKEN_ENV, "").strip()
    app.cleanup_ctx.append(_metrics_listener_ctx)


async def _metrics_listener_ctx(app: web.Application) -> AsyncIterator[None]:
    listen = app[CONFIG].server.metrics_listen  # "HOST:PORT", checked by the config
    if not listen:
        yield
        return
    host, _, port = listen.rpartition(":")
    inner = web.Application()
    inner[DEPS] = app[DEPS]
    inner[METRICS_TOKEN] = app[METRICS_TOKEN]
    inner.router.add_get("/metrics", _listener_metrics)
    runner = web.AppRunner(inner, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host.strip("[]"), int(port)).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def _listener_metrics(request: web.Request) -> web.Response:
    # Reached only on the operators' own address; the token, when one is set, still counts.
    if request.app[METRICS_TOKEN]:
        _require_token(request)
    return await _metrics(request)
