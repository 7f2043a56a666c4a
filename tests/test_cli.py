"""The `hotline` command run as a real subprocess against a temporary config.toml (SQLite in a
temporary data folder, the session's private redis-server)."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, update

from hotline.cases.inbox import receive
from hotline.cases.tables import conversations
from hotline.config import load_config
from hotline.domain.conversation import Channel
from hotline.staff import accounts as staff_store
from hotline.staff.auth import verify_password
from hotline.staff.tables import counselors
from hotline.stores.sql.engine import MIGRATIONS_DIR, open_engine
from tests.conftest import RedisProcess
from tests.service_deps import inbound, open_deps

PASSWORD = "correct horse battery staple"
_VENV_SCRIPT = Path(sys.executable).parent / "hotline"
COMMAND = [str(_VENV_SCRIPT)] if _VENV_SCRIPT.exists() else [sys.executable, "-m", "hotline.cli"]
QUEUE_FIELDS = {"id", "channel", "language", "urgency", "waited_seconds"}


@dataclass
class Result:
    code: int
    out: str
    err: str


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(extra)
    return env


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None,
        cwd: Path | None = None) -> Result:
    p = subprocess.run([*COMMAND, *args], input=stdin, capture_output=True, text=True,
                       env=env or _env(), cwd=cwd, timeout=120, check=False)
    return Result(p.returncode, p.stdout, p.stderr)


def _config_text(redis_url: str, extra: str = "") -> str:
    return (f'[storage]\ndata_dir = "data"\nredis_url = "{redis_url}"\n'
            f'redis_prefix = "t{secrets.token_hex(5)}"\n{extra}')


@pytest.fixture
def cfg_path(tmp_path: Path, redis_server: RedisProcess) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(_config_text(redis_server.url))
    return p


# --- help --------------------------------------------------------------------------------------


def test_help_lists_commands() -> None:
    r = run("--help")
    assert r.code == 0, r.err
    for command in ("serve", "migrate", "check-config", "counselor", "queue"):
        assert command in r.out


@pytest.mark.parametrize(("args", "expected"), [
    (["counselor", "--help"], ["add"]),
    (["counselor", "add", "--help"], ["--role", "--languages", "NAME".lower()]),
    (["queue", "--help"], ["--json"]),
])
def test_sub_help(args: list[str], expected: list[str]) -> None:
    r = run(*args)
    assert r.code == 0, r.err
    for word in expected:
        assert word in r.out


def test_no_command_is_a_usage_error() -> None:
    r = run()
    assert r.code == 2
    assert "COMMAND" in r.err or "required" in r.err


# --- check-config ------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_check_config_ok(cfg_path: Path, where: str) -> None:
    args = (["--config", str(cfg_path), "check-config"] if where == "before"
            else ["check-config", "--config", str(cfg_path)])
    r = run(*args)
    assert r.code == 0, r.err
    assert "configuration OK" in r.out
    key = cfg_path.parent / "data" / "secret.key"
    assert key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().strip() not in r.out + r.err


def test_check_config_with_env_secret_does_not_print_it(cfg_path: Path) -> None:
    import base64

    secret = base64.urlsafe_b64encode(os.urandom(32)).decode()
    r = run("--config", str(cfg_path), "check-config", env=_env(HOTLINE_SECRET_KEY=secret))
    assert r.code == 0, r.err
    assert secret not in r.out + r.err
    assert not (cfg_path.parent / "data" / "secret.key").exists()


def test_check_config_via_hotline_config_env(cfg_path: Path, tmp_path: Path) -> None:
    r = run("check-config", env=_env(HOTLINE_CONFIG=str(cfg_path)), cwd=tmp_path)
    assert r.code == 0, r.err


BAD_CONFIGS = [
    ("unknown-key", "[server]\nbogus = 1\n", {}, "server.bogus"),
    ("unknown-section", "[bogus]\nx = 1\n", {}, "bogus"),
    ("port-type", '[server]\nport = "x"\n', {}, "server.port"),
    ("languages-type", "[languages]\nsupported = [1]\n", {}, "languages.supported"),
    ("default-language", '[languages]\nsupported = ["ko"]\ndefault = "en"\n', {},
     "languages.default"),
    ("public-url", '[server]\npublic_url = "ftp://x"\n', {}, "server.public_url"),
    ("database-url", '[storage]\ndata_dir = "data"\ndatabase_url = "mysql://x"\n', {},
     "storage.database_url"),
    ("bad-toml", "[server\n", {}, "not valid TOML"),
    ("env-port", "", {"HOTLINE_PORT": "x"}, "HOTLINE_PORT"),
    ("env-redis-url", "", {"HOTLINE_REDIS_URL": "http://x"}, "HOTLINE_REDIS_URL"),
    ("env-secret", "", {"HOTLINE_SECRET_KEY": "c2hvcnQ="}, "HOTLINE_SECRET_KEY"),
]


@pytest.mark.parametrize(("body", "env", "named"), [b[1:] for b in BAD_CONFIGS],
                         ids=[b[0] for b in BAD_CONFIGS])
def test_check_config_errors_exit_2_naming_the_key(tmp_path: Path, body: str,
                                                   env: dict[str, str], named: str) -> None:
    p = tmp_path / "config.toml"
    p.write_text(body if "[storage]" in body else f'{body}\n[storage]\ndata_dir = "data"\n')
    r = run("--config", str(p), "check-config", env=_env(**env))
    assert r.code == 2, (r.out, r.err)
    assert named in r.err
    assert "configuration error" in r.err
    assert "Traceback" not in r.err
    assert "configuration OK" not in r.out


def test_missing_config_file(tmp_path: Path) -> None:
    r = run("--config", str(tmp_path / "nope.toml"), "check-config")
    assert r.code == 2
    assert "not found" in r.err


@pytest.mark.parametrize("command", [["migrate"], ["queue"], ["counselor", "add", "x",
                                                               "--role", "counselor",
                                                               "--languages", "ko"]])
def test_every_command_refuses_bad_config(tmp_path: Path, command: list[str]) -> None:
    p = tmp_path / "config.toml"
    p.write_text('[server]\nbogus = 1\n[storage]\ndata_dir = "data"\n')
    r = run("--config", str(p), *command, stdin=PASSWORD + "\n")
    assert r.code == 2
    assert "server.bogus" in r.err
    assert not (tmp_path / "data" / "hotline.db").exists()


# --- migrate -----------------------------------------------------------------------------------


def test_migrate_prints_revision(cfg_path: Path) -> None:
    # Channel migrations branch from a common parent: the database ends at every head.
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    assert heads
    head = ",".join(sorted(heads))
    r = run("--config", str(cfg_path), "migrate")
    assert r.code == 0, r.err
    assert r.out.strip() == f"database at revision {head}"
    assert (cfg_path.parent / "data" / "hotline.db").exists()
    again = run("--config", str(cfg_path), "migrate")
    assert again.code == 0 and again.out == r.out


# --- counselor add -----------------------------------------------------------------------------


async def _accounts(cfg_path: Path) -> dict[str, dict[str, object]]:
    cfg = load_config(cfg_path, env={})
    if not Path(cfg.database_url.split(":///", 1)[1]).exists():
        return {}
    engine = open_engine(cfg.database_url)
    try:
        async with engine.connect() as conn:
            return {r.name: dict(r._mapping) for r in await conn.execute(select(counselors))}
    finally:
        await engine.dispose()


def _add(cfg_path: Path, name: str, role: str = "counselor", languages: str = "ko,en",
         password: str = PASSWORD) -> Result:
    return run("--config", str(cfg_path), "counselor", "add", name, "--role", role,
               "--languages", languages, stdin=password + "\n")


async def test_counselor_add(cfg_path: Path) -> None:
    r = _add(cfg_path, "mina")
    assert r.code == 0, r.err
    assert r.out.strip() == "added counselor mina (id 1)"
    assert PASSWORD not in r.out + r.err
    rows = await _accounts(cfg_path)
    assert set(rows) == {"mina"}
    mina = rows["mina"]
    assert mina["role"] == "counselor" and mina["languages"] == "ko,en" and mina["active"]
    assert PASSWORD not in str(mina["password_hash"])
    assert await verify_password(str(mina["password_hash"]), PASSWORD)
    assert not await verify_password(str(mina["password_hash"]), PASSWORD + "x")
    engine = open_engine(load_config(cfg_path, env={}).database_url)
    try:
        async with engine.connect() as conn:
            account = await staff_store.by_name(conn, "mina")
    finally:
        await engine.dispose()
    assert account is not None and account.staff.languages == ("ko", "en")


@pytest.mark.parametrize(("role", "languages"), [
    ("lead", "ko"), ("admin", "en"), ("takedown", "en,ko"), ("counselor", " ko , en "),
])
async def test_counselor_add_roles_and_languages(cfg_path: Path, role: str,
                                                 languages: str) -> None:
    r = _add(cfg_path, "someone", role=role, languages=languages)
    assert r.code == 0, r.err
    row = (await _accounts(cfg_path))["someone"]
    assert row["role"] == role
    assert row["languages"] == ",".join(x.strip() for x in languages.split(","))


async def test_counselor_add_duplicate(cfg_path: Path) -> None:
    assert _add(cfg_path, "mina").code == 0
    r = _add(cfg_path, "mina", password="another long password")
    assert r.code == 2
    assert "NAME" in r.err and "already exists" in r.err
    assert "Traceback" not in r.err
    rows = await _accounts(cfg_path)
    assert list(rows) == ["mina"]
    assert await verify_password(str(rows["mina"]["password_hash"]), PASSWORD)


BAD_ADDS = [
    ("bad-role", {"role": "boss"}, "--role"),
    ("bad-role-case", {"role": "Counselor"}, "--role"),
    ("unknown-language", {"languages": "ko,fr"}, "--languages"),
    ("only-unknown-language", {"languages": "de"}, "--languages"),
    ("empty-languages", {"languages": ""}, "--languages"),
    ("comma-only-languages", {"languages": ","}, "--languages"),
    ("short-password", {"password": "short"}, "password"),
    ("eleven-char-password", {"password": "x" * 11}, "password"),
    ("empty-password", {"password": ""}, "password"),
    ("name-with-space", {"name": "mina kim"}, "NAME"),
    ("name-too-long", {"name": "m" * 65}, "NAME"),
    ("name-blank", {"name": "   "}, "NAME"),
]


@pytest.mark.parametrize(("change", "named"), [b[1:] for b in BAD_ADDS],
                         ids=[b[0] for b in BAD_ADDS])
async def test_counselor_add_refused(cfg_path: Path, change: dict[str, str],
                                     named: str) -> None:
    kwargs = {"name": "mina", **change}
    r = _add(cfg_path, **kwargs)
    assert r.code == 2, (r.out, r.err)
    assert named in r.err
    assert "Traceback" not in r.err
    assert "password" not in change or change["password"] not in r.err or not change["password"]
    assert await _accounts(cfg_path) == {}


async def test_counselor_languages_follow_config(tmp_path: Path,
                                                 redis_server: RedisProcess) -> None:
    p = tmp_path / "config.toml"
    p.write_text(_config_text(redis_server.url,
                              '[languages]\nsupported = ["ko"]\ndefault = "ko"\n'))
    r = _add(p, "mina", languages="ko,en")
    assert r.code == 2 and "--languages" in r.err
    assert _add(p, "mina", languages="ko").code == 0


def test_counselor_name_boundary(cfg_path: Path) -> None:
    assert _add(cfg_path, "m" * 64).code == 0
    assert _add(cfg_path, "x").code == 0


# --- queue -------------------------------------------------------------------------------------


def _queue(cfg_path: Path) -> list[dict[str, object]]:
    r = run("--config", str(cfg_path), "queue", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert isinstance(data, list)
    return data


async def test_queue_json(cfg_path: Path) -> None:
    assert _queue(cfg_path) == []
    cfg = load_config(cfg_path, env={})
    address = "+821077776666"
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    async with open_deps(cfg) as deps:
        first = await receive(deps, inbound(address=address, channel=Channel.SMS,
                                            language="ko", keep_contact=True, at=hour_ago,
                                            text="please help"))
        second = await receive(deps, inbound(address="+821000000000", channel=Channel.TELEGRAM,
                                             language="en", at=hour_ago + timedelta(minutes=1)))
    rows = _queue(cfg_path)
    assert [r["id"] for r in rows] == [first.conversation_id, second.conversation_id]
    for row in rows:
        assert set(row) == QUEUE_FIELDS
        assert isinstance(row["waited_seconds"], int)
        assert row["waited_seconds"] >= 3540  # enqueued an hour (less a minute) ago
    assert rows[0]["channel"] == "sms" and rows[0]["language"] == "ko"
    assert rows[0]["urgency"] == "normal"
    assert rows[1]["channel"] == "telegram" and rows[1]["language"] == "en"

    # Urgency orders the list: a critical case comes first whatever its wait.
    engine = open_engine(cfg.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(conversations)
                               .where(conversations.c.id == second.conversation_id)
                               .values(urgency="critical"))
    finally:
        await engine.dispose()
    rows = _queue(cfg_path)
    assert [r["id"] for r in rows] == [second.conversation_id, first.conversation_id]
    assert rows[0]["urgency"] == "critical"

    table = run("--config", str(cfg_path), "queue")
    assert table.code == 0, table.err
    assert "2 waiting" in table.out
    assert first.conversation_id in table.out
    for text in (table.out, json.dumps(rows)):
        assert address not in text and address[1:] not in text
        assert "please help" not in text


async def test_queue_leaves_out_closed_and_active(cfg_path: Path) -> None:
    cfg = load_config(cfg_path, env={})
    async with open_deps(cfg) as deps:
        a = await receive(deps, inbound(address="+821000000001"))
        b = await receive(deps, inbound(address="+821000000002"))
        c = await receive(deps, inbound(address="+821000000003"))
        async with deps.engine.begin() as conn:
            await conn.execute(update(conversations).where(
                conversations.c.id == b.conversation_id).values(status="closed"))
            await conn.execute(update(conversations).where(
                conversations.c.id == c.conversation_id).values(status="active"))
    assert [r["id"] for r in _queue(cfg_path)] == [a.conversation_id]


def test_queue_table_empty(cfg_path: Path) -> None:
    r = run("--config", str(cfg_path), "queue")
    assert r.code == 0, r.err
    assert "0 waiting" in r.out
