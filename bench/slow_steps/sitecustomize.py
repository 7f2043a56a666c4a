"""The event loop's long steps in a `hotline serve` started by a bench with --slow-steps DIR.

Python imports `sitecustomize` at start-up from the path; surge_bench puts this folder first on
the servers' PYTHONPATH and names the output folder in BENCH_SLOW_STEPS. Every callback the
loop runs is timed (asyncio's Handle._run); one that holds the loop longer than THRESHOLD_S is
counted under its task's coroutine stack where the step ended (the await it stopped at), so
the table answers "which code keeps the loop": steps per stack, their total and longest. A
step's time is the loop's, not only the step's own work: a step the kernel took the core from
is as long as it was kept off it. A timer is as late as the iteration it fell due in, so the
loop's iterations (the callbacks run between two polls of the selector) are counted by how
long they held the loop, and in those over LONG_ITERATION_S the time of each callback over
0.5 ms is added up by its code. Written to DIR/steps-<pid>.txt every few seconds and at exit,
with the garbage collector's pauses by generation; SIGUSR1 starts the counts afresh in
DIR/steps-<pid>-phase.txt and SIGUSR2 writes them (surge_bench marks its load phase so).
With BENCH_GARBAGE=1 the phase's cyclic garbage is kept instead of freed (gc.DEBUG_SAVEALL)
and counted at its end, by type and the frames by code, into DIR/garbage-<pid>.txt: what
made the collector's work (the pauses it measures are then not the real ones).
With BENCH_GC_CENSUS=1 each collection first writes what it is about to walk (objects and the
references they hold, by type) into DIR/census-<pid>.txt (its pauses then include that).
BENCH_GC_THRESHOLD="5000,100,10" runs the server with those collector thresholds instead of
its own. Bench-only: the server never imports this folder.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import gc
import os
import selectors
import signal
import sys
import time
import types
from typing import Any

THRESHOLD_S = 0.015
WRITE_EVERY_S = 5.0
_FRAMES = 12
# Iterations (the callbacks run between two polls of the selector) by how long they held the
# loop: a timer is as late as the iteration it fell due in. Upper bounds in ms.
ITERATION_BOUNDS_MS = (5, 10, 20, 50, 100, float("inf"))
LONG_ITERATION_S = 0.020
# Frames that say nothing about which code: the server's request plumbing and job supervisor.
_PLUMBING = ("RequestHandler._handle_request", "Application._handle", "impl", "security_headers",
             "errors", "RealAddress.middleware", "guard", "supervise")


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


def _label(stack: str) -> str:
    """A step's code in two frames: the first ones past the plumbing, line numbers dropped."""
    frames = [f.rsplit(":", 1)[0] for f in stack.split(" > ")]
    rest = [f for f in frames if f not in _PLUMBING] or frames
    return " > ".join(rest[:2])


