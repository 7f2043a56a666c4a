"""Test helpers that act as a victim's browser or a counselor's browser over real HTTP."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import re
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from aiohttp.test_utils import TestClient
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from argon2 import PasswordHasher
from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.config import Config
from hotline.domain.staff import Role
from hotline.schema import metadata
from hotline.staff import accounts as staff_store
from hotline.stores.sql.engine import MIGRATIONS_DIR, _alembic_config, migrate, open_engine

T = TypeVar("T")

PASSWORD = "correct horse battery staple"
# Staff the tests make get argon2id hashes with the smallest parameters: a login verifies with
# the parameters the stored hash names, so at the library's defaults (hotline.staff.auth) each
# of the suite's thousands of logins cost 145 ms on both cores. The service's own hashing
# (accounts made through the console or the CLI) is unchanged.
_CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@functools.cache
def cheap_password_hash(password: str = PASSWORD) -> str:
    """A stored hash of `password` that the service verifies in about a millisecond."""
    return _CHEAP_HASHER.hash(password)
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


async def add_staff(config: Config, name: str, role: Role = Role.COUNSELOR,
                    languages: tuple[str, ...] = ("ko", "en"), password: str = PASSWORD) -> int:
    engine = open_engine(config.database_url)
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            return await staff_store.add(conn, name=name, role=role, languages=languages,
                                         password_hash=cheap_password_hash(password),
                                         at=datetime.now(UTC))
    finally:
        await engine.dispose()


def schema_diffs(sync: Connection, *tables: str) -> list[Any]:
    """Differences between the migrated schema and hotline.stores.sql.tables that concern
    any of `tables` (by name in the difference's text)."""
    ctx = MigrationContext.configure(sync, opts={"compare_type": True})
    return [d for d in compare_metadata(ctx, metadata)
            if any(t in repr(d if isinstance(d, tuple) else d[0]) for t in tables)]


def down_then_up(sync: Connection, revision: Any, look: Callable[[Connection], T]
                 ) -> tuple[T, T]:
    """Run one revision's downgrade and then its upgrade; what `look` sees after each."""
    with Operations.context(MigrationContext.configure(sync)):
        revision.downgrade()
        after_down = look(sync)
        revision.upgrade()
    return after_down, look(sync)


def upgrade_to(sync: Connection, *revisions: str) -> None:
    """Migrate an empty database up to each of `revisions` in turn (run with run_sync)."""
    cfg = _alembic_config()
    cfg.attributes["connection"] = sync
    for revision in revisions:
        command.upgrade(cfg, revision)


@contextlib.contextmanager
def statements_seen(engine: AsyncEngine, containing: str
                    ) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their parameters) the engine runs inside the block whose text
    contains `containing`."""
    seen: list[tuple[str, Any]] = []

    def catch(_c: Any, _cur: Any, statement: str, params: Any, *_rest: Any) -> None:
        if containing in statement:
            seen.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", catch)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", catch)


async def sqlite_plan(engine: AsyncEngine, statement: str, params: Any) -> str:
    """SQLite's EXPLAIN QUERY PLAN of a statement caught by statements_seen, one line."""
    async with engine.connect() as conn:
        plan = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, tuple(params))
        return " | ".join(str(r[-1]) for r in plan)


def migration_module(filename: str) -> Any:
    """One Alembic revision file, loaded as a module (to run its upgrade and downgrade)."""
    path = Path(MIGRATIONS_DIR) / "versions" / filename
    spec = importlib.util.spec_from_file_location(f"rev_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


async def row_counts(config: Config) -> dict[str, int]:
    """Rows per table: used to show that a refused request changed nothing."""
    engine: AsyncEngine = open_engine(config.database_url)
    try:
        async with engine.connect() as conn:
            return {t.name: int((await conn.execute(select(func.count()).select_from(t)))
                                .scalar_one()) for t in metadata.sorted_tables}
    finally:
        await engine.dispose()


def cookie_value(client: TestClient[Any, Any], name: str, path: str = "/") -> str:
    """The value of a cookie the client's browser holds for `path`."""
    return str(client.session.cookie_jar.filter_cookies(client.make_url(path))[name].value)


class Victim:
    """A victim's browser on /chat."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.csrf = ""

    async def open(self, lang: str = "en") -> str:
        resp = await self.client.get(f"/chat?lang={lang}")
        assert resp.status == 200
        m = _CSRF_META.search(await resp.text())
        assert m
        self.csrf = m.group(1)
        return self.csrf

    async def send(self, text: str, client_id: str | None = None, lang: str = "en") -> Any:
        return await self.client.post(
            "/chat/api/messages", headers={"X-CSRF-Token": self.csrf},
            json={"text": text, "client_id": client_id or secrets.token_hex(8),
                  "language": lang})

    async def state(self, after: int = 0) -> dict[str, Any]:
        resp = await self.client.get(f"/chat/api/state?after={after}")
        assert resp.status == 200, await resp.text()
        data: dict[str, Any] = await resp.json()
        return data


class Counselor:
    """A counselor's browser on /console."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.csrf = ""

    async def login(self, name: str, password: str = PASSWORD) -> int:
        page = await self.client.get("/console/login")
        m = _CSRF_FIELD.search(await page.text())
        assert m
        resp = await self.client.post("/console/login", data={
            "name": name, "password": password, "csrf": m.group(1)}, allow_redirects=False)
        if resp.status == 303:
            floor = await self.client.get("/console")
            m2 = _CSRF_META.search(await floor.text())
            assert m2
            self.csrf = m2.group(1)
        return resp.status

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self.client.post(path, json=body or {}, headers={"X-CSRF-Token": self.csrf})

    async def put(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self.client.put(path, json=body or {}, headers={"X-CSRF-Token": self.csrf})

    async def take_next(self) -> str:
        resp = await self.post("/api/v1/queue/take-next")
        assert resp.status == 200, await resp.text()
        cid: str = (await resp.json())["conversation"]
        return cid

    async def case(self, cid: str, after: int = 0) -> dict[str, Any]:
        resp = await self.client.get(f"/api/v1/cases/{cid}?after={after}")
        assert resp.status == 200, await resp.text()
        data: dict[str, Any] = await resp.json()
        return data

    async def reply(self, cid: str, text: str, client_id: str | None = None) -> Any:
        return await self.post(f"/api/v1/cases/{cid}/messages",
                               {"text": text, "client_id": client_id or secrets.token_hex(8)})

    async def close(self, cid: str, **fields: Any) -> Any:
        form = {"harm_type": "synthetic", "platforms": ["telegram"], "age_band": "18_24",
                "urgency": "high", "referrals": ["takedown"], "outcome": "takedown_requested"}
        form.update(fields)
        return await self.post(f"/api/v1/cases/{cid}/close", form)
