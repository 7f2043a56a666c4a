"""Shared by the victim-facing tests (docs/victim.md): the repo's referral directory, a
config with it, and small readers of what the server stored."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hotline.config import Config
from hotline.schema import metadata
from hotline.stores.sql.engine import open_engine
from tests.conftest import make_config

REPO = Path(__file__).resolve().parent.parent
with (REPO / "config.toml").open("rb") as _f:
    REFERRALS: dict[str, Any] = tomllib.load(_f)["referrals"]


def victim_config(data_dir: Path, database_url: str, redis_url: str,
                  **sections: dict[str, Any]) -> Config:
    """A test config with the repo's referral directory, and the loopback as a trusted
    proxy, so a test can be several clients by X-Forwarded-For."""
    server = {"trusted_proxies": ["127.0.0.1"], **sections.pop("server", {})}
    return make_config(data_dir, database_url, redis_url, referrals=REFERRALS, server=server,
                       **sections)


async def rows(config: Config, name: str) -> list[dict[str, Any]]:
    engine = open_engine(config.database_url)
    try:
        async with engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(
                select(metadata.tables[name]))]
    finally:
        await engine.dispose()
