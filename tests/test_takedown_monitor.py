"""The monitoring job over the real app (SQLite and PostgreSQL) against a real aiohttp site on
loopback that changes its answers: online -> offline -> offline (verified: the request and
the item) -> online again (a re-upload: the item reopens, the desk and the case are paged).
Also: only what is due is checked, our user agent is sent, and no host ever has more
requests in flight than configured."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hotline.cases import alerts
from hotline.config import Config
from hotline.domain.staff import Role
from hotline.takedown import fetch
from hotline.takedown.desk import Desk
from hotline.takedown.monitor import monitor_pass
from tests.conftest import AppRunner, Database, RedisProcess, free_port, make_config, wait_for
from tests.floor import audit, staff
from tests.takedown_support import (
    DESK_DETAILS,
    EXPLANATION,
    Floor,
    call,
    consent,
    floor,
    new_item,
    new_request,
    step,
)

AGENT = "hotline-test-monitor/1"


@dataclass
class Site:
    """A loopback site: each path answers the status set for it (404 by default), after
    `delay` seconds; counts requests in flight per port and the most ever seen."""

    ports: list[int]
    answers: dict[str, int] = field(default_factory=dict)
    delay: float = 0.0
    agents: set[str] = field(default_factory=set)
    hits: int = 0
    in_flight: dict[int, int] = field(default_factory=dict)
    most: dict[int, int] = field(default_factory=dict)
    # Telegram's stand-in: whether each post is there; every page answers 200, as t.me does.
    posts: dict[str, bool] = field(default_factory=dict)
    embeds: list[str] = field(default_factory=list)

    def url(self, path: str, port: int | None = None) -> str:
        return f"http://127.0.0.1:{port or self.ports[0]}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        port = int(sock[1]) if sock else 0
        self.hits += 1
        self.agents.add(request.headers.get("User-Agent", ""))
        self.in_flight[port] = self.in_flight.get(port, 0) + 1
        self.most[port] = max(self.most.get(port, 0), self.in_flight[port])
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if request.path == "/moved":
                raise web.HTTPFound("/v/1")
            if request.path in self.posts:
                return self._telegram(request)
            return web.Response(status=self.answers.get(request.path, 404), text="x")
        finally:
            self.in_flight[port] -= 1


    def _telegram(self, request: web.Request) -> web.Response:
        if request.query.get("embed") != "1" or request.query.get("mode") != "tme":
            return web.Response(text="<html>a post page: 200 whether or not it exists</html>",
                                content_type="text/html")
        self.embeds.append(request.path)
        channel, post = request.path.strip("/").split("/")
        widget = (f'<div class="tgme_widget_message js-widget_message" '
                  f'data-post="{channel}/{post}">a picture</div>'
                  if self.posts[request.path] else
                  '<div class="tgme_widget_message_error">Post not found</div>')
        return web.Response(text=f"<html><body>{widget}</body></html>",
                            content_type="text/html")


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    s = Site(ports=[free_port(), free_port()])
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", s.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for port in s.ports:
        await web.TCPSite(runner, "127.0.0.1", port).start()
    yield s
    await runner.cleanup()


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"},
                       takedown={**DESK_DETAILS, "monitor": {
                           "enabled": False, "allow_private": True, "user_agent": AGENT,
                           # The Telegram stand-in answers as "localhost", the others as
                           # 127.0.0.1 (the same site).
                           "telegram_hosts": ["localhost"],
                           "timeout_seconds": 5.0, "per_host": 2,
                           "per_host_per_second": 1000.0, "concurrency": 8}})


@pytest.fixture
async def desk_floor(app_runner: AppRunner) -> Floor:
    return await floor(app_runner)


def _clocked(f: Floor, now: list[datetime]) -> Desk:
    return Desk(f.desk.deps, f.desk.prompts, clock=lambda: now[0])


async def _removed_item(f: Floor, url: str) -> tuple[int, int]:
    item = await new_item(f.tk, case_id=f.case_id, alert_id=f.alert_id, platform="other",
                          location=url)
    await consent(f.tk, item["id"])
    req = await new_request(f.tk, item["id"], platform="other", route="host_abuse",
                            fields={**EXPLANATION, "policy_broken": "Intimate imagery"},
                            address="abuse@host.example")
    for name in ("sent", "removed"):
        status, body = await step(f.tk, req["id"], name)
        assert status == 200, body
    return int(item["id"]), int(req["id"])


async def _state(f: Floor, item_id: int, request_id: int) -> tuple[str, str, str]:
    _s, item = await call(f.tk, "GET", f"/api/v1/takedown/items/{item_id}")
    _s, req = await call(f.tk, "GET", f"/api/v1/takedown/requests/{request_id}")
    return item["status"], req["state"], item["locations"][0]["online"]


async def test_removed_verified_then_reuploaded(desk_floor: Floor, site: Site) -> None:
    f = desk_floor
    site.answers["/v/1"] = 200
    item_id, req_id = await _removed_item(f, site.url("/v/1"))
    now = [datetime.now(UTC) + timedelta(seconds=1)]
    desk = _clocked(f, now)
    async with fetch.session(desk.config.monitor) as http:
        # The platform says removed, but it is still online.
        first = await monitor_pass(desk, http)
        assert list(first.checked.values()) == ["online"]
        assert await _state(f, item_id, req_id) == ("open", "removed", "online")
        # Not due again until an hour later (the item is open): a pass checks nothing.
        assert (await monitor_pass(desk, http)).checked == {}
        site.answers["/v/1"] = 404
        now[0] += timedelta(minutes=61)
        second = await monitor_pass(desk, http)
        assert second.verified_locations == [] and second.verified_requests == []
        assert await _state(f, item_id, req_id) == ("open", "removed", "offline")
        now[0] += timedelta(minutes=61)
        third = await monitor_pass(desk, http)
        assert third.verified_requests == [req_id] and third.items == {item_id: "all_removed"}
        assert await _state(f, item_id, req_id) == ("all_removed", "verified", "offline")
        status, _b = await call(f.tk, "POST", f"/api/v1/takedown/items/{item_id}/status",
                                {"event": "monitor"})
        assert status == 200
        # Removed: checked daily now. Back online: a re-upload.
        site.answers["/v/1"] = 200
        now[0] += timedelta(minutes=61)
        assert (await monitor_pass(desk, http)).checked == {}
        now[0] += timedelta(hours=24)
        fourth = await monitor_pass(desk, http)
    assert fourth.items == {item_id: "open"} and len(fourth.reuploads) == 1
    assert len(fourth.desk_alerts) == 1
    assert await _state(f, item_id, req_id) == ("open", "verified", "online")
    assert site.agents == {AGENT}
    _s, listed = await call(f.tk, "GET", "/api/v1/takedown/alerts")
    assert [a["request"] for a in listed["alerts"]] == [req_id]
    case_alerts = await alerts.of_case(f.desk.deps, f.case_id, alerts.TAKEDOWN)
    assert case_alerts[-1].reasons == ("reupload",) and case_alerts[-1].acked_at is None
    _s, item = await call(f.tk, "GET", f"/api/v1/takedown/items/{item_id}")
    assert [r["via"] for r in item["reuploads"]] == ["recheck"]
    # Every change is audited (no actor); a check that changes nothing is not.
    watch = await audit(f.runner, "takedown.location.watch", str(item_id))
    assert [w["detail"]["watch"] for w in watch] == [
        "online", "offline_once", "verified", "online"]
    assert all(w["actor_id"] is None for w in watch)
    steps = [s for s in await audit(f.runner, "takedown.step", str(req_id))
             if s["detail"]["via"] == "monitor"]
    assert [s["detail"]["step"] for s in steps] == ["verified"]
    statuses = await audit(f.runner, "takedown.item.status", str(item_id))
    assert [(s["detail"]["status"], s["detail"].get("via")) for s in statuses] == [
        ("all_removed", "monitor"), ("monitoring", None), ("open", "recheck")]
    assert len(await audit(f.runner, "takedown.reupload", str(item_id))) == 1


async def test_unknown_and_redirects(desk_floor: Floor, site: Site) -> None:
    f = desk_floor
    site.answers["/v/1"] = 200
    item_id, req_id = await _removed_item(f, site.url("/moved"))
    now = [datetime.now(UTC) + timedelta(seconds=1)]
    desk = _clocked(f, now)
    async with fetch.session(desk.config.monitor) as http:
        assert list((await monitor_pass(desk, http)).checked.values()) == ["online"]
        site.answers["/v/1"] = 503  # says nothing about the content
        now[0] += timedelta(minutes=61)
        assert list((await monitor_pass(desk, http)).checked.values()) == ["unknown"]
    assert await _state(f, item_id, req_id) == ("open", "removed", "unknown")


async def test_telegram_posts_are_read_from_their_embed_page(desk_floor: Floor,
                                                             site: Site) -> None:
    """t.me answers 200 for a deleted post: its embed page's "Post not found" is what counts.
    A private channel's link cannot be checked from outside: unknown, and not fetched."""
    f = desk_floor
    port = site.ports[0]
    site.posts["/leakroom/812"] = True
    item_id, req_id = await _removed_item(f, f"http://localhost:{port}/s/leakroom/812")
    private_id, _r = await _removed_item(f, f"http://localhost:{port}/c/1234567/9")
    now = [datetime.now(UTC) + timedelta(seconds=1)]
    desk = _clocked(f, now)
    async with fetch.session(desk.config.monitor) as http:
        first = await monitor_pass(desk, http)
        assert sorted(first.checked.values()) == ["online", "unknown"]
        site.posts["/leakroom/812"] = False  # deleted; the post's own page still answers 200
        for _ in range(2):
            now[0] += timedelta(minutes=61)
            last = await monitor_pass(desk, http)
    assert last.verified_requests == [req_id] and last.items == {item_id: "all_removed"}
    assert await _state(f, item_id, req_id) == ("all_removed", "verified", "offline")
    _s, private = await call(f.tk, "GET", f"/api/v1/takedown/items/{private_id}")
    assert private["status"] == "open" and private["locations"][0]["online"] == "unknown"
    assert site.embeds == ["/leakroom/812"] * 3
    watch = await audit(f.runner, "takedown.location.watch", str(item_id))
    assert [(w["detail"]["watch"], w["detail"]["http_status"]) for w in watch] == [
        ("online", 200), ("offline_once", 200), ("verified", 200)]


