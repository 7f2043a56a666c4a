"""Operations endpoints and security headers over the real app."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import AppRunner, Database, RedisProcess, free_port, make_config
from tests.helpers import Victim


async def test_healthz(app_runner: AppRunner) -> None:
    client = await app_runner.client()
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert (await resp.json())["status"] == "ok"


async def test_readyz_ok(app_runner: AppRunner) -> None:
    client = await app_runner.client()
    resp = await client.get("/readyz")
    assert resp.status == 200
    body = await resp.json()
    assert body == {"status": "ok", "sql": "ok", "redis": "ok"}


async def test_readyz_names_redis_when_it_is_down(tmp_path: Path, database: Database,
                                                  private_redis: RedisProcess) -> None:
    cfg = make_config(tmp_path / "data", database.url, private_redis.url)
    runner = AppRunner(cfg)
    await runner.start()
    try:
        client = await runner.client()
        assert (await client.get("/readyz")).status == 200
        private_redis.stop()
        resp = await client.get("/readyz")
        assert resp.status == 503
        body = await resp.json()
        assert body["status"] == "unavailable"
        assert body["sql"] == "ok"
        assert body["redis"] != "ok" and body["redis"]
        # Alive is not ready: /healthz still answers.
        assert (await client.get("/healthz")).status == 200
        # A victim's message is still stored durably with Redis down.
        victim = Victim(client)
        await victim.open()
        assert (await victim.send("stored while redis is down")).status == 201

        private_redis.start()
        resp = await client.get("/readyz")
        assert resp.status == 200, await resp.text()
    finally:
        await runner.stop()


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def _samples(text: str) -> dict[str, float]:
    """Every sample line of the Prometheus text format: 'name{labels}' -> value."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


METRICS_TOKEN = "metrics-token-Heron-4471"
BEARER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
def metrics_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOTLINE_METRICS_TOKEN", METRICS_TOKEN)
    return METRICS_TOKEN


async def test_metrics_is_prometheus_text(metrics_token: str, app_runner: AppRunner) -> None:
    client = await app_runner.client()
    resp = await client.get("/metrics", headers=BEARER)
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    before = _samples(await resp.text())
    assert re.search(r"^# TYPE hotline_messages_in(_total)? counter$", await resp.text(), re.M)
    assert not any(k.startswith("hotline_waiting{") for k in before)

    victim = Victim(client)
    await victim.open("ko")
    assert (await victim.send("metrics please", lang="ko")).status == 201

    resp = await client.get("/metrics", headers=BEARER)
    text = await resp.text()
    after = _samples(text)
    assert "# TYPE hotline_waiting gauge" in text
    assert after['hotline_waiting{language="ko",urgency="normal"}'] == 1.0
    key = 'hotline_messages_in_total{channel="webchat"}'
    assert after[key] >= before.get(key, 0.0) + 1
    assert "hotline_oldest_wait_seconds" in after
    assert "hotline_counselors_present" in after
    # No text or address in metrics.
    assert "metrics please" not in text


async def test_metrics_are_not_public(app_runner: AppRunner) -> None:
    """No token set and no listener of its own: the public port does not serve them (queue
    sizes and the oldest wait were readable by anyone)."""
    client = await app_runner.client()
    for headers in ({}, BEARER, {"Authorization": "Bearer "}):
        resp = await client.get("/metrics", headers=headers)
        assert resp.status == 404, headers
        assert "hotline_" not in await resp.text()


async def test_metrics_on_the_public_port_need_the_token(metrics_token: str,
                                                         app_runner: AppRunner) -> None:
    client = await app_runner.client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN},
                    {"Authorization": f"Basic {METRICS_TOKEN}"},
                    {"Authorization": f"Bearer {METRICS_TOKEN}x"}):
        resp = await client.get("/metrics", headers=headers)
        assert resp.status == 401, headers
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        assert "hotline_" not in await resp.text()
    resp = await client.get("/metrics", headers=BEARER)
    assert resp.status == 200 and "hotline_waiting" in await resp.text()


async def test_metrics_on_their_own_listener(tmp_path: Path, database: Database,
                                             redis_server: RedisProcess) -> None:
    port = free_port()
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      server={"metrics_listen": f"127.0.0.1:{port}"})
    runner = AppRunner(cfg)
    await runner.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert resp.status == 200
                assert "hotline_waiting" in await resp.text()
            async with session.get(f"http://127.0.0.1:{port}/chat") as resp:
                assert resp.status == 404  # nothing else there
        public = await runner.client()
        assert (await public.get("/metrics")).status == 404
    finally:
        await runner.stop()
    with pytest.raises(aiohttp.ClientConnectionError):  # closed with the app
        async with aiohttp.ClientSession() as session:
            await session.get(f"http://127.0.0.1:{port}/metrics")


def test_the_shipped_proxy_does_not_pass_metrics_on() -> None:
    conf = (Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf").read_text()
    block = re.search(r"location\s*=\s*/metrics\s*\{([^}]*)\}", conf)
    assert block is not None, "deploy/nginx.conf has no location for /metrics"
    assert re.search(r"return\s+404", block.group(1)) and "proxy_pass" not in block.group(1)


@pytest.mark.parametrize("path", ["/chat", "/console/login", "/healthz", "/chat/api/state",
                                  "/api/v1/queue", "/static/chat.css", "/no-such-page"])
async def test_security_headers(app_runner: AppRunner, path: str) -> None:
    client = await app_runner.client()
    resp = await client.get(path, allow_redirects=False)
    h = resp.headers
    csp = h["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert h["X-Frame-Options"] == "DENY"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["X-Content-Type-Options"] == "nosniff"
    if path.startswith(("/chat", "/console", "/api/")):
        assert "no-store" in h["Cache-Control"]


async def test_chat_page_is_not_cached(app_runner: AppRunner) -> None:
    client = await app_runner.client()
    resp = await client.get("/chat")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    victim = Victim(client)
    await victim.open()
    await victim.send("not to be cached")
    state = await client.get("/chat/api/state")
    assert state.headers["Cache-Control"] == "no-store"
