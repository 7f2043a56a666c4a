"""How periodic jobs wait and stop: between passes only, never in the middle of one.

A job cancelled inside a database call can leave a connection checked out (and aiosqlite's
worker thread alive, which keeps the process from exiting); so shutdown sets `stop`, each job
finishes its current pass and returns.
"""

from __future__ import annotations

import asyncio
import contextlib


async def pause(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    """Wait up to `seconds`; return early when `stop` (or `wake`) is set."""
    waits = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waits.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waits, timeout=max(0.0, seconds),
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await w
    if wake is not None:
        wake.clear()
