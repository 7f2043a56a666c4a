"""NextRead (hotline.shared_read): callers asking together share one read, and nobody gets a
read that started before they asked."""

from __future__ import annotations

import asyncio
import gc

import pytest

from hotline.shared_read import NextRead, NextReads


class Source:
    """A value that changes, read slowly (a read sees the value as it was when it started)."""

    def __init__(self) -> None:
        self.value = 0
        self.reads = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def read(self, key: str) -> tuple[str, int]:
        self.reads += 1
        seen = self.value
        await self.gate.wait()
        return key, seen


async def test_callers_asking_together_share_one_read() -> None:
    src = Source()
    reads = NextRead(src.read)
    got = await asyncio.gather(*(reads.get("q") for _ in range(50)))
    assert got == [("q", 0)] * 50 and src.reads == 1
    assert await reads.get("q") == ("q", 0) and src.reads == 2  # later: a read of its own


async def test_an_answer_is_never_older_than_the_question() -> None:
    src = Source()
    reads = NextRead(src.read)
    src.gate.clear()
    first = asyncio.create_task(reads.get("q"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert src.reads == 1  # on its way, seeing 0
    src.value = 1  # a write, then callers who must see it
    later = [asyncio.create_task(reads.get("q")) for _ in range(20)]
    await asyncio.sleep(0.01)
    assert src.reads == 1  # they wait for the running read to end, not join it
    src.gate.set()
    assert await first == ("q", 0)
    assert [await t for t in later] == [("q", 1)] * 20
    assert src.reads == 2  # one read for all twenty


async def test_keys_are_read_apart() -> None:
    src = Source()
    reads = NextRead(src.read)
    got = await asyncio.gather(reads.get("a"), reads.get("b"), reads.get("a"))
    assert list(got) == [("a", 0), ("b", 0), ("a", 0)] and src.reads == 2


async def test_a_caller_leaving_does_not_cancel_the_read_of_the_others() -> None:
    src = Source()
    reads = NextRead(src.read)
    src.gate.clear()
    gone, stays = (asyncio.create_task(reads.get("q")) for _ in range(2))
    await asyncio.sleep(0.01)
    gone.cancel()
    src.gate.set()
    assert await stays == ("q", 0)
    assert gone.cancelled()


async def test_an_error_reaches_every_caller_and_the_next_read_tries_again() -> None:
    calls = 0

    async def flaky(key: str) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise ConnectionError("away")
        return calls

    reads: NextRead[str, int] = NextRead(flaky)
    got = await asyncio.gather(reads.get("q"), reads.get("q"), return_exceptions=True)
    assert [type(g) for g in got] == [ConnectionError, ConnectionError]
    assert await reads.get("q") == 2
    calls = 0  # fails again: nothing of the last good read is kept
    with pytest.raises(ConnectionError):
        await reads.get("q")


async def test_each_owner_has_its_reads_forgotten_with_it() -> None:
    """NextReads: a module's shared reads, one NextRead per app (its client), held weakly."""

    class Owner:
        pass

    reads: NextReads[Owner, str, tuple[str, int]] = NextReads()
    a, b = Owner(), Owner()
    src_a, src_b = Source(), Source()
    assert reads.of(a, src_a.read) is reads.of(a, src_b.read)  # made on its first use
    got = await asyncio.gather(reads.of(a, src_a.read).get("q"),
                               reads.of(b, src_b.read).get("q"))
    assert list(got) == [("q", 0), ("q", 0)] and (src_a.reads, src_b.reads) == (1, 1)
    del a
    gc.collect()
    assert len(reads._of) == 1


async def test_a_fresh_enough_answer_serves_later_callers_until_it_is_too_old() -> None:
    """With fresh_s, a caller asking within that many seconds of a read's start gets its
    answer without a read; later, a read of its own. A failed read is never reused."""
    src = Source()
    reads = NextRead(src.read, fresh_s=0.2)
    assert await reads.get("q") == ("q", 0) and src.reads == 1
    src.value = 1
    assert await reads.get("q") == ("q", 0) and src.reads == 1
    assert await reads.get("other") == ("other", 1) and src.reads == 2
    await asyncio.sleep(0.25)
    assert await reads.get("q") == ("q", 1) and src.reads == 3
    calls: list[str] = []

    async def fails(key: str) -> int:
        calls.append(key)
        raise LookupError(key)
    failing = NextRead(fails, fresh_s=10)
    for _ in range(2):
        with pytest.raises(LookupError):
            await failing.get("q")
    assert calls == ["q", "q"]
