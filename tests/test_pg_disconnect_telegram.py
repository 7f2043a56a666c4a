"""PostgreSQL ends the app's sessions: the next Telegram update is stored (see
test_pg_disconnect.py for the other channels; the Telegram fixtures live apart from Twilio's)."""

from __future__ import annotations

import pytest

from tests import telegram_standin
from tests.conftest import Database
from tests.floor import deps_of
from tests.pg_faults import end_pool, inbound_count, stop_jobs
from tests.telegram_standin import TgEnv

standin = telegram_standin.standin
tg = telegram_standin.tg


async def test_telegram_update_after_the_sessions_ended_is_stored(
        tg: TgEnv, database: Database) -> None:
    if database.kind != "postgresql":
        pytest.skip("PostgreSQL sessions")
    engine = deps_of(tg.runner).engine
    await stop_jobs()
    await tg.send(tg.victim.text("hello"))
    for _ in range(3):
        await end_pool(engine)
        update = tg.victim.text("they posted it again")
        resp = await tg.post(update)
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["handled"] is True
        mid = update["message"]["message_id"]
        assert await inbound_count(engine, f"telegram:%:{mid}") == 1
