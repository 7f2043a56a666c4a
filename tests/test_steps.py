"""hotline/steps.py: long work in parts, the loop running other work between two parts."""

from __future__ import annotations

import asyncio

import pytest

from hotline.steps import in_parts


@pytest.mark.parametrize(("n", "size", "parts"), [
    (0, 3, []), (2, 3, [[0, 1]]), (3, 3, [[0, 1, 2]]), (7, 3, [[0, 1, 2], [3, 4, 5], [6]]),
])
async def test_items_come_in_parts_of_the_size_asked(n: int, size: int,
                                                     parts: list[list[int]]) -> None:
    assert [list(p) async for p in in_parts(list(range(n)), size)] == parts


async def test_other_work_runs_between_two_parts_and_not_before_the_first() -> None:
    seen: list[str] = []

    async def other() -> None:
        seen.append("other")

    task = asyncio.get_running_loop().create_task(other())
    async for part in in_parts([1, 2, 3], 2):
        seen.append(f"part {list(part)}")
    await task
    assert seen == ["part [1, 2]", "other", "part [3]"]
