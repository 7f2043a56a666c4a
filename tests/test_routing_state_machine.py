"""hotline/stores/live against a model: random sequences of arrivals, counselor changes, claims,
offers, releases, reassignments and rebuilds run on the real Lua scripts in a private
redis-server, while a plain-Python model of the same floor predicts every answer.

After every step the whole live state is read back from Redis and compared with the model:
nothing held twice, nothing lost, loads equal to what each counselor holds, capacities and the
voice rule kept, and every successful claim, take, offer and accept went to someone the Python
rule (hotline.domain.routing.why_not) calls eligible at that moment of the model clock.

Hypothesis has no async rules: each machine owns an event loop (made in __init__, closed in
teardown) and runs every store call with loop.run_until_complete. The store's clock is the
model clock: `at_ms` where a call takes one, and the store module's `now_ms` patched for the
calls that read the time themselves (accept, reassign, release, unoffer, put_staff).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar
from unittest import mock

import hypothesis.strategies as st
from hypothesis import HealthCheck, example, given, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from redis.asyncio import Redis

from hotline.cases.live import LiveStore
from hotline.cases.live_records import ClaimResult, StaffProfile, Waiting
from hotline.domain.conversation import Channel, Urgency, queue_score
from hotline.domain.routing import (
    REASONS,
    Presence,
    RoutingRules,
    StaffState,
    WaitingItem,
    full,
    rank_staff,
    why_not,
)
from hotline.stores.live.keys import Keys
from tests.conftest import RedisProcess
from tests.live_reads import unassigned

T = TypeVar("T")

# Small numbers so that shift edges, the no-new margin, presence expiry and the scan limit are
# all reached within a few dozen steps.
RULES = RoutingRules(no_new_before_end_s=600, presence_ttl_s=60, scan_limit=4)
NO_NEW = RULES.no_new_before_end_s * 1000
TTL = RULES.presence_ttl_s * 1000
T0 = 1_800_000_000_000
HOUR = 3_600_000
ALWAYS = (0, 2**50)
OFFER_S = 30_000

STAFF_IDS = (1, 2, 3)
LANGS = ("ko", "en")
CHANNELS = (Channel.WEBCHAT, Channel.SMS, Channel.VOICE)
CHANNEL_NAMES = tuple(c.value for c in CHANNELS)
URGENCIES = tuple(Urgency)
GHOST = "c-ghost"  # an id the store never saw

WAITING, OFFERED, ACTIVE, CLOSED = "waiting", "offered", "active", "closed"

staff_ids = st.sampled_from(STAFF_IDS)
# Mostly available: the interesting steps need someone who may take a case.
statuses = st.sampled_from([Presence.AVAILABLE] * 3 + [Presence.BUSY, Presence.BREAK,
                                                          Presence.OFFLINE])
# Around the model clock: every boundary of "start <= now < end - margin" and either side of it.
start_offsets = st.sampled_from([-8 * HOUR, -60_000, -1, 0, 1, 60_000, HOUR])
end_offsets = st.sampled_from([-HOUR, -1, 0, 1, NO_NEW - 1, NO_NEW, NO_NEW + 1, 2 * HOUR,
                               8 * HOUR])
arrivals = st.tuples(st.sampled_from(LANGS), st.sampled_from(CHANNELS),
                     st.sampled_from(URGENCIES), st.sampled_from([0, 0, 1, 5_000]))
advances = st.sampled_from([1, 1_000, 30_000, TTL - 1, TTL, TTL + 1, 5 * 60_000, NO_NEW,
                            HOUR])


async def _drop_prefix(redis: Redis, keys: Keys) -> None:
    # Only this example's keys: never FLUSHDB, the server is shared by the session.
    found = [k async for k in redis.scan_iter(match=f"{{{keys.prefix}}}:*", count=1000)]
    if found:
        await redis.delete(*found)


# --- the model -----------------------------------------------------------------------------------


@dataclass
class MAgent:
    """What the model knows of one counselor (None profile: never written by put_staff)."""

    profile: StaffProfile | None = None
    status: Presence = Presence.OFFLINE
    heartbeat_ms: int = 0


@dataclass
class MConv:
    waiting: Waiting
    state: str = WAITING
    holder: int | None = None
    # Got its current holder through a lead's capacity override.
    override: bool = False
    # When an outstanding offer times out.
    deadline_ms: int = 0


@dataclass
class Model:
    now: int = T0
    people: dict[int, MAgent] = field(default_factory=lambda: {a: MAgent() for a in STAFF_IDS})
    convs: dict[str, MConv] = field(default_factory=dict)
    declined: dict[str, set[int]] = field(default_factory=dict)
    misses: Counter[str] = field(default_factory=Counter)
    # Counselors allowed over their capacity for now: a lead override, or max_chats lowered
    # below what they already hold. (A voice call plus anything: override only.)
    over_capacity_ok: set[int] = field(default_factory=set)
    voice_mix_ok: set[int] = field(default_factory=set)

    def holds(self, aid: int) -> list[MConv]:
        return [c for c in self.convs.values() if c.state in (OFFERED, ACTIVE)
                and c.holder == aid]

    def staff_state(self, aid: int) -> StaffState:
        """The counselor as routing should see them now (the model's truth)."""
        a = self.people[aid]
        p = a.profile
        held = self.holds(aid)
        return StaffState(
            id=aid, status=a.status,
            shift_start_ms=p.shift_start_ms if p else 0, shift_end_ms=p.shift_end_ms if p else 0,
            heartbeat_ms=a.heartbeat_ms, max_chats=p.max_chats if p else 0,
            languages=frozenset(p.languages) if p else frozenset(),
            channels=frozenset(p.channels) if p else frozenset(), skills=frozenset(),
            load=len(held), on_call=any(c.waiting.channel == Channel.VOICE for c in held),
            idle_since_ms=0)

    def why(self, aid: int, cid: str, skip_capacity: bool = False) -> str | None:
        return why_not(self.staff_state(aid), self.convs[cid].waiting.item(), self.now, RULES,
                       skip_capacity=skip_capacity)

    def queue(self) -> list[str]:
        """Waiting ids in the order Redis keeps them (score, then id for equal scores)."""
        ids = [cid for cid, c in self.convs.items() if c.state == WAITING]
        return sorted(ids, key=lambda cid: (self._score(cid), cid))

    def _score(self, cid: str) -> int:
        w = self.convs[cid].waiting
        return queue_score(w.urgency, w.enqueued_ms)

    def with_state(self, *states: str) -> list[str]:
        return sorted(cid for cid, c in self.convs.items() if c.state in states)


def _describe(held: list[MConv]) -> list[tuple[str, str, str]]:
    return [(c.waiting.conversation_id, c.waiting.channel.value, c.state) for c in held]


# --- the machine ---------------------------------------------------------------------------


class RoutingMachine(RuleBasedStateMachine):
    redis_url = ""  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.redis = Redis.from_url(self.redis_url, decode_responses=True)
        self.keys = Keys(f"sm{secrets.token_hex(6)}")
        self.live = LiveStore(self.redis, self.keys, RULES)
        self.model = Model()
        self.seq = 0
        # The store reads the clock itself in accept, reassign, release, unoffer, put_staff:
        # make that the model clock.
        self._clock = mock.patch("hotline.cases.live.now_ms", lambda: self.model.now)
        self._clock.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self._clock.stop()
        try:
            self.run(_drop_prefix(self.redis, self.keys))
        finally:
            self.run(self.redis.aclose())
            self.loop.close()

    # --- helpers ---

    def _pick_conv(self, data: st.DataObject, *states: str) -> str:
        """A conversation id, preferring the given states; sometimes one in another state or
        one the store never saw."""
        preferred = self.model.with_state(*states)
        anything = [*self.model.with_state(WAITING, OFFERED, ACTIVE, CLOSED), GHOST]
        prefer = data.draw(st.sampled_from([True] * 4 + [False]), label="prefer")
        pool = preferred if preferred and prefer else anything
        return data.draw(st.sampled_from(pool), label="conversation")

    def _assert_eligible(self, what: str, aid: int, cid: str, state: StaffState,
                         ignore: tuple[str, ...] = (), skip_capacity: bool = False) -> None:
        """A success went to someone the Python rule calls eligible at this model time."""
        reason = why_not(state, self.model.convs[cid].waiting.item(), self.model.now, RULES,
                         skip_capacity=skip_capacity)
        assert reason is None or reason in ignore, (
            f"{what} gave {cid} to counselor {aid}, who may not take it now ({reason}): "
            f"{state}")

    def _give(self, cid: str, aid: int | None, state: str, override: bool = False) -> None:
        c = self.model.convs[cid]
        c.state, c.holder, c.override = state, aid, override

    # --- a floor to start from ---

    @initialize(counselors=st.lists(st.tuples(st.integers(1, 3),
                                              st.sampled_from([LANGS, ("ko",), ("en",)])),
                                    min_size=len(STAFF_IDS), max_size=len(STAFF_IDS)),
                arrivals=st.lists(arrivals, max_size=6))
    def open_floor(self, counselors: list[tuple[int, tuple[str, ...]]],
                   arrivals: list[tuple[str, Channel, Urgency, int]]) -> None:
        for aid, (max_chats, langs) in zip(STAFF_IDS, counselors, strict=False):
            self._sign_in(aid, max_chats, langs)
        for arrival in arrivals:
            self._arrive(*arrival)

    # --- arrivals ---

    def _arrive(self, lang: str, channel: Channel, urgency: Urgency, earlier: int) -> None:
        self.seq += 1
        cid = f"c{self.seq:03d}"
        item = Waiting(cid, channel, lang, urgency, self.model.now - earlier)
        self.run(self.live.enqueue(item))
        self.model.convs[cid] = MConv(item)

    @rule(batch=st.lists(arrivals, min_size=1, max_size=3))
    def arrive(self, batch: list[tuple[str, Channel, Urgency, int]]) -> None:
        for a in batch:
            self._arrive(*a)

    # --- counselors ---

    def _put(self, profile: StaffProfile) -> None:
        self.run(self.live.put_staff(profile))
        self.model.people[profile.id].profile = profile
        if len(self.model.holds(profile.id)) > profile.max_chats:
            self.model.over_capacity_ok.add(profile.id)

    def _sign_in(self, aid: int, max_chats: int, langs: tuple[str, ...] = LANGS) -> None:
        """What a console login does: a profile (unscheduled), available, a heartbeat."""
        self._put(StaffProfile(aid, *ALWAYS, max_chats, langs, CHANNEL_NAMES, ()))
        self.run(self.live.heartbeat(aid, at_ms=self.model.now))
        self.run(self.live.set_status(aid, Presence.AVAILABLE))
        a = self.model.people[aid]
        a.heartbeat_ms, a.status = self.model.now, Presence.AVAILABLE

    @rule(data=st.data(), aid=staff_ids,
          change=st.sampled_from(["profile", "profile", "status", "heartbeat", "sign_in"]))
    def counselor_changes(self, data: st.DataObject, aid: int, change: str) -> None:
        """A roster or account edit (shift window around now, skills, capacity), a status
        change, a heartbeat, or a fresh login."""
        now = self.model.now
        if change == "profile":
            always = data.draw(st.booleans(), label="unscheduled")
            window = ALWAYS if always else (now + data.draw(start_offsets, label="start"),
                                            now + data.draw(end_offsets, label="end"))
            langs = data.draw(st.sets(st.sampled_from(LANGS)), label="languages")
            chans = data.draw(st.sets(st.sampled_from(CHANNEL_NAMES)), label="channels")
            max_chats = data.draw(st.integers(1, 3), label="max_chats")
            self._put(StaffProfile(aid, window[0], window[1], max_chats, tuple(sorted(langs)),
                                   tuple(sorted(chans)), ()))
        elif change == "status":
            status = data.draw(statuses, label="status")
            self.run(self.live.set_status(aid, status))
            self.model.people[aid].status = status
        elif change == "heartbeat":
            self.run(self.live.heartbeat(aid, at_ms=now))
            self.model.people[aid].heartbeat_ms = now
        else:
            self._sign_in(aid, data.draw(st.integers(1, 3), label="max_chats"))

    @rule(ms=advances, beating=st.one_of(st.just(set(STAFF_IDS)), st.sets(staff_ids)))
    def advance(self, ms: int, beating: set[int]) -> None:
        """Time passes; the consoles in `beating` keep sending heartbeats, the others are
        silent (their presence expires after the TTL)."""
        self.model.now += ms
        for aid in sorted(beating):
            self.run(self.live.heartbeat(aid, at_ms=self.model.now))
            self.model.people[aid].heartbeat_ms = self.model.now

    # --- taking cases ---

    @rule(aid=staff_ids)
    def take_next(self, aid: int) -> None:
        m = self.model
        state = m.staff_state(aid)
        expected: ClaimResult
        base = why_not(state, None, m.now, RULES, skip_capacity=True)
        if base is not None:
            expected = ClaimResult(False, base)
        elif m.queue() and full(state):
            expected = ClaimResult(False, "capacity")
        else:
            expected = ClaimResult(False, "empty")
            for cid in m.queue()[: RULES.scan_limit]:
                reason = m.why(aid, cid)
                if reason is None:
                    expected = ClaimResult(True, waiting=m.convs[cid].waiting)
                    break
                expected = ClaimResult(False, reason)
        got = self.run(self.live.take_next(aid, at_ms=m.now))
        assert got == expected
        if got.ok:
            assert got.waiting is not None
            cid = got.waiting.conversation_id
            self._assert_eligible("take_next", aid, cid, state)
            self._give(cid, aid, ACTIVE)

    @rule(data=st.data(), aid=staff_ids)
    def claim(self, data: st.DataObject, aid: int) -> None:
        m = self.model
        cid = self._pick_conv(data, WAITING)
        state = m.staff_state(aid)
        if cid not in m.convs or m.convs[cid].state != WAITING:
            expected = ClaimResult(False, "gone")
        else:
            reason = m.why(aid, cid)
            expected = ClaimResult(reason is None, reason or "",
                                   m.convs[cid].waiting if reason is None else None)
        got = self.run(self.live.claim(cid, aid, at_ms=m.now))
        assert got == expected
        if got.ok:
            self._assert_eligible("claim", aid, cid, state)
            self._give(cid, aid, ACTIVE)

    # --- offers ---

    @rule(data=st.data(), aid=staff_ids)
    def offer(self, data: st.DataObject, aid: int) -> None:
        self._offer(self._pick_conv(data, WAITING), aid)

    def _offer(self, cid: str, aid: int) -> bool:
        m = self.model
        state = m.staff_state(aid)
        if cid not in m.convs or m.convs[cid].state != WAITING:
            expected = ClaimResult(False, "gone")
        elif aid in m.declined.get(cid, set()):
            expected = ClaimResult(False, "declined")
        else:
            reason = m.why(aid, cid)
            expected = ClaimResult(reason is None, reason or "")
        got = self.run(self.live.offer(cid, aid, m.now + OFFER_S, at_ms=m.now))
        assert got == expected
        if got.ok:
            self._assert_eligible("offer", aid, cid, state)
            self._give(cid, aid, OFFERED)
            m.convs[cid].deadline_ms = m.now + OFFER_S
        return got.ok

    @rule()
    def router_pass(self) -> None:
        """What the router does each tick in offer mode: time out the offers past their
        deadline, then offer each waiting case (best first) to the best counselor for it."""
        m = self.model
        due = self.run(self.live.expired_offers(at_ms=m.now))
        assert sorted(due) == sorted(cid for cid in m.with_state(OFFERED)
                                     if m.convs[cid].deadline_ms <= m.now)
        for cid in due:
            self._unoffer(cid, None)
        for cid in m.queue()[: RULES.scan_limit]:
            people = [m.staff_state(aid) for aid in STAFF_IDS]
            ranked = rank_staff(people, m.convs[cid].waiting.item(), m.now, RULES,
                                 exclude=frozenset(m.declined.get(cid, set())))
            if ranked:
                assert self._offer(cid, ranked[0].id), (cid, ranked[0])

    def _offered_and_who(self, data: st.DataObject) -> tuple[str, int]:
        cid = self._pick_conv(data, OFFERED)
        c = self.model.convs.get(cid)
        holder = c.holder if c is not None and c.state == OFFERED else None
        if holder is not None and data.draw(st.sampled_from([True] * 3 + [False]),
                                            label="the offered counselor"):
            return cid, holder
        return cid, data.draw(staff_ids, label="counselor")

    @precondition(lambda self: self.model.with_state(OFFERED))
    @rule(data=st.data(), after=st.sampled_from([0, 0, 5_000, OFFER_S, TTL + 1]),
          meanwhile=st.sampled_from([None, None, None, Presence.BREAK, Presence.BUSY]))
    def accept(self, data: st.DataObject, after: int, meanwhile: Presence | None) -> None:
        """The counselor answers `after` ms later (no heartbeat meanwhile): by then they may
        have gone quiet, their shift may have reached its end, or they may have set another
        status while the offer was ringing."""
        m = self.model
        m.now += after
        cid, aid = self._offered_and_who(data)
        if meanwhile is not None:
            self.run(self.live.set_status(aid, meanwhile))
            m.people[aid].status = meanwhile
        state = m.staff_state(aid)
        c = m.convs.get(cid)
        if c is None or c.state != OFFERED or c.holder != aid:
            expected = ClaimResult(False, "gone")
        else:
            # Capacity was reserved by the offer (and a voice offer already counts as the
            # call), but the rest of the rule holds at the moment of accepting.
            reason = m.why(aid, cid, skip_capacity=True)
            ok = reason in (None, "on_call")
            expected = ClaimResult(ok, "" if ok else str(reason), c.waiting if ok else None)
        got = self.run(self.live.accept(cid, aid))
        assert got == expected
        if got.ok:
            self._assert_eligible("accept", aid, cid, state, ignore=("on_call",),
                                  skip_capacity=True)
            self._give(cid, aid, ACTIVE)

    def _unoffer(self, cid: str, who: int | None) -> None:
        m = self.model
        c = m.convs.get(cid)
        got = self.run(self.live.unoffer(cid, who))
        if c is None or c.state != OFFERED or (who is not None and c.holder != who):
            assert got is None
            return
        assert c.holder is not None
        m.declined.setdefault(cid, set()).add(c.holder)
        m.misses[cid] += 1
        assert got == (c.holder, m.misses[cid])
        self._give(cid, None, WAITING)

    @precondition(lambda self: self.model.with_state(OFFERED))
    @rule(data=st.data())
    def decline(self, data: st.DataObject) -> None:
        cid, aid = self._offered_and_who(data)
        self._unoffer(cid, aid)

    @precondition(lambda self: self.model.with_state(OFFERED))
    @rule(data=st.data())
    def time_out(self, data: st.DataObject) -> None:
        self._unoffer(self._pick_conv(data, OFFERED), None)

    # --- letting go, moving ---

    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        m = self.model
        cid = self._pick_conv(data, ACTIVE, OFFERED, WAITING)
        c = m.convs.get(cid)
        expected = c.holder if c is not None and c.state == ACTIVE else None
        assert self.run(self.live.release(cid)) == expected
        if c is not None and c.state != CLOSED:
            c.state, c.holder, c.override = CLOSED, None, False
            m.declined.pop(cid, None)
            m.misses.pop(cid, None)

    @rule(data=st.data())
    def requeue(self, data: st.DataObject) -> None:
        m = self.model
        cid = self._pick_conv(data, ACTIVE, OFFERED)
        c = m.convs.get(cid)
        expected = c.holder if c is not None and c.state == ACTIVE else None
        assert self.run(self.live.release(cid, requeue=True)) == expected
        if c is not None and c.state != CLOSED:
            # Back to the queue at its old place; an outstanding offer is withdrawn with it.
            c.state, c.holder, c.override = WAITING, None, False
            m.declined.pop(cid, None)
            m.misses.pop(cid, None)

    @rule(data=st.data(), aid=staff_ids, override=st.booleans())
    def reassign(self, data: st.DataObject, aid: int, override: bool) -> None:
        m = self.model
        cid = self._pick_conv(data, ACTIVE, OFFERED, WAITING)
        c = m.convs.get(cid)
        state = m.staff_state(aid)
        if c is None or c.state == CLOSED:
            expected = ClaimResult(False, "gone")
        elif c.state == ACTIVE and c.holder == aid:
            expected = ClaimResult(False, "same")
        else:
            reason = m.why(aid, cid, skip_capacity=override)
            prev = str(c.holder) if c.state == ACTIVE else ""
            expected = ClaimResult(reason is None, reason if reason is not None else prev)
        got = self.run(self.live.reassign(cid, aid, override))
        assert got == expected
        if got.ok:
            self._assert_eligible("reassign", aid, cid, state, skip_capacity=override)
            self._give(cid, aid, ACTIVE, override=override)
            if override:
                m.over_capacity_ok.add(aid)
                m.voice_mix_ok.add(aid)

    @rule()
    def rebuild(self) -> None:
        """Replace the live state with the model's truth, as a restart rebuilds it from SQL:
        offered cases are waiting in SQL, so their offers end."""
        m = self.model
        open_ids = m.with_state(WAITING, OFFERED, ACTIVE)
        items = [m.convs[cid].waiting for cid in open_ids]
        waiting = set(m.with_state(WAITING, OFFERED))
        owners = {cid: m.convs[cid].holder for cid in m.with_state(ACTIVE)}
        profiles = [a.profile for a in m.people.values() if a.profile is not None]
        self.run(self.live.rebuild(items, waiting, owners, profiles))  # type: ignore[arg-type]
        for cid in m.with_state(OFFERED):
            c = m.convs[cid]
            c.state, c.holder = WAITING, None
        m.misses.clear()

    # --- the read views the console and router use ---

    @rule()
    def read_views(self) -> None:
        """staff_states() and unassigned() show exactly the model's floor."""
        m = self.model
        seen = {s.id: s for s in self.run(self.live.staff_states())}
        assert set(seen) == {aid for aid, a in m.people.items() if a.profile is not None}
        for aid, got in seen.items():
            want = m.staff_state(aid)
            assert (got.status, got.shift_start_ms, got.shift_end_ms, got.heartbeat_ms,
                    got.max_chats, got.languages, got.channels, got.load, got.on_call) == (
                want.status, want.shift_start_ms, want.shift_end_ms, want.heartbeat_ms,
                want.max_chats, want.languages, want.channels, want.load, want.on_call), aid
        listed = self.run(unassigned(self.live))
        assert {(w.conversation_id, a) for w, a in listed} == {
            (cid, m.convs[cid].holder if m.convs[cid].state == OFFERED else None)
            for cid in m.with_state(WAITING, OFFERED)}
        scores = [queue_score(w.urgency, w.enqueued_ms) for w, _ in listed]
        assert scores == sorted(scores)
        for w, _ in listed:
            assert w == m.convs[w.conversation_id].waiting

    # --- invariants, read back from Redis after every step ---

    @invariant()
    def live_state_matches_model(self) -> None:
        m = self.model
        k = self.keys

        async def read() -> list[Any]:
            async with self.redis.pipeline(transaction=True) as p:
                p.zrange(k.queue, 0, -1)
                p.hgetall(k.offer)
                p.hgetall(k.owner)
                p.hgetall(k.load)
                p.hkeys(k.queue_meta)
                p.zrange(k.offers, 0, -1)
                for aid in STAFF_IDS:
                    p.hget(k.staff_hash(aid), "call")
                return list(await p.execute())

        queue, offers, owners, loads, meta, deadlines, *calls = self.run(read())
        queued, offered, owned = set(queue), set(offers), set(owners)
        # Nothing held twice, nothing both held and waiting.
        assert len(queue) == len(queued)
        assert not queued & offered, f"waiting and offered at once: {queued & offered}"
        assert not queued & owned, f"waiting and held at once: {queued & owned}"
        assert not offered & owned, f"offered and held at once: {offered & owned}"
        # Every open case is exactly one of waiting / offered / active; none is lost, and
        # closed ones are gone.
        open_ids = set(m.with_state(WAITING, OFFERED, ACTIVE))
        assert queued | offered | owned == open_ids
        assert set(meta) == open_ids
        assert queue == m.queue()
        assert {c: int(a) for c, a in offers.items()} == {
            cid: m.convs[cid].holder for cid in m.with_state(OFFERED)}
        assert set(deadlines) == offered
        assert {c: int(a) for c, a in owners.items()} == {
            cid: m.convs[cid].holder for cid in m.with_state(ACTIVE)}
        # Load is what each counselor holds: active cases plus offers out to them.
        held = Counter(c.holder for c in m.convs.values() if c.state in (OFFERED, ACTIVE))
        assert {int(a): int(n) for a, n in loads.items()} == dict(held)
        # The "on a call" flag is set exactly while a counselor holds a voice case (an
        # offered call included: it must keep other cases away until accepted or declined).
        for aid, call in zip(STAFF_IDS, calls, strict=True):
            assert (call == "1") == m.staff_state(aid).on_call, (
                f"counselor {aid}: call flag {call!r}, holds {_describe(m.holds(aid))}")
        self._capacity_and_voice_rule()

    def _capacity_and_voice_rule(self) -> None:
        m = self.model
        for aid, a in m.people.items():
            held = m.holds(aid)
            max_chats = a.profile.max_chats if a.profile else 0
            voice = [c for c in held if c.waiting.channel == Channel.VOICE]
            if len(held) <= max_chats:
                m.over_capacity_ok.discard(aid)
            else:
                assert aid in m.over_capacity_ok, (
                    f"counselor {aid} holds {len(held)} > max_chats {max_chats}")
            if not voice or len(held) == 1:
                m.voice_mix_ok.discard(aid)
            else:
                assert aid in m.voice_mix_ok, (
                    f"counselor {aid} is on a call and holds more: {_describe(held)}")


MACHINE_SETTINGS = settings(max_examples=60, stateful_step_count=40, deadline=None,
                            suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.filter_too_much])


