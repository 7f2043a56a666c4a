"""A real `hotline serve` subprocess with a config.toml of its own, for tests that need
separate processes (two instances, an open-file limit), and a client session aimed at one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.local_servers import free_port

_VENV_SCRIPT = Path(sys.executable).with_name("hotline")
COMMAND = [str(_VENV_SCRIPT)] if _VENV_SCRIPT.exists() else [sys.executable, "-m", "hotline.cli"]

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
REQUEST_TIMEOUT_S = 60.0


class Instance:
    """One `hotline serve` subprocess with a config.toml of its own."""

    def __init__(self, tmp_path: Path, name: str, database_url: str, redis_url: str,
                 prefix: str, secret: str, extra_toml: str = "",
                 open_files: int | None = None,
                 two_factor_roles: tuple[str, ...] = (), log_level: str = "WARNING") -> None:
        self.name = name
        self.open_files = open_files
        self.port = free_port()
        folder = tmp_path / f"serve-{name}"
        folder.mkdir()
        self.config = folder / "config.toml"
        self.log = folder / "serve.log"
        self.config.write_text(
            "[server]\n"
            'host = "127.0.0.1"\n'
            f"port = {self.port}\n"
            f'public_url = "http://127.0.0.1:{self.port}"\n'
            "shutdown_timeout = 2.0\n"
            "[storage]\n"
            f"data_dir = {json.dumps(str(folder / 'data'))}\n"
            f"database_url = {json.dumps(database_url)}\n"
            f"redis_url = {json.dumps(redis_url)}\n"
            f'redis_prefix = "{prefix}"\n'
            "[routing]\n"
            'mode = "pull"\n'
            "[privacy]\n"
            f'log_level = "{log_level}"\n'
            # No second factor unless asked for (as tests/conftest.make_config).
            "[console]\n"
            f"two_factor_roles = {json.dumps(list(two_factor_roles))}\n" + extra_toml)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        self.env.update(HOTLINE_SECRET_KEY=secret, PYTHONUNBUFFERED="1")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([*COMMAND, "--config", str(self.config), "serve"],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self.env, cwd=self.config.parent,
                                         preexec_fn=self._limits)

    def _limits(self) -> None:
        # In the child, before exec: the open-file limit a systemd unit would set.
        if self.open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def wait_ready(self, session: aiohttp.ClientSession) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"instance {self.name} exited with "
                                     f"{self.proc.returncode}:\n{self.output()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{self.url}/readyz",
                                       timeout=aiohttp.ClientTimeout(total=3)) as resp:
                    if resp.status == 200:
                        return
            if time.monotonic() > deadline:
                raise AssertionError(f"instance {self.name} not ready:\n{self.output()}")
            await asyncio.sleep(0.2)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)


class At:
    """A client session aimed at one instance: what tests.helpers expect of a TestClient
    (get/post with paths). Cookies are not port-scoped, so one session (one browser) can
    speak to both instances."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    def get(self, path: str, **kw: Any) -> Any:
        return self.session.get(self.base + path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.session.post(self.base + path, **kw)


def browser() -> aiohttp.ClientSession:
    # unsafe=True: keep cookies set by an IP-address host (127.0.0.1).
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S))
