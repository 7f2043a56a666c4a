"""What the real-address middleware (hotline/web/remote.py) costs per request, beside the same
handler call without it, in one run.

    .venv/bin/python bench/remote_bench.py [--calls N] [--rounds R]

Every request of every route passes through RealAddress, so this is its whole cost on the
inbound path. A real aiohttp server on a loopback port receives one real request per set-up,
and its handler times, on that very request object, N calls of a handler that answers at once,
with and without the middleware around it, in R rounds (default 7) that alternate the two; the
median round stands. The set-ups: no trusted proxy (the default); a trusted proxy's request
without X-Forwarded-For; one with it (the nginx case: the header is read and the request
cloned). Compare with a whole inbound SMS (bench/sms_bench.py: about 1 ms at c=1 on a 2-CPU
machine). Figures only: nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from hotline.web.remote import RealAddress

SETUPS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "no trusted proxy": ((), {}),
    "trusted peer, no header": (("127.0.0.1",), {}),
    "trusted peer, X-Forwarded-For": (("127.0.0.1",), {
        "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "help.example.org"}),
}


async def _inner(request: web.Request) -> web.StreamResponse:
    return web.Response()


async def _per_call_us(call: Callable[[], Awaitable[Any]], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - start) / n * 1e6


def _timing_app(calls: int, rounds: int) -> web.Application:
    async def timed(request: web.Request) -> web.StreamResponse:
        middleware = RealAddress(SETUPS[request.query["setup"]][0]).middleware
        alone: list[float] = []
        wrapped: list[float] = []
        for _ in range(rounds):
            alone.append(await _per_call_us(lambda: _inner(request), calls))
            wrapped.append(await _per_call_us(lambda: middleware(request, _inner), calls))
        return web.json_response({"alone": statistics.median(alone),
                                  "wrapped": statistics.median(wrapped)})

    app = web.Application()
    app.router.add_post("/time", timed)
    return app


async def main(args: argparse.Namespace) -> None:
    print(f"remote bench: N={args.calls}, R={args.rounds}, load {os.getloadavg()[0]:.2f}")
    runner = web.AppRunner(_timing_app(args.calls, args.rounds))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            for label, (_trusted, headers) in SETUPS.items():
                async with session.post(f"http://127.0.0.1:{port}/time",
                                        params={"setup": label}, headers=headers) as resp:
                    got = await resp.json()
                a, w = got["alone"], got["wrapped"]
                print(f"  {label:30s} handler alone {a:5.2f} us   with RealAddress {w:6.2f} us"
                      f"   added {w - a:6.2f} us per request")
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=7)
    asyncio.run(main(p.parse_args()))
