"""The event loop's long steps in a `hotline serve` started by a bench with --slow-steps DIR.

Python imports `sitecustomize` at start-up from the path; surge_bench puts this folder first on
the servers' PYTHONPATH and names the output folder in BENCH_SLOW_STEPS. Every callback the
loop runs is timed (asyncio's Handle._run); one that holds the loop longer than THRESHOLD_S is
counted under its task's coroutine stack where the step ended (the await it stopped at), so
the table answers "which code keeps the loop": steps per stack, their total and longest. A
step's time is the loop's, not only the step's own work: a step the kernel took the core from
is as long as it was kept off it. Written to DIR/steps-<pid>.txt every few seconds and at
exit, with the garbage collector's pauses by generation. Bench-only: the server never imports
this folder.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import os
import sys
import time
from typing import Any

THRESHOLD_S = 0.015
WRITE_EVERY_S = 5.0
_FRAMES = 12


def _stack(handle: asyncio.Handle) -> str:
    """The task's coroutine stack where its step ended, or the callback's name."""
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if not isinstance(task, asyncio.Task):
        return getattr(callback, "__qualname__", repr(callback))
    coro: Any = task.get_coro()
    parts: list[str] = []
    while coro is not None and len(parts) < _FRAMES:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        parts.append(f"{frame.f_code.co_qualname}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " > ".join(parts) or repr(task)


def _install(out_dir: str) -> None:
    steps: dict[str, list[float]] = {}
    pauses: dict[int, list[float]] = {}
    gc_began = [0.0]
    written = [time.monotonic()]
    out = os.path.join(out_dir, f"steps-{os.getpid()}.txt")
    run = asyncio.Handle._run

    def write() -> None:
        with open(out, "w") as f:
            for gen, (n, total, longest) in sorted(pauses.items()):
                f.write(f"gc generation {gen}: {int(n)} collections, {total * 1000:.0f} ms, "
                        f"longest {longest * 1000:.1f} ms\n")
            f.write(f"steps over {THRESHOLD_S * 1000:.0f} ms: count, total ms, longest ms, "
                    "where the step ended\n")
            for where, (n, total, longest) in sorted(steps.items(), key=lambda kv: -kv[1][1]):
                f.write(f"{int(n):6d} {total * 1000:8.0f} {longest * 1000:7.1f}  {where}\n")

    def timed(handle: asyncio.Handle) -> None:
        began = time.perf_counter()
        run(handle)
        took = time.perf_counter() - began
        if took > THRESHOLD_S:
            row = steps.setdefault(_stack(handle), [0, 0.0, 0.0])
            row[0] += 1
            row[1] += took
            row[2] = max(row[2], took)
            if (now := time.monotonic()) - written[0] > WRITE_EVERY_S:
                written[0] = now
                write()

    def collected(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_began[0] = time.perf_counter()
            return
        took = time.perf_counter() - gc_began[0]
        row = pauses.setdefault(info["generation"], [0, 0.0, 0.0])
        row[0] += 1
        row[1] += took
        row[2] = max(row[2], took)

    asyncio.Handle._run = timed  # type: ignore[method-assign,assignment]
    gc.callbacks.append(collected)
    atexit.register(write)


if (_dir := os.environ.get("BENCH_SLOW_STEPS")) and "serve" in sys.argv:
    _install(_dir)