def _install(out_dir: str) -> None:
    steps: dict[str, list[float]] = {}
    pauses: dict[int, list[float]] = {}
    gc_began = [0.0]
    gc_cpu = [0.0]
    young = [0]
    written = [time.monotonic()]
    out = [os.path.join(out_dir, f"steps-{os.getpid()}.txt")]
    run = asyncio.Handle._run
    iterations = [0] * len(ITERATION_BOUNDS_MS)
    # Within the iterations over LONG_ITERATION_S: their callbacks, and time by code.
    long_steps: list[float] = [0, 0, 0.0]  # iterations, callbacks, seconds
    long_by: dict[str, list[float]] = {}  # code: seconds, callbacks
    current: list[tuple[float, asyncio.Handle]] = []
    polled = [time.perf_counter()]
    select = selectors.EpollSelector.select

    def write() -> None:
        with open(out[0], "w") as f:
            for gen, (n, total, longest, most, freed, cpu) in sorted(pauses.items()):
                f.write(f"gc generation {gen}: {int(n)} collections, {total * 1000:.0f} ms, "
                        f"longest {longest * 1000:.1f} ms (the thread's CPU in it "
                        f"{cpu * 1000:.1f} ms); at most {int(most)} objects in "
                        f"the generation, {int(freed)} collected in all\n")
            counts = zip(ITERATION_BOUNDS_MS, iterations, strict=True)
            f.write("loop iterations by the time their callbacks held the loop (ms, upper bound): "
                    + ", ".join(f"<={b:g}: {n}" for b, n in counts) + "\n")
            if long_steps[0]:
                f.write(f"iterations over {LONG_ITERATION_S * 1000:.0f} ms: {long_steps[0]}, "
                        f"{long_steps[1] / long_steps[0]:.0f} callbacks over 0.5 ms each, "
                        f"{long_steps[2] * 1000:.0f} ms in all; their time by code "
                        "(ms, callbacks):\n")
                top = sorted(long_by.items(), key=lambda kv: -kv[1][0])[:25]
                for where, (took, n) in top:
                    f.write(f"  {took * 1000:8.0f} {int(n):7d}  {where}\n")
            f.write(f"steps over {THRESHOLD_S * 1000:.0f} ms: count, total ms, longest ms, "
                    "where the step ended\n")
            for where, (n, total, longest) in sorted(steps.items(), key=lambda kv: -kv[1][1]):
                f.write(f"{int(n):6d} {total * 1000:8.0f} {longest * 1000:7.1f}  {where}\n")

    def polled_again(self: selectors.EpollSelector, timeout: float | None = None) -> Any:
        now = time.perf_counter()
        held = now - polled[0]
        for at, bound in enumerate(ITERATION_BOUNDS_MS):
            if held * 1000 <= bound:
                iterations[at] += 1
                break
        if held > LONG_ITERATION_S:
            long_steps[0] += 1
            long_steps[1] += len(current)
            long_steps[2] += held
            for took, handle in current:
                row = long_by.setdefault(_label(_stack(handle)), [0.0, 0])
                row[0] += took
                row[1] += 1
        current.clear()
        try:
            return select(self, timeout)
        finally:
            polled[0] = time.perf_counter()

    def census(generation: int, objects: list[Any]) -> None:
        """What a collection is about to walk: its objects by type, and the references they
        hold (a container's walk visits each), by type and for the largest ones."""
        kinds: collections.Counter[str] = collections.Counter()
        refs: collections.Counter[str] = collections.Counter()
        largest: list[tuple[int, str]] = []
        for o in objects:
            kind = f"{type(o).__module__}.{type(o).__qualname__}"
            n = len(gc.get_referents(o))
            kinds[kind] += 1
            refs[kind] += n
            if n > 500:
                largest.append((n, kind))
        largest.sort(reverse=True)
        with open(os.path.join(out_dir, f"census-{os.getpid()}.txt"), "a") as f:
            f.write(f"generation {generation}: {len(objects)} objects, "
                    f"{sum(refs.values())} references\n")
            for kind, n in refs.most_common(15):
                f.write(f"  {n:8d} refs {kinds[kind]:7d} objects  {kind}\n")
            f.write("  largest: " + ", ".join(f"{k} {n}" for n, k in largest[:10]) + "\n")

    def tally() -> None:
        """The phase's cyclic garbage by type, and its frames by code."""
        gc.collect(0)
        gc.set_debug(0)
        kinds = collections.Counter(
            f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
        frames = collections.Counter(
            f"{o.f_code.co_filename}:{o.f_lineno}:{o.f_code.co_name}" for o in gc.garbage
            if isinstance(o, types.FrameType))
        gc.garbage.clear()
        with open(os.path.join(out_dir, f"garbage-{os.getpid()}.txt"), "w") as f:
            for kind, n in kinds.most_common(40):
                f.write(f"{n:8d}  {kind}\n")
            f.write("frames:\n")
            for code, n in frames.most_common(40):
                f.write(f"{n:8d}  {code}\n")

    def timed(handle: asyncio.Handle) -> None:
        began = time.perf_counter()
        run(handle)
        took = time.perf_counter() - began
        if took > 0.0005:
            current.append((took, handle))
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
            objects = gc.get_objects(info["generation"])
            young[0] = len(objects)
            if os.environ.get("BENCH_GC_CENSUS"):
                census(info["generation"], objects)
            del objects
            gc_began[0] = time.perf_counter()
            gc_cpu[0] = time.thread_time()
            return
        took = time.perf_counter() - gc_began[0]
        cpu = time.thread_time() - gc_cpu[0]
        row = pauses.setdefault(info["generation"], [0, 0.0, 0.0, 0, 0, 0.0])
        row[0] += 1
        row[1] += took
        if took > row[2]:
            row[2], row[5] = took, cpu
        row[3] = max(row[3], young[0])
        row[4] += info["collected"]

    def phase(signum: int, _frame: Any) -> None:
        """SIGUSR1: a phase begins, count from zero into steps-<pid>-phase.txt; SIGUSR2: it
        ended, write that file and count what follows in steps-<pid>-after.txt."""
        write()
        # After the phase (SIGUSR2) the counts go on in a file of their own.
        part = "phase" if signum == signal.SIGUSR1 else "after"
        if os.environ.get("BENCH_GARBAGE"):
            # The phase's cyclic garbage is kept (gc.garbage) and counted at its end.
            if signum == signal.SIGUSR1:
                gc.set_debug(gc.DEBUG_SAVEALL)
            else:
                tally()
        out[0] = os.path.join(out_dir, f"steps-{os.getpid()}-{part}.txt")
        for table in (steps, pauses, long_by):
            table.clear()
        iterations[:] = [0] * len(iterations)
        long_steps[:] = [0, 0, 0.0]

    signal.signal(signal.SIGUSR1, phase)
    signal.signal(signal.SIGUSR2, phase)
    asyncio.Handle._run = timed  # type: ignore[method-assign,assignment]
    selectors.EpollSelector.select = polled_again  # type: ignore[method-assign,assignment]
    gc.callbacks.append(collected)
    atexit.register(write)


def _thresholds(spec: str) -> None:
    """BENCH_GC_THRESHOLD: the collector's thresholds to try ("5000,100,10"), in place of
    those the server sets at start-up."""
    values = tuple(int(x) for x in spec.split(","))
    set_threshold = gc.set_threshold

    def fixed(*_asked: int) -> None:
        set_threshold(*values)

    gc.set_threshold = fixed


if (_dir := os.environ.get("BENCH_SLOW_STEPS")) and "serve" in sys.argv:
    _install(_dir)
    if _spec := os.environ.get("BENCH_GC_THRESHOLD"):
        _thresholds(_spec)
