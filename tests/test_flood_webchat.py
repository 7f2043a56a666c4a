"""Flood limits on the web chat, over real sockets from distinct loopback addresses, on real
Redis and both databases, with the shipped default limits: a flood of new cases from one
address is answered 429 with the calm words past the address's limit while another address is
served; many victims behind one shared address are all served; a flood inside one chat is
stored in full but moves its case up the queue only within the sender's limit; new sessions
past the address's limit get the calm page; with Redis gone, a new case is still stored."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from hotline.cases.tables import conversations, messages
from hotline.domain.conversation import Channel
from hotline.prompts import Prompts
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.flood_support import URGENT, Address, Chat, Refill, Reply
from tests.floor import alert_rows, audit, deps_of, stream_events
from tests.live_reads import unassigned

P = Prompts()
CALM = P.render("en", "flood_calm")


async def _cases(runner: AppRunner) -> list[dict[str, object]]:
    async with deps_of(runner).engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(conversations))]


async def _paged(runner: AppRunner) -> list[dict[str, object]]:
    """Takedown alerts (leads' coverage alerts may come and go meanwhile)."""
    return [a for a in await alert_rows(runner) if a["kind"] == "takedown"]


def _calm_refusal(r: Reply) -> None:
    assert r.status == 429, (r.status, r.body)
    assert r.retry_after is not None and int(r.retry_after) >= 1
    assert r.body == {"error": "busy", "text": CALM, "retry_after": int(r.retry_after)}


async def test_a_flood_of_new_cases_from_one_address_is_refused_calmly(
        app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    limits = deps.config.limits
    flood, other = Address(app_runner, "127.0.0.9"), Address(app_runner, "127.0.0.10")
    try:
        refill = Refill()
        replies = await asyncio.gather(*(flood.victim(URGENT) for _ in range(300)))
        served = [r for r in replies if r.status == 201]
        refused = [r for r in replies if r.status != 201]
        # The address's burst, and what refilled while the flood ran.
        assert limits.address_cases_burst <= len(served) \
            <= limits.address_cases_burst + refill.tokens(limits.address_cases_per_hour)
        for r in refused:
            _calm_refusal(r)
        # Only the served cases exist, and urgent words moved only the address's share of
        # them up the queue (each paging takedown staff): not 300 critical cases and alerts.
        cases = await _cases(app_runner)
        assert len(cases) == len(served)
        assert {c["status"] for c in cases} == {"waiting"}
        critical = [c for c in cases if c["urgency"] == "critical"]
        assert 1 <= len(critical) <= limits.address_escalations_burst \
            + refill.tokens(limits.address_escalations_per_hour)
        assert len(await _paged(app_runner)) == len(critical)
        assert len(await unassigned(deps.live)) == len(served)
        held = await audit(app_runner, "case.escalation_held")
        assert len(held) == len(served) - len(critical)
        assert all(h["detail"] == {"reasons": ["content_spreading"]} for h in held)

        # A victim at another address is served as if nothing had happened, urgently.
        r = await other.victim(URGENT)
        assert r.status == 201, r.body
        assert len([c for c in await _cases(app_runner) if c["urgency"] == "critical"]) \
            == len(critical) + 1
    finally:
        await flood.close()
        await other.close()


async def test_many_victims_behind_one_shared_address_are_all_served(
        app_runner: AppRunner) -> None:
    """A carrier's shared address (or a school's): the default burst of victims writing at
    once, some of them urgently, are all queued, the urgent ones at the top."""
    limits = deps_of(app_runner).config.limits
    nat = Address(app_runner, "127.0.0.11")
    urgent = limits.address_escalations_burst
    try:
        replies = await asyncio.gather(*(
            nat.victim(URGENT if i < urgent else "please help me, I do not know what to do")
            for i in range(limits.address_cases_burst)))
        assert [r.status for r in replies] == [201] * limits.address_cases_burst
        cases = await _cases(app_runner)
        assert len(cases) == limits.address_cases_burst
        assert len([c for c in cases if c["urgency"] == "critical"]) == urgent
        assert len(await _paged(app_runner)) == urgent
        assert await audit(app_runner, "case.escalation_held") == []
    finally:
        await nat.close()


# One message per signal: each would move the case up (or add a reason) once.
SIGNALS = ["they posted my photos", "i want to die", "he is coming to my house",
           "they shared my home address", "i'm not safe right now", "i'm a minor",
           "he said pay me"]


async def test_a_flood_inside_one_chat_is_stored_but_moves_the_case_only_within_its_limit(
        app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    limits = deps.config.limits
    here = Address(app_runner, "127.0.0.12")
    try:
        chat = await here.open_chat()
        assert isinstance(chat, Chat)
        assert (await here.send(chat, "hello, I need help")).status == 201
        texts = [SIGNALS[i % len(SIGNALS)] if i % 3 else f"plain message {i}"
                 for i in range(120)]
        for t in texts:
            r = await here.send(chat, t)
            assert r.status == 201, r.body
        [case] = await _cases(app_runner)
        async with deps.engine.connect() as conn:
            stored = (await conn.execute(select(messages.c.seq).where(
                messages.c.conversation_id == case["id"]))).all()
        assert len(stored) == 1 + len(texts)  # every word kept
        # Distinct signals each moved the case once, up to the sender's limit; the rest held.
        moves = [e for e in await stream_events(app_runner, "urgency")
                 if e["conversation"] == case["id"]]
        assert len(moves) == limits.sender_escalations_burst
        held = await audit(app_runner, "case.escalation_held", target=str(case["id"]))
        assert len({tuple(h["detail"]["reasons"]) for h in held}) \
            == len(SIGNALS) - limits.sender_escalations_burst
        assert len(await _paged(app_runner)) == 1  # content spreading, paged once
    finally:
        await here.close()


async def test_new_sessions_past_the_address_limit_get_the_calm_page(
        tmp_path: Path, database: Database, redis_server: RedisProcess) -> None:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      limits={"address_sessions_burst": 5})
    runner = AppRunner(cfg)
    await runner.start()
    busy, other = Address(runner, "127.0.0.13"), Address(runner, "127.0.0.14")
    try:
        opened = await asyncio.gather(*(busy.open_chat("ko") for _ in range(8)))
        assert len([c for c in opened if isinstance(c, Chat)]) == 5
        for page in (c for c in opened if isinstance(c, Reply)):
            assert page.status == 429 and page.retry_after is not None
            assert P.render("ko", "flood_calm") in page.body
            assert P.render("ko", "chat_emergency") in page.body
            assert "hl_chat" not in page.body
        assert isinstance(await other.open_chat(), Chat)
    finally:
        await busy.close()
        await other.close()
        await runner.stop()


async def test_with_redis_gone_a_new_case_is_still_stored(
        tmp_path: Path, database: Database, private_redis: RedisProcess) -> None:
    """The limits are counted in Redis; Redis killed (SIGKILL), they let the victim through."""
    runner = AppRunner(make_config(tmp_path / "data", database.url, private_redis.url))
    await runner.start()
    here = Address(runner, "127.0.0.15")
    try:
        chat = await here.open_chat()
        assert isinstance(chat, Chat)
        assert private_redis.proc is not None
        private_redis.proc.kill()
        private_redis.proc.wait()
        # (Plain words: what an alert does while Redis is down is not this test's business.)
        r = await here.send(chat, "please help me, I do not know what to do")
        assert r.status == 201, r.body
        [case] = await _cases(runner)
        assert case["channel"] == Channel.WEBCHAT.value and case["status"] == "waiting"
    finally:
        await here.close()
        await runner.stop()
