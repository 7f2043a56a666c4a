"""Server-sent events out of a Hub subscription, with bounded replay and heartbeats.

Each stream is described by a `StreamView` (what its client may hear, what ends it, what to
check at each heartbeat) and admitted by the process's `StreamGate` (caps per session, per
client address and in all). See docs/events.md.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import Callable, Hashable

from aiohttp import web
from prometheus_client import Histogram

from hotline.config_streams import StreamsConfig
from hotline.domain.event_ids import id_after, valid_event_id
from hotline.domain.event_types import EventType
from hotline.events import Event, Hub, ReplayGap, ReplayWindow, Subscription
from hotline.loopwatch import BUCKETS_S
from hotline.metrics import REGISTRY
from hotline.web.streamgate import Admission

# How long live events took from the event log to a console's socket: the id's millisecond
# (Redis's clock) to the write (ours); a batch counts once, by its oldest event.
DELIVERY = Histogram("hotline_event_delivery_seconds",
                     "From an event's entry in the log to its write to a console stream",
                     buckets=BUCKETS_S, registry=REGISTRY)

# Live events taken off a stream's queue and written at once, at most: one socket write a
# batch instead of one an event when the floor is busy.
_BATCH = 64
# Encoded frames kept per Hub, by (event id, form): enough for the events of the last moments.
_FRAMES_KEPT = 2048


class Frames:
    """Frames encoded once per process for every stream showing an event in the same form
    (with 200 consoles, each event was encoded and JSON-dumped 200 times)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, Hashable], bytes] = {}

    def get(self, ev: Event, form: Hashable, shape: Callable[[], Event]) -> bytes:
        if _VIEW_FRAME in ev:
            return view_frame(ev)  # a view, framed once by whoever made it (view_event)
        eid = ev.get("id")
        if not isinstance(eid, str) or eid in ("", "0-0"):
            return _frame(shape())  # no id to know it by (a reset)
        key = (eid, form)
        frame = self._kept.get(key)
        if frame is None:
            frame = self._kept[key] = _frame(shape())
            if len(self._kept) > _FRAMES_KEPT:
                del self._kept[next(iter(self._kept))]  # the oldest
        return frame


_HUB_FRAMES: weakref.WeakKeyDictionary[Hub, Frames] = weakref.WeakKeyDictionary()


def frames_of(hub: Hub) -> Frames:
    frames = _HUB_FRAMES.get(hub)
    if frames is None:
        frames = _HUB_FRAMES[hub] = Frames()
    return frames


class StreamView:
    """What one client's stream carries. The default hears everything, as it is."""

    def wants(self, ev: Event) -> bool:
        """Whether the Hub should queue `ev` for this stream at all (called on the Hub's
        reader for every live event, in order: keep it cheap; a view that tracks what its
        client may hear follows events here). Events that end the stream must pass."""
        return True

    def show(self, ev: Event) -> Event | None:
        """The event as this client may see it, or None to leave it out."""
        return ev

    def ends(self, ev: Event) -> bool:
        """Whether `ev` ends this stream (it is not sent)."""
        return False

    def subscribed(self, sub: Subscription) -> None:
        """The stream's subscription, once made: a view may narrow what the Hub offers it
        (Subscription.cases)."""

    def frame(self, ev: Event, frames: Frames) -> bytes | None:
        """The live event's frame, or None to leave it out. A view whose forms are shared by
        every stream of the process (the staff consoles') takes its frame from `frames`."""
        shown = self.show(ev)
        return None if shown is None else _frame(shown)

    async def refresh(self) -> bool:
        """Before the first event and at every heartbeat: False ends the stream."""
        return True


async def stream_events(request: web.Request, hub: Hub, view: StreamView, admission: Admission,
                        cfg: StreamsConfig) -> web.StreamResponse:
    """Stream what `view` shows, replaying what came after the client's Last-Event-ID.

    `admission` is the gate's pass for this stream, released when the stream ends."""
    window = ReplayWindow(cfg.replay_max_events, cfg.replay_max_age_seconds * 1000)
    last = request.headers.get("Last-Event-ID") or request.query.get("last_event_id", "")
    if last and not valid_event_id(last):
        admission.release()
        raise web.HTTPBadRequest(text="Last-Event-ID: expected a stream id like 1700000000-0")
    sub = hub.subscribe(lambda ev: view.wants(ev) or view.ends(ev))
    view.subscribed(sub)
    resp = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    try:
        # Subscribed first, so nothing that happens while the view loads is missed.
        if not await view.refresh():
            raise web.HTTPUnauthorized(text='{"error": "session ended"}',
                                       content_type="application/json")
        await resp.prepare(request)
        await resp.write(b"retry: 2000\n\n")
        replayed = await _replay(resp, hub, last, view, window) if last else ""
        cursor = _Cursor(hub, sub, replayed or last)
        loop = asyncio.get_running_loop()
        frames = frames_of(hub)
        # Beats keep their pace while events flow too: the session check must not wait for
        # a quiet moment on a busy floor.
        due = loop.time() + cfg.heartbeat_seconds
        while True:
            if sub.queue.empty():
                try:
                    async with asyncio.timeout_at(due):
                        first = await sub.queue.get()
                except TimeoutError:
                    first = _BEAT
            else:
                first = sub.queue.get_nowait()
            if first is _BEAT or loop.time() >= due:
                # A beat due while events flow has taken one from the queue, not yet sent:
                # no cursor past it.
                await resp.write(b": beat\n\n" + (cursor.frame() if first is _BEAT else b""))
                if not await view.refresh():
                    break
                due = loop.time() + cfg.heartbeat_seconds
                if first is _BEAT:
                    continue
            batch = [first]
            while len(batch) < _BATCH and not sub.queue.empty():
                batch.append(sub.queue.get_nowait())
            out, ended = _live(batch, view, frames, replayed)
            if out:
                _delivered(batch)
                cursor.wrote(batch)
                await resp.write(b"".join(out) + cursor.frame())
            if ended:
                break
        return resp
    except ConnectionResetError:
        # The browser left (navigated away, closed the tab): the normal end of a stream, not
        # a handler error to log with a traceback.
        return resp
    finally:
        hub.unsubscribe(sub)
        admission.release()


