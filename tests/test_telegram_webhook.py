"""The webhook edge: the secret token, malformed input, duplicate and out-of-order updates, a
Bot API unreachable at start, polling mode, and the channel switched off. The real
python-telegram-bot client runs against the stand-in Bot API on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hotline import cli
from tests import telegram_standin
from tests.conftest import AppRunner, Database, RedisProcess, wait_for
from tests.helpers import row_counts
from tests.telegram_standin import (
    CHAT,
    BotApiStandin,
    TgEnv,
    table,
    telegram_config,
)

# The Telegram fixtures (a module-level name is how pytest finds them).
log_guard = telegram_standin.log_guard
standin = telegram_standin.standin
tg = telegram_standin.tg

pytestmark = pytest.mark.usefixtures("log_guard")

TEXT = "Quokka-4410 my ex uploaded it to a channel"


async def _inbound_texts(env: TgEnv) -> list[int]:
    return [m["seq"] for m in await table(env.config, "messages") if m["direction"] == "in"]


# One app per test, many inputs: each input is checked separately.
SECRETS = [None, "", "wrong-secret", "webhook-secret-Okapi-552", "webhook-secret-Okapi-55210"]
MALFORMED = [b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"', b'{"message": {}}',
             b'{"update_id": "7"}', b'{"update_id": true}', b""]


async def test_wrong_or_missing_secret_is_403_and_stores_nothing(tg: TgEnv) -> None:
    before = await row_counts(tg.config)
    for secret in SECRETS:
        resp = await tg.post(tg.victim.text(TEXT), secret=secret)
        assert resp.status == 403, secret
    assert await row_counts(tg.config) == before
    assert [c.method for c in tg.api.calls] == ["getMe"], "the bot answered a forged update"


async def test_malformed_json_is_ignored_with_200_and_stores_nothing(tg: TgEnv) -> None:
    """With the right secret it is Telegram's (or broken past repair): a 4xx or 5xx would
    only make Telegram send it again and again (test_telegram_hardening has the rest)."""
    before = await row_counts(tg.config)
    for raw in MALFORMED:
        resp = await tg.post(None, raw=raw)
        assert resp.status == 200, raw
        assert (await resp.json())["ignored"], raw
    assert await row_counts(tg.config) == before
    assert [c.method for c in tg.api.calls] == ["getMe"]


async def test_duplicate_update_is_handled_once(tg: TgEnv) -> None:
    update = tg.victim.text(TEXT)
    first = await tg.post(update)
    assert first.status == 200 and (await first.json())["handled"] is True
    said = len(tg.api.texts_to(CHAT))
    again = await tg.post(update)
    assert again.status == 200 and (await again.json())["handled"] is False
    assert len(await _inbound_texts(tg)) == 1
    assert len(tg.api.texts_to(CHAT)) == said, "a duplicate was answered again"
    # The same message in a new update (another instance's retry path): the inbox's provider
    # id still stores it once.
    update["update_id"] += 1000
    await tg.send(update)
    assert len(await _inbound_texts(tg)) == 1


async def test_out_of_order_updates_are_all_handled(tg: TgEnv) -> None:
    late = tg.victim.text("first written, delivered last", update_id=810)
    early = tg.victim.text("second written, delivered first", update_id=811)
    await tg.send(early)
    await tg.send(late)  # an older update id after a newer one: still handled
    await tg.send(late)  # and a redelivery of it is not
    rows = [m for m in await table(tg.config, "messages") if m["direction"] == "in"]
    assert len(rows) == 2
    assert len({r["conversation_id"] for r in rows}) == 1


async def test_channel_off_without_token(tmp_path: Path, database: Database,
                                         redis_server: RedisProcess, standin: BotApiStandin,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_TELEGRAM_BOT_TOKEN", raising=False)
    runner = AppRunner(telegram_config(tmp_path, database, redis_server, standin))
    await runner.start()
    try:
        client = await runner.client()
        assert (await client.get("/healthz")).status == 200
        resp = await client.post("/webhooks/telegram", json={"update_id": 1})
        assert resp.status == 404
        assert standin.calls == []
    finally:
        await runner.stop()


async def test_unreachable_bot_api_at_start_does_not_stop_the_server(
        tmp_path: Path, database: Database, redis_server: RedisProcess,
        standin: BotApiStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_TELEGRAM_BOT_TOKEN", "123456:TEST-token-Zebra-9931")
    monkeypatch.setenv("HOTLINE_TELEGRAM_WEBHOOK_SECRET", "webhook-secret-Okapi-5521")
    standin.get_me_fails = 1
    runner = AppRunner(telegram_config(tmp_path, database, redis_server, standin))
    await runner.start()
    try:
        env = TgEnv(runner, await runner.client(), standin, runner.config)
        assert (await env.client.get("/healthz")).status == 200
        resp = await env.post(env.victim.text("/help"))
        assert resp.status in (200, 503)  # 503 until the retry reached the Bot API

        async def delivered() -> bool:
            r = await env.post(env.victim.text("/help"))
            return bool(r.status == 200)

        await wait_for(delivered, timeout=20, interval=0.3)
        assert any("/status" in t for t in standin.texts_to(CHAT))
    finally:
        await runner.stop()


async def test_polling_mode(tmp_path: Path, database: Database, redis_server: RedisProcess,
                            standin: BotApiStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_TELEGRAM_BOT_TOKEN", "123456:TEST-token-Zebra-9931")
    monkeypatch.delenv("HOTLINE_TELEGRAM_WEBHOOK_SECRET", raising=False)
    cfg = telegram_config(tmp_path, database, redis_server, standin,
                          telegram={"mode": "polling"})
    runner = AppRunner(cfg)
    await runner.start()
    try:
        env = TgEnv(runner, await runner.client(), standin, cfg)
        standin.updates.append(env.victim.text(TEXT))

        async def stored() -> bool:
            return bool(await _inbound_texts(env))

        await wait_for(stored, timeout=10)
        assert standin.of("deleteWebhook"), "polling must first remove a webhook"
        assert (await env.post(env.victim.text(TEXT))).status == 404
    finally:
        await runner.stop()


async def test_set_webhook_cli(tmp_path: Path, standin: BotApiStandin,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """`hotline telegram set-webhook`: our URL, a fresh secret printed once, no dropped updates."""
    monkeypatch.setenv("HOTLINE_TELEGRAM_BOT_TOKEN", telegram_standin.TOKEN)
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(f'[server]\npublic_url = "https://hotline.example"\n'
                        f'[storage]\ndata_dir = "{tmp_path / "data"}"\n'
                        f'[telegram]\napi_base_url = "{standin.url}"\n')
    code = await asyncio.to_thread(cli.main, ["--config", str(cfg_file), "telegram",
                                              "set-webhook"])
    assert code == 0
    [call] = standin.of("setWebhook")
    assert call["url"] == "https://hotline.example/webhooks/telegram"
    assert call["allowed_updates"] == ["message", "callback_query"]
    assert call["drop_pending_updates"] in ("False", "false")
    out = capsys.readouterr().out
    secret = out.split("secret token (shown once): ")[1].split()[0]
    assert secret == call["secret_token"] and len(secret) >= 32
    assert all(c.isalnum() or c in "-_" for c in secret)
    assert "HOTLINE_TELEGRAM_WEBHOOK_SECRET" in out

    monkeypatch.delenv("HOTLINE_TELEGRAM_BOT_TOKEN")
    assert await asyncio.to_thread(cli.main, ["--config", str(cfg_file), "telegram",
                                              "set-webhook"]) == 2
