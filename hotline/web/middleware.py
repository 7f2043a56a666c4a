"""Middlewares: security headers on every response, and errors turned into clear answers.

A handler bug answers 500 with an error id that is also logged (never the request body); bad
input answers the 4xx its handler chose (a path naming a file too long for the file system:
404). A route that needs the live store (Redis) while it is unreachable answers 503 with
Retry-After and a plain message: the one place that says so, for every staff page and API
(victims' channels do without Redis; see docs/stores.md). So does a request whose database
connection was lost under it (the server restarted or ended the session): the pool has
already replaced it, so a second try runs on a fresh one.
"""

from __future__ import annotations

import errno
import json
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# 'self' only: no third-party scripts can read a victim's chat. No inline script either.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
# What a client is told to wait before trying again while Redis is unreachable: an embedded
# redis-server is started again within a second or two; an external one fails over in seconds.
REDIS_RETRY_AFTER_S = 5
_REDIS_DOWN = "The live queue is briefly unreachable. Try again in a few seconds."
# After a lost database connection the pool already holds fresh ones: try again at once.
DB_RETRY_AFTER_S = 1
_DB_LOST = "The database connection was lost. Try again."


def _is_api(request: web.Request) -> bool:
    p = request.path
    return p.startswith(("/api/", "/chat/api/", "/webhooks/"))


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        resp = await handler(request)
    except web.HTTPException as exc:
        # Raised answers (4xx, redirects) are responses too: they get the same headers.
        _secure(request, exc)
        raise
    return _secure(request, resp)


def _secure(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    h = resp.headers
    h.setdefault("Content-Security-Policy", _CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    # No referrer: the quick-exit target and any link must not learn the victim came from us.
    h.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith(("/chat", "/console", "/api/")):
        # Nothing of a chat or a case may stay in the browser's cache or back-button history.
        h.setdefault("Cache-Control", "no-store")
    return resp


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if _is_api(request) and exc.status >= 400 and exc.content_type != "application/json":
            return web.json_response({"error": exc.reason, "detail": exc.text or exc.reason},
                                     status=exc.status, headers=_keep(exc))
        raise
    except (RedisConnectionError, RedisTimeoutError, ReadOnlyError) as e:
        # Redis down, restarting, loading its data or failing over (a replica answers
        # read-only): not a bug, and nothing was lost (SQL holds the truth); the client retries.
        log.warning("live store unreachable", extra={"path": request.path,
                                                     "error": type(e).__name__})
        return _unavailable(request, "live state unavailable", _REDIS_DOWN,
                            REDIS_RETRY_AFTER_S)
    except DBAPIError as e:
        if not e.connection_invalidated:
            return _internal(request)
        log.warning("database connection lost under a request", extra={"path": request.path})
        return _unavailable(request, "database connection lost", _DB_LOST, DB_RETRY_AFTER_S)
    except OSError as e:
        if e.errno != errno.ENAMETOOLONG:
            return _internal(request)
        # A file name longer than the file system allows can only be the client's own path
        # (/static/<name>): no such file (aiohttp's static handler let it through as a 500).
        raise web.HTTPNotFound() from None
    except Exception:
        return _internal(request)


def _internal(request: web.Request) -> web.Response:
    """500 with an error id; the log has the traceback (called inside the except block)."""
    error_id = secrets.token_hex(6)
    log.exception("unhandled error", extra={"error_id": error_id, "path": request.path})
    if _is_api(request):
        return web.json_response({"error": "internal error", "error_id": error_id},
                                 status=500)
    return web.Response(text=f"Internal error ({error_id})", status=500)


def _unavailable(request: web.Request, error: str, detail: str, retry_after_s: int
                 ) -> web.Response:
    """503 with Retry-After: JSON on the APIs, the plain sentence `detail` on pages."""
    headers = {"Retry-After": str(retry_after_s)}
    if _is_api(request):
        return web.json_response({"error": error, "detail": detail,
                                  "retry_after": retry_after_s}, status=503, headers=headers)
    return web.Response(text=detail, status=503, headers=headers)


def _keep(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k.lower() in ("retry-after", "allow")}


_BY_STATUS: dict[int, type[web.HTTPException]] = {
    c.status_code: c for c in (
        web.HTTPBadRequest, web.HTTPUnauthorized, web.HTTPForbidden, web.HTTPNotFound,
        web.HTTPConflict, web.HTTPTooManyRequests, web.HTTPUnsupportedMediaType,
        web.HTTPServiceUnavailable, web.HTTPBadGateway,
    )
}


def json_error(status: int, error: str, **extra: object) -> web.HTTPException:
    """A JSON 4xx (or 502, 503) to raise from a handler: {"error": ..., **extra}."""
    body = json.dumps({"error": error, **extra})
    if status == 413:
        return web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0, text=body,
                                             content_type="application/json")
    return _BY_STATUS[status](text=body, content_type="application/json")