async def test_private_addresses_are_not_fetched(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, "sqlite+aiosqlite://", "redis://127.0.0.1:1").takedown.monitor
    gate = fetch.HostGate(cfg.per_host, cfg.per_host_per_second)
    async with fetch.session(cfg) as http:
        for url in ("http://127.0.0.1:9/", "http://10.0.0.1/", "http://localhost:9/"):
            assert await fetch.fetch_status(http, gate, asyncio.Semaphore(1), cfg, url) is None


async def test_never_more_than_per_host_at_once(desk_floor: Floor, site: Site) -> None:
    f = desk_floor
    site.delay = 0.05
    for n in range(8):
        for port in site.ports:
            site.answers[f"/p/{n}"] = 200
            await new_item(f.tk, platform="other", location=site.url(f"/p/{n}", port))
    desk = _clocked(f, [datetime.now(UTC) + timedelta(seconds=1)])
    async with fetch.session(desk.config.monitor) as http:
        done = await monitor_pass(desk, http)
    assert len(done.checked) == 16 and set(done.checked.values()) == {"online"}
    assert site.hits == 16
    assert site.most == {site.ports[0]: 2, site.ports[1]: 2}



async def test_the_job_runs_under_the_app(tmp_path: Path, database: Database,
                                          redis_server: RedisProcess, site: Site) -> None:
    """Enabled, the job checks on its own beat through the app's job runner."""
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      routing={"mode": "pull"},
                      takedown={**DESK_DETAILS, "monitor": {
                          "enabled": True, "allow_private": True, "check_seconds": 1.0,
                          "user_agent": AGENT}})
    runner = AppRunner(cfg)
    await runner.start()
    try:
        tk = await staff(runner, "tk", role=Role.TAKEDOWN)
        site.answers["/j/1"] = 410
        item = await new_item(tk, platform="other", location=site.url("/j/1"))

        async def checked() -> dict[str, Any] | None:
            _s, seen = await call(tk, "GET", f"/api/v1/takedown/items/{item['id']}")
            return seen if seen["locations"][0]["online"] == "offline" else None

        seen = await wait_for(checked, timeout=15)
        assert seen["locations"][0]["watch"] == "offline_once"
        assert site.agents == {AGENT}
    finally:
        await runner.stop()
