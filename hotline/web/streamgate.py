"""Caps on open event streams, so no client can hold the process's open files.

Counted per process (each instance guards its own sockets). A chat stream counts against its
chat session, its client address and the chat total; a console stream against its staff
session and the staff total, never against the chat's, so anonymous streams cannot crowd staff
out. Over a session or address cap the answer is 429, over a total 503, both at once and with
Retry-After: a stream is refused, never left hanging. See docs/events.md ("Limits").
"""

from __future__ import annotations

import logging
import resource
from collections import Counter

from hotline.config_streams import StreamsConfig
from hotline.web.middleware import json_error

log = logging.getLogger(__name__)

RETRY_AFTER_S = 10


class Admission:
    """One admitted stream's place under the caps; `release` gives it back (once)."""

    def __init__(self, gate: StreamGate, keys: tuple[str, ...]) -> None:
        self._gate = gate
        self._keys = keys

    def release(self) -> None:
        keys, self._keys = self._keys, ()
        for key in keys:
            self._gate.open[key] -= 1
            if self._gate.open[key] <= 0:
                del self._gate.open[key]


def fit_totals(cfg: StreamsConfig, open_files: int) -> tuple[int, int]:
    """The chat and staff totals that fit `open_files`: streams of all kinds take at most half
    of them (the rest serve other requests, SQL, Redis and logs); staff keep their share."""
    budget = open_files // 2
    staff = min(cfg.staff_total, budget // 2)
    return min(cfg.chat_total, budget - staff), staff


def _open_files() -> int | None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


class StreamGate:
    """Counts this process's open event streams by session, address and kind."""

    def __init__(self, cfg: StreamsConfig, open_files: int | None = None) -> None:
        self.cfg = cfg
        self.open: Counter[str] = Counter()
        limit = _open_files() if open_files is None else open_files
        self.chat_total, self.staff_total = cfg.chat_total, cfg.staff_total
        if limit is not None:
            self.chat_total, self.staff_total = fit_totals(cfg, limit)
            if (self.chat_total, self.staff_total) != (cfg.chat_total, cfg.staff_total):
                log.warning("stream caps lowered to fit the open-file limit",
                            extra={"open_files": limit, "chat_total": self.chat_total,
                                   "staff_total": self.staff_total})

    def admit_chat(self, chat: str, address: str) -> Admission:
        """A place for one chat stream (`chat`: the session's reference, not its cookie)."""
        return self._admit((
            (f"chat-session:{chat}", self.cfg.chat_per_session, 429, "chat_per_session"),
            (f"chat-address:{address}", self.cfg.chat_per_address, 429, "chat_per_address"),
            ("chat", self.chat_total, 503, "chat_total")))

    def admit_staff(self, session: str) -> Admission:
        """A place for one console stream (`session`: the session's reference)."""
        return self._admit((
            (f"staff-session:{session}", self.cfg.staff_per_session, 429, "staff_per_session"),
            ("staff", self.staff_total, 503, "staff_total")))

    def _admit(self, caps: tuple[tuple[str, int, int, str], ...]) -> Admission:
        for key, cap, status, name in caps:
            if self.open[key] >= cap:
                error = json_error(status, "too many open event streams; try again later",
                                   limit=name)
                error.headers["Retry-After"] = str(RETRY_AFTER_S)
                raise error
        keys = tuple(key for key, _cap, _status, _name in caps)
        for key in keys:
            self.open[key] += 1
        return Admission(self, keys)
