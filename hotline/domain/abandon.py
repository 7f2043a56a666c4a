"""When a victim has left, and what then happens to their case: pure functions over the case's
state, table-tested (tests/test_abandon.py). The job that applies them is cases/abandon.py;
the diagram is in docs/floor.md.

Each open case may carry a deadline (`conversations.abandon_at`). A victim's own message moves
it on by the channel's rule; a web chat page with an open event stream keeps renewing it. When
it passes, `step` says what to do:

    waiting                      -> CLOSE (abandoned; never answered)
    held, victim not yet gone    -> TELL the holder "the victim left", deadline + notice
    held, holder already told    -> CLOSE (abandoned, under the holder)
    held web chat, page gone     -> CLEAR (a held chat is not left by a closed tab alone)
    closed                       -> CLEAR
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum

from hotline.domain.conversation import Channel, Status
from hotline.domain.errors import ConfigError


# The [abandoned] section of config.toml: when a victim counts as gone, per channel.
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


class Step(StrEnum):
    CLOSE = "close"
    TELL = "tell"
    CLEAR = "clear"


class How(StrEnum):
    """Why the victim counts as gone (audit, metric label)."""

    QUICK_EXIT = "quick_exit"
    PAGE_GONE = "page_gone"
    SILENT = "silent"


def deadline(channel: Channel, at: datetime, rules: AbandonConfig) -> datetime | None:
    """The deadline a victim's message (or a web chat page's beat) at `at` sets; None: the
    channel has no such rule (voice has its own: the caller hangs up)."""
    if channel is Channel.WEBCHAT:
        return at + timedelta(minutes=rules.webchat_gone_minutes)
    hours = {Channel.SMS: rules.sms_silent_hours,
             Channel.TELEGRAM: rules.telegram_silent_hours}.get(channel, 0)
    return at + timedelta(hours=hours) if hours else None


def after_quick_exit(status: Status, at: datetime, rules: AbandonConfig) -> datetime:
    """The deadline Quick exit sets: at once while waiting; a holder gets the notice time."""
    if status is Status.WAITING:
        return at
    return at + timedelta(minutes=rules.holder_notice_minutes)


def step(status: Status, channel: Channel, victim_left: bool) -> Step:
    """What to do with a case whose deadline has passed."""
    if status is Status.WAITING:
        return Step.CLOSE
    if status is not Status.ACTIVE:
        return Step.CLEAR
    if victim_left:
        return Step.CLOSE
    if channel is Channel.WEBCHAT:
        return Step.CLEAR
    return Step.TELL


def how(channel: Channel, victim_left: bool) -> How:
    """Why a case is closed as abandoned: on the web chat only Quick exit marks the victim as
    gone before the deadline; elsewhere it is their silence."""
    if channel is Channel.WEBCHAT:
        return How.QUICK_EXIT if victim_left else How.PAGE_GONE
    return How.SILENT
