"""Staff authentication: argon2id passwords, server-side sessions, CSRF, login throttling.

The session cookie is an opaque token; only its keyed digest is stored (SQL, so sessions survive
a Redis loss and can be revoked). Every unsafe request to /console or /api must carry the
session's CSRF token (form field `csrf` or header X-CSRF-Token) and, when the browser sends
one, an Origin equal to ours. See docs/console.md.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hotline.audit import log as audit
from hotline.audit import search as audit_log
from hotline.crypto import new_token, tokens_equal
from hotline.deps import Deps
from hotline.domain.staff import Staff
from hotline.staff import accounts as staff_store
from hotline.staff import login_throttle as throttle
from hotline.staff import sessions
from hotline.web.appkeys import CONFIG, DEPS

COOKIE = "hl_staff"
LOGIN_CSRF_COOKIE = "hl_login"
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Sessions are touched at most this often (one UPDATE per minute, not per request).
_TOUCH_EVERY = timedelta(seconds=60)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def hash_password(password: str) -> str:
    """argon2id hash for storage."""
    return _HASHER.hash(password)


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password, verified against when the name is unknown, so timing does
    not tell which names exist. Made when the server starts (app.py), not at import: every
    CLI command imports this module, and one argon2 hash takes 170 ms."""
    return _HASHER.hash(new_token())


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password off the event loop (argon2 is deliberately slow)."""
    def _check() -> bool:
        try:
            return _HASHER.verify(stored_hash or dummy_hash(), password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False
    return await asyncio.get_running_loop().run_in_executor(None, _check)


def _cookie_args(request: web.Request) -> dict[str, object]:
    cfg = request.app[CONFIG]
    return {"httponly": True, "samesite": "Strict", "secure": cfg.secure_cookies, "path": "/"}


def origin_ok(request: web.Request) -> bool:
    """An unsafe request's Origin, when present, must be our public URL or our own host."""
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")
    if origin == "null":
        # Our pages send Referrer-Policy: no-referrer, under which browsers send "Origin: null"
        # even on same-origin POSTs; then only an explicit Sec-Fetch-Site: same-origin passes.
        return request.headers.get("Sec-Fetch-Site") == "same-origin"
    ours = urlsplit(request.app[CONFIG].server.public_url)
    try:
        theirs = urlsplit(origin)
    except ValueError:
        return False  # e.g. "http://[": no origin of ours
    if (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc):
        return True
    return theirs.netloc == request.host


def session_digest(request: web.Request) -> str | None:
    """The stored digest of the request's session cookie (None without a usable one)."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128 or not token.isascii():
        # Cookie bytes that are not UTF-8 arrive surrogate-escaped: never a token we issued.
        return None
    return request.app[DEPS].keyring.digest_token(token)


# The session found for this request (looked up once; the policy guard and the handler share it).
_FOUND: web.RequestKey[tuple[Staff, str] | None] = web.RequestKey("staff_session")


async def current_staff(request: web.Request) -> tuple[Staff, str] | None:
    """The logged-in staff member and their CSRF token, or None (looked up once per request:
    the policy guard and the handler share it)."""
    if _FOUND not in request:
        request[_FOUND] = await _lookup(request)
    return request[_FOUND]


async def _lookup(request: web.Request) -> tuple[Staff, str] | None:
    digest = session_digest(request)
    if digest is None:
        return None
    deps = request.app[DEPS]
    now = datetime.now(UTC)
    idle = now - timedelta(hours=deps.config.retention.session_hours)
    async with deps.engine.connect() as conn:
        found = await staff_store.session(conn, digest, idle)
    if found is None:
        return None
    staff, csrf, last_seen = found
    if now - last_seen > _TOUCH_EVERY:
        async with deps.engine.begin() as conn:
            await staff_store.touch_session(conn, digest, now)
    return staff, csrf


def _csrf_from(request: web.Request, form_value: str | None) -> str:
    return request.headers.get("X-CSRF-Token") or form_value or ""


async def require_staff(request: web.Request, form_csrf: str | None = None) -> Staff:
    """The logged-in staff member; for unsafe methods also checks Origin and the CSRF token."""
    return (await require_session(request, form_csrf))[0]


async def require_session(request: web.Request, form_csrf: str | None = None
                          ) -> tuple[Staff, str]:
    """Like require_staff, also returning the session's CSRF token (for pages to embed)."""
    found = await current_staff(request)
    if found is None:
        if request.path.startswith("/api/"):
            raise web.HTTPUnauthorized(text='{"error": "login required"}',
                                       content_type="application/json")
        raise web.HTTPSeeOther("/console/login")
    staff, csrf = found
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if not origin_ok(request):
            raise web.HTTPForbidden(text='{"error": "cross-site request refused"}',
                                    content_type="application/json")
        if not tokens_equal(_csrf_from(request, form_csrf), csrf):
            raise web.HTTPForbidden(text='{"error": "missing or wrong CSRF token"}',
                                    content_type="application/json")
    return staff, csrf


