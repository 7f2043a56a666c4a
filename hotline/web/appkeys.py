"""Typed keys for the shared resources the application holds (aiohttp AppKey)."""

from __future__ import annotations

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.cases.livesync import EmbeddedWatch
from hotline.config import Config
from hotline.crypto import Keyring
from hotline.deps import Deps
from hotline.events import Hub
from hotline.prompts import Prompts
from hotline.staff.throttle_store import Throttle
from hotline.web.streamgate import StreamGate
from hotline.words import Words

CONFIG = web.AppKey("config", Config)
KEYRING = web.AppKey("keyring", Keyring)
REDIS_URL = web.AppKey("redis_url", str)
REDIS = web.AppKey("redis", Redis)
# The watch over the redis-server `hotline serve` started (absent with storage.redis_url).
EMBEDDED_REDIS = web.AppKey("embedded_redis", EmbeddedWatch)
ENGINE = web.AppKey("engine", AsyncEngine)
# SQLite: the engine for large reads off the loop's thread (stores/sql/engine.open_reader).
READER: web.AppKey[AsyncEngine | None] = web.AppKey("reader")
DEPS = web.AppKey("deps", Deps)
HUB = web.AppKey("hub", Hub)
PROMPTS = web.AppKey("prompts", Prompts)
# The console's words (prompts/<lang>/console/*.toml).
WORDS = web.AppKey("words", Words)
# Console logins' growing delays (Redis, or this process while Redis is away).
LOGIN_THROTTLE = web.AppKey("login_throttle", Throttle)
STREAMS = web.AppKey("streams", StreamGate)
