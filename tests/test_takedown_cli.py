"""`hotline takedown list [--overdue] [--json]` as an operator runs it: the worklist from SQL,
overdue first, then by due time; no text of any request."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.config import load_config
from hotline.domain.staff import Role, Staff
from hotline.prompts import Prompts
from hotline.staff import accounts as staff_store
from hotline.takedown import items, requests
from hotline.takedown.desk import Desk
from tests.conftest import RedisProcess
from tests.helpers import cheap_password_hash
from tests.service_deps import open_deps
from tests.test_cli import run

EXPLANATION = "She never agreed to this; the face is hers (sample)."


@pytest.fixture
def cfg_path(tmp_path: Path, redis_server: RedisProcess) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(f'[storage]\ndata_dir = "data"\nredis_url = "{redis_server.url}"\n'
                 f'redis_prefix = "t{secrets.token_hex(5)}"\n'
                 '[takedown]\nsignature = "Officer 17"\ncontact = "desk@centre.example"\n'
                 'requester = "The centre"\n')
    return p


async def test_list_overdue_first(cfg_path: Path) -> None:
    cfg = load_config(cfg_path, env={})
    now = datetime.now(UTC)
    async with open_deps(cfg) as deps:
        async with deps.engine.begin() as conn:
            sid = await staff_store.add(conn, name="tk", role=Role.TAKEDOWN,
                                        languages=("ko",), password_hash=cheap_password_hash("x"),
                                        at=now)
        tk = Staff(sid, "tk", Role.TAKEDOWN, ("ko",))
        desk = Desk(deps, Prompts())
        fresh = await items.create_item(desk, tk, {
            "kind": "synthetic", "platform": "x", "location": "https://x.com/a/status/1"})
        late = await items.create_item(desk, tk, {
            "kind": "intimate", "platform": "telegram", "location": "t.me/leaks_here/5"})
        waiting = await items.create_item(desk, tk, {
            "kind": "threat", "platform": "other", "location": "https://site.example/p"})
        ids = []
        for item, platform, route, hours in ((fresh, "x", "take_it_down", 1),
                                             (late, "telegram", "kcsc", 30)):
            rid = await requests.create_request(desk, tk, item, {
                "platform": platform, "route": route,
                "fields": {"explanation": EXPLANATION}})
            await requests.record_step(desk, tk, rid, {
                "step": "sent", "at": (now - timedelta(hours=hours)).isoformat()})
            ids.append(rid)
    r = run("--config", str(cfg_path), "takedown", "list", "--json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert [(w["item"], w["request"], w["overdue"]) for w in rows] == [
        (late, ids[1], True), (fresh, ids[0], False), (waiting, None, False)]
    assert EXPLANATION not in r.out
    r = run("--config", str(cfg_path), "takedown", "list", "--overdue")
    assert r.code == 0, r.err
    assert "1 on the desk overdue" in r.out and "kcsc" in r.out and "take_it_down" not in r.out
