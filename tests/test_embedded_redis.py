"""The real `hotline serve` with the embedded Redis (storage.redis_url = ""), as a subprocess:
the redis-server child lives on a unix socket in the data folder, ends with the server (also
when the server is killed), is not shared by two servers, and its append-only file keeps live
state across a restart."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis as sync_redis

from hotline.stores.live.keys import Keys
from tests.conftest import free_port

HOTLINE = Path(sys.executable).with_name("hotline")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting to be reaped counts as ended)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat_line.rpartition(")")[2].split()[0]
    return state not in ("Z", "X")


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _cmdline(pid: int) -> list[str]:
    return [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]


def _wait_until(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
            if m:
                out.add(m.group(1))
    return out


def _unix_sockets(pid: int) -> list[Path]:
    """Paths of the unix sockets a process holds (redis-server rewrites its argv)."""
    inodes = _socket_inodes(pid)
    out: set[Path] = set()
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 8 and parts[6] in inodes:
            out.add(Path(parts[7]))  # the listening socket and every accepted connection
    return sorted(out)


def _tcp_listeners(pid: int) -> list[str]:
    inodes = _socket_inodes(pid)
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] == "0A" and parts[9] in inodes:
                    out.append(parts[1])
    return out


def _redis_children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        child = int(entry.name)
        with contextlib.suppress(OSError, ValueError, IndexError):
            if _ppid(child) == pid and _alive(child) and "redis" in " ".join(_cmdline(child)):
                out.append(child)
    return out


class Serve:
    """One `hotline serve` subprocess on a config of its own."""

    def __init__(self, tmp_path: Path, data_dir: Path, name: str = "a") -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.config = tmp_path / f"config-{name}.toml"
        self.log = tmp_path / f"serve-{name}.log"
        self.config.write_text(
            "[server]\n"
            'host = "127.0.0.1"\n'
            f"port = {self.port}\n"
            f'public_url = "http://127.0.0.1:{self.port}"\n'
            "shutdown_timeout = 2.0\n"
            "[storage]\n"
            f"data_dir = {json.dumps(str(data_dir))}\n"
            'database_url = ""\n'
            'redis_url = ""\n'
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env["PYTHONUNBUFFERED"] = "1"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([str(HOTLINE), "--config", str(self.config), "serve"],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=env, cwd=self.config.parent)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def readyz(self) -> tuple[int, dict[str, str]]:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"hotline serve exited with {self.proc.returncode}:\n"
                                     f"{self.output()}")
            with contextlib.suppress(OSError):
                status, body = self.readyz()
                if status == 200:
                    assert body["redis"] == "ok" and body["sql"] == "ok"
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"hotline serve not ready:\n{self.output()}")
            time.sleep(0.1)

    def redis_pid(self) -> int:
        """The embedded redis-server's pid, from its pid file."""
        pidfile = self.data_dir / "redis" / "redis.pid"
        pid = 0

        def written() -> bool:
            nonlocal pid
            with contextlib.suppress(OSError, ValueError):
                pid = int(pidfile.read_text().strip())
            return pid > 0 and _alive(pid)

        _wait_until(written, 10, "the redis pid file")
        return pid

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=STOP_TIMEOUT_S)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Serve]]:
    """Serve objects made by a test; every process (and any redis child) is killed after."""
    made: list[Serve] = []
    yield made
    for s in made:
        pid = s.proc.pid if s.proc is not None else None
        children = _redis_children(pid) if pid else []
        s.kill()
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(OSError, ValueError):
            stale = int((s.data_dir / "redis" / "redis.pid").read_text().strip())
            if _alive(stale) and "redis" in " ".join(_cmdline(stale)):
                os.kill(stale, signal.SIGKILL)


def _serve(servers: list[Serve], tmp_path: Path, data_dir: Path, name: str = "a") -> Serve:
    s = Serve(tmp_path, data_dir, name)
    servers.append(s)
    s.start()
    return s


def test_serve_runs_an_embedded_redis_on_a_unix_socket(tmp_path: Path,
                                                      servers: list[Serve]) -> None:
    data = tmp_path / "data"
    s = _serve(servers, tmp_path, data)
    s.wait_ready()
    assert s.proc is not None
    pid = s.redis_pid()
    # A child of the server, listening on a unix socket only (no TCP port).
    assert _ppid(pid) == s.proc.pid
    assert "redis" in " ".join(_cmdline(pid))
    assert _tcp_listeners(pid) == []
    socks = _unix_sockets(pid)
    assert len(socks) == 1
    sock = socks[0]
    assert stat.S_ISSOCK(sock.stat().st_mode)
    expected = data / "redis" / "redis.sock"
    if len(str(expected)) <= 100:
        assert sock == expected
    # Only its owner may use the socket and the folder.
    assert stat.S_IMODE((data / "redis").stat().st_mode) == 0o700
    assert stat.S_IMODE(sock.stat().st_mode) & 0o077 == 0
    # Append-only persistence is on.
    client = sync_redis.Redis(unix_socket_path=str(sock), decode_responses=True)
    try:
        assert client.config_get("appendonly")["appendonly"] == "yes"
    finally:
        client.close()
    assert _redis_children(s.proc.pid) == [pid]


