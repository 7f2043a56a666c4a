"""`hotline staff ...` (and its alias `hotline counselor ...`) as an operator runs it, on both
databases: list (table and JSON), add with every field, edit, deactivate, reactivate, a
password link, a second-factor reset; wrong values exit 2 naming the option and change
nothing; every change is audited."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Database, RedisProcess
from tests.staff_support import audit_rows
from tests.test_cli import PASSWORD, Result, run


def _config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(f'[storage]\ndata_dir = "data"\ndatabase_url = "{database.url}"\n'
                 f'redis_url = "{redis_server.url}"\nredis_prefix = "tcli{tmp_path.name[-6:]}"\n')
    return p


def _staff(cfg: Path, *args: str, stdin: str = "") -> Result:
    return run("--config", str(cfg), "staff", *args, stdin=stdin)


def _listed(cfg: Path) -> dict[str, dict[str, object]]:
    r = _staff(cfg, "list", "--json")
    assert r.code == 0, r.err
    return {m["name"]: m for m in json.loads(r.out)}


async def test_staff_commands(tmp_path: Path, database: Database,
                              redis_server: RedisProcess) -> None:
    cfg = _config(tmp_path, database, redis_server)
    r = _staff(cfg, "add", "mina", "--role", "counselor", "--languages", "ko",
               "--channels", "webchat,telegram", "--specialisms", "minors", "--max-chats", "2",
               stdin=PASSWORD + "\n")
    assert r.code == 0, r.err
    mina = _listed(cfg)["mina"]
    assert (mina["languages"], mina["channels"], mina["specialisms"], mina["max_chats"],
            mina["active"], mina["two_factor"]) == (["ko"], ["webchat", "telegram"],
                                                    ["minors"], 2, True, False)
    table = _staff(cfg, "list")
    assert table.code == 0 and "mina" in table.out and "1 staff" in table.out
    assert PASSWORD not in table.out and "password" not in table.out.lower()

    for args, option in ((("--max-chats", "0"), "--max-chats"),
                         (("--channels", "fax"), "--channels"),
                         (("--role", "boss"), "--role")):
        bad = _staff(cfg, "edit", "mina", *args)
        assert bad.code == 2 and option in bad.err, bad.err
    assert _listed(cfg)["mina"] == mina
    missing = _staff(cfg, "deactivate", "nobody")
    assert missing.code == 2 and "NAME" in missing.err

    assert _staff(cfg, "edit", "mina", "--max-chats", "4", "--role", "lead").code == 0
    assert (_listed(cfg)["mina"]["max_chats"], _listed(cfg)["mina"]["role"]) == (4, "lead")
    done = _staff(cfg, "deactivate", "mina")
    assert done.code == 0 and "cases handed over: 0" in done.out, done.err
    assert _listed(cfg)["mina"]["active"] is False
    assert run("--config", str(cfg), "counselor", "reactivate", "mina").code == 0
    assert _listed(cfg)["mina"]["active"] is True
    link = _staff(cfg, "reset-password", "mina")
    assert link.code == 0 and "http://127.0.0.1:8080/console/reset/" in link.out
    assert _staff(cfg, "reset-2fa", "mina").code == 0

    actions = [(r.action, r.actor_id) for r in await audit_rows(database.url)
               if r.action.startswith("staff.") and not r.action.startswith("staff.login")]
    assert actions == [("staff.added", None), ("staff.edited", None),
                       ("staff.deactivated", None), ("staff.reactivated", None),
                       ("staff.password_reset", None), ("staff.2fa_reset", None)]
