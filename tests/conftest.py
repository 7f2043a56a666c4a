"""Shared fixtures: a private redis-server, SQLite and PostgreSQL databases, a running app.

Never touches a shared Redis: each session starts its own redis-server on a free port, and each
test uses its own key prefix. PostgreSQL tests create and drop their own database on the server
at 127.0.0.1:5432; where none answers they skip, except under CI=true, where that is a failure.

A test's database starts at the migrations' head, copied from a template migrated once per
worker (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL): migrating took
0.2-0.3 s a test, several minutes of the suite. The app still runs its migrations on start and
finds nothing to do. Tests whose subject is a migration are marked `empty_database`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hotline.app import create_app
from hotline.config import Config, config_from_mapping
from hotline.stores.sql.engine import migrate, open_engine
from tests.local_servers import (
    PG_HOST,
    PG_PORT,
    RedisProcess,
    free_port,
    pg_admin,
    pg_database_name,
    pg_reachable,
    pg_url,
)
from tests.serve import Instance

__all__ = ["RedisProcess", "free_port"]  # imported from here by tests


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test's own, for tests that restart or stop it."""
    server = RedisProcess(tmp_path / "redis-private")
    server.start()
    yield server
    server.stop()


@dataclass
class Database:
    kind: str
    url: str


@dataclass
class _Templates:
    """This worker's migrated databases, made on first use."""

    folder: Path
    sqlite: Path | None = None
    postgresql: str | None = None

    async def sqlite_file(self) -> Path:
        if self.sqlite is None:
            made = self.folder / "template.db"
            await _migrated(f"sqlite+aiosqlite:///{made}")
            # Closed, a WAL database is whole in its main file: copying that file is enough.
            assert not made.with_name(made.name + "-wal").exists()
            self.sqlite = made
        return self.sqlite

    async def postgresql_name(self) -> str:
        if self.postgresql is None:
            name = pg_database_name("hotline_template")
            await pg_admin(f'CREATE DATABASE "{name}"')
            await _migrated(pg_url(name))
            self.postgresql = name
        return self.postgresql


async def _migrated(url: str) -> None:
    engine = open_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    made = _Templates(tmp_path_factory.mktemp("templates"))
    yield made
    if made.postgresql is not None:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{made.postgresql}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path, _templates: _Templates
                   ) -> AsyncIterator[Database]:
    """Each test runs once on SQLite and once on a fresh PostgreSQL database, at the
    migrations' head (empty, for a test marked `empty_database`)."""
    empty = request.node.get_closest_marker("empty_database") is not None
    if request.param == "sqlite":
        path = tmp_path / "hotline.db"
        if not empty:
            shutil.copyfile(await _templates.sqlite_file(), path)
        yield Database("sqlite", f"sqlite+aiosqlite:///{path}")
        return
    if not pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI but {PG_HOST}:{PG_PORT} does not answer")
        pytest.skip(f"no PostgreSQL at {PG_HOST}:{PG_PORT}")
    name = pg_database_name("hotline_test")
    template = "" if empty else f' TEMPLATE "{await _templates.postgresql_name()}"'
    await pg_admin(f'CREATE DATABASE "{name}"{template}')
    try:
        yield Database("postgresql", pg_url(name))
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_config(data_dir: Path, database_url: str, redis_url: str, **overrides: Any) -> Config:
    """A test configuration with its own key prefix (so tests never share Redis keys)."""
    raw: dict[str, dict[str, Any]] = {
        "server": {"host": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1:8080",
                   "shutdown_timeout": 1.0},
        "storage": {"data_dir": str(data_dir), "database_url": database_url,
                    "redis_url": redis_url, "redis_prefix": f"t{secrets.token_hex(5)}",
                    "reconcile_seconds": 0.2},
        # Logins without a second factor, unless a test is about it (tests/test_twofactor.py
        # and the browser test turn it on; the shipped default requires it for admin, lead
        # and takedown).
        "console": {"two_factor_roles": []},
        # The monitoring job would fetch the items' real addresses: tests run its passes
        # themselves against loopback sites (tests/test_takedown_monitor.py).
        "takedown": {"monitor": {"enabled": False}},
    }
    for section, values in overrides.items():
        raw.setdefault(section, {}).update(values)
    return config_from_mapping(raw)


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url)


class AppRunner:
    """Starts and stops the real application on a loopback port; restartable."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.server: TestServer | None = None
        self.clients: list[TestClient[Any, Any]] = []

    async def start(self) -> TestServer:
        self.server = TestServer(create_app(self.config))
        await self.server.start_server()
        return self.server

    async def client(self) -> TestClient[Any, Any]:
        assert self.server is not None
        c: TestClient[Any, Any] = TestClient(self.server)
        await c.start_server()
        self.clients.append(c)
        return c

    async def stop(self) -> None:
        for c in self.clients:
            await c.session.close()
        self.clients.clear()
        if self.server is not None:
            await self.server.close()
            self.server = None


@pytest.fixture
async def app_runner(config: Config) -> AsyncIterator[AppRunner]:
    runner = AppRunner(config)
    await runner.start()
    yield runner
    await runner.stop()


@pytest.fixture
async def two_apps(tmp_path: Path, database: Database, redis_server: RedisProcess
                   ) -> AsyncIterator[tuple[AppRunner, AppRunner]]:
    """Two instances of the app sharing one Redis prefix, one database and one key ring (as
    instances behind a proxy do), with event-stream heartbeats every 0.3 s."""
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      streams={"heartbeat_seconds": 0.3})
    a, b = AppRunner(cfg), AppRunner(cfg)
    await a.start()  # one after the other: the first creates the schema and the key file
    await b.start()
    yield a, b
    await b.stop()
    await a.stop()


@pytest.fixture
def instances() -> Iterator[list[Instance]]:
    """`hotline serve` processes made by the test; every one is killed afterwards, also on
    failure."""
    made: list[Instance] = []
    yield made
    for inst in made:
        inst.kill()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def wait_for(predicate: Any, timeout: float = 5.0, interval: float = 0.05) -> Any:
    """Poll an async predicate until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)
