"""Web chat clients that reach the test app from loopback addresses of their own (127.0.0.N:
Linux routes all of 127/8 to lo), so the server sees each as a different real client address
(request.remote), over real sockets. Each victim keeps its own chat cookie."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.conftest import AppRunner

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')

# A message that triage reads as content spreading now (critical, pages takedown staff).
URGENT = "they posted my photos in a group chat"


class Refill:
    """How many tokens a bucket may have won back since this was made: a flood takes longer on
    a loaded machine, and the bounds a test asserts must allow for the refill meanwhile."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def tokens(self, per_hour: int) -> int:
        return int((time.monotonic() - self.start) * per_hour / 3600) + 1


@dataclass
class Reply:
    status: int
    body: Any
    retry_after: str | None


@dataclass
class Chat:
    """One victim's chat session: its cookie and CSRF token."""

    cookie: str
    csrf: str


class Address:
    """Clients connecting from one loopback address."""

    def __init__(self, runner: AppRunner, ip: str) -> None:
        assert runner.server is not None
        self.base = str(runner.server.make_url("")).rstrip("/")
        self.ip = ip
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(ip, 0), limit=0),
            cookie_jar=aiohttp.DummyCookieJar())

    async def close(self) -> None:
        await self.session.close()

    async def open_chat(self, lang: str = "en") -> Chat | Reply:
        """GET /chat as a new visitor: the chat session, or the refusal."""
        async with self.session.get(f"{self.base}/chat?lang={lang}") as resp:
            text = await resp.text()
            if resp.status != 200:
                return Reply(resp.status, text, resp.headers.get("Retry-After"))
            m = _CSRF_META.search(text)
            assert m, text[:200]
            return Chat(resp.cookies["hl_chat"].value, m.group(1))

    async def post(self, chat: Chat, path: str, body: dict[str, Any]) -> Reply:
        async with self.session.post(f"{self.base}{path}", json=body, headers={
                "Cookie": f"hl_chat={chat.cookie}", "X-CSRF-Token": chat.csrf}) as resp:
            data = await resp.json() if resp.content_type == "application/json" else None
            return Reply(resp.status, data, resp.headers.get("Retry-After"))

    async def send(self, chat: Chat, text: str, lang: str = "en") -> Reply:
        return await self.post(chat, "/chat/api/messages", {
            "text": text, "client_id": secrets.token_hex(8), "language": lang})

    async def victim(self, text: str, lang: str = "en") -> Reply:
        """A new visitor who writes one message."""
        chat = await self.open_chat(lang)
        if isinstance(chat, Reply):
            return chat
        return await self.send(chat, text, lang)
