"""Every console route for every role, on both databases: the policy module
(hotline/domain/policy.py) is the one answer, and the app does what it says. A route a role
may use reaches its handler; one it may not never reaches the handler and answers 404 (an API
route, as a missing record does) or the "not for your role" page (403, a console page). Every
staff route of the app has an entry in the policy, and every entry a route, so a new route
cannot slip in without a decision.

"Reaches its handler" is seen by an observing middleware the test adds innermost, after the
policy guard: it records each request that got past every check before the handler."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hotline.app import create_app
from hotline.domain import policy
from hotline.domain.staff import Role
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.helpers import Counselor, add_staff

# A value for each path parameter that the route's pattern accepts and that names no record
# (the handlers answer "not found" or a 400 after the policy let them run).
SAMPLES = {"id": "999999", "eid": "999999", "kind": "shifts", "action": "reactivate",
           "ref": "0" * 16, "day": "2030-01-01", "part": "agents", "signal": "minor",
           "name": "intake"}
ACTIONS = {"/api/v1/offers/{id}/{action}": "decline"}


def _staff_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    out = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method == "HEAD":
            continue
        path = resource.canonical
        if policy.is_staff_route(path):
            out.append((route.method, path, resource))
    return out


def test_every_staff_route_has_a_policy_entry_and_every_entry_a_route(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, "sqlite+aiosqlite:///:memory:", "redis://127.0.0.1:1")
    routes = {(m, p) for m, p, _r in _staff_routes(create_app(cfg))}
    assert routes - set(policy.ROUTES) == set()
    assert set(policy.ROUTES) - routes == set()


def test_roles_differ() -> None:
    """Admins manage staff, settings and the audit log; leads do not. Counselors and takedown
    staff have neither the floor supervision nor administration."""
    admin_only = {policy.Action.MANAGE_STAFF, policy.Action.SETTINGS, policy.Action.READ_AUDIT}
    for action in admin_only:
        assert [r for r in Role if policy.may(r, action)] == [Role.ADMIN]
    for action in (policy.Action.SUPERVISE, policy.Action.ROSTER, policy.Action.BANS,
                   policy.Action.WELLBEING, policy.Action.REPORTS):
        assert {r for r in Role if policy.may(r, action)} == {Role.LEAD, Role.ADMIN}
    assert all(policy.may(r, policy.Action.CONSOLE) for r in Role)


@pytest.fixture
async def observed(tmp_path: Path, database: Database, redis_server: RedisProcess
                   ) -> Any:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url)
    seen: list[tuple[str, str]] = []

    @web.middleware
    async def observe(request: web.Request, handler: Any) -> web.StreamResponse:
        resource = request.match_info.route.resource
        seen.append((request.method, resource.canonical if resource else ""))
        resp: web.StreamResponse = await handler(request)
        return resp

    runner = AppRunner(cfg)
    app = create_app(cfg)
    app.middlewares.append(observe)  # innermost: after the policy guard
    from aiohttp.test_utils import TestServer

    runner.server = TestServer(app)
    await runner.server.start_server()
    yield runner, app, seen
    await runner.stop()


def _url(path: str, resource: Any) -> str:
    if "{" not in path:
        return path
    names = re.findall(r"\{(\w+)\}", path)
    values = {n: SAMPLES[n] for n in names}
    if path in ACTIONS:
        values["action"] = ACTIONS[path]
    return str(resource.url_for(**values))


@pytest.mark.parametrize("role", list(Role))
async def test_every_route_for_every_role(observed: Any, role: Role) -> None:
    runner, app, seen = observed
    await add_staff(runner.config, "person", role)
    who = Counselor(await runner.client())
    assert await who.login("person") == 303
    # Logout last: it ends the session the walk uses.
    routes = sorted(_staff_routes(app), key=lambda r: r[1] == "/console/logout")
    checked = 0
    for method, path, resource in routes:
        url = _url(path, resource)
        seen.clear()
        resp = await who.client.request(method, url, json={}, allow_redirects=False,
                                        headers={"X-CSRF-Token": who.csrf})
        if resp.content_type == "text/event-stream":
            resp.close()  # the console stream stays open: its headers are the answer
        else:
            await resp.read()
        allowed = policy.may_use_route(role, method, path)
        reached = (method, path) in seen
        if allowed:
            assert reached, (role, method, path, resp.status)
            assert resp.status != 500, (role, method, path)
        else:
            assert not reached, (role, method, path)
            # An API route answers as a missing record; a page says it is not for the role.
            page = method == "GET" and path.startswith("/console")
            assert resp.status == (403 if page else 404), (role, method, path, resp.status)
        checked += 1
    assert checked == len(policy.ROUTES)
