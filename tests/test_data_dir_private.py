"""The data folder and everything in it are readable by the service's user only: the real
`hotline serve` (embedded Redis, SQLite) started with a permissive umask, on a fresh folder
and on one an older version (or a restore) left open to every local user."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import AppRunner
from tests.helpers import Victim
from tests.test_embedded_redis import Serve, servers

__all__ = ["servers"]  # fixture

# What a victim's message leaves behind: the database with its WAL and shared memory, the
# key, and the embedded Redis's append-only files, log, pid file and socket.
EXPECTED = ("hotline.db", "hotline.db-wal", "hotline.db-shm", "secret.key", "redis/redis.log",
            "redis/redis.pid", "redis/appendonlydir")


def _open_to_others(root: Path) -> list[str]:
    """Every path under `root` (itself included) that its group or others may use."""
    found = []
    for p in (root, *root.rglob("*")):
        with contextlib.suppress(FileNotFoundError):
            st = p.lstat()
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o077:
                found.append(f"{p.relative_to(root)} {oct(stat.S_IMODE(st.st_mode))}")
    return found


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _start(servers: list[Serve], tmp_path: Path, data: Path, name: str) -> Serve:
    s = Serve(tmp_path, data, name)
    servers.append(s)
    with _umask(0o022):  # what a shell usually gives: files 0644, folders 0755
        s.start()
    s.wait_ready()
    return s


async def _victim_writes(s: Serve) -> None:
    """A victim's first message through the web chat (what the database and Redis keep)."""
    jar = aiohttp.CookieJar(unsafe=True)  # the server is an IP address
    async with aiohttp.ClientSession(s.url, cookie_jar=jar) as session:
        async with session.get("/chat?lang=en") as page:
            m = re.search(r'<meta name="csrf-token" content="([^"]+)">', await page.text())
        assert m is not None
        async with session.post("/chat/api/messages", headers={"X-CSRF-Token": m.group(1)},
                                json={"text": "someone posted my photos",
                                      "client_id": secrets.token_hex(8)}) as resp:
            assert resp.status == 201, await resp.text()


def _wait_for_files(data: Path) -> None:
    deadline = time.monotonic() + 10
    while not all((data / name).exists() for name in EXPECTED):
        if time.monotonic() > deadline:
            missing = [n for n in EXPECTED if not (data / n).exists()]
            raise AssertionError(f"never written: {missing}")
        time.sleep(0.05)


async def test_a_fresh_data_folder_is_private(tmp_path: Path, servers: list[Serve]) -> None:
    data = tmp_path / "data"
    s = _start(servers, tmp_path, data, "fresh")
    await _victim_writes(s)
    _wait_for_files(data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert _open_to_others(data) == [], "while running"
    assert s.terminate() == 0, s.output()
    assert _open_to_others(data) == [], "after a stop"


async def test_an_open_data_folder_is_made_private_at_start(tmp_path: Path,
                                                           servers: list[Serve]) -> None:
    data = tmp_path / "data"
    first = _start(servers, tmp_path, data, "old")
    await _victim_writes(first)
    assert first.terminate() == 0, first.output()
    # As an older version, a restore or a copy with a loose umask leaves it.
    (data / "notes").mkdir()
    (data / "notes" / "handover.txt").write_text("kept by an operator")
    for p in (data, *data.rglob("*")):
        if p.name != "secret.key":  # a key others could read refuses the start (test_crypto)
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
    assert len(_open_to_others(data)) > 5
    s = _start(servers, tmp_path, data, "new")
    await _victim_writes(s)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert _open_to_others(data) == []
    assert s.terminate() == 0, s.output()


@pytest.mark.empty_database  # the app creates the database file: that is what is checked
async def test_the_app_in_process_creates_its_database_private(app_runner: AppRunner) -> None:
    """Without `hotline serve`'s umask too (the app as the tests and other hosts run it)."""
    data = app_runner.config.data_path
    v = Victim(await app_runner.client())
    await v.open()
    assert (await v.send("hello")).status == 201
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert _open_to_others(data) == []
    url = make_url(app_runner.config.database_url)
    if url.get_backend_name() == "sqlite":
        db = Path(str(url.database))
        for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
