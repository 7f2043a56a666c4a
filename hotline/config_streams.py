"""The [streams] section of config.toml: caps on open event streams, and how far back a
reconnecting client is replayed. See docs/events.md ("Limits")."""

from __future__ import annotations

from dataclasses import dataclass, fields

from hotline.domain.errors import ConfigError


@dataclass(frozen=True)
class StreamsConfig:
    # Open /chat/api/events streams of one chat cookie (tabs, and a reconnect that overlaps a
    # connection the server has not yet seen close).
    chat_per_session: int = 3
    # Open chat streams from one client address (many victims may share a carrier's address).
    chat_per_address: int = 100
    # Open chat streams in this process; lowered at start-up to fit the open-file limit.
    chat_total: int = 2000
    # Open console streams (/api/v1/events) of one staff session, and in this process. Staff
    # streams never count against the chat's caps, so anonymous streams cannot crowd them out.
    staff_per_session: int = 8
    staff_total: int = 500
    # A reconnecting client is replayed at most this many events, and only from ids at most
    # this old (measured against the newest event); further back it gets "reset" and reloads.
    replay_max_events: int = 1000
    replay_max_age_seconds: int = 600
    # A comment line this often keeps proxies from closing an idle stream; at each one a
    # console stream checks its session is still alive and keeps the person present.
    heartbeat_seconds: float = 15.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value <= 0:
                raise ConfigError(f"streams.{f.name}: expected a positive number, got {value}")
        if self.heartbeat_seconds > 60:
            # Proxies commonly close a response silent for 60 s (nginx proxy_read_timeout).
            raise ConfigError("streams.heartbeat_seconds: expected at most 60, "
                              f"got {self.heartbeat_seconds}")
