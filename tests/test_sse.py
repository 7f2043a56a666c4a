"""Server-sent events over the real app: the console's and the chat's streams, replay after a
reconnect with Last-Event-ID, and a stop that ends open streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from hotline.domain.staff import Role
from tests.conftest import AppRunner
from tests.helpers import Counselor, Victim, add_staff

Event = dict[str, Any]
READ_TIMEOUT_S = 10.0


class SSE:
    """A minimal EventSource: parses `id:`, `event:`, `data:` lines of one open response."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        assert resp.status == 200, resp.status
        assert resp.content_type == "text/event-stream"
        self.resp = resp
        self.seen: list[Event] = []
        self.last_id = ""

    async def next(self, cursors: bool = False) -> Event | None:
        """The next event, or None when the server ended the stream. An `id:` with no data
        moves `last_id` without an event, as in EventSource; with `cursors`, it is returned
        as {"type": None, "id": ...}."""
        fields: dict[str, str] = {}
        while True:
            raw = await self.resp.content.readline()
            if not raw:
                return None
            line = raw.decode().rstrip("\r\n")
            if not line:
                if "id" in fields:
                    self.last_id = fields["id"]
                if "data" in fields:
                    ev: Event = {"type": fields.get("event", "message"),
                                 "data": json.loads(fields["data"]),
                                 "id": fields.get("id")}
                    self.seen.append(ev)
                    return ev
                if cursors and "id" in fields:
                    return {"type": None, "id": fields["id"]}
                fields = {}
                continue
            if line.startswith(":"):
                continue  # a comment (heartbeat)
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data" and "data" in fields:
                fields["data"] += "\n" + value
            else:
                fields[name] = value

    async def rest(self) -> list[Event]:
        """Every event until the server ends the stream (bounded by a timeout)."""
        async def _read() -> list[Event]:
            rest = []
            while (ev := await self.next()) is not None:
                rest.append(ev)
            return rest
        return await asyncio.wait_for(_read(), READ_TIMEOUT_S)

    async def until(self, pred: Callable[[Event], bool]) -> Event:
        """Read until an event matching `pred` (bounded by a timeout)."""
        async def _read() -> Event:
            while True:
                ev = await self.next()
                assert ev is not None, f"stream ended; saw {self.seen}"
                if pred(ev):
                    return ev
        return await asyncio.wait_for(_read(), READ_TIMEOUT_S)


    async def until_cursor(self, eid: str) -> list[Event]:
        """Read until the client's last event id is `eid`, with an event or without; the
        events read on the way."""
        async def _read() -> list[Event]:
            got = []
            while self.last_id != eid:
                ev = await self.next(cursors=True)
                assert ev is not None, f"stream ended; saw {self.seen}"
                if ev["type"] is not None:
                    got.append(ev)
            return got
        return await asyncio.wait_for(_read(), READ_TIMEOUT_S)


def _is(kind: str, conversation: str | None = None, **data: Any) -> Callable[[Event], bool]:
    def pred(ev: Event) -> bool:
        d = ev["data"]
        return (ev["type"] == kind
                and (conversation is None or d.get("conversation") == conversation)
                and all(d.get(k) == v for k, v in data.items()))
    return pred


async def test_console_stream_gets_queued_and_message_events(app_runner: AppRunner) -> None:
    # A lead hears of every case (what a counselor hears: tests/test_event_visibility.py).
    await add_staff(app_runner.config, "mina", Role.LEAD)
    counselor = Counselor(await app_runner.client())
    assert await counselor.login("mina") == 303
    resp = await counselor.client.get("/api/v1/events")
    stream = SSE(resp)
    assert resp.headers["Cache-Control"] == "no-store"

    victim = Victim(await app_runner.client())
    await victim.open()
    assert (await victim.send("please help")).status == 201

    queued = await stream.until(_is("queued"))
    cid = queued["data"]["conversation"]
    assert queued["data"]["channel"] == "webchat" and queued["data"]["language"] == "en"
    message = await stream.until(_is("message", cid))
    assert message["data"]["seq"] == 1 and message["data"]["direction"] == "in"
    # Events are ids and enumerations only: never the text.
    assert all("please help" not in json.dumps(e) for e in stream.seen)
    assert all(e["id"] for e in stream.seen if e["type"] in ("queued", "message"))
    # The event ids are the stream ids, in order.
    ids = [tuple(int(x) for x in e["id"].split("-")) for e in stream.seen if e["id"]]
    assert ids == sorted(ids)
    resp.close()


