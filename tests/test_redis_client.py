"""The service's Redis client (hotline.stores.live.client): commands, pipelines and scripts
work against a real redis-server, every connection kind gets the timed writes, a burst larger
than the pool waits for connections instead of failing, a write that cannot finish fails
with redis-py's TimeoutError within the limit and drops its connection (a loopback server that
accepts and never reads), and while Redis is unreachable commands fail at once after the first
one has tried its retries (a server that closes every connection), until it is back."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio.connection import (
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hotline.stores.live.client import open_client
from tests.local_servers import RedisProcess


async def test_commands_pipelines_and_scripts(redis_server: RedisProcess) -> None:
    client = open_client(redis_server.url)
    key = "client-test:" + secrets.token_hex(4)
    try:
        assert await client.ping()
        await client.set(key, "v", ex=60)
        assert await client.get(key) == "v"
        async with client.pipeline(transaction=True) as p:
            p.incr(key + ":n")
            p.expire(key + ":n", 60)
            assert (await p.execute())[0] == 1
        script = client.register_script("return redis.call('GET', KEYS[1])")
        assert await script(keys=[key]) == "v"
        pool: Any = client.connection_pool  # untyped in some redis-py releases
        conn = await pool.get_connection()
        try:
            assert isinstance(conn, Connection) and type(conn).__name__ == "TimedConnection"
            assert conn.socket_timeout == 10.0  # restored after each write
        finally:
            await client.connection_pool.release(conn)
        await client.delete(key, key + ":n")
    finally:
        await client.aclose()


@pytest.mark.parametrize("url,kind", [
    ("redis://127.0.0.1:1/0", Connection),
    ("rediss://127.0.0.1:1/0", SSLConnection),
    ("unix:///nonexistent/redis.sock", UnixDomainSocketConnection),
])
async def test_every_connection_kind_gets_timed_writes(url: str, kind: type) -> None:
    client = open_client(url)
    try:
        cls = client.connection_pool.connection_class
        assert issubclass(cls, kind) and cls.__name__ == "Timed" + kind.__name__
    finally:
        await client.aclose()


@pytest.fixture
def deaf_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """Accepts one connection and never reads from it (until the test drains it)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(srv.accept()[0]), daemon=True).start()
    yield srv.getsockname()[1], held
    for c in held:
        c.close()
    srv.close()


def _closed_by_peer(conn: socket.socket) -> bool:
    conn.settimeout(5)
    try:
        while conn.recv(1 << 20):
            pass
    except TimeoutError:
        return False
    return True


async def test_a_stuck_write_times_out_and_drops_the_connection(
        deaf_server: tuple[int, list[socket.socket]]) -> None:
    port, held = deaf_server
    client = open_client(f"redis://127.0.0.1:{port}/0", socket_timeout=0.3,
                         retry=Retry(NoBackoff(), 0), driver_info=None)
    try:
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError, match="writing"):
            # Far more than the socket buffers hold: the write can only wait.
            await client.set("k", "x" * (64 * 1024 * 1024))
        assert time.monotonic() - started < 8.0  # bounded: without a limit it would hang
        # The connection was dropped at once, not left for the pool: the server, reading at
        # last, reaches the end of the stream while the client is still open.
        assert held
        assert await asyncio.to_thread(_closed_by_peer, held[0])
    finally:
        await asyncio.wait_for(client.aclose(), 5)


async def test_a_burst_beyond_the_pool_waits_instead_of_failing(
        redis_server: RedisProcess) -> None:
    client = open_client(redis_server.url, max_connections=4)
    try:
        results = await asyncio.gather(*(client.ping() for _ in range(200)))
        assert all(results)
    finally:
        await client.aclose()


@pytest.fixture
def slamming_server() -> Iterator[tuple[int, list[int]]]:
    """Accepts connections and closes each at once (a Redis that cannot serve); counts them."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    accepted = [0]

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            accepted[0] += 1
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1], accepted
    srv.close()


async def test_an_unreachable_redis_fails_at_once_after_the_first_try(
        slamming_server: tuple[int, list[int]]) -> None:
    """The first command that meets the outage retries the connection (a restart may be
    over in a moment); later ones try once and fail, instead of each waiting out the
    retries (seconds per request, every request)."""
    port, accepted = slamming_server
    client = open_client(f"redis://127.0.0.1:{port}/0")
    try:
        with pytest.raises(RedisConnectionError):
            await client.ping()
        first = accepted[0]
        assert first > 1  # retried
        for n in range(1, 4):
            with pytest.raises(RedisConnectionError):
                await client.get("k")
            assert accepted[0] == first + n  # one try each
    finally:
        await client.aclose()


async def test_the_client_is_back_when_redis_is(private_redis: RedisProcess) -> None:
    """Killed, then started again on the same port: the same client works again at once,
    and retries again when the next outage begins."""
    client = open_client(private_redis.url)
    try:
        assert await client.ping()
        assert private_redis.proc is not None
        private_redis.proc.kill()
        private_redis.proc.wait()
        for _ in range(3):
            with pytest.raises(RedisConnectionError):
                await client.ping()
        private_redis.start()
        assert await client.ping()
        await client.set("back", "1", ex=60)
        assert await client.get("back") == "1"
        # Reachable again, so a stale connection after the next restart is retried on a new
        # one: the command succeeds.
        private_redis.restart()
        assert await client.ping()
    finally:
        await client.aclose()
