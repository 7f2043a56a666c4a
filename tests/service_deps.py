"""Services without the web app: a `Deps` built the way hotline.app's _services_ctx builds it,
on a test database and the test session's private redis-server (own key prefix per config)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select

from hotline.cases.live import LiveStore
from hotline.config import Config
from hotline.crypto import Keyring
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Inbound
from hotline.schema import metadata
from hotline.stores.live.keys import Keys
from hotline.stores.sql.engine import migrate, open_engine, open_reader


@contextlib.asynccontextmanager
async def open_deps(config: Config, master_key: bytes | None = None) -> AsyncIterator[Deps]:
    engine = open_engine(config.database_url)
    reader = open_reader(config.database_url)
    redis = Redis.from_url(config.storage.redis_url, decode_responses=True)
    keys = Keys(config.storage.redis_prefix)
    deps: Deps | None = None
    try:
        await migrate(engine)
        deps = Deps(config=config, engine=engine, redis=redis, keys=keys,
                    live=LiveStore(redis, keys, config.routing.rules()),
                    keyring=Keyring.from_master(master_key or secrets.token_bytes(32)),
                    reader=reader)
        yield deps
    finally:
        if deps is not None:
            await settle(deps)
        found = [k async for k in redis.scan_iter(match=f"{{{keys.prefix}}}:*")]
        if found:
            await redis.delete(*found)
        await redis.aclose()
        if reader is not None:
            await reader.dispose()
        await engine.dispose()


async def settle(deps: Deps) -> None:
    """Wait for background delivery attempts (casework.reply hands replies to the outbox)."""
    while deps.outbox.tasks:
        await asyncio.gather(*list(deps.outbox.tasks), return_exceptions=True)
    await deps.publisher.drain()


def inbound(address: str = "+821012345678", text: str = "hello, I need to talk to someone",
            provider_id: str | None = None, channel: Channel = Channel.SMS,
            language: str = "ko", keep_contact: bool = True,
            at: datetime | None = None) -> Inbound:
    return Inbound(channel=channel, address=address, text=text,
                   provider_id=provider_id or secrets.token_hex(8), language=language,
                   received_at=at or datetime.now(UTC), keep_contact=keep_contact)


async def all_rows(deps: Deps) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (to search the stored data for plaintext)."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with deps.engine.connect() as conn:
        for t in metadata.sorted_tables:
            out[t.name] = [dict(r._mapping) for r in await conn.execute(select(t))]
    return out


def contains(rows: dict[str, list[dict[str, Any]]], needle: str) -> list[str]:
    """Where `needle` (as text or UTF-8 bytes) occurs in any stored value: "table.column"."""
    raw = needle.encode()
    hits = []
    for table, items in rows.items():
        for row in items:
            for col, value in row.items():
                if (isinstance(value, str) and needle in value) or \
                        (isinstance(value, bytes | bytearray | memoryview)
                         and raw in bytes(value)):
                    hits.append(f"{table}.{col}")
    return hits
