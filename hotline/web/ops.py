"""Operations endpoints: /healthz (alive), /readyz (stores answer, and the live state is not
waiting for its rebuild after the embedded Redis restarted), /metrics (Prometheus)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hotline import metrics
from hotline.stores.live.store import now_ms
from hotline.web.appkeys import DEPS, EMBEDDED_REDIS

routes = web.RouteTableDef()
_PROBE_TIMEOUT_S = 2.0


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
async def metrics_view(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    try:
        waiting = await deps.live.waiting()
        present = len(await deps.live.present())
    except (RedisError, OSError):
        waiting, present = [], 0
    body = metrics.render(waiting, present, now_ms())
    return web.Response(body=body, content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})
