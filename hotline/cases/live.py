"""The live store: queue order, offers, who holds what, counselor state and load, in Redis.

Every step that must be atomic across server instances is one Lua script
(hotline/stores/live/lua; lib.lua is prepended to each), so two instances sharing one Redis
never hand one case to two counselors, never exceed a capacity and never assign to someone off
shift. SQL stays the truth; `rebuild` restores this state from it. See docs/stores.md.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError
from redis.typing import EncodableT, FieldT

from hotline.cases.live_records import ClaimResult, Held, StaffProfile, Waiting, bar, staff_state
from hotline.domain.conversation import Channel, queue_score
from hotline.domain.routing import Coverage, Presence, RoutingRules, StaffState
from hotline.steps import in_parts
from hotline.stores.live.keys import DECLINED_TTL_S, EVENT_LOG_MAXLEN, FLOOD_ORIGIN_TTL_S, Keys

# Counselors' states decoded at once by staff_states before it lets the loop go.
_DECODE_PART = 250
STAFF_CHUNK = 100  # counselors' profiles a transaction of put_staff_if


def _lua(name: str) -> str:
    return resources.files("hotline.stores.live").joinpath("lua", name).read_text()


def now_ms() -> int:
    return int(time.time() * 1000)


class LiveStore:
    """Queue, offers, ownership, load and presence operations over one Redis client."""

    def __init__(self, redis: Redis, keys: Keys, rules: RoutingRules) -> None:
        self.redis = redis
        self.keys = keys
        self.rules = rules
        lib = _lua("lib.lua")
        self._scripts = {name: redis.register_script(lib + "\n" + _lua(f"{name}.lua"))
                         for name in ("take_next", "claim", "offer", "accept", "unoffer",
                                      "release", "reassign", "place", "staff", "admit",
                                      "coverage")}

    def _base(self, at_ms: int | None) -> list[EncodableT]:
        return [self.keys.base, at_ms if at_ms is not None else now_ms(),
                self.rules.no_new_before_end_s * 1000, self.rules.presence_ttl_s * 1000]

    async def _run(self, name: str, *args: EncodableT, at_ms: int | None = None) -> Any:
        return await self._scripts[name](keys=[self.keys.queue],
                                         args=[*self._base(at_ms), *args])

    # --- the queue ---

    async def enqueue(self, item: Waiting) -> None:
        """Put a conversation in the queue (idempotent: re-adding keeps one entry)."""
        await self.admit(item, ())

    async def admit(self, item: Waiting, events: Sequence[str], origin: str | None = None,
                    claim: str | None = None) -> str | None:
        """`enqueue` a new conversation and append `events` (events.encode) to the stream in
        one script call (admit.lua), keeping the address tag it came from (`origin`), and
        reading and deleting the key `claim`: its value, if any."""
        k = self.keys
        found: Any = await self._run(
            "admit", item.conversation_id, item.encode(),
            queue_score(item.urgency, item.enqueued_ms), EVENT_LOG_MAXLEN,
            "" if origin is None else k.origin(item.conversation_id), origin or "",
            FLOOD_ORIGIN_TTL_S, claim or "", *events)
        return None if found is None else str(found)

    async def refresh_item(self, *items: Waiting) -> None:
        """Rewrite cases' routing metadata (urgency, language, needs), in one round trip; a
        waiting case moves to its new place, keeping its wait."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as p:
            for item in items:
                p.hset(k.queue_meta, item.conversation_id, item.encode())
                p.zadd(k.queue, {item.conversation_id: queue_score(item.urgency,
                                                                   item.enqueued_ms)}, xx=True)
            await p.execute()

    async def waiting(self) -> list[Waiting]:
        """Every waiting (not offered, not held) conversation, best first."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as p:
            p.zrange(k.queue, 0, -1)
            p.hgetall(k.queue_meta)
            ids, meta = await p.execute()
        return [Waiting.decode(cid, meta[cid]) for cid in ids if cid in meta]

    async def head(self, limit: int) -> list[Waiting]:
        """The first `limit` waiting cases, best first (what a routing pass looks at)."""
        k = self.keys
        ids: Any = await self.redis.zrange(k.queue, 0, limit - 1)
        if not ids:
            return []
        metas: Any = await self.redis.hmget(k.queue_meta, ids)
        return [Waiting.decode(cid, m) for cid, m in zip(ids, metas, strict=True)
                if m is not None]

    async def place(self, conversation_id: str) -> tuple[Waiting, int] | None:
        """A waiting or offered case and its 1-based place among all unassigned ones (queue
        order, offered ones by their rank too), in one script call; None if it is neither."""
        found = await self._run("place", conversation_id)
        if not found:
            return None
        return Waiting.decode(conversation_id, str(found[0])), int(found[1])

    # --- claims, offers, releases (atomic scripts) ---

    async def take_next(self, counselor_id: int, at_ms: int | None = None) -> ClaimResult:
        """Pull mode: atomically claim the best waiting case this counselor may take."""
        res = await self._run("take_next", counselor_id, self.rules.scan_limit, at_ms=at_ms)
        if res[0] != "ok":
            return ClaimResult(False, res[1])
        return ClaimResult(True, waiting=Waiting.decode(res[1], res[2]))

    async def claim(self, conversation_id: str, counselor_id: int,
                    at_ms: int | None = None) -> ClaimResult:
        """Atomically claim one named waiting case."""
        res = await self._run("claim", conversation_id, counselor_id, at_ms=at_ms)
        if res[0] != "ok":
            return ClaimResult(False, res[1])
        return ClaimResult(True, waiting=Waiting.decode(conversation_id, res[1]))

    async def offer(self, conversation_id: str, counselor_id: int, deadline_ms: int,
                    at_ms: int | None = None) -> ClaimResult:
        """Reserve a waiting case for one counselor until the deadline."""
        res = await self._run("offer", conversation_id, counselor_id, deadline_ms, at_ms=at_ms)
        return ClaimResult(res[0] == "ok", res[1] if len(res) > 1 else "")

    async def accept(self, conversation_id: str, counselor_id: int) -> ClaimResult:
        res = await self._run("accept", conversation_id, counselor_id)
        if res[0] != "ok":
            return ClaimResult(False, res[1])
        meta = res[1]
        return ClaimResult(True, waiting=Waiting.decode(conversation_id, meta) if meta else None)

    async def unoffer(self, conversation_id: str, counselor_id: int | None = None
                      ) -> tuple[int, int] | None:
        """End an offer (declined, or timed out when counselor_id is None): back to the queue.

        Returns (counselor, misses so far) or None if there was no such offer."""
        res = await self._run("unoffer", conversation_id,
                              "" if counselor_id is None else counselor_id, DECLINED_TTL_S)
        if res[0] != "ok":
            return None
        return int(res[1]), int(res[2])

    async def not_again(self, conversation_id: str, counselor_id: int) -> None:
        """Never offer this case to this counselor again (until it is back in the queue
        anew): e.g. their phone did not answer a bridged call."""
        key = self.keys.declined(conversation_id)
        async with self.redis.pipeline(transaction=True) as p:
            p.sadd(key, str(counselor_id))
            p.expire(key, DECLINED_TTL_S)
            await p.execute()

    async def release(self, conversation_id: str, requeue: bool = False) -> int | None:
        """The holder lets go: closed, or back to the queue at its old position."""
        holder = await self._run("release", conversation_id, "requeue" if requeue else "close")
        return int(holder) if holder else None

    async def reassign(self, conversation_id: str, counselor_id: int,
                       override_capacity: bool = False) -> ClaimResult:
        """Give a case to a named counselor (checked as eligible; capacity may be overridden)."""
        res = await self._run("reassign", conversation_id, counselor_id,
                              "1" if override_capacity else "0")
        return ClaimResult(res[0] == "ok", res[1])

    async def expired_offers(self, at_ms: int | None = None) -> list[str]:
        at = now_ms() if at_ms is None else at_ms
        ids: Any = await self.redis.zrangebyscore(self.keys.offers, "-inf", at)
        return [str(i) for i in ids]

    async def offers(self) -> dict[str, int]:
        """Outstanding offers: conversation id -> counselor id."""
        raw: Any = await self.redis.hgetall(self.keys.offer)
        return {c: int(a) for c, a in raw.items()}

    async def owners(self) -> dict[str, int]:
        raw: Any = await self.redis.hgetall(self.keys.owner)
        return {c: int(a) for c, a in raw.items()}

    async def held(self) -> Held:
        """Which conversations the live state holds, read at one instant in one round trip
        (what the reconciler checks against SQL's open cases)."""
        k = self.keys
        async with self.redis.pipeline(transaction=True) as p:
            p.zrange(k.queue, 0, -1)
            p.hkeys(k.queue_meta)
            p.hkeys(k.offer)
            p.zrange(k.offers, 0, -1)
            p.hgetall(k.owner)
            queue, meta, offer, offer_times, owner = await p.execute()
        owners = {str(c): int(a) for c, a in owner.items()}
        return Held(queued=frozenset(set(queue) & set(meta)), offered=frozenset(offer),
                    owners=owners,
                    anywhere=frozenset({*queue, *meta, *offer, *offer_times, *owners}))

    async def loads(self) -> dict[int, int]:
        raw: Any = await self.redis.hgetall(self.keys.load)
        return {int(a): int(n) for a, n in raw.items()}

    # --- counselors ---

    async def put_staff(self, profile: StaffProfile) -> None:
        """Write a counselor's shift window and skills (status and presence are kept)."""
        async with self.redis.pipeline(transaction=True) as p:
            self._queue_staff(p, profile)
            await p.execute()

    def _queue_staff(self, p: Any, profile: StaffProfile) -> None:
        k = self.keys
        p.hset(k.staff_hash(profile.id), mapping={
            "start": profile.shift_start_ms, "end": profile.shift_end_ms,
            "max": profile.max_chats, "langs": bar(profile.languages),
            "chans": bar(profile.channels), "skills": bar(profile.skills)})
        # No "status" placeholder: a missing status reads offline everywhere (status_of,
        # staff_states, lib.lua), and `rebuild` fills only a missing one from SQL, so a profile
        # written after Redis lost its data and before the rebuild must not pose as a choice.
        p.hsetnx(k.staff_hash(profile.id), "idle", now_ms())
        p.sadd(k.staff_ids, str(profile.id))

    async def roster_version(self) -> str:
        """The roster edit counter (see Keys.roster_version)."""
        return str(await self.redis.get(self.keys.roster_version) or "0")

    async def bump_roster_version(self) -> None:
        await self.redis.incr(self.keys.roster_version)

    async def put_staff_if(self, profiles: list[StaffProfile], version: str) -> bool:
        """Write many profiles while no roster edit has come since `version` was read (False
        then: the caller reads SQL again), STAFF_CHUNK a transaction, each checking it (one of
        1,000 held the loop 16-20 ms); an edit's own write, after its bump, follows any chunk
        written before it."""
        k = self.keys
        for first in range(0, len(profiles), STAFF_CHUNK):
            async with self.redis.pipeline(transaction=True) as p:
                await p.watch(k.roster_version)
                if str(await p.get(k.roster_version) or "0") != version:
                    return False
                p.multi()  # type: ignore[no-untyped-call]
                for profile in profiles[first:first + STAFF_CHUNK]:
                    self._queue_staff(p, profile)
                try:
                    await p.execute()
                except WatchError:
                    return False
        return True

    async def drop_staff(self, counselor_id: int) -> None:
        async with self.redis.pipeline(transaction=True) as p:
            p.delete(self.keys.staff_hash(counselor_id))
            p.srem(self.keys.staff_ids, str(counselor_id))
            p.zrem(self.keys.presence, str(counselor_id))
            await p.execute()

    async def set_status(self, counselor_id: int, status: Presence) -> None:
        await self.redis.hset(self.keys.staff_hash(counselor_id), "status", status.value)

    async def status_of(self, counselor_id: int) -> Presence:
        raw: Any = await self.redis.hget(self.keys.staff_hash(counselor_id), "status")
        return Presence(raw) if raw in Presence.__members__.values() else Presence.OFFLINE

    async def heartbeat(self, counselor_id: int, at_ms: int | None = None) -> None:
        """Mark a counselor's console alive now."""
        await self.redis.zadd(self.keys.presence,
                              {str(counselor_id): now_ms() if at_ms is None else at_ms})

    async def present(self) -> set[int]:
        """Counselors whose console sent a heartbeat within the presence TTL."""
        cutoff = now_ms() - self.rules.presence_ttl_s * 1000
        members: Any = await self.redis.zrangebyscore(self.keys.presence, cutoff, "+inf")
        return {int(m) for m in members}

    async def stale_presence(self, at_ms: int | None = None) -> list[int]:
        """Counselors whose heartbeat stopped (closed laptop, lost network)."""
        cutoff = (now_ms() if at_ms is None else at_ms) - self.rules.presence_ttl_s * 1000
        stale: Any = await self.redis.zrangebyscore(self.keys.presence, "-inf", f"({cutoff}")
        return [int(m) for m in stale]

    async def forget_presence(self, counselor_id: int) -> None:
        await self.redis.zrem(self.keys.presence, str(counselor_id))

    async def staff_state_of(self, counselor_id: int) -> StaffState | None:
        """One counselor's routing state (as in `staff_states`); None if routing knows no
        such counselor."""
        k, aid = self.keys, str(counselor_id)
        async with self.redis.pipeline(transaction=True) as p:
            p.sismember(k.staff_ids, aid)
            p.hgetall(k.staff_hash(aid))
            p.zscore(k.presence, aid)
            p.hget(k.load, aid)
            known, h, beat, load = await p.execute()
        if not known:
            return None
        return staff_state(counselor_id, h, int(beat or 0), int(load or 0))

    async def staff_states(self, free_only: bool = False, at_ms: int | None = None
                           ) -> list[StaffState]:
        """Every counselor's routing state (staff.lua), decoded a part at a time (1,000 took
        7 ms at once); `free_only`: those who could take some case at `at_ms` (routing.why_not
        with no case, and not routing.full), sifted in Redis."""
        found: Any = await self._run("staff", *(["free"] if free_only else []), at_ms=at_ms)
        rows = sorted(found, key=lambda r: int(r[0]))
        out: list[StaffState] = []
        async for part in in_parts(rows, _DECODE_PART):
            out += [staff_state(int(aid), dict(zip(flat[::2], flat[1::2], strict=True)),
                                int(float(beat)), int(load))
                    for aid, flat, beat, load in part]
        return out

    async def coverage(self, groups: Sequence[tuple[str, Channel]], at_ms: int | None = None
                       ) -> dict[tuple[str, Channel], tuple[Coverage, int]]:
        """routing.serving for each language/channel group, over every counselor, worked out
        in Redis (coverage.lua): a few rows back, not every counselor to read and decode."""
        found: Any = await self._run(
            "coverage", *(f"{lang}|{chan.value}" for lang, chan in groups), at_ms=at_ms)
        out = {}
        for group, n, ok in found:
            lang, chan = group.split("|", 1)
            state = Coverage.OK if ok else Coverage.FULL if n else Coverage.GAP
            out[(lang, Channel(chan))] = (state, int(n))
        return out

    # --- rebuild from SQL ---

    async def has_epoch(self) -> bool:
        return bool(await self.redis.exists(self.keys.epoch))

    async def rebuild(self, open_items: list[Waiting], waiting_ids: set[str],
                      owners: dict[str, int], people: list[StaffProfile],
                      statuses: Mapping[int, Presence] | None = None) -> None:
        """Replace queue, offers, ownership and load with SQL's truth, atomically.

        A status Redis still holds is kept (set_status writes SQL and then Redis, so it is
        never older than SQL's); a missing one, as after Redis lost its data, is restored from
        `statuses` (SQL's counselors.presence_status; absent means offline). Consoles never
        re-announce a status, only their presence (the heartbeat), which is stamped below."""
        k = self.keys
        statuses = statuses or {}
        stamp = now_ms()
        loads: dict[FieldT, EncodableT] = dict(Counter(str(c) for c in owners.values()))
        on_call = {str(owners[i.conversation_id]) for i in open_items
                   if i.channel == Channel.VOICE and i.conversation_id in owners}
        old_staff: Any = await self.redis.smembers(k.staff_ids)
        async with self.redis.pipeline(transaction=True) as p:
            p.delete(k.queue, k.queue_meta, k.owner, k.load, k.offer, k.offers, k.misses,
                     k.staff_ids)
            for aid in old_staff:
                if int(aid) not in {a.id for a in people}:
                    p.delete(k.staff_hash(aid))
            if open_items:
                p.hset(k.queue_meta, mapping={w.conversation_id: w.encode() for w in open_items})
            queued = {w.conversation_id: queue_score(w.urgency, w.enqueued_ms)
                      for w in open_items if w.conversation_id in waiting_ids}
            if queued:
                p.zadd(k.queue, queued)
            if owners:
                p.hset(k.owner, mapping={c: str(o) for c, o in owners.items()})
                p.hset(k.load, mapping=loads)
            for a in people:
                p.hset(k.staff_hash(a.id), mapping={
                    "start": a.shift_start_ms, "end": a.shift_end_ms, "max": a.max_chats,
                    "langs": bar(a.languages), "chans": bar(a.channels),
                    "skills": bar(a.skills), "call": "1" if str(a.id) in on_call else "0"})
                status = statuses.get(a.id, Presence.OFFLINE)
                p.hsetnx(k.staff_hash(a.id), "status", status.value)
                if status != Presence.OFFLINE:
                    # Presence was lost too. Routing wants a beat within the presence TTL
                    # (lib.lua why_not_staff: 'absent') and the sweep finds a lost console only
                    # by an old entry (stale_presence): with none, the counselor would stay
                    # "available" but unroutable, and a dead console's cases never reach the
                    # lead. So stamp now, as if the console beat at the rebuild: routable at
                    # once; a live console's next beat keeps them; a dead one is swept offline
                    # one presence timeout later, its cases flagged, like any console that
                    # stops. Busy/break too (signed in; the sweep flags their cases); not
                    # offline (a sweep would flag the cases of someone who signed out). NX: a
                    # kept entry (rebuild over live data) or a beat since is newer, and a stale
                    # one must stay stale for the sweep.
                    p.zadd(k.presence, {str(a.id): stamp}, nx=True)
                p.hsetnx(k.staff_hash(a.id), "idle", stamp)
                p.sadd(k.staff_ids, str(a.id))
            p.set(k.epoch, str(now_ms()))
            await p.execute()
