"""A stand-in Telegram Bot API server on loopback, update builders, and the Telegram fixtures.

The real python-telegram-bot client talks to this server (telegram.api_base_url points here):
it serves POST /bot{token}/{method} for the methods the bots use and GET /file/bot{token}/...,
records every call, and can be told to answer the next call of a method with an error (429
with retry_after, 403 "bot was blocked"). Nothing here reaches the network.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline.channels.telegram.service import TELEGRAM
from hotline.config import Config
from hotline.logs import JsonFormatter
from tests.conftest import AppRunner, Database, RedisProcess, make_config

TOKEN = "123456:TEST-token-Zebra-9931"
SECRET = "webhook-secret-Okapi-5521"
BOT_ID = 999000
# A victim: private chat id == user id. Distinctive so a leak is found by a plain search.
CHAT = 7301234567
NAME = "Haneul-Quokka"
USERNAME = "quokka_7731"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    result: Any = None


@dataclass
class Failure:
    status: int
    body: dict[str, Any]


class BotApiStandin:
    """The Bot API as far as our bots use it."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.files: dict[str, bytes] = {}
        self.updates: list[dict[str, Any]] = []
        self.fail: dict[str, list[Failure]] = {}
        self.get_me_fails = 0
        self._ids = itertools.count(5000)
        self.server: TestServer | None = None
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self.app = app

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> None:
        self.server = TestServer(self.app, host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()

    # --- test controls -------------------------------------------------------------------

    def of(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    def texts_to(self, chat_id: int) -> list[str]:
        return [str(p["text"]) for p in self.of("sendMessage") if int(p["chat_id"]) == chat_id]

    def fail_next(self, method: str, status: int = 429, retry_after: int = 1,
                  description: str | None = None) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status,
                                "description": description or "Too Many Requests: retry after "
                                f"{retry_after}"}
        if status == 429:
            body["parameters"] = {"retry_after": retry_after}
        self.fail.setdefault(method, []).append(Failure(status, body))

    def add_file(self, file_id: str, data: bytes) -> None:
        self.files[file_id] = data

    # --- the API -------------------------------------------------------------------------

    def _message(self, chat_id: int, text: str | None, message_id: int | None = None
                 ) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
        if chat_id < 0:
            chat["title"] = "staff"
        out: dict[str, Any] = {"message_id": message_id or next(self._ids),
                               "date": int(time.time()), "chat": chat,
                               "from": {"id": BOT_ID, "is_bot": True, "first_name": "Hotline"}}
        if text is not None:
            out["text"] = text
        return out

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        form = await request.post()
        params: dict[str, Any] = {}
        for k, v in form.items():
            text = v if isinstance(v, str) else str(v)
            try:
                params[k] = json.loads(text) if k in ("reply_markup", "allowed_updates") \
                    else text
            except ValueError:
                params[k] = text
        call = Call(method, params)
        self.calls.append(call)
        if method == "getMe" and self.get_me_fails > 0:
            self.get_me_fails -= 1
            return web.json_response({"ok": False, "error_code": 502,
                                      "description": "Bad Gateway"}, status=502)
        pending = self.fail.get(method)
        if pending:
            f = pending.pop(0)
            return web.json_response(f.body, status=f.status)
        call.result = await self._result(method, params)
        return web.json_response({"ok": True, "result": call.result})

    async def _result(self, method: str, p: dict[str, Any]) -> Any:
        if method == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Hotline",
                    "username": "hotline_test_bot", "can_join_groups": True,
                    "can_read_all_group_messages": False, "supports_inline_queries": False}
        if method == "sendMessage":
            return self._message(int(p["chat_id"]), str(p["text"]))
        if method == "editMessageText":
            return self._message(int(p["chat_id"]), str(p["text"]), int(p["message_id"]))
        if method == "getFile":
            fid = str(p["file_id"])
            data = self.files.get(fid, b"")
            return {"file_id": fid, "file_unique_id": f"u-{fid}", "file_size": len(data),
                    "file_path": f"documents/{fid}.bin"}
        if method == "getUpdates":
            offset = int(p.get("offset", 0) or 0)
            ready = [u for u in self.updates if u["update_id"] >= offset]
            if not ready:
                await asyncio.sleep(0.05)
            return ready
        # deleteMessage, answerCallbackQuery, setWebhook, deleteWebhook, ...
        return True

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        fid = path.removeprefix("documents/").removesuffix(".bin")
        self.calls.append(Call("file", {"path": path}))
        if fid not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[fid])


