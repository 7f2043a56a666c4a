"""Growing delays between guesses (console logins), as pure functions over a frozen state.

A throttle key (a login name, one browser, a client address) counts failed attempts. The first
`free` go through at once; after that each attempt must wait, since the one before it,
`first_s`, then twice as long, and so on up to `max_s`. The count is forgotten `forget_s` after
the last attempt. On a name's or a browser's key an attempt is counted when it starts (before
the password is checked), so guesses sent at the same instant cannot slip through together; a
success hands its count back. A client address is a gate: waited for, and counted once a
failure is known.

The Redis script (hotline/stores/live/lua/throttle_reserve.lua) applies `pick` and
`reserve_all` atomically, from the schedule `Policy.schedule_ms` gives it; a parity test keeps
the two in step. See docs/console.md for the bound this gives.
"""

from __future__ import annotations

from dataclasses import dataclass

# Past this many doublings every sensible cap is reached; it keeps 2**n a small float.
_MAX_DOUBLINGS = 40


@dataclass(frozen=True)
class Policy:
    free: int = 5
    first_s: float = 1.0
    max_s: float = 900.0
    forget_s: float = 86400.0

    def delay_ms(self, failures: int) -> int:
        """How long a key that has counted `failures` attempts waits before the next one."""
        if failures < self.free:
            return 0
        doublings = min(failures - self.free, _MAX_DOUBLINGS)
        return round(min(self.first_s * 2.0 ** doublings, self.max_s) * 1000)

    def schedule_ms(self) -> tuple[int, ...]:
        """delay_ms(1), delay_ms(2), ... up to the first that reaches the cap; the last entry
        holds for every later count."""
        out: list[int] = []
        n = 1
        while True:
            out.append(self.delay_ms(n))
            if out[-1] >= round(self.max_s * 1000) or n > self.free + _MAX_DOUBLINGS:
                return tuple(out)
            n += 1

    def most_attempts(self, seconds: float) -> int:
        """The most attempts one key lets through within `seconds` of its first one, by a
        guesser who tries at every moment allowed (and never pauses long enough for the
        count to be forgotten): the bound docs/console.md states."""
        at_ms, n, limit_ms = 0, 0, seconds * 1000
        while at_ms <= limit_ms:
            n += 1
            at_ms += self.delay_ms(n)
        return n


@dataclass(frozen=True)
class Slot:
    """One key's state: attempts counted, when the next may start, when all is forgotten."""

    failures: int = 0
    next_ms: int = 0
    forget_ms: int = 0


def current(slot: Slot, now_ms: int) -> Slot:
    """The slot as it stands at `now_ms` (empty once forgotten)."""
    return slot if now_ms < slot.forget_ms else Slot()


def wait_ms(slot: Slot, now_ms: int) -> int:
    """How long an attempt must still wait (0: it may go now)."""
    return max(0, current(slot, now_ms).next_ms - now_ms)


def reserve(slot: Slot, now_ms: int, policy: Policy) -> Slot:
    """Count an attempt that starts now (only when `wait_ms` is 0)."""
    n = current(slot, now_ms).failures + 1
    return Slot(n, now_ms + policy.delay_ms(n), now_ms + round(policy.forget_s * 1000))


def refund(slot: Slot, now_ms: int) -> Slot:
    """A reserved attempt succeeded: it no longer counts. The wait it started stays, so a
    success never opens the next attempt sooner for anyone else."""
    s = current(slot, now_ms)
    return Slot(max(0, s.failures - 1), s.next_ms, s.forget_ms)


def pick(keys: tuple[str, ...], fresh: str | None, gate: Slot, now_ms: int
         ) -> tuple[str, ...]:
    """The keys an attempt counts on: `keys`; but when `fresh` is given and the gate (the
    client's address) has no failures, `fresh` stands in for the last one. So a client that
    has not failed is throttled on a key of its own kind: one guesser cannot delay it by
    failing elsewhere."""
    if fresh is None or current(gate, now_ms).failures:
        return keys
    return (*keys[:-1], fresh)


def reserve_all(slots: tuple[Slot, ...], now_ms: int, policy: Policy, gate: Slot = Slot()
                ) -> tuple[int, tuple[Slot, ...]]:
    """An attempt throttled by several keys and a gate: the longest wait, or 0 and every key
    counted. The gate (the client's address) is only waited for: it counts failures once
    they are known (`reserve` after the fact), so people logging in at the same moment from
    one address (an office at shift start) never hold each other back."""
    wait = max((wait_ms(s, now_ms) for s in (gate, *slots)), default=0)
    if wait:
        return wait, slots
    return 0, tuple(reserve(s, now_ms, policy) for s in slots)