def test_routing_state_machine(redis_server: RedisProcess) -> None:
    machine = type("Machine", (RoutingMachine,), {"redis_url": redis_server.url})
    run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)


# --- the Lua rule is the Python rule, on random states -------------------------------------------

PARITY_NOW = T0
beats = st.one_of(st.none(), st.sampled_from([0, -1, -TTL + 1, -TTL, -TTL - 1, -HOUR]))


@dataclass(frozen=True)
class Case:
    status: Presence
    window: tuple[int, int]
    beat: int | None
    langs: tuple[str, ...]
    chans: tuple[str, ...]
    max_chats: int
    load: int
    on_call: bool
    item: Waiting

    def person(self, aid: int) -> StaffState:
        return StaffState(
            id=aid, status=self.status, shift_start_ms=self.window[0],
            shift_end_ms=self.window[1],
            heartbeat_ms=0 if self.beat is None else PARITY_NOW + self.beat,
            max_chats=self.max_chats, languages=frozenset(self.langs),
            channels=frozenset(self.chans), skills=frozenset(), load=self.load,
            on_call=self.on_call, idle_since_ms=0)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    always = draw(st.booleans())
    window = ALWAYS if always else (PARITY_NOW + draw(start_offsets),
                                    PARITY_NOW + draw(end_offsets))
    return Case(
        status=draw(statuses), window=window, beat=draw(beats),
        langs=tuple(sorted(draw(st.sets(st.sampled_from(LANGS))))),
        chans=tuple(sorted(draw(st.sets(st.sampled_from([c.value for c in Channel]))))),
        max_chats=draw(st.integers(0, 3)), load=draw(st.integers(0, 4)),
        on_call=draw(st.booleans()),
        item=Waiting("target", draw(st.sampled_from(tuple(Channel))),
                     draw(st.sampled_from(LANGS)), draw(st.sampled_from(URGENCIES)),
                     PARITY_NOW - 1_000))


