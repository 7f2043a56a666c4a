"""Long work over many items in short steps of the event loop.

A floor of 1,000 staff on the roster made single steps of 15-40 ms out of work that is cheap
per person (a shift window, a holder's check): every other request waited behind it. Each
caller picks its part size from what it measured (bench/README.md, "a rostered floor").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TypeVar

T = TypeVar("T")


async def in_parts(items: Sequence[T], size: int) -> AsyncIterator[Sequence[T]]:
    """`items`, `size` at a time, letting the loop run other work between two parts."""
    for at in range(0, len(items), size):
        if at:
            await asyncio.sleep(0)
        yield items[at:at + size]
