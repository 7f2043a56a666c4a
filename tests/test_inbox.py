"""hotline/cases/inbox.py on SQLite and PostgreSQL with a real Redis: idempotency per
provider id, one conversation under concurrent first messages, the length limit, and sealed
contact addresses."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import pytest
from sqlalchemy import func, select

from hotline.cases import conversations as convs
from hotline.cases.inbox import MessageTooLong, receive
from hotline.cases.tables import conversations, messages
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Inbound, Status
from tests.conftest import Database, RedisProcess, make_config
from tests.service_deps import all_rows, contains, inbound, open_deps

MAX_CHARS = 50
ADDRESS = "+821055501234"


@pytest.fixture
async def deps(tmp_path: Path, database: Database, redis_server: RedisProcess
               ) -> AsyncIterator[Deps]:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url,
                      privacy={"max_message_chars": MAX_CHARS})
    async with open_deps(cfg) as d:
        yield d


async def _count(deps: Deps, table: object, *where: object) -> int:
    async with deps.engine.connect() as conn:
        q = select(func.count()).select_from(table)  # type: ignore[arg-type]
        for cond in where:
            q = q.where(cond)  # type: ignore[arg-type]
        return int((await conn.execute(q)).scalar_one())


async def _message_texts(deps: Deps, cid: str) -> dict[int, str]:
    async with deps.engine.connect() as conn:
        rows = await convs.list_messages(conn, cid)
    return {r.seq: deps.keyring.open_text(r.body_sealed, f"msg:{cid}:{r.seq}")
            for r in rows if r.body_sealed is not None}


async def _redis_dump(deps: Deps) -> str:
    """Every value under this test's prefix, as one string (to search for plaintext)."""
    r = deps.redis
    parts = []
    async for key in r.scan_iter(match=f"{{{deps.keys.prefix}}}:*"):
        kind = await r.type(key)
        if kind == "string":
            parts.append(str(await r.get(key)))
        elif kind == "hash":
            parts.append(str(await r.hgetall(key)))
        elif kind == "zset":
            parts.append(str(await r.zrange(key, 0, -1, withscores=True)))
        elif kind == "set":
            parts.append(str(await r.smembers(key)))
        elif kind == "stream":
            parts.append(str(await r.xrange(key)))
        elif kind == "list":
            parts.append(str(await r.lrange(key, 0, -1)))
    return "\n".join(parts)


# --- idempotency -------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.TELEGRAM, Channel.WEBCHAT])
async def test_same_provider_id_twice_is_one_message(deps: Deps, channel: Channel) -> None:
    msg = inbound(channel=channel, provider_id="SM0001", text="first words")
    first = await receive(deps, msg)
    assert first.new_conversation and not first.duplicate and first.seq == 1
    again = await receive(deps, msg)
    assert again.duplicate is True
    assert again.new_conversation is False
    assert (again.conversation_id, again.seq) == (first.conversation_id, first.seq)
    # A retry with different text (a provider re-sending) is still the same message.
    retry = await receive(deps, inbound(channel=channel, provider_id="SM0001", text="other"))
    assert retry.duplicate and retry.seq == 1
    assert await _count(deps, messages) == 1
    assert await _count(deps, conversations) == 1
    assert await _message_texts(deps, first.conversation_id) == {1: "first words"}
    assert [w.conversation_id for w in await deps.live.waiting()] == [first.conversation_id]
    nxt = await receive(deps, inbound(channel=channel, provider_id="SM0002", text="more"))
    assert (nxt.conversation_id, nxt.seq, nxt.duplicate) == (first.conversation_id, 2, False)
    assert await _count(deps, messages) == 2


async def test_a_claim_is_read_with_a_new_conversations_queue_entry(deps: Deps) -> None:
    key = deps.keys.case_return("p" * 64)
    await deps.redis.set(key, "root-case")
    first = await receive(deps, inbound(ADDRESS), claim=key)
    assert first.new_conversation and first.claim_read and first.claimed == "root-case"
    assert await deps.redis.get(key) is None  # read and deleted
    # A later message of the conversation queues nothing: the claim is not read.
    await deps.redis.set(key, "other")
    later = await receive(deps, inbound(ADDRESS), claim=key)
    assert not later.new_conversation and not later.claim_read and later.claimed is None
    assert await deps.redis.get(key) == "other"