_UPDATE_IDS = itertools.count(700_000)


class Updates:
    """Telegram update JSON as a private chat with one victim would produce it."""

    def __init__(self, chat: int = CHAT, name: str = NAME, username: str = USERNAME,
                 language: str = "en") -> None:
        self.chat = chat
        self.user = {"id": chat, "is_bot": False, "first_name": name, "username": username,
                     "language_code": language}
        # Update ids are unique across victims, as Telegram's are across one bot's chats.
        self._update = _UPDATE_IDS
        self._message = itertools.count(10)
        # Ids of the messages the victim sent (what /forget should delete too).
        self.message_ids: list[int] = []

    def next_id(self) -> int:
        return next(self._update)

    def _msg(self, **body: Any) -> dict[str, Any]:
        mid = next(self._message)
        self.message_ids.append(mid)
        return {"message_id": mid, "date": int(time.time()),
                "chat": {"id": self.chat, "type": "private", "first_name": self.user["first_name"],
                         "username": self.user["username"]},
                "from": self.user, **body}

    def text(self, text: str, update_id: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0,
                                 "length": len(text.split()[0])}]
        return {"update_id": update_id or self.next_id(), "message": self._msg(**body)}

    def photo(self, file_id: str, size: int, caption: str | None = None) -> dict[str, Any]:
        sizes = [{"file_id": f"{file_id}-small", "file_unique_id": f"s-{file_id}", "width": 90,
                  "height": 90, "file_size": 100},
                 {"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 256,
                  "height": 256, "file_size": size}]
        body: dict[str, Any] = {"photo": sizes}
        if caption:
            body["caption"] = caption
        return {"update_id": self.next_id(), "message": self._msg(**body)}

    def document(self, file_id: str, size: int, mime: str) -> dict[str, Any]:
        return {"update_id": self.next_id(), "message": self._msg(document={
            "file_id": file_id, "file_unique_id": f"u-{file_id}", "file_name": "evidence",
            "mime_type": mime, "file_size": size})}

    def sticker(self) -> dict[str, Any]:
        return {"update_id": self.next_id(), "message": self._msg(sticker={
            "file_id": "st", "file_unique_id": "st", "type": "regular", "width": 512,
            "height": 512, "is_animated": False, "is_video": False})}

    def press(self, data: str, message_id: int, user: dict[str, Any] | None = None,
              chat: int | None = None) -> dict[str, Any]:
        chat_id = self.chat if chat is None else chat
        return {"update_id": self.next_id(), "callback_query": {
            "id": f"cb{next(self._message)}", "from": user or self.user,
            "chat_instance": "ci-1", "data": data,
            "message": {"message_id": message_id, "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Hotline"},
                        "text": "question"}}}


# Only a guard against hanging: how long send() waits for an update's outcome.
UPDATE_GUARD_S = 60.0

@dataclass
class TgEnv:
    """The app (with the Telegram channel on), an HTTP client, the stand-in, the victim."""

    runner: AppRunner
    client: TestClient[Any, Any]
    api: BotApiStandin
    config: Config
    victim: Updates = field(default_factory=Updates)

    async def post(self, update: Any, secret: str | None = SECRET, raw: bytes | None = None
                   ) -> Any:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        body = raw if raw is not None else json.dumps(update).encode()
        return await self.client.post("/webhooks/telegram", data=body, headers=headers)

    async def send(self, update: dict[str, Any]) -> None:
        """Post an update and wait until the bots have handled it. The webhook waits
        ACK_WAIT_S for the outcome and then answers "pending"; on a loaded machine the reply
        can come after that, and a test reading the last message would read the one before."""
        channel = self.runner.server.app.get(TELEGRAM) if self.runner.server else None
        outcome = (channel.processor.expect(int(update["update_id"]))
                   if channel is not None and "update_id" in update else None)
        resp = await self.post(update)
        assert resp.status == 200, await resp.text()
        if outcome is None or channel is None:
            return
        if "ignored" in await resp.json():  # refused before the bots: no outcome comes
            channel.processor.forget(int(update["update_id"]), outcome)
            return
        await asyncio.wait_for(outcome, UPDATE_GUARD_S)

    def markup_of(self, text_part: str) -> tuple[int, list[str]]:
        """The last message containing `text_part` sent to the victim: id and button data."""
        for c in reversed(self.api.calls):
            if c.method == "sendMessage" and text_part in str(c.params.get("text")):
                rows = (c.params.get("reply_markup") or {}).get("inline_keyboard", [])
                return (int(c.result["message_id"]) if isinstance(c.result, dict) else 0,
                        [b["callback_data"] for row in rows for b in row])
        raise AssertionError(f"no message containing {text_part!r}")


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandin]:
    s = BotApiStandin()
    await s.start()
    yield s
    await s.stop()


