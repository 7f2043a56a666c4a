"""Bad input over the real app (SQLite and PostgreSQL): every case gets a clear 4xx and changes
nothing, neither in SQL (row counts per table) nor in Redis (queue length, event log)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hotline.config import Config
from hotline.web.appkeys import DEPS
from tests.conftest import AppRunner, Database, RedisProcess, make_config, wait_for
from tests.helpers import PASSWORD, Counselor, Victim, add_staff, row_counts

# The login page in the centre's default console language (Korean).
WRONG_KO = "이름 또는 비밀번호가 맞지 않습니다."

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
MALFORMED_IDS = ["0123456789ABCDEF0123456789ABCDEF", "0" * 31 + "g", "..%2F..%2Fetc"]
GOOD_FORM = {"harm_type": "synthetic", "platforms": ["telegram"], "age_band": "18_24",
             "urgency": "high", "referrals": ["takedown"], "outcome": "takedown_requested"}


@dataclass
class World:
    runner: AppRunner
    victim: Victim        # has a waiting conversation (the one in the queue)
    counselor: Counselor  # "mina", holds `mine`
    mine: str             # a case held by mina
    others: str           # a case held by another counselor, "jun"

    async def fresh(self) -> TestClient[Any, Any]:
        return await self.runner.client()

    async def snapshot(self) -> tuple[dict[str, int], int, int]:
        deps = self.runner.server.app[DEPS]  # type: ignore[union-attr]
        return (await row_counts(self.runner.config), len(await deps.live.waiting()),
                int(await deps.redis.xlen(deps.keys.events)))


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    # Pull mode: no background offers move the waiting case while a test compares snapshots.
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"})


async def _settle(runner: AppRunner) -> None:
    """Wait until the router has looked at the queue as it now is (and raised any coverage
    alert it will raise), so later snapshots change only through the request under test."""
    deps = runner.server.app[DEPS]  # type: ignore[union-attr]
    if not hasattr(deps.keys, "coverage"):
        return

    async def seen() -> bool:
        return bool(await deps.redis.hexists(deps.keys.coverage, "en|webchat"))

    await wait_for(seen, timeout=10)


@pytest.fixture
async def world(app_runner: AppRunner) -> World:
    cfg = app_runner.config
    await add_staff(cfg, "mina")
    await add_staff(cfg, "jun")
    jun = Counselor(await app_runner.client())
    assert await jun.login("jun") == 303
    mina = Counselor(await app_runner.client())
    assert await mina.login("mina") == 303

    held_by_jun = Victim(await app_runner.client())
    await held_by_jun.open()
    assert (await held_by_jun.send("a case for jun")).status == 201
    others = await jun.take_next()

    held_by_mina = Victim(await app_runner.client())
    await held_by_mina.open()
    assert (await held_by_mina.send("a case for mina")).status == 201
    mine = await mina.take_next()

    waiting = Victim(await app_runner.client())
    await waiting.open()
    assert (await waiting.send("still waiting")).status == 201
    w = World(app_runner, waiting, mina, mine, others)
    await _settle(app_runner)
    assert (await w.snapshot())[1] == 1
    return w


async def _error(resp: Any) -> dict[str, Any]:
    """The JSON error body every API 4xx carries."""
    assert resp.content_type == "application/json", await resp.text()
    body: dict[str, Any] = await resp.json()
    assert body.get("error")
    return body


# --- the web chat -------------------------------------------------------------------------

def _cid() -> str:
    return secrets.token_hex(8)


async def _post_chat(w: World, **kw: Any) -> Any:
    headers = {"X-CSRF-Token": w.victim.csrf, **kw.pop("headers", {})}
    return await w.victim.client.post("/chat/api/messages", headers=headers, **kw)


async def too_many_chars(w: World) -> Any:
    n = w.runner.config.privacy.max_message_chars
    resp = await _post_chat(w, json={"text": "x" * (n + 1), "client_id": _cid()})
    body = await _error(resp)
    assert body["error"] == "text: too long" and body["max_chars"] == n
    return resp


async def body_over_request_limit(w: World) -> Any:
    # A short text, but a body over 64 KiB: refused by the request-size limit, not by the text
    # length check.
    raw = json.dumps({"text": "hi", "client_id": _cid(), "pad": "x" * (70 * 1024)})
    resp = await _post_chat(w, data=raw, headers={"Content-Type": "application/json"})
    body = await _error(resp)
    assert body["error"] != "text: too long"
    return resp


async def malformed_json(w: World) -> Any:
    resp = await _post_chat(w, data='{"text": "hi", "client_id": ',
                            headers={"Content-Type": "application/json"})
    assert (await _error(resp))["error"] == "malformed JSON"
    return resp


async def json_not_object(w: World) -> Any:
    resp = await _post_chat(w, json=["hello", _cid()])
    assert (await _error(resp))["error"] == "expected a JSON object"
    return resp


async def wrong_content_type(w: World) -> Any:
    resp = await _post_chat(w, data={"text": "hello", "client_id": _cid()})
    await _error(resp)
    return resp


async def empty_text(w: World) -> Any:
    resp = await _post_chat(w, json={"text": "  \n ", "client_id": _cid()})
    assert (await _error(resp))["error"].startswith("text:")
    return resp


async def text_not_string(w: World) -> Any:
    resp = await _post_chat(w, json={"text": 42, "client_id": _cid()})
    assert (await _error(resp))["error"].startswith("text:")
    return resp


async def missing_client_id(w: World) -> Any:
    resp = await _post_chat(w, json={"text": "hello"})
    assert (await _error(resp))["error"].startswith("client_id:")
    return resp


async def short_client_id(w: World) -> Any:
    resp = await _post_chat(w, json={"text": "hello", "client_id": "abc"})
    assert (await _error(resp))["error"].startswith("client_id:")
    return resp


async def long_client_id(w: World) -> Any:
    resp = await _post_chat(w, json={"text": "hello", "client_id": "c" * 65})
    assert (await _error(resp))["error"].startswith("client_id:")
    return resp


async def missing_csrf(w: World) -> Any:
    resp = await w.victim.client.post("/chat/api/messages",
                                      json={"text": "hello", "client_id": _cid()})
    await _error(resp)
    return resp


async def wrong_csrf(w: World) -> Any:
    resp = await _post_chat(w, json={"text": "hello", "client_id": _cid()},
                            headers={"X-CSRF-Token": "0" * 32})
    await _error(resp)
    return resp


async def no_cookie(w: World) -> Any:
    client = await w.fresh()
    resp = await client.post("/chat/api/messages", headers={"X-CSRF-Token": w.victim.csrf},
                             json={"text": "hello", "client_id": _cid()})
    await _error(resp)
    return resp


def _chat_cookie(w: World) -> str:
    jar = w.victim.client.session.cookie_jar
    return str(jar.filter_cookies(w.victim.client.make_url("/chat"))["hl_chat"].value)


async def _with_cookie(w: World, cookie: str) -> Any:
    client = await w.fresh()
    resp = await client.post("/chat/api/messages",
                             headers={"X-CSRF-Token": w.victim.csrf, "Cookie": f"hl_chat={cookie}"},
                             json={"text": "hello", "client_id": _cid()})
    await _error(resp)
    return resp


async def forged_cookie(w: World) -> Any:
    return await _with_cookie(w, "abc.def")


async def cookie_without_mac(w: World) -> Any:
    return await _with_cookie(w, _chat_cookie(w).partition(".")[0])


async def cookie_with_changed_mac(w: World) -> Any:
    raw, _, mac = _chat_cookie(w).partition(".")
    flipped = ("1" if mac[-1] != "1" else "2")
    return await _with_cookie(w, f"{raw}.{mac[:-1]}{flipped}")


async def cookie_with_changed_random_part(w: World) -> Any:
    raw, _, mac = _chat_cookie(w).partition(".")
    return await _with_cookie(w, f"{raw[:-1]}{'A' if raw[-1] != 'A' else 'B'}.{mac}")


async def state_with_forged_cookie(w: World) -> Any:
    client = await w.fresh()
    resp = await client.get("/chat/api/state", headers={"Cookie": "hl_chat=abc.def"})
    await _error(resp)
    return resp


async def state_bad_after(w: World) -> Any:
    resp = await w.victim.client.get("/chat/api/state?after=-1")
    await _error(resp)
    return resp


ChatCase = Callable[[World], Awaitable[Any]]
CHAT_CASES: list[tuple[ChatCase, int]] = [
    (too_many_chars, 413),
    (body_over_request_limit, 413),
    (malformed_json, 400),
    (json_not_object, 400),
    (wrong_content_type, 415),
    (empty_text, 400),
    (text_not_string, 400),
    (missing_client_id, 400),
    (short_client_id, 400),
    (long_client_id, 400),
    (missing_csrf, 403),
    (wrong_csrf, 403),
    (no_cookie, 401),
    (forged_cookie, 401),
    (cookie_without_mac, 401),
    (cookie_with_changed_mac, 401),
    (cookie_with_changed_random_part, 401),
    (state_with_forged_cookie, 401),
    (state_bad_after, 400),
]


@pytest.mark.parametrize(("case", "status"), CHAT_CASES, ids=[c.__name__ for c, _ in CHAT_CASES])
async def test_chat_bad_input_is_refused_and_changes_nothing(world: World, case: ChatCase,
                                                             status: int) -> None:
    before = await world.snapshot()
    resp = await case(world)
    assert resp.status == status, await resp.text()
    assert await world.snapshot() == before
    # The victim's real conversation is untouched.
    assert [m["text"] for m in (await world.victim.state())["messages"]] == ["still waiting"]


# --- the console API ----------------------------------------------------------------------

def _reply_body() -> dict[str, Any]:
    return {"text": "a reply that must not be stored", "client_id": _cid()}


CASE_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/cases/{id}", None),
    ("POST", "/api/v1/cases/{id}/take", {}),
    ("POST", "/api/v1/cases/{id}/messages", {"text": "not stored", "client_id": "cid-00000001"}),
    ("POST", "/api/v1/cases/{id}/close", GOOD_FORM),
]
ROUTE_IDS = ["read", "take", "reply", "close"]


async def _call(c: Counselor, method: str, path: str, body: dict[str, Any] | None) -> Any:
    if method == "GET":
        return await c.client.get(path)
    return await c.post(path, body)


@pytest.mark.parametrize(("method", "path", "body"), CASE_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("cid", [UNKNOWN_ID, *MALFORMED_IDS],
                         ids=["unknown", *[f"malformed{i}" for i in range(len(MALFORMED_IDS))]])
async def test_unknown_or_malformed_case_id_is_404(world: World, method: str, path: str,
                                                   body: dict[str, Any] | None,
                                                   cid: str) -> None:
    before = await world.snapshot()
    resp = await _call(world.counselor, method, path.format(id=cid), body)
    assert resp.status == 404, await resp.text()
    await _error(resp)
    assert await world.snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), CASE_ROUTES, ids=ROUTE_IDS)
async def test_case_held_by_another_counselor_reads_as_missing(
        world: World, method: str, path: str, body: dict[str, Any] | None) -> None:
    before = await world.snapshot()
    held = await _call(world.counselor, method, path.format(id=world.others), body)
    missing = await _call(world.counselor, method, path.format(id=UNKNOWN_ID), body)
    assert held.status == missing.status == 404, await held.text()
    assert await held.json() == await missing.json()
    assert await world.snapshot() == before
    # The page for the case is a 404 too.
    page = await world.counselor.client.get(f"/console/cases/{world.others}")
    assert page.status == 404


async def _no_csrf(w: World, path: str, body: dict[str, Any]) -> Any:
    return await w.counselor.client.post(path, json=body)


async def _wrong_csrf(w: World, path: str, body: dict[str, Any]) -> Any:
    return await w.counselor.client.post(path, json=body, headers={"X-CSRF-Token": "x" * 43})


async def _wrong_origin(w: World, path: str, body: dict[str, Any]) -> Any:
    return await w.counselor.client.post(path, json=body, headers={
        "X-CSRF-Token": w.counselor.csrf, "Origin": "https://evil.example"})


async def _cross_site_fetch(w: World, path: str, body: dict[str, Any]) -> Any:
    return await w.counselor.client.post(path, json=body, headers={
        "X-CSRF-Token": w.counselor.csrf, "Sec-Fetch-Site": "cross-site"})


CSRF_CASES = [_no_csrf, _wrong_csrf, _wrong_origin, _cross_site_fetch]
UNSAFE_ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/cases/{mine}/messages", {"text": "not stored", "client_id": "cid-00000002"}),
    ("/api/v1/cases/{mine}/close", GOOD_FORM),
    ("/api/v1/cases/{waiting}/take", {}),
    ("/api/v1/queue/take-next", {}),
]


async def _waiting_id(w: World) -> str:
    deps = w.runner.server.app[DEPS]  # type: ignore[union-attr]
    return (await deps.live.waiting())[0].conversation_id


@pytest.mark.parametrize("attack", CSRF_CASES, ids=[f.__name__.strip("_") for f in CSRF_CASES])
@pytest.mark.parametrize(("path", "body"), UNSAFE_ROUTES,
                         ids=["reply", "close", "take", "take-next"])
async def test_console_post_without_csrf_or_from_another_origin_is_403(
        world: World, attack: Callable[..., Awaitable[Any]], path: str,
        body: dict[str, Any]) -> None:
    url = path.format(mine=world.mine, waiting=await _waiting_id(world))
    before = await world.snapshot()
    resp = await attack(world, url, body)
    assert resp.status == 403, await resp.text()
    await _error(resp)
    assert await world.snapshot() == before


async def test_csrf_token_of_another_session_is_403(world: World) -> None:
    # A CSRF token is bound to its session: another counselor's token is wrong in mina's.
    await add_staff(world.runner.config, "sora")
    other = Counselor(await world.fresh())
    assert await other.login("sora") == 303
    before = await world.snapshot()
    resp = await world.counselor.client.post(
        f"/api/v1/cases/{world.mine}/messages", json=_reply_body(),
        headers={"X-CSRF-Token": other.csrf})
    assert resp.status == 403
    await _error(resp)
    assert await world.snapshot() == before


async def test_logout_without_csrf_is_refused(world: World) -> None:
    before = await world.snapshot()
    resp = await world.counselor.client.post("/console/logout", data={},
                                             allow_redirects=False)
    assert resp.status == 403
    assert await world.snapshot() == before
    assert (await world.counselor.client.get("/api/v1/me")).status == 200


async def test_wrong_password_is_401_and_rerenders_the_login_page(world: World) -> None:
    client = await world.fresh()
    page = await client.get("/console/login")
    m = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert m
    csrf = m.group(1)
    before = await world.snapshot()
    resp = await client.post("/console/login", allow_redirects=False, data={
        "name": "mina", "password": PASSWORD + "x", "csrf": csrf})
    assert resp.status == 401
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert 'action="/console/login"' in html and WRONG_KO in html
    assert "hl_staff" not in resp.cookies
    # Nothing changes but the audit log, which records the refused login (docs/audit.md).
    assert _but_audit(await world.snapshot()) == _but_audit(before)
    # An unknown name answers exactly the same.
    unknown = await client.post("/console/login", allow_redirects=False, data={
        "name": "nobody-here", "password": PASSWORD, "csrf": csrf})
    assert unknown.status == 401 and WRONG_KO in await unknown.text()
    after = await world.snapshot()
    assert _but_audit(after) == _but_audit(before)
    assert after[0]["audit_events"] == before[0]["audit_events"] + 2


def _but_audit(snap: tuple[dict[str, int], int, int]) -> tuple[dict[str, int], int, int]:
    counts, waiting, events = snap
    return {k: v for k, v in counts.items() if k != "audit_events"}, waiting, events


FORGED_STAFF_COOKIES = ["forged", "x" * 43, "x" * 200, ""]


@pytest.mark.parametrize("cookie", FORGED_STAFF_COOKIES, ids=["short", "token-like", "long",
                                                              "empty"])
async def test_forged_staff_cookie(world: World, cookie: str) -> None:
    client = await world.fresh()
    headers = {"Cookie": f"hl_staff={cookie}"}
    before = await world.snapshot()
    for path in ("/api/v1/me", "/api/v1/queue", f"/api/v1/cases/{world.mine}",
                 "/api/v1/events"):
        resp = await client.get(path, headers=headers)
        assert resp.status == 401, (path, await resp.text())
        await _error(resp)
    resp = await client.post("/api/v1/queue/take-next", json={},
                             headers={**headers, "X-CSRF-Token": world.counselor.csrf})
    assert resp.status == 401
    for path in ("/console", f"/console/cases/{world.mine}"):
        page = await client.get(path, headers=headers, allow_redirects=False)
        assert page.status == 303, path
        assert page.headers["Location"] == "/console/login"
    assert await world.snapshot() == before


BAD_FORMS: list[tuple[str, dict[str, Any]]] = [
    ("harm_type", {"harm_type": "nonsense"}),
    ("harm_type", {"harm_type": None}),
    ("platforms", {"platforms": ["telegram", "myspace"]}),
    ("platforms", {"platforms": {"a": 1}}),
    ("age_band", {"age_band": 18}),
    ("urgency", {"urgency": "whenever"}),
    ("referrals", {"referrals": ["takedown", 3]}),
    ("outcome", {"outcome": ""}),
]


@pytest.mark.parametrize(("field", "change"), BAD_FORMS,
                         ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_FORMS)])
async def test_intake_form_with_a_bad_field_is_400_naming_it(world: World, field: str,
                                                             change: dict[str, Any]) -> None:
    before = await world.snapshot()
    resp = await world.counselor.close(world.mine, **change)
    assert resp.status == 400, await resp.text()
    body = await _error(resp)
    assert body["field"] == field and body["error"].startswith(f"{field}:")
    assert await world.snapshot() == before
    assert (await world.counselor.case(world.mine))["status"] == "active"


async def test_intake_form_missing_a_field_is_400(world: World) -> None:
    before = await world.snapshot()
    form = {k: v for k, v in GOOD_FORM.items() if k != "outcome"}
    resp = await world.counselor.post(f"/api/v1/cases/{world.mine}/close", form)
    assert resp.status == 400
    assert (await _error(resp))["field"] == "outcome"
    assert await world.snapshot() == before


CONSOLE_BODY_CASES: list[tuple[str, dict[str, Any], int]] = [
    ("malformed", {"data": "{not json", "headers": {"Content-Type": "application/json"}}, 400),
    ("not-object", {"json": [1, 2]}, 400),
    ("form", {"data": {"text": "hi", "client_id": "cid-00000003"}}, 415),
    ("empty-text", {"json": {"text": " ", "client_id": "cid-00000004"}}, 400),
    ("short-client-id", {"json": {"text": "hi", "client_id": "c"}}, 400),
    ("too-long", {"json": {"text": "x" * 4001, "client_id": "cid-00000005"}}, 413),
    ("over-64k", {"data": json.dumps({"text": "hi", "client_id": "cid-00000006",
                                      "pad": "x" * (70 * 1024)}),
                  "headers": {"Content-Type": "application/json"}}, 413),
]


@pytest.mark.parametrize(("kind", "kw", "status"), CONSOLE_BODY_CASES,
                         ids=[k for k, _, _ in CONSOLE_BODY_CASES])
async def test_console_reply_with_a_bad_body(world: World, kind: str, kw: dict[str, Any],
                                             status: int) -> None:
    before = await world.snapshot()
    kw = dict(kw)  # the table is shared by both database runs: do not change it
    headers = {"X-CSRF-Token": world.counselor.csrf, **kw.pop("headers", {})}
    resp = await world.counselor.client.post(f"/api/v1/cases/{world.mine}/messages",
                                             headers=headers, **kw)
    assert resp.status == status, await resp.text()
    await _error(resp)
    assert await world.snapshot() == before


async def test_close_twice_is_409(world: World) -> None:
    assert (await world.counselor.close(world.mine)).status == 200
    before = await world.snapshot()
    resp = await world.counselor.close(world.mine)
    assert resp.status == 409
    assert (await _error(resp))["error"] == "already closed"
    assert await world.snapshot() == before


async def test_reply_to_a_closed_case_is_409(world: World) -> None:
    assert (await world.counselor.close(world.mine)).status == 200
    before = await world.snapshot()
    resp = await world.counselor.reply(world.mine, "too late")
    assert resp.status == 409
    await _error(resp)
    assert await world.snapshot() == before
    assert [m["text"] for m in (await world.counselor.case(world.mine))["messages"]] == [
        "a case for mina"]


async def test_take_a_case_already_taken_is_409(world: World) -> None:
    before = await world.snapshot()
    resp = await world.counselor.post(f"/api/v1/cases/{world.mine}/take")
    assert resp.status == 409
    await _error(resp)
    assert await world.snapshot() == before


@pytest.mark.parametrize("last", ["1700000000", "1-x", "9" * 41 + "-0", "1700000000-0; drop"])
async def test_malformed_last_event_id_is_400(world: World, last: str) -> None:
    before = await world.snapshot()
    resp = await world.counselor.client.get("/api/v1/events", headers={"Last-Event-ID": last})
    assert resp.status == 400
    await _error(resp)
    q = await world.counselor.client.get("/api/v1/events", params={"last_event_id": last})
    assert q.status == 400
    chat = await world.victim.client.get("/chat/api/events", headers={"Last-Event-ID": last})
    assert chat.status == 400
    assert await world.snapshot() == before


@pytest.mark.parametrize("after", ["-1", "1" * 10])
async def test_case_read_with_bad_after_is_400(world: World, after: str) -> None:
    resp = await world.counselor.client.get(f"/api/v1/cases/{world.mine}",
                                            params={"after": after})
    assert resp.status == 400
    await _error(resp)
