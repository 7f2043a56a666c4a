"""The floor of bench/surge_bench.py, written straight into SQL before the server starts (the
server rebuilds Redis from it): counselors at capacity, leads, and the waiting queue. Also the
clients' small helpers: logging in, /proc figures, the loop-lag histogram from /metrics."""

from __future__ import annotations

import asyncio
import os
import random
import re
import secrets
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import insert

from hotline.cases.tables import conversations, shifts
from hotline.config import config_from_mapping
from hotline.domain.conversation import Urgency
from hotline.domain.triage import aged
from hotline.staff.auth import hash_password
from hotline.staff.tables import counselors
from hotline.stores.sql.engine import migrate, open_engine
from tests.helpers import PASSWORD

CHANNELS = ("webchat",) * 6 + ("sms",) * 3 + ("telegram",)
MAX_CHATS = 3
# Seeded waits are spread over this long; their urgency is what aging would have made it.
SEED_WAIT_S = 1800


def _languages(i: int) -> str:
    return ("ko", "en", "ko,en")[0 if i % 10 < 4 else 1 if i % 10 < 7 else 2]


async def seed(database_url: str, counselors_n: int, leads: int, waiting: int,
               rostered: bool = False) -> None:
    """Counselors (available, each holding MAX_CHATS active cases), leads, waiting cases;
    with `rostered`, the counselors follow the roster, with five weekly shifts each."""
    rng = random.Random(1)
    now = datetime.now(UTC)
    rules = config_from_mapping({}).triage
    pw = hash_password(PASSWORD)
    engine = open_engine(database_url)
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            staff = [{"name": f"c{i}", "role": "counselor", "languages": _languages(i),
                      "password_hash": pw, "created_at": now, "max_chats": MAX_CHATS,
                      "presence_status": "available", "rostered": rostered}
                     for i in range(counselors_n)]
            staff += [{"name": f"lead{i}", "role": "lead", "languages": "ko,en",
                       "password_hash": pw, "created_at": now, "max_chats": MAX_CHATS,
                       "presence_status": "busy", "rostered": False}
                      for i in range(leads)]
            await conn.execute(insert(counselors), staff)
            if rostered:
                await conn.execute(insert(shifts), _week(counselors_n, now))
        rows = []
        for cid in range(1, counselors_n + 1):
            langs = _languages(cid - 1).split(",")
            for _ in range(MAX_CHATS):
                at = now - timedelta(seconds=rng.uniform(60, 3600))
                rows.append(_conv("active", rng.choice(CHANNELS), rng.choice(langs),
                                  Urgency.NORMAL, at, cid, ()))
        for _ in range(waiting):
            waited = rng.uniform(0, SEED_WAIT_S)
            base = rng.choices((Urgency.CRITICAL, Urgency.HIGH, Urgency.NORMAL), (5, 20, 75))[0]
            level = aged(base, waited, rules)
            rows.append(_conv("waiting", rng.choice(CHANNELS), rng.choice(("ko", "en")), level,
                              now - timedelta(seconds=waited), None,
                              ("aged",) if level != base else ()))
        async with engine.begin() as conn:
            for start in range(0, len(rows), 2000):
                await conn.execute(insert(conversations), rows[start:start + 2000])
    finally:
        await engine.dispose()


def _week(counselors_n: int, now: datetime) -> list[dict[str, object]]:
    """Five eight-hour weekly shifts for each counselor (ids 1..n), today's under way: it
    began on one of the last ten half hours but one (as a rota staggers its starts), and ends
    hours after the bench."""
    rows: list[dict[str, object]] = []
    half = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    for i in range(counselors_n):
        start = half - timedelta(minutes=30 * (1 + i % 10))
        first = start.hour * 60 + start.minute
        rows += [{"counselor_id": i + 1, "weekday": (start.weekday() + d) % 7,
                  "start_minute": first, "end_minute": (first + 480) % 1440, "tz": "UTC",
                  "created_at": now} for d in range(5)]
    return rows


