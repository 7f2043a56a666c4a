"""Console authentication over the real app: cookie flags, login CSRF, logout; and the web
chat's cookie flags. Login throttling is in test_login_throttle.py."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.helpers import PASSWORD, Counselor, Victim, add_staff, row_counts

_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def _set_cookies(resp: Any) -> dict[str, SimpleCookie]:
    """Each Set-Cookie header of a response, parsed, by cookie name."""
    out: dict[str, SimpleCookie] = {}
    for header in resp.headers.getall("Set-Cookie", []):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name in jar:
            out[name] = jar
    return out


def _flags(resp: Any, name: str) -> dict[str, Any]:
    jar = _set_cookies(resp)
    assert name in jar, resp.headers.getall("Set-Cookie", [])
    morsel = jar[name][name]
    raw = next(h for h in resp.headers.getall("Set-Cookie") if h.startswith(f"{name}="))
    return {"value": morsel.value, "httponly": bool(morsel["httponly"]),
            "secure": bool(morsel["secure"]), "samesite": morsel["samesite"],
            "path": morsel["path"], "raw": raw}


async def _login_form(client: TestClient[Any, Any]) -> str:
    page = await client.get("/console/login")
    assert page.status == 200
    m = _CSRF_FIELD.search(await page.text())
    assert m
    return m.group(1)


async def _login(client: TestClient[Any, Any], name: str, password: str, csrf: str) -> Any:
    return await client.post("/console/login", allow_redirects=False,
                             data={"name": name, "password": password, "csrf": csrf})


async def test_failures_below_the_limit_do_not_lock_out(app_runner: AppRunner) -> None:
    cfg = app_runner.config
    await add_staff(cfg, "mina")
    client = await app_runner.client()
    csrf = await _login_form(client)
    for _ in range(cfg.console.login_free_failures - 1):
        assert (await _login(client, "mina", "nope-" + PASSWORD, csrf)).status == 401
    resp = await _login(client, "mina", PASSWORD, csrf)
    assert resp.status == 303 and resp.headers["Location"] == "/console"


async def test_a_name_with_a_nul_is_refused_as_invalid(app_runner: AppRunner) -> None:
    """No staff name holds a NUL, and PostgreSQL refuses one in text: the lookup answered 500
    (found by the routes' fuzzer). It is a 400, like a name too long; the real name logs in."""
    await add_staff(app_runner.config, "mina")
    client = await app_runner.client()
    csrf = await _login_form(client)
    for name in ("\x00", "mi\x00na"):
        assert (await _login(client, name, PASSWORD, csrf)).status == 400
    assert (await _login(client, "mina", PASSWORD, csrf)).status == 303


async def test_staff_cookie_flags_on_http(app_runner: AppRunner) -> None:
    await add_staff(app_runner.config, "mina")
    client = await app_runner.client()
    page = await client.get("/console/login")
    login_cookie = _flags(page, "hl_login")
    assert login_cookie["httponly"] and login_cookie["samesite"] == "Strict"
    assert not login_cookie["secure"]
    m = _CSRF_FIELD.search(await page.text())
    assert m
    resp = await _login(client, "mina", PASSWORD, m.group(1))
    assert resp.status == 303
    staff = _flags(resp, "hl_staff")
    assert staff["httponly"] is True
    assert staff["samesite"] == "Strict"
    assert staff["secure"] is False
    assert staff["path"] == "/"
    assert "secure" not in staff["raw"].lower()
    # The device cookie (login throttling) goes to the login form only, for 180 days.
    device = _flags(resp, "hl_device")
    assert device["httponly"] and device["samesite"] == "Strict" and not device["secure"]
    assert device["path"] == "/console/login"
    assert "max-age=15552000" in device["raw"].lower()


async def test_staff_cookie_is_secure_when_public_url_is_https(
        tmp_path: Path, database: Database, redis_server: RedisProcess) -> None:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      server={"public_url": "https://hotline.example"})
    runner = AppRunner(cfg)
    await runner.start()
    try:
        await add_staff(cfg, "mina")
        client = await runner.client()
        page = await client.get("/console/login")
        login_cookie = _flags(page, "hl_login")
        assert login_cookie["secure"] and login_cookie["httponly"]
        m = _CSRF_FIELD.search(await page.text())
        assert m
        # The test client talks plain http, so it would not send a Secure cookie back: send it
        # by hand, with the Origin a browser on the https site would send.
        resp = await client.post(
            "/console/login", allow_redirects=False,
            headers={"Cookie": f"hl_login={login_cookie['value']}",
                     "Origin": "https://hotline.example"},
            data={"name": "mina", "password": PASSWORD, "csrf": m.group(1)})
        assert resp.status == 303, await resp.text()
        staff = _flags(resp, "hl_staff")
        assert staff["secure"] is True
        assert staff["httponly"] is True
        assert staff["samesite"] == "Strict"
        assert _flags(resp, "hl_device")["secure"] is True

        chat = await client.get("/chat")
        chat_cookie = _flags(chat, "hl_chat")
        assert chat_cookie["secure"] and chat_cookie["httponly"]
        assert chat_cookie["samesite"] == "Strict"
    finally:
        await runner.stop()


