"""The real `hotline serve` with its embedded redis-server, which is killed with SIGKILL
(SQLite and PostgreSQL): the server starts it again on the same data folder and socket, the
append-only data is still there, the live state is rebuilt from SQL and /readyz answers 200
again; a waiting case is still taken (once).

The reconciler is set to run once an hour, so only the rebuild that follows the restart can put
back what the append-only file lacks: here a queue entry removed just before the kill, as the
last second of writes that `appendfsync everysec` may lose.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis as sync_redis

from hotline.stores.live.keys import Keys
from tests.conftest import make_config
from tests.helpers import Counselor, Victim, add_staff
from tests.local_servers import pg_admin, pg_database_name, pg_reachable, pg_url
from tests.serve import At
from tests.test_embedded_redis import (
    Serve,
    _alive,
    _ppid,
    _unix_sockets,
    _wait_until,
    servers,
)

__all__ = ["servers"]  # the fixture

RESTART_TIMEOUT_S = 30.0
KEYS = Keys("hl")


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """"" (the default: SQLite in the data folder) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return
    if not pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is required under CI")
        pytest.skip("no PostgreSQL")
    name = pg_database_name("hotline_test")
    await pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _configure(s: Serve, database_url: str) -> None:
    """Serve's config, with our database, pull mode and an hourly reconciler."""
    text = s.config.read_text().replace('database_url = ""',
                                        f"database_url = {json.dumps(database_url)}")
    s.config.write_text(text + "reconcile_seconds = 3600\n[routing]\nmode = \"pull\"\n")


def _client(sock: Path) -> sync_redis.Redis:
    return sync_redis.Redis(unix_socket_path=str(sock), decode_responses=True)


def _browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 timeout=aiohttp.ClientTimeout(total=30))


async def test_a_killed_embedded_redis_is_started_again_and_rebuilt(
        tmp_path: Path, servers: list[Serve], database_url: str) -> None:
    data = tmp_path / "data"
    s = Serve(tmp_path, data)
    _configure(s, database_url)
    servers.append(s)
    s.start()
    s.wait_ready()
    assert s.proc is not None
    cfg = make_config(data, database_url or f"sqlite+aiosqlite:///{data / 'hotline.db'}",
                      "redis://unused")
    await add_staff(cfg, "mina")

    async with _browser() as victim_session, _browser() as staff_session:
        victim = Victim(At(victim_session, s.url))  # type: ignore[arg-type]
        await victim.open("en")
        async with await victim.send("please help, my pictures were leaked") as resp:
            assert resp.status == 201, await resp.text()

        old_pid = s.redis_pid()
        (sock,) = _unix_sockets(old_pid)
        client = _client(sock)
        try:
            entries: Any = client.xrange(KEYS.events)
            before = [eid for eid, _ in entries]
            queued: Any = client.zrange(KEYS.queue, 0, -1)
            [case] = queued
            # What the append-only file may lack after a crash: here the queue entry.
            client.zrem(KEYS.queue, case)
            time.sleep(1.5)  # appendfsync everysec: both are on disk now
        finally:
            client.close()
        assert before, "the message was not announced"

        os.kill(old_pid, signal.SIGKILL)
        _wait_until(lambda: not _alive(old_pid), 10, "the redis-server to die")

        def back() -> bool:
            with contextlib.suppress(OSError):
                return s.readyz()[0] == 200 and s.redis_pid() != old_pid
            return False

        _wait_until(back, RESTART_TIMEOUT_S, "/readyz 200 with a new redis-server")
        new_pid = s.redis_pid()
        # A child of the server again, on the same socket in the same folder.
        assert _ppid(new_pid) == s.proc.pid and s.proc.poll() is None
        assert _unix_sockets(new_pid) == [sock]
        client = _client(sock)
        try:
            # The append-only data came back: the event log as it was (and more after it).
            entries = client.xrange(KEYS.events)
            assert [eid for eid, _ in entries][: len(before)] == before
            # The rebuild from SQL put the waiting case back in the queue.
            assert client.zrange(KEYS.queue, 0, -1) == [case]
        finally:
            client.close()
        assert "embedded redis-server died" in s.output()

        mina = Counselor(At(staff_session, s.url))  # type: ignore[arg-type]
        assert await mina.login("mina") == 303
        assert await mina.take_next() == case
        async with await mina.post("/api/v1/queue/take-next") as resp:
            assert resp.status == 409
