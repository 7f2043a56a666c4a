"""Bench helpers: a private redis-server and a throwaway PostgreSQL database (the tests' own
tests/local_servers.py, which needs no pytest), a config, and stats. Never touches a shared
Redis: the server is started on a free loopback port.
"""

from __future__ import annotations

import math
import secrets
import sys
from pathlib import Path
from typing import Any

# The repository root, so the tests' server helpers can be imported as tests.local_servers.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotline.config import Config, config_from_mapping
from tests import local_servers
from tests.local_servers import (
    PG_HOST,
    PG_PORT,
    RedisProcess,
    free_port,
    pg_admin,
    pg_reachable,
    pg_url,
)

__all__ = ["PG_HOST", "PG_PORT", "RedisProcess", "free_port", "make_config", "percentile",
           "pg_admin", "pg_database_name", "pg_reachable", "pg_url", "summarize_ms"]


def pg_database_name() -> str:
    return local_servers.pg_database_name("hotline_bench")


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