async def test_login_without_the_login_csrf_cookie_or_field_is_403(
        app_runner: AppRunner) -> None:
    cfg = app_runner.config
    await add_staff(cfg, "mina")
    client = await app_runner.client()
    csrf = await _login_form(client)
    before = await row_counts(cfg)

    bare = await app_runner.client()
    refused = [
        # Field missing (cookie present).
        await client.post("/console/login", allow_redirects=False,
                          data={"name": "mina", "password": PASSWORD}),
        # Field wrong (cookie present).
        await _login(client, "mina", PASSWORD, "x" * len(csrf)),
        # Cookie missing (field present): a fresh browser that never loaded the form.
        await _login(bare, "mina", PASSWORD, csrf),
        # Cross-site Origin, even with a matching cookie and field.
        await client.post("/console/login", allow_redirects=False,
                          headers={"Origin": "https://evil.example"},
                          data={"name": "mina", "password": PASSWORD, "csrf": csrf}),
    ]
    for resp in refused:
        assert resp.status == 403
        assert "입력 시간이 지났습니다" in await resp.text()  # the default: Korean
        assert "hl_staff" not in _set_cookies(resp)
    assert await row_counts(cfg) == before
    assert (await client.get("/api/v1/me")).status == 401
    # CSRF refusals are not counted as password failures: the right login still works.
    resp = await _login(client, "mina", PASSWORD, csrf)
    assert resp.status == 303


async def test_logout_ends_the_session_server_side(app_runner: AppRunner) -> None:
    cfg = app_runner.config
    await add_staff(cfg, "mina")
    counselor = Counselor(await app_runner.client())
    assert await counselor.login("mina") == 303
    jar = counselor.client.session.cookie_jar
    old = jar.filter_cookies(counselor.client.make_url("/"))["hl_staff"].value
    assert (await counselor.client.get("/api/v1/me")).status == 200
    sessions_before = (await row_counts(cfg))["staff_sessions"]

    resp = await counselor.client.post("/console/logout", data={"csrf": counselor.csrf},
                                       allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/console/login"
    assert (await row_counts(cfg))["staff_sessions"] == sessions_before - 1

    # The old cookie, replayed by hand (as a stolen copy would be), no longer works.
    thief = await app_runner.client()
    cookie = {"Cookie": f"hl_staff={old}"}
    assert (await thief.get("/api/v1/me", headers=cookie)).status == 401
    page = await thief.get("/console", headers=cookie, allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/console/login"
    resp = await thief.post("/api/v1/queue/take-next", json={},
                            headers={**cookie, "X-CSRF-Token": counselor.csrf})
    assert resp.status == 401


async def test_chat_cookie_flags(app_runner: AppRunner) -> None:
    client = await app_runner.client()
    resp = await client.get("/chat")
    assert resp.status == 200
    chat = _flags(resp, "hl_chat")
    assert chat["httponly"] is True
    assert chat["samesite"] == "Strict"
    assert chat["secure"] is False
    assert chat["path"] == "/chat"
    # A browser-session cookie: no expiry.
    assert "expires" not in chat["raw"].lower() and "max-age" not in chat["raw"].lower()
    # It is issued once: a reload keeps the same cookie.
    again = await client.get("/chat")
    assert "hl_chat" not in _set_cookies(again)
    victim = Victim(client)
    await victim.open()
    assert (await victim.send("hello")).status == 201