def _conv(status: str, channel: str, language: str, urgency: Urgency, at: datetime,
          counselor: int | None, reasons: tuple[str, ...]) -> dict[str, object]:
    return {"id": uuid.uuid4().hex, "channel": channel, "pseudonym": secrets.token_hex(16),
            "language": language, "status": status, "urgency": urgency.value,
            "counselor_id": counselor, "next_seq": 1, "created_at": at, "enqueued_at": at,
            "assigned_at": at if counselor else None, "last_activity_at": at,
            "urgency_reasons": ",".join(reasons)}


async def login(session: aiohttp.ClientSession, base: str, name: str) -> str:
    token = secrets.token_urlsafe(24)
    async with session.post(f"{base}/console/login", allow_redirects=False,
                            headers={"Cookie": f"hl_login={token}"},
                            data={"name": name, "password": PASSWORD, "csrf": token}) as resp:
        if resp.status != 303:
            raise RuntimeError(f"login of {name} answered {resp.status}")
        return str(resp.cookies["hl_staff"].value)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_delay_s(pid: int) -> float:
    """Seconds the process's main thread (its event loop) has spent runnable but waiting for
    a core (the kernel's schedstat): a stall of the loop that is no work of the server's."""
    return int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[1]) / 1e9


# A bare event loop doing nothing but the server's loop-lag probe: its stalls are the
# machine's (a busy core, the hypervisor), the floor under the server's own.
_BARE_LOOP = """
import asyncio, sys, time
async def main(seconds):
    loop = asyncio.get_running_loop()
    lags, end = [], loop.time() + seconds
    while loop.time() < end:
        asked = loop.time() + 0.01
        await asyncio.sleep(0.01)
        lags.append(max(0.0, loop.time() - asked))
    lags.sort()
    print(lags[int(len(lags) * 0.99)] * 1000, lags[-1] * 1000)
asyncio.run(main(float(sys.argv[1])))
"""


async def bare_loop(seconds: float) -> tuple[float, float]:
    """p99 and max (ms) of the stalls of a bare loop in a process of its own, run for
    `seconds` beside the server: the baseline for the server's loop stalls."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _BARE_LOOP, str(seconds), stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    p99, top = out.split()
    return float(p99), float(top)


_BUCKET = r'^{}_bucket\{{le="([^"]+)"\}} ([0-9.e+]+)$'


async def lag_buckets(session: aiohttp.ClientSession, base: str, token: str,
                      metric: str = "hotline_loop_lag_seconds") -> list[tuple[float, float]]:
    """A histogram's cumulative buckets (upper bound in s, count) from /metrics: by default
    the loop's lag."""
    async with session.get(f"{base}/metrics",
                           headers={"Authorization": f"Bearer {token}"}) as resp:
        text = await resp.text()
    pattern = re.compile(_BUCKET.format(metric), re.M)
    return [(float(le), float(n)) for le, n in pattern.findall(text)]


def lag_figures(before: list[tuple[float, float]], after: list[tuple[float, float]]
                ) -> tuple[float, float, int]:
    """p99 and max of the stalls between two scrapes, as bucket upper bounds in ms, and n."""
    diff = [(le, a - b) for (le, a), (_, b) in zip(after, before, strict=True)]
    total = diff[-1][1] if diff else 0
    if not total:
        return float("nan"), float("nan"), 0
    p99 = next(le for le, n in diff if n >= 0.99 * total)
    top = next(le for le, n in diff if n >= total)
    return p99 * 1000, top * 1000, int(total)


async def profile(pid: int, seconds: float, out: Path) -> list[tuple[int, str]]:
    """py-spy samples of a process for `seconds` (idle threads left out; not pausing it, so
    the figures of a phase it samples stay near the unsampled ones), written to `out` as
    collapsed stacks; the 12 functions seen most at the top of a stack (own time)."""
    import shutil
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    proc = await asyncio.create_subprocess_exec(
        spy, "record", "--format", "raw", "-o", str(out), "-d", str(int(seconds)), "-r", "200",
        "--nonblocking", "-p", str(pid), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    await proc.wait()
    own: dict[str, int] = {}
    if not out.exists():
        return []
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        top = stack.rsplit(";", 1)[-1]
        own[top] = own.get(top, 0) + int(n)
    return sorted(((n, f) for f, n in own.items()), reverse=True)[:12]
