"""The [abandoned] section of config.toml: when a victim counts as gone, per channel.
See docs/floor.md."""

from __future__ import annotations

from dataclasses import dataclass, fields

from hotline.errors import ConfigError


@dataclass(frozen=True)
class AbandonConfig:
    # Web chat: a waiting victim whose chat page has had no event stream open this long has
    # left (closed the tab, lost the connection for good). Quick exit is at once.
    webchat_gone_minutes: int = 5
    # SMS and Telegram: no message from the victim for this long. 0: never by silence.
    sms_silent_hours: int = 24
    telegram_silent_hours: int = 24
    # A case a counselor holds is never closed unannounced: the holder is told the victim
    # left, and the case closes this long after unless the victim writes again or the holder
    # closes it first.
    holder_notice_minutes: int = 10

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            low = 0 if f.name.endswith("_hours") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"abandoned.{f.name}: expected a whole number of at least "
                                  f"{low}, got {value!r}")
