"""The queue's first page, pushed to the consoles that show it.

Every counselor console shows the waiting queue's first page. It used to read it again after
each "the queue moved" (at most every 2 s): under a surge, when a new case arrives every few
milliseconds, two hundred consoles read `/api/v1/queue` and `/api/v1/cases/mine` together
every two seconds, and those bursts were the longest stalls of the server's loop (issue 18,
bench/README.md). Now each process reads the page once after the queue moved, at most every
PUSH_GAP_S, and offers it to its own streams as a `queue.page` event: not logged (a view, not
a change), so never replayed; a page that (re)connects reads `GET /api/v1/queue` as before.
The page is the same bytes that route answers (floorview.queue_json, read once for every
caller). Who may hear it: domain.policy (those who may read that route). See docs/events.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from hotline.cases import floorview
from hotline.deps import Deps
from hotline.domain.event_types import EventType
from hotline.domain.policy import QUEUE_MOVES
from hotline.events import Event, Hub
from hotline.jobs import pause
from hotline.web.sse import view_event

log = logging.getLogger(__name__)

# Pages pushed this far apart at most: what the page's own throttle was.
PUSH_GAP_S = 2.0
# The events after which the first page may look different. Aging's urgency changes are
# among them; the clocks of the waits run in the browser.
MOVES = QUEUE_MOVES | {EventType.RESET}


async def run_queue_feed(deps: Deps, hub: Hub, stop: asyncio.Event,
                         gap_s: float = PUSH_GAP_S) -> None:
    """Until `stop`: after the queue moved, read its first page and offer it to this
    process's streams; then wait `gap_s` before the next."""
    moved = asyncio.Event()

    async def mark(_ev: Event) -> None:
        moved.set()

    async def missed() -> None:
        moved.set()  # fell behind the log: the queue may have moved meanwhile

    follower = asyncio.create_task(
        hub.follow(lambda ev: ev.get("type") in MOVES, mark, missed), name="queue-feed-follow")
    try:
        while not stop.is_set():
            await pause(stop, 3600.0, moved)
            if stop.is_set():
                return
            try:
                page = await floorview.queue_json(deps, floorview.DEFAULT_LIMIT, None)
            except (RedisError, SQLAlchemyError, OSError) as e:
                # The consoles keep the last page; the next pass tries again.
                log.warning("queue page not read", extra={"error": type(e).__name__})
                moved.set()
            else:
                await hub.offer([view_event(EventType.QUEUE_PAGE, page)])
            await pause(stop, gap_s)
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
