"""Server-sent events out of a Hub subscription, with replay and heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.exceptions import RedisError

from hotline.events import Event, EventFilter, Hub, valid_event_id

HEARTBEAT_S = 15.0


async def stream_events(request: web.Request, hub: Hub, accept: EventFilter,
                        on_beat: Callable[[], Awaitable[None]] | None = None,
                        shape: Callable[[Event], Event] | None = None
                        ) -> web.StreamResponse:
    """Stream events passing `accept`, replaying those after the client's Last-Event-ID.

    `shape` rewrites each event before it leaves (e.g. to strip what a client may not see)."""
    last = request.headers.get("Last-Event-ID") or request.query.get("last_event_id", "")
    if last and not valid_event_id(last):
        raise web.HTTPBadRequest(text="Last-Event-ID: expected a stream id like 1700000000-0")
    sub = hub.subscribe(accept)
    try:
        resp = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        await resp.write(b"retry: 2000\n\n")
        if last:
            missed = await hub.replay(last, accept)
            for old in missed if missed is not None else [{"type": "reset"}]:
                await _send(resp, shape(old) if shape else old)
        while True:
            try:
                ev: Event | None = await asyncio.wait_for(sub.queue.get(), HEARTBEAT_S)
            except TimeoutError:
                await resp.write(b": beat\n\n")
                if on_beat is not None:
                    # Presence is best effort: a Redis hiccup must not end the stream.
                    with contextlib.suppress(RedisError, OSError):
                        await on_beat()
                continue
            if ev is None:
                break
            await _send(resp, shape(ev) if shape else ev)
        return resp
    except ConnectionResetError:
        # The browser left (navigated away, closed the tab): the normal end of a stream, not
        # a handler error to log with a traceback.
        return resp
    finally:
        hub.unsubscribe(sub)


async def _send(resp: web.StreamResponse, ev: Event) -> None:
    eid = ev.get("id", "")
    # A reset carries no id: the client keeps its cursor until the next real event moves it.
    head = f"id: {eid}\n" if eid and eid != "0-0" else ""
    data = json.dumps(ev, separators=(",", ":"))
    await resp.write(f"{head}event: {ev.get('type', 'message')}\ndata: {data}\n\n".encode())