async def test_console_reconnect_with_last_event_id_replays_missed_events(
        app_runner: AppRunner) -> None:
    await add_staff(app_runner.config, "mina", Role.LEAD)
    counselor = Counselor(await app_runner.client())
    assert await counselor.login("mina") == 303
    victim = Victim(await app_runner.client())
    await victim.open()

    resp = await counselor.client.get("/api/v1/events")
    stream = SSE(resp)
    assert (await victim.send("first")).status == 201
    first = await stream.until(_is("message", seq=1))
    cid = first["data"]["conversation"]
    cursor = stream.last_id
    assert cursor == first["id"]
    resp.close()

    # While the console is away: the victim writes twice more, and someone else writes.
    assert (await victim.send("second")).status == 201
    assert (await victim.send("third")).status == 201
    other = Victim(await app_runner.client())
    await other.open()
    assert (await other.send("someone else")).status == 201

    resp = await counselor.client.get("/api/v1/events", headers={"Last-Event-ID": cursor})
    again = SSE(resp)
    third = await again.until(_is("message", cid, seq=3))
    replayed = again.seen
    assert any(_is("message", cid, seq=2)(e) for e in replayed)
    assert third in replayed
    # Nothing at or before the cursor is sent again.
    assert not any(_is("message", cid, seq=1)(e) for e in replayed)
    key = tuple(int(x) for x in cursor.split("-"))
    assert all(tuple(int(x) for x in e["id"].split("-")) > key for e in replayed if e["id"])
    other_queued = await again.until(lambda e: e["type"] == "queued"
                                     and e["data"]["conversation"] != cid)
    await again.until(_is("message", other_queued["data"]["conversation"], seq=1))

    # The query-string form of the cursor works too (EventSource cannot set headers on the
    # first connection).
    resp.close()
    resp = await counselor.client.get("/api/v1/events", params={"last_event_id": cursor})
    await SSE(resp).until(_is("message", cid, seq=3))
    resp.close()


async def test_chat_stream_gets_its_own_conversation_events(app_runner: AppRunner) -> None:
    await add_staff(app_runner.config, "mina")
    counselor = Counselor(await app_runner.client())
    assert await counselor.login("mina") == 303
    victim = Victim(await app_runner.client())
    await victim.open()
    assert (await victim.send("mine")).status == 201
    cid = await counselor.take_next()

    resp = await victim.client.get("/chat/api/events")
    assert resp.headers["Cache-Control"] == "no-store"
    stream = SSE(resp)

    # Another victim writes; then the counselor answers ours.
    other = Victim(await app_runner.client())
    await other.open()
    assert (await other.send("someone else")).status == 201
    assert (await counselor.reply(cid, "hello from the counselor")).status == 201
    reply = await stream.until(_is("message", cid, direction="out"))
    assert reply["data"]["seq"] == 2
    assert (await counselor.close(cid)).status == 200
    await stream.until(_is("closed", cid))

    # Nothing about someone else's conversation reaches this page: only "the queue moved".
    foreign = [e for e in stream.seen if e["data"].get("conversation") not in (cid, None)]
    assert foreign == []
    assert any(e["type"] == "queue" and set(e["data"]) == {"type", "id"} for e in stream.seen)
    assert all("someone else" not in json.dumps(e) and "hello from" not in json.dumps(e)
               for e in stream.seen)
    resp.close()


async def test_chat_stream_needs_its_cookie(app_runner: AppRunner) -> None:
    client = await app_runner.client()
    resp = await client.get("/chat/api/events")
    assert resp.status == 401


async def test_stopping_the_app_ends_open_streams(app_runner: AppRunner) -> None:
    assert app_runner.server is not None
    await add_staff(app_runner.config, "mina")
    counselor = Counselor(await app_runner.client())
    assert await counselor.login("mina") == 303
    victim = Victim(await app_runner.client())
    await victim.open()
    assert (await victim.send("before the stop")).status == 201

    def cookie(client: Any, name: str, path: str) -> str:
        jar = client.session.cookie_jar
        return str(jar.filter_cookies(client.make_url(path))[name].value)

    staff_cookie = cookie(counselor.client, "hl_staff", "/")
    chat_cookie = cookie(victim.client, "hl_chat", "/chat")
    console_url = app_runner.server.make_url("/api/v1/events")
    chat_url = app_runner.server.make_url("/chat/api/events")

    # Browsers of their own (not the runner's clients, which stop() closes first).
    async with aiohttp.ClientSession() as session:
        console = SSE(await session.get(console_url,
                                        headers={"Cookie": f"hl_staff={staff_cookie}"}))
        chat = SSE(await session.get(chat_url, headers={"Cookie": f"hl_chat={chat_cookie}"}))

        async def drain(stream: SSE) -> list[Event]:
            while await stream.next() is not None:
                pass
            return stream.seen

        readers = [asyncio.create_task(drain(console)), asyncio.create_task(drain(chat))]
        await asyncio.sleep(0)
        await asyncio.wait_for(app_runner.stop(), 5)
        # Both streams end cleanly (EOF, not a broken connection) and promptly.
        done = await asyncio.wait_for(asyncio.gather(*readers), 5)
        assert len(done) == 2