def login_csrf(request: web.Request) -> tuple[str, bool]:
    """The pre-login CSRF token (double-submit cookie) and whether it must be set."""
    existing = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if 20 <= len(existing) <= 64 and existing.isascii() and existing.isprintable():
        return existing, False
    return new_token(), True


class LoginRefused(Exception):
    def __init__(self, status: int, reason: str, retry_after_s: int = 0) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s


async def login(request: web.Request, name: str, password: str, csrf: str
                ) -> tuple[Staff, throttle.Attempt]:
    """Check the login CSRF, the throttle (console/throttle.py) and the password. The caller
    starts the session and reports the success (`throttle.succeeded`) on its response."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not tokens_equal(csrf, cookie) or not origin_ok(request):
        raise LoginRefused(403, "csrf")
    # A NUL is in no staff name (PostgreSQL refuses it in text: the lookup answered 500).
    if not name or len(name) > 64 or len(password) > 1024 or "\x00" in name:
        raise LoginRefused(400, "invalid")
    # Counted before the password is checked, so simultaneous guesses cannot pass together.
    attempt = await throttle.begin(request, name)
    deps = request.app[DEPS]
    async with deps.engine.connect() as conn:
        account = await staff_store.by_name(conn, name)
    if attempt.wait_ms:
        await _login_failed(deps, account, "rate_limited")
        raise LoginRefused(429, "rate_limited", attempt.retry_after_s)
    ok = await verify_password(account.password_hash if account else None, password)
    if not ok or account is None or not account.active:
        await throttle.failed(request, attempt)
        await _login_failed(deps, account, "wrong" if account is None or account.active
                            else "inactive")
        raise LoginRefused(401, "wrong")
    return account.staff, attempt


async def _login_failed(deps: Deps, account: Any, reason: str) -> None:
    """Audit a refused login: the account's id when the name is one (never the name typed,
    which may be a password in the wrong field; never the password or the address)."""
    target = str(account.staff.id) if account is not None else "unknown"
    await audit_log.note(deps, None, "staff.login_failed", "counselor", target, reason=reason)


async def start_session(request: web.Request, response: web.StreamResponse, staff: Staff) -> None:
    deps = request.app[DEPS]
    token = new_token()
    async with deps.engine.begin() as conn:
        await staff_store.create_session(conn, token_digest=deps.keyring.digest_token(token),
                                         counselor_id=staff.id, csrf_token=new_token(),
                                         at=datetime.now(UTC))
        await staff_store.set_last_login(conn, staff.id, datetime.now(UTC))
        await audit.record(conn, at=datetime.now(UTC), actor_id=staff.id,
                           action="staff.login", target_kind="counselor",
                           target_id=str(staff.id))
    max_age = deps.config.retention.session_hours * 3600
    response.set_cookie(COOKIE, token, max_age=max_age, **_cookie_args(request))  # type: ignore[arg-type]
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/")


async def end_session(request: web.Request, response: web.StreamResponse, staff: Staff) -> None:
    """Logout: the session ends on every instance, with its open streams; offline."""
    digest = session_digest(request)
    if digest is not None:
        await sessions.end_one(request.app[DEPS], staff.id, digest)
    response.del_cookie(COOKIE, path="/")


def set_login_csrf_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **_cookie_args(request))  # type: ignore[arg-type]

