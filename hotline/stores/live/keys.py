"""Every Redis key name and TTL, in one place. The prefix comes from config (storage.redis_prefix).

All keys share one hash tag `{prefix}` so multi-key Lua scripts also work on Redis Cluster.
Nothing here is the truth: SQL is, and `hotline.stores.live.rebuild` restores all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

# A console that stops sending heartbeats counts as gone after this; its tab sends one every 15 s.
PRESENCE_TTL_S = 60
# Failed console logins are counted over this window (the config may shorten or widen it).
LOGIN_WINDOW_DEFAULT_S = 900
# The event log keeps about this many entries: enough for a console to catch up after a short
# disconnect; a longer gap gets a "reset" event and reloads from SQL.
EVENT_LOG_MAXLEN = 10_000
# The live-state epoch marker has no TTL: its absence means Redis lost its data and must be
# rebuilt from SQL.
# Periodic-job locks live slightly shorter than the job period, so a crashed holder frees it.
JOB_LOCK_MARGIN_S = 1


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix."""

    prefix: str

    def _k(self, name: str) -> str:
        return f"{{{self.prefix}}}:{name}"

    @property
    def queue(self) -> str:
        """ZSET conversation id -> rank score (urgency first, then enqueue time)."""
        return self._k("queue")

    @property
    def queue_meta(self) -> str:
        """HASH conversation id -> "channel|language|urgency|enqueued_ms" (listing, matching)."""
        return self._k("queue:meta")

    @property
    def owner(self) -> str:
        """HASH conversation id -> counselor id, for every active conversation."""
        return self._k("owner")

    @property
    def load(self) -> str:
        """HASH counselor id -> number of active conversations held."""
        return self._k("load")

    @property
    def presence(self) -> str:
        """ZSET counselor id -> last heartbeat (ms); stale entries are pruned on read."""
        return self._k("presence")

    @property
    def events(self) -> str:
        """STREAM of events (ids only, never message text); ids are the console's replay cursor."""
        return self._k("events")

    @property
    def epoch(self) -> str:
        """STRING set after a rebuild from SQL; missing means Redis lost its data."""
        return self._k("epoch")

    def login_failures(self, who: str) -> str:
        """STRING counter of failed logins for a pseudonymous login name or client address."""
        return self._k(f"login:{who}")

    def job_lock(self, job: str) -> str:
        """STRING lock so one instance runs a periodic job at a time."""
        return self._k(f"lock:{job}")