def test_sigterm_stops_hotline_and_its_redis(tmp_path: Path, servers: list[Serve]) -> None:
    s = _serve(servers, tmp_path, tmp_path / "data")
    s.wait_ready()
    pid = s.redis_pid()
    assert s.terminate() == 0, s.output()
    _wait_until(lambda: not _alive(pid), 10, "redis-server to exit")
    assert not (tmp_path / "data" / "redis" / "redis.pid").exists()


def test_sigkill_of_hotline_also_ends_its_redis(tmp_path: Path, servers: list[Serve]) -> None:
    data = tmp_path / "data"
    s = _serve(servers, tmp_path, data)
    s.wait_ready()
    pid = s.redis_pid()
    s.kill()  # SIGKILL: no cleanup runs in hotline
    # PR_SET_PDEATHSIG: the kernel tells the child its parent died.
    _wait_until(lambda: not _alive(pid), 10, "the orphaned redis-server to exit")
    # And the next start on the same folder works.
    again = _serve(servers, tmp_path, data, "b")
    again.wait_ready()
    assert again.redis_pid() != pid


def test_second_server_on_the_same_data_dir_is_refused(tmp_path: Path,
                                                       servers: list[Serve]) -> None:
    data = tmp_path / "data"
    first = _serve(servers, tmp_path, data, "a")
    first.wait_ready()
    pid = first.redis_pid()
    second = _serve(servers, tmp_path, data, "b")
    assert second.proc is not None
    code = second.proc.wait(timeout=START_TIMEOUT_S)
    assert code != 0
    assert "storage.data_dir" in second.output()
    # The first one and its Redis are untouched.
    assert _alive(pid) and first.redis_pid() == pid
    assert first.readyz()[0] == 200


async def _chat(session: aiohttp.ClientSession, base: str) -> str:
    resp = await session.get(f"{base}/chat?lang=en")
    assert resp.status == 200
    m = re.search(r'<meta name="csrf-token" content="([^"]+)">', await resp.text())
    assert m
    return m.group(1)


async def test_data_survives_a_restart(tmp_path: Path, servers: list[Serve]) -> None:
    data = tmp_path / "data"
    s = _serve(servers, tmp_path, data, "a")
    s.wait_ready()
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        csrf = await _chat(session, s.url)
        resp = await session.post(f"{s.url}/chat/api/messages", headers={"X-CSRF-Token": csrf},
                                  json={"text": "kept across a restart",
                                        "client_id": "restart-0001", "language": "en"})
        assert resp.status == 201, await resp.text()

    (sock,) = _unix_sockets(s.redis_pid())
    events_key = Keys("hl").events
    client = sync_redis.Redis(unix_socket_path=str(sock), decode_responses=True)
    try:
        entries: Any = client.xrange(events_key)
        before = [eid for eid, _ in entries]
    finally:
        client.close()
    assert before, "the message was not announced"

    assert s.terminate() == 0, s.output()
    s2 = _serve(servers, tmp_path, data, "b")
    s2.wait_ready()

    # Live state (the event log) came back from the append-only file...
    (sock2,) = _unix_sockets(s2.redis_pid())
    client = sync_redis.Redis(unix_socket_path=str(sock2), decode_responses=True)
    try:
        entries = client.xrange(events_key)
        after = [eid for eid, _ in entries]
    finally:
        client.close()
    assert after[: len(before)] == before
    assert any(p.stat().st_size > 0 for p in (data / "redis").rglob("*.aof"))

    # ...and the victim's browser, with the same cookie, still sees its message.
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        resp = await session.get(f"{s2.url}/chat/api/state")
        assert resp.status == 200, await resp.text()
        state = await resp.json()
        assert state["state"] == "waiting"
        assert [m["text"] for m in state["messages"]] == ["kept across a restart"]
        # A resend of the same message after the restart is not stored twice.
        csrf = await _chat(session, s2.url)
        resp = await session.post(f"{s2.url}/chat/api/messages",
                                  headers={"X-CSRF-Token": csrf},
                                  json={"text": "kept across a restart",
                                        "client_id": "restart-0001", "language": "en"})
        assert resp.status == 200