async def test_provider_ids_are_per_channel(deps: Deps) -> None:
    a = await receive(deps, inbound(channel=Channel.SMS, provider_id="42"))
    b = await receive(deps, inbound(channel=Channel.TELEGRAM, provider_id="42"))
    assert not a.duplicate and not b.duplicate
    assert a.conversation_id != b.conversation_id
    assert await _count(deps, messages) == 2


async def test_concurrent_duplicates_store_once(deps: Deps) -> None:
    msg = inbound(provider_id="dup-race")
    results = await asyncio.gather(*(receive(deps, msg) for _ in range(10)))
    assert len({(r.conversation_id, r.seq) for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert await _count(deps, messages) == 1


# --- the guessed number (PostgreSQL's one-statement path; the same outcome on SQLite) ------


async def test_a_number_taken_meanwhile_stores_the_message_under_the_next(deps: Deps) -> None:
    first = await receive(deps, inbound(address=ADDRESS, provider_id="g1", text="one"))
    cid = first.conversation_id
    # A counselor's reply takes number 2 meanwhile: on PostgreSQL the guess (2) is wrong.
    async with deps.engine.begin() as conn:
        assert await convs.next_seq(conn, cid, datetime.now(UTC)) == 2
    second = await receive(deps, inbound(address=ADDRESS, provider_id="g2", text="two"))
    third = await receive(deps, inbound(address=ADDRESS, provider_id="g3", text="three"))
    again = await receive(deps, inbound(address=ADDRESS, provider_id="g3", text="three"))
    assert [(r.conversation_id, r.seq) for r in (second, third, again)] == [(cid, 3), (cid, 4),
                                                                            (cid, 4)]
    assert again.duplicate and not third.duplicate
    # Each body opens only with its own number as associated data.
    assert await _message_texts(deps, cid) == {1: "one", 3: "two", 4: "three"}


async def test_concurrent_follow_ups_of_many_senders_are_each_stored_once(deps: Deps) -> None:
    """Follow-ups share batches (and, on PostgreSQL, one round trip for their statements);
    each copy posted twice."""
    addresses = [f"+8210555{i:05d}" for i in range(12)]
    firsts = await asyncio.gather(*(
        receive(deps, inbound(address=a, provider_id=f"f{i}", text=f"first {i}"))
        for i, a in enumerate(addresses)))
    follow = [inbound(address=a, provider_id=f"n{i}-{k}", text=f"next {i} {k}")
              for k in range(3) for i, a in enumerate(addresses)]
    results = await asyncio.gather(*(receive(deps, m) for m in follow + follow))
    assert sum(not r.duplicate for r in results) == len(follow)
    for i, first in enumerate(firsts):
        texts = await _message_texts(deps, first.conversation_id)
        assert sorted(texts) == [1, 2, 3, 4]
        assert sorted(texts.values()) == [f"first {i}", *(f"next {i} {k}" for k in range(3))]
    assert await _count(deps, messages) == len(addresses) * 4


# --- one conversation per sender ---------------------------------------------------------------


async def test_concurrent_first_messages_make_one_conversation(deps: Deps) -> None:
    texts = [f"message number {i}" for i in range(20)]
    results = await asyncio.gather(*(
        receive(deps, inbound(address=ADDRESS, text=t, provider_id=f"p{i}"))
        for i, t in enumerate(texts)))
    cids = {r.conversation_id for r in results}
    assert len(cids) == 1
    cid = cids.pop()
    assert sorted(r.seq for r in results) == list(range(1, 21))
    assert sum(r.new_conversation for r in results) == 1
    assert not any(r.duplicate for r in results)
    assert await _count(deps, conversations) == 1
    assert await _count(deps, conversations, conversations.c.status != Status.CLOSED.value) == 1
    assert await _count(deps, messages, messages.c.conversation_id == cid) == 20
    # Each message is stored under the seq its caller was told, with its own text.
    stored = await _message_texts(deps, cid)
    assert stored == {r.seq: t for r, t in zip(results, texts, strict=True)}
    assert [w.conversation_id for w in await deps.live.waiting()] == [cid]


async def test_new_cases_leave_no_garbage_for_the_collector(deps: Deps) -> None:
    """A message that opens a case (asked to `admit` first, as the web chat does) is freed
    when it is done: none of its frames or objects waits in a reference cycle for the
    collector, whose passes held the server's loop up to 15 ms in a surge (bench/README.md)."""
    admitted: list[int] = []

    async def admit() -> None:
        admitted.append(1)

    async def senders(first: int) -> None:
        await asyncio.gather(*(
            receive(deps, inbound(address=f"+82105551{i:04d}"), admit=admit)
            for i in range(first, first + 10)))

    await senders(0)  # statements compiled and caches filled outside the count
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await senders(10)
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, (Inbound, FrameType))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert len(admitted) == 20
    assert len(await deps.live.waiting()) == 20
    assert left == []


async def test_concurrent_senders_get_their_own_conversations(deps: Deps) -> None:
    results = await asyncio.gather(*(
        receive(deps, inbound(address=f"+82105550{i:04d}", provider_id=f"s{i}"))
        for i in range(20)))
    assert len({r.conversation_id for r in results}) == 20
    assert all(r.new_conversation and r.seq == 1 for r in results)
    assert len(await deps.live.waiting()) == 20


async def test_same_address_other_channel_is_another_conversation(deps: Deps) -> None:
    a = await receive(deps, inbound(address=ADDRESS, channel=Channel.SMS))
    b = await receive(deps, inbound(address=ADDRESS, channel=Channel.VOICE))
    assert a.conversation_id != b.conversation_id


async def test_message_after_close_opens_a_new_conversation(deps: Deps) -> None:
    first = await receive(deps, inbound(address=ADDRESS))
    async with deps.engine.begin() as conn:
        row = await convs.get(conn, first.conversation_id)
        assert row is not None
        await convs.close(conn, first.conversation_id, row.created_at, row.created_at,
                          row.created_at)
    again = await receive(deps, inbound(address=ADDRESS))
    assert again.new_conversation and again.conversation_id != first.conversation_id
    assert again.seq == 1


# --- length limit ------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [1, MAX_CHARS - 1, MAX_CHARS])
async def test_message_up_to_limit_is_stored(deps: Deps, length: int) -> None:
    text = "가" * length
    got = await receive(deps, inbound(text=text))
    assert await _message_texts(deps, got.conversation_id) == {1: text}


@pytest.mark.parametrize("length", [MAX_CHARS + 1, MAX_CHARS * 10])
async def test_over_long_message_stores_nothing(deps: Deps, length: int) -> None:
    with pytest.raises(MessageTooLong):
        await receive(deps, inbound(text="x" * length))
    assert await _count(deps, conversations) == 0
    assert await _count(deps, messages) == 0
    assert await deps.live.waiting() == []
    assert not await deps.redis.exists(deps.keys.events)


async def test_over_long_follow_up_changes_nothing(deps: Deps) -> None:
    first = await receive(deps, inbound(address=ADDRESS, text="short"))
    before = await all_rows(deps)
    with pytest.raises(MessageTooLong):
        await receive(deps, inbound(address=ADDRESS, text="y" * (MAX_CHARS + 1)))
    assert await all_rows(deps) == before
    assert await _message_texts(deps, first.conversation_id) == {1: "short"}


# --- sealed contact ----------------------------------------------------------------------------


async def _contact_blob(deps: Deps, cid: str) -> bytes | None:
    async with deps.engine.connect() as conn:
        value = (await conn.execute(select(conversations.c.contact_sealed)
                                    .where(conversations.c.id == cid))).scalar_one()
    return bytes(value) if value is not None else None


@pytest.mark.parametrize("keep_contact", [True, False])
async def test_contact_is_sealed_and_only_when_kept(deps: Deps, keep_contact: bool) -> None:
    text = "someone is sharing my photos"
    got = await receive(deps, inbound(address=ADDRESS, text=text, keep_contact=keep_contact))
    blob = await _contact_blob(deps, got.conversation_id)
    if keep_contact:
        assert blob is not None
        assert ADDRESS.encode() not in blob
        assert deps.keyring.open_text(blob, f"contact:{got.conversation_id}") == ADDRESS
        with pytest.raises(ValueError):
            deps.keyring.open_text(blob, "contact:someone-else")
    else:
        assert blob is None
    async with deps.engine.connect() as conn:
        row = await convs.get(conn, got.conversation_id)
    assert row is not None and row.has_contact is keep_contact
    assert row.pseudonym == deps.keyring.pseudonymize("sms", ADDRESS)
    # Neither the address nor the text is stored in plaintext anywhere, in SQL or in Redis.
    rows = await all_rows(deps)
    for needle in (ADDRESS, ADDRESS[1:], text):
        assert contains(rows, needle) == []
    dump = await _redis_dump(deps)
    assert ADDRESS[1:] not in dump and text not in dump


async def test_follow_up_does_not_replace_contact(deps: Deps) -> None:
    first = await receive(deps, inbound(address=ADDRESS, keep_contact=True))
    blob = await _contact_blob(deps, first.conversation_id)
    await receive(deps, inbound(address=ADDRESS, keep_contact=False))
    assert await _contact_blob(deps, first.conversation_id) == blob


async def test_sqlite_file_holds_no_plaintext(tmp_path: Path,
                                              redis_server: RedisProcess) -> None:
    """On SQLite, not even the database file (and its WAL) holds the address or the text."""
    db = tmp_path / "plain.db"
    cfg = make_config(tmp_path / "data", f"sqlite+aiosqlite:///{db}", redis_server.url)
    text = "a unique sentence nobody else writes 7391"
    async with open_deps(cfg) as deps:
        await receive(deps, inbound(address=ADDRESS, text=text, keep_contact=True))
    blobs = b"".join(p.read_bytes() for p in tmp_path.glob("plain.db*"))
    assert len(blobs) > 0
    assert ADDRESS.encode() not in blobs
    assert text.encode() not in blobs


# --- start-up and the live state ---------------------------------------------------------------


async def test_start_keeps_a_live_state_that_another_instance_is_using(deps: Deps) -> None:
    """A starting instance must not rebuild a Redis that kept its state: a claim another
    instance made a moment ago (Redis first, SQL just after) would be undone."""
    from hotline.cases import livesync
    from hotline.cases.live_records import StaffProfile
    from hotline.domain.routing import Presence

    await livesync.rebuild(deps)  # the running instance's start
    stored = await receive(deps, inbound(ADDRESS, "help me", "p-1"))
    await deps.live.put_staff(StaffProfile(7, 0, 2**50, 3, ("ko", "en"),
                                           tuple(c.value for c in Channel), ()))
    await deps.live.set_status(7, Presence.AVAILABLE)
    await deps.live.heartbeat(7)
    assert (await deps.live.claim(stored.conversation_id, 7)).ok  # SQL not updated yet
    assert await livesync.at_start(deps) == "kept"
    assert await deps.live.owners() == {stored.conversation_id: 7}


async def test_start_rebuilds_a_redis_that_lost_its_state_once(deps: Deps) -> None:
    from hotline.cases import livesync

    stored = await receive(deps, inbound(ADDRESS, "help me", "p-1"))
    found = [k async for k in deps.redis.scan_iter(match=f"{{{deps.keys.prefix}}}:*")]
    await deps.redis.delete(*found)  # as after a Redis restart without persistence
    assert not await deps.live.has_epoch()
    results = await asyncio.gather(*(livesync.at_start(deps) for _ in range(3)))
    assert sorted(results) == ["kept", "kept", "rebuilt"]
    assert [w.conversation_id for w in await deps.live.waiting()] == [stored.conversation_id]
