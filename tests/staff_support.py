"""Helpers for the staff administration tests: logging in with a second factor (real codes
from pyotp), an app whose config requires it, reading the audit log."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hotline.audit.tables import audit_events
from hotline.stores.sql.engine import open_engine
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.helpers import PASSWORD

SECRET = re.compile(r"<code class=\"secret\" data-secret>([A-Z2-7]+)</code>")
RECOVERY = re.compile(r"<li><code>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</code></li>")
_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
TWO_FACTOR = ("admin", "lead", "takedown")


@pytest.fixture
async def tf_runner(tmp_path: Path, database: Database, redis_server: RedisProcess
                    ) -> AsyncIterator[AppRunner]:
    """The app with the shipped default: a second factor for admin, lead and takedown."""
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      console={"two_factor_roles": list(TWO_FACTOR)})
    runner = AppRunner(cfg)
    await runner.start()
    yield runner
    await runner.stop()


def code_at(secret: str, offset_steps: int = 0) -> str:
    """The code of the time step `offset_steps` from now."""
    return pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30 * offset_steps))


class Person:
    """One browser of one staff member."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.csrf = ""
        # The last one-time code this browser sent: a test replays it as such, since the code
        # of "now" changes when a 30 s step ends mid-test.
        self.last_code = ""

    async def password(self, name: str, password: str = PASSWORD) -> Any:
        page = await self.client.get("/console/login")
        m = _CSRF_FIELD.search(await page.text())
        assert m
        return await self.client.post("/console/login", allow_redirects=False, data={
            "name": name, "password": password, "csrf": m.group(1)})

    async def code_page(self) -> tuple[int, str]:
        page = await self.client.get("/console/2fa", allow_redirects=False)
        return page.status, await page.text()

    async def code(self, code: str) -> Any:
        self.last_code = code
        status, text = await self.code_page()
        assert status == 200, text
        m = _CSRF_FIELD.search(text)
        assert m
        return await self.client.post("/console/2fa", allow_redirects=False,
                                      data={"code": code, "csrf": m.group(1)})

    async def enrol(self, name: str) -> tuple[str, list[str]]:
        """Log in for the first time: enrol with the QR page's secret; (secret, codes)."""
        resp = await self.password(name)
        assert resp.status == 303 and resp.headers["Location"] == "/console/2fa"
        status, text = await self.code_page()
        assert status == 200 and "<svg" in text
        return await self.enrol_with(text)

    async def enrol_with(self, text: str) -> tuple[str, list[str]]:
        """Confirm the enrolment page `text` shows with its first code."""
        m = SECRET.search(text)
        assert m, text
        secret = m.group(1)
        done = await self.code(code_at(secret))
        assert done.status == 200, await done.text()
        codes = RECOVERY.findall(await done.text())
        await self.floor()
        return secret, codes

    async def floor(self) -> None:
        page = await self.client.get("/console")
        m = _CSRF_META.search(await page.text())
        assert m, await page.text()
        self.csrf = m.group(1)

    async def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self.client.request(method, path, json=body if body is not None else {},
                                         headers={"X-CSRF-Token": self.csrf})

    async def me(self) -> int:
        return int((await self.client.get("/api/v1/me")).status)


async def audit_rows(database_url: str, action: str | None = None) -> list[Any]:
    engine = open_engine(database_url)
    try:
        async with engine.connect() as conn:
            q = select(audit_events).order_by(audit_events.c.id)
            if action is not None:
                q = q.where(audit_events.c.action == action)
            return list(await conn.execute(q))
    finally:
        await engine.dispose()
