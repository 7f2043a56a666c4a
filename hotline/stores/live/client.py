"""The service's Redis client: redis-py with our timeouts and retries, bounded writes, and
commands that fail at once while Redis is unreachable.

The pool waits for a free connection (up to POOL_WAIT_S) instead of failing: redis-py's
default pool raises "Too many connections" past 100 in use, which a burst of webhooks (each
wait estimate reads two things at once) turned into 500s.

redis-py bounds each command's write with `asyncio.wait_for`, which on Python 3.11 runs the
write as a task of its own: measured, 12.8 event-loop turns per inbound SMS, 9.5 without, and
about 4% of the service's throughput. Here the write is bounded by `asyncio.timeout` instead
(same limit, same error: redis-py's TimeoutError, connection dropped). Reads keep redis-py's
own timeout.

While Redis is unreachable, commands fail at once: after a connection attempt failed with all
its retries (about 2.5 s), later ones are tried once, not retried with backoff, until one
succeeds. Otherwise every request meeting the outage waited those seconds for each Redis call
(measured: a staff request 2.5 s, an SMS webhook 5 s, a web chat message 7.6 s). See
docs/stores.md.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

SOCKET_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 128
POOL_WAIT_S = 5.0
CONNECT_TIMEOUT_S = 5.0
HEALTH_CHECK_S = 30


class Reachability:
    """Whether the last attempt to connect failed (shared by one pool's connections)."""

    def __init__(self) -> None:
        self.down = False

    def __deepcopy__(self, _memo: dict[int, Any]) -> Reachability:
        # Each connection deep-copies the pool's Retry, with the bound `retryable`: all of
        # them must still share this one state.
        return self

    def retryable(self, _error: Exception) -> bool:
        """For redis-py's Retry: retry only while Redis was last seen reachable."""
        return not self.down


class _TimedWrites:
    """Mixed into whichever connection class the URL chose (TCP, TLS, Unix socket)."""

    socket_timeout: float | None
    reach: Reachability  # set on the class made for each pool (open_client)
    is_connected: bool

    async def connect(self) -> None:
        if self.is_connected:
            return
        base: Any = super()
        try:
            await base.connect()
        except (RedisConnectionError, RedisTimeoutError):
            self.reach.down = True
            raise
        self.reach.down = False

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        timeout = self.socket_timeout
        base: Any = super()
        if not timeout:
            await base.send_packed_command(command, check_health)
            return
        # Without a socket timeout redis-py writes directly; the limit is ours around it. A
        # connection serves one command at a time, so nothing else reads the value meanwhile.
        self.socket_timeout = None
        try:
            async with asyncio.timeout(timeout):
                await base.send_packed_command(command, check_health)
        except TimeoutError as e:
            await base.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from e
        finally:
            self.socket_timeout = timeout


def open_client(url: str, **options: Any) -> Redis:
    """A client for `url` (decoded replies; retries on a fresh connection after a restart or
    failover, with a short backoff, but not while Redis is known to be unreachable; at most
    MAX_CONNECTIONS, waited for); `options` override the defaults."""
    reach = Reachability()
    retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=5,
                  supported_errors=(RedisConnectionError, RedisTimeoutError),
                  is_retryable=reach.retryable)
    settings: dict[str, Any] = {
        "decode_responses": True, "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S, "health_check_interval": HEALTH_CHECK_S,
        "retry": retry, "max_connections": MAX_CONNECTIONS, "timeout": POOL_WAIT_S, **options}
    pool = BlockingConnectionPool.from_url(url, **settings)
    base = pool.connection_class
    # Before the first connection is made: every connection of this pool gets timed writes.
    pool.connection_class = type(f"Timed{base.__name__}", (_TimedWrites, base),
                                 {"reach": reach})
    return Redis.from_pool(pool)  # closing the client closes the pool