def telegram_config(tmp_path: Path, database: Database, redis: RedisProcess,
                    api: BotApiStandin, **overrides: Any) -> Config:
    tg = {"api_base_url": api.url, **overrides.pop("telegram", {})}
    # Pull mode: counselors take cases with "take next", so no router offer races the test.
    routing = {"mode": "pull", **overrides.pop("routing", {})}
    return make_config(tmp_path / "data", database.url, redis.url, telegram=tg,
                       routing=routing, **overrides)


@pytest.fixture
async def tg(tmp_path: Path, database: Database, redis_server: RedisProcess,
             standin: BotApiStandin, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TgEnv]:
    monkeypatch.setenv("HOTLINE_TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("HOTLINE_TELEGRAM_WEBHOOK_SECRET", SECRET)
    cfg = telegram_config(tmp_path, database, redis_server, standin)
    runner = AppRunner(cfg)
    await runner.start()
    env = TgEnv(runner, await runner.client(), standin, cfg)
    yield env
    await runner.stop()


# Personal data that must never reach a log line, whatever a test does.
ALWAYS_SECRET = {"victim chat id": str(CHAT), "victim name": NAME, "victim username": USERNAME,
                 "bot token": TOKEN, "bot token (secret part)": TOKEN.split(":")[1],
                 "webhook secret": SECRET}


@pytest.fixture
def log_guard(caplog: pytest.LogCaptureFixture) -> Iterator[dict[str, str]]:
    """Every record of the test at DEBUG, formatted as the server writes it (JsonFormatter),
    must hold none of ALWAYS_SECRET nor what the test adds to the yielded mapping."""
    caplog.set_level(logging.DEBUG)
    extra: dict[str, str] = {}
    yield extra
    fmt = JsonFormatter()
    lines = [fmt.format(r) for r in caplog.records]
    secrets_ = {**ALWAYS_SECRET, **extra}
    leaks = [(what, line) for line in lines for what, value in secrets_.items()
             if value and value in line]
    assert not leaks, "\n".join(f"{what}: {line[:300]}" for what, line in leaks[:10])


async def table(config: Config, name: str) -> list[dict[str, Any]]:
    """Every row of one table, as dicts (a short-lived engine of its own)."""
    from sqlalchemy import select

    from hotline.schema import metadata
    from hotline.stores.sql.engine import open_engine

    engine = open_engine(config.database_url)
    try:
        async with engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(
                select(metadata.tables[name]))]
    finally:
        await engine.dispose()


async def stored_anywhere(config: Config, needle: str) -> list[str]:
    """"table.column" of every stored value containing `needle` as text or UTF-8 bytes."""
    from hotline.schema import metadata

    raw = needle.encode()
    hits = []
    for t in metadata.sorted_tables:
        for row in await table(config, t.name):
            for col, value in row.items():
                if (isinstance(value, str) and needle in value) or (
                        isinstance(value, bytes | bytearray | memoryview)
                        and raw in bytes(value)) or (
                        isinstance(value, int) and not isinstance(value, bool)
                        and str(value) == needle):
                    hits.append(f"{t.name}.{col}")
    return hits


async def events_of(config: Config, kind: str) -> list[dict[str, Any]]:
    """The app's event stream entries of one type (read straight from Redis)."""
    from redis.asyncio import Redis

    from hotline.stores.live.keys import Keys

    redis = Redis.from_url(config.storage.redis_url, decode_responses=True)
    try:
        entries: Any = await redis.xrange(Keys(config.storage.redis_prefix).events, "-", "+")
    finally:
        await redis.aclose()
    found = [json.loads(fields["e"]) for _id, fields in entries]
    return [e for e in found if e.get("type") == kind]