def _case(**over: Any) -> Case:
    """An eligible counselor and a Korean web chat, with some fields changed."""
    base: dict[str, Any] = {
        "status": Presence.AVAILABLE, "window": ALWAYS, "beat": 0, "langs": LANGS,
        "chans": tuple(c.value for c in Channel), "max_chats": 3, "load": 0, "on_call": False,
        "item": Waiting("target", Channel.WEBCHAT, "ko", Urgency.NORMAL, PARITY_NOW - 1_000)}
    return Case(**{**base, **over})


# Each reason code at least once, whatever the random examples happen to draw.
EXPLICIT_CASES = [
    _case(),
    _case(status=Presence.BREAK),
    _case(window=(PARITY_NOW + 1, PARITY_NOW + HOUR)),
    _case(window=(PARITY_NOW - HOUR, PARITY_NOW)),
    _case(window=(PARITY_NOW - HOUR, PARITY_NOW + NO_NEW)),
    _case(window=(PARITY_NOW - HOUR, PARITY_NOW + NO_NEW + 1)),
    _case(beat=None),
    _case(beat=-TTL - 1),
    _case(beat=-TTL),
    _case(langs=("en",)),
    _case(chans=("sms",)),
    _case(on_call=True),
    _case(on_call=True, langs=("en",)),  # take_next's first check sees the call first
    _case(load=3),
    _case(load=2),
    _case(load=1, item=Waiting("target", Channel.VOICE, "ko", Urgency.HIGH, PARITY_NOW)),
    _case(status=Presence.BUSY, langs=("en",), load=3),
]


