"""What the live store (cases/live.py) reads and writes, as values: a waiting case's queue
entry, what the live state holds, a claim's result, and a staff member's routing profile and
state. Their encodings in Redis are here; the operations on them are in LiveStore."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from hotline.domain.conversation import Channel, Urgency
from hotline.domain.routing import Presence, StaffState, WaitingItem


def bar(values: tuple[str, ...] | frozenset[str]) -> str:
    return "|" + "|".join(sorted(values)) + "|"


# A few distinct values (languages, channels, skills) decoded for 1,000 counselors a read.
@lru_cache(maxsize=512)
def unbar(text: str | None) -> frozenset[str]:
    return frozenset(x for x in (text or "").split("|") if x)


@dataclass(frozen=True)
class Waiting:
    """One open conversation as the queue knows it (no text, no address)."""

    conversation_id: str
    channel: Channel
    language: str
    urgency: Urgency
    enqueued_ms: int
    needs: frozenset[str] = frozenset()

    def encode(self) -> str:
        return (f"{self.channel}|{self.language}|{self.urgency}|{self.enqueued_ms}|"
                f"{','.join(sorted(self.needs))}")

    @classmethod
    def decode(cls, conversation_id: str, meta: str) -> Waiting:
        channel, language, urgency, enqueued, needs = [*meta.split("|"), ""][:5]
        return cls(conversation_id, Channel(channel), language, Urgency(urgency), int(enqueued),
                   frozenset(x for x in needs.split(",") if x))

    def item(self) -> WaitingItem:
        return WaitingItem(self.conversation_id, self.channel, self.language, self.urgency,
                           self.enqueued_ms, self.needs)


@dataclass(frozen=True)
class Held:
    """The conversations the live state holds (LiveStore.held)."""

    queued: frozenset[str]  # in the queue, with its entry
    offered: frozenset[str]
    owners: dict[str, int]  # conversation -> counselor
    # Any trace at all: also a queue entry, metadata or offer time left on its own.
    anywhere: frozenset[str]


@dataclass(frozen=True)
class ClaimResult:
    ok: bool
    reason: str = ""
    waiting: Waiting | None = None


@dataclass(frozen=True)
class StaffProfile:
    """The routing-relevant part of a counselor's account and roster, written to Redis."""

    id: int
    shift_start_ms: int
    shift_end_ms: int
    max_chats: int
    languages: tuple[str, ...]
    channels: tuple[str, ...]
    skills: tuple[str, ...]


def staff_state(aid: int, h: Mapping[str, str], beat_ms: int, load: int) -> StaffState:
    """A counselor's routing state from their hash, heartbeat and load."""
    status = h.get("status", "offline")
    return StaffState(
        id=aid,
        status=Presence(status) if status in Presence.__members__.values() else Presence.OFFLINE,
        shift_start_ms=int(h.get("start", 0)), shift_end_ms=int(h.get("end", 0)),
        heartbeat_ms=beat_ms, max_chats=int(h.get("max", 0)),
        languages=unbar(h.get("langs")), channels=unbar(h.get("chans")),
        skills=unbar(h.get("skills")), load=load,
        on_call=h.get("call") == "1", idle_since_ms=int(h.get("idle", 0)))
