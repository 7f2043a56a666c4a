"""A deactivated account dies on every instance: two real `hotline serve` processes share one
Redis and one database (both databases); she has the console open on both (event streams on
each) and the admin deactivates her on one. Both streams end at once (the session.revoked
event, not a heartbeat: heartbeats are 50 s apart here), her cookie opens nothing on
either, her presence is gone and the case she held is back in the queue."""

from __future__ import annotations

import asyncio
import base64
import secrets
from pathlib import Path

from redis.asyncio import Redis

from hotline.domain.staff import Role
from hotline.stores.live.keys import Keys
from tests.conftest import RedisProcess, make_config
from tests.helpers import Counselor, Victim, add_staff
from tests.serve import At, Instance, browser
from tests.test_sse import SSE
from tests.test_two_processes import shared_database

__all__ = ["shared_database"]


async def test_deactivation_ends_her_streams_and_sessions_on_both_processes(
        tmp_path: Path, shared_database: str, private_redis: RedisProcess,
        instances: list[Instance]) -> None:
    prefix = f"t{secrets.token_hex(5)}"
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    cfg = make_config(tmp_path / "setup", shared_database, private_redis.url)
    await add_staff(cfg, "root", Role.ADMIN)
    mina_id = await add_staff(cfg, "mina")
    for name in ("a", "b"):
        instances.append(Instance(tmp_path, name, shared_database, private_redis.url, prefix,
                                  secret, extra_toml="[streams]\nheartbeat_seconds = 50\n"))
    a, b = instances
    for inst in instances:
        inst.start()
    async with browser() as probe:
        await asyncio.gather(*(inst.wait_ready(probe) for inst in instances))

    async with browser() as hers, browser() as admins, browser() as victims, \
            browser() as streams:
        mina = Counselor(At(hers, a.url))  # type: ignore[arg-type]
        assert await mina.login("mina") == 303
        cookie = next(c.value for c in hers.cookie_jar if c.key == "hl_staff")
        victim = Victim(At(victims, b.url))  # type: ignore[arg-type]
        await victim.open()
        async with await victim.send("hello, please help") as resp:
            assert resp.status == 201
        cid = await mina.take_next()
        on_a = SSE(await streams.get(a.url + "/api/v1/events",
                                     headers={"Cookie": f"hl_staff={cookie}"}))
        on_b = SSE(await streams.get(b.url + "/api/v1/events",
                                     headers={"Cookie": f"hl_staff={cookie}"}))
        redis = Redis.from_url(private_redis.url, decode_responses=True)
        try:
            presence = Keys(prefix).presence
            assert await redis.zscore(presence, str(mina_id)) is not None

            admin = Counselor(At(admins, b.url))  # type: ignore[arg-type]
            assert await admin.login("root") == 303
            async with await admin.post(f"/api/v1/staff/{mina_id}/deactivate") as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["cases_moved"] == 1
            # Both streams end (nothing more arrives: they close).
            await asyncio.wait_for(asyncio.gather(on_a.rest(), on_b.rest()), 30)
            assert await redis.zscore(presence, str(mina_id)) is None
        finally:
            await redis.aclose()
        for inst in (a, b):
            async with streams.get(inst.url + "/api/v1/me",
                                   headers={"Cookie": f"hl_staff={cookie}"}) as resp:
                assert resp.status == 401
        async with admins.get(b.url + "/api/v1/queue") as resp:
            assert cid in [c["id"] for c in (await resp.json())["waiting"]]