class _Cursor:
    """The client's Last-Event-ID kept up with the log, not only with what it was sent.

    A stream leaves out most events (others' cases, kinds the page does not listen for), so
    the id of the last one it sent falls far behind: a reconnect then replays, and filters,
    everything since, or finds the gap too long and resets the page. With a write that leaves
    its queue empty (and at a heartbeat), the stream also sends an `id:` line with no data:
    EventSource takes it as its last event id without firing an event. Safe because every
    event up to the Hub's `last_id` has been offered to this stream, and what it accepted was
    in the queue, now empty."""

    def __init__(self, hub: Hub, sub: Subscription, sent: str) -> None:
        self.hub, self.sub = hub, sub
        self.sent = sent  # a checked Last-Event-ID or one of the log's, or ""

    def wrote(self, batch: list[Event | None]) -> None:
        for ev in batch:
            eid = ev.get("id") if ev is not None else None
            if isinstance(eid, str) and eid != "0-0" and self._after(eid):
                self.sent = eid

    def frame(self) -> bytes:
        head = self.hub.last_id
        if not head or not self.sub.queue.empty() or not self._after(head):
            return b""
        self.sent = head
        return f"id: {head}\n\n".encode()

    def _after(self, eid: str) -> bool:
        return not self.sent or id_after(eid, self.sent)


# What a timed-out wait for the queue stands for (the queue carries events and None).
_BEAT: Event = {}  # compared by identity


def _delivered(batch: list[Event | None]) -> None:
    first = batch[0]
    eid = first.get("id") if first is not None else None
    if isinstance(eid, str) and eid != "0-0":
        ms, _, _ = eid.partition("-")
        DELIVERY.observe(max(0.0, time.time() - int(ms) / 1000))


def _live(batch: list[Event | None], view: StreamView, frames: Frames, replayed: str
          ) -> tuple[list[bytes], bool]:
    """The frames of a batch of live events, in order, and whether the stream ends at one."""
    out: list[bytes] = []
    for ev in batch:
        if ev is None or view.ends(ev):
            return out, True
        frame = view.frame(ev, frames)
        eid = ev.get("id", "")
        if frame is None or (replayed and eid and eid != "0-0" and not id_after(eid, replayed)):
            continue  # not for this client, or already sent by the replay
        out.append(frame)
    return out, False


async def _replay(resp: web.StreamResponse, hub: Hub, last: str, view: StreamView,
                  window: ReplayWindow) -> str:
    """Send what the client missed; the id it was read up to ("" if none was read)."""
    read_to = ""
    try:
        async for chunk in hub.replay(last, window):
            frames = []
            for old in chunk:
                read_to = old["id"]
                shown = view.show(old)
                if shown is not None:
                    frames.append(_frame(shown))
            if frames:
                await resp.write(b"".join(frames))  # one write a chunk, not one an event
    except ReplayGap:
        await _send(resp, {"type": EventType.RESET})
    return read_to


async def _send(resp: web.StreamResponse, ev: Event) -> None:
    await resp.write(_frame(ev))


# Where a view's event keeps its frame (view_event).
_VIEW_FRAME = "frame"


def view_event(kind: str, data: bytes) -> Event:
    """A view of this process's own as an event the Hub can offer (Hub.offer; not a logged
    event: no id, never replayed), with `data`, its JSON, framed once for every stream."""
    return {"type": kind, _VIEW_FRAME: f"event: {kind}\ndata: ".encode() + data + b"\n\n"}


def view_frame(ev: Event) -> bytes:
    """The frame of a view_event."""
    frame = ev[_VIEW_FRAME]
    assert isinstance(frame, bytes)
    return frame


def _frame(ev: Event) -> bytes:
    eid = ev.get("id", "")
    # A reset carries no id: the client keeps its cursor until the next real event moves it.
    head = f"id: {eid}\n" if eid and eid != "0-0" else ""
    data = json.dumps(ev, separators=(",", ":"))
    return f"{head}event: {ev.get('type', 'message')}\ndata: {data}\n\n".encode()