async def _write_case(live: LiveStore, aid: int, case: Case) -> None:
    """Counselor `aid` in the state `case` describes, written as the store and scripts would."""
    await live.put_staff(StaffProfile(aid, case.window[0], case.window[1], case.max_chats,
                                      case.langs, case.chans, ()))
    k = live.keys
    async with live.redis.pipeline(transaction=True) as p:
        p.hset(k.staff_hash(aid), "status", case.status.value)
        if case.beat is not None:
            p.zadd(k.presence, {str(aid): PARITY_NOW + case.beat})
        for i in range(case.load):  # cases already held, as the scripts record them
            p.hset(k.owner, f"held{i}", str(aid))
            p.hincrby(k.load, str(aid), 1)
        p.hset(k.staff_hash(aid), "call", "1" if case.on_call else "0")
        await p.execute()
    await live.enqueue(case.item)


def test_lua_eligibility_parity(redis_server: RedisProcess) -> None:
    """For random counselor states and items, the reason codes the Lua scripts answer with
    (claim, offer, take_next, reassign with and without override) are the Python rule's."""
    loop = asyncio.new_event_loop()
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    aid = 7
    calls: dict[str, Any] = {
        "claim": lambda s: s.claim("target", aid, at_ms=PARITY_NOW),
        "offer": lambda s: s.offer("target", aid, PARITY_NOW + OFFER_S, at_ms=PARITY_NOW),
        "take_next": lambda s: s.take_next(aid, at_ms=PARITY_NOW),
        "reassign": lambda s: s.reassign("target", aid, False),
        "reassign_override": lambda s: s.reassign("target", aid, True),
    }

    async def observe_one(case: Case, call: Any) -> str | None:
        # A prefix per call: a success changes the state the next call would see.
        live = LiveStore(redis, Keys(f"par{secrets.token_hex(6)}"), RULES)
        k = live.keys
        try:
            await _write_case(live, aid, case)
            res: ClaimResult = await call(live)
            if res.ok and res.waiting is not None:
                assert res.waiting == case.item
            return None if res.ok else res.reason
        finally:
            await redis.delete(k.staff_hash(aid), k.staff_ids, k.presence, k.owner, k.load, k.queue,
                               k.queue_meta, k.offer, k.offers, k.declined("target"))

    async def observe(case: Case) -> dict[str, str | None]:
        with mock.patch("hotline.cases.live.now_ms", lambda: PARITY_NOW):
            got = await asyncio.gather(*(observe_one(case, c) for c in calls.values()))
        return dict(zip(calls, got, strict=True))

    seen: set[str | None] = set()

    @settings(max_examples=120, deadline=None)
    @given(case=cases())
    def check(case: Case) -> None:
        person = case.person(aid)
        item: WaitingItem = case.item.item()
        rule = why_not(person, item, PARITY_NOW, RULES)
        seen.add(rule)
        base = why_not(person, None, PARITY_NOW, RULES, skip_capacity=True)
        expected = {
            "claim": rule,
            "offer": rule,
            "take_next": base if base is not None else "capacity" if full(person) else rule,
            "reassign": rule,
            "reassign_override": why_not(person, item, PARITY_NOW, RULES, skip_capacity=True),
        }
        assert loop.run_until_complete(observe(case)) == expected

    for c in EXPLICIT_CASES:
        check = example(case=c)(check)
    try:
        check()
    finally:
        loop.run_until_complete(redis.aclose())
        loop.close()
    assert seen >= {*REASONS, None}
