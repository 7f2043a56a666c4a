"""The monitoring machine (every watch x result, against a copy written out by hand), what an
HTTP answer means, the item and request consequences, scheduling, cluster keys and the
[takedown.monitor] configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline.domain.clusters import cluster_key, raises_priority
from hotline.domain.errors import ConfigError
from hotline.domain.locations import parse_location
from hotline.domain.monitoring import (
    WATCH_TRANSITIONS,
    Intervals,
    Watch,
    WatchEvent,
    classify,
    item_event,
    next_check,
    next_watch,
    request_verifiable,
)
from hotline.domain.removal import RequestState
from hotline.domain.takedown import ItemEvent, ItemStatus, OnlineState
from hotline.takedown.config import MonitorConfig, parse_monitor

U, ON, OFF1, V = Watch.UNCHECKED, Watch.ONLINE, Watch.OFFLINE_ONCE, Watch.VERIFIED
on, off, unk = OnlineState.ONLINE, OnlineState.OFFLINE, OnlineState.UNKNOWN
EXPECTED = {
    (U, on): (ON, None), (U, off): (OFF1, None), (U, unk): (U, None),
    (ON, on): (ON, None), (ON, off): (OFF1, None), (ON, unk): (ON, None),
    (OFF1, on): (ON, None), (OFF1, off): (V, WatchEvent.VERIFIED), (OFF1, unk): (OFF1, None),
    (V, on): (ON, WatchEvent.REAPPEARED), (V, off): (V, None), (V, unk): (V, None),
}


@pytest.mark.parametrize(("watch", "result"), list(EXPECTED))
def test_watch_table(watch: Watch, result: OnlineState) -> None:
    assert next_watch(watch, result) == EXPECTED[(watch, result)]


def test_table_is_complete() -> None:
    assert dict(WATCH_TRANSITIONS) == EXPECTED


def test_online_offline_offline_online_is_verified_then_reappeared() -> None:
    watch, events = Watch.UNCHECKED, []
    for result in (on, off, off, on):
        watch, event = next_watch(watch, result)
        events.append(event)
    assert events == [None, None, WatchEvent.VERIFIED, WatchEvent.REAPPEARED]


@pytest.mark.parametrize(("status", "state"), [
    (200, on), (204, on), (404, off), (410, off), (451, off), (None, unk), (403, unk),
    (401, unk), (429, unk), (500, unk), (503, unk), (302, unk)])
def test_classify(status: int | None, state: OnlineState) -> None:
    assert classify(status) is state


@pytest.mark.parametrize(("status", "watches", "event"), [
    (ItemStatus.OPEN, [V, V], ItemEvent.ALL_OFFLINE),
    (ItemStatus.OPEN, [V, OFF1], None),
    (ItemStatus.OPEN, [V, U], None),
    (ItemStatus.OPEN, [ON], None),
    (ItemStatus.OPEN, [], None),
    (ItemStatus.MONITORING, [V, ON], ItemEvent.REAPPEARED),
    (ItemStatus.ALL_REMOVED, [ON], ItemEvent.REAPPEARED),
    (ItemStatus.MONITORING, [V, V], None),
])
def test_item_event(status: ItemStatus, watches: list[Watch], event: ItemEvent | None) -> None:
    assert item_event(status, watches) == event


@pytest.mark.parametrize(("state", "watches", "ok"), [
    (RequestState.REMOVED, [V], True),
    (RequestState.REMOVED, [V, OFF1], False),
    (RequestState.SENT, [V, V], True),
    (RequestState.PARTIALLY_REMOVED, [V], True),
    (RequestState.DRAFT, [V], False),
    (RequestState.VERIFIED, [V], False),
    (RequestState.ESCALATED, [V], False),
    (RequestState.REMOVED, [], False),
])
def test_request_verifiable(state: RequestState, watches: list[Watch], ok: bool) -> None:
    assert request_verifiable(state, watches) is ok


def test_next_check() -> None:
    now = datetime(2026, 12, 6, tzinfo=UTC)
    every = Intervals(timedelta(hours=1), timedelta(days=1))
    assert next_check(now, ItemStatus.OPEN, every) == now + timedelta(hours=1)
    assert next_check(now, ItemStatus.MONITORING, every) == now + timedelta(days=1)
    assert next_check(now, ItemStatus.ALL_REMOVED, every) == now + timedelta(days=1)
    assert next_check(now, ItemStatus.CLOSED, every) is None


@pytest.mark.parametrize(("typed", "key"), [
    ("https://t.me/BadChannel/123", "telegram:channel:badchannel"),
    ("t.me/s/badchannel", "telegram:channel:badchannel"),
    ("tg://resolve?domain=leaks_bot&post=4", "telegram:bot:leaks_bot"),
    ("https://t.me/c/123456/7", "telegram:c:123456"),
    ("https://t.me/+AbCdEf123", "telegram:invite:AbCdEf123"),
    ("https://t.me/addstickers/SomeSet", "telegram:stickers:someset"),
    ("https://x.com/Someone/status/1790000000000000001", "x:someone"),
    ("https://twitter.com/someone", "x:someone"),
    ("https://x.com/i/web/status/1", None),
    ("https://www.instagram.com/p/Cxyz/", None),
    ("https://www.instagram.com/some.one/", "instagram:some.one"),
    ("https://instagram.com/stories/some.one/123", "instagram:some.one"),
    ("https://www.facebook.com/profile.php?id=1000123", "facebook:1000123"),
    ("https://m.facebook.com/groups/leakgroup/posts/1", "facebook:groups.leakgroup"),
    ("https://www.facebook.com/watch?v=1", None),
    ("https://www.threads.net/@someone/post/1", "threads:someone"),
    ("https://www.youtube.com/@Handle", "youtube:handle"),
    ("https://www.youtube.com/watch?v=abc", None),
    ("https://www.google.com/search?q=x", None),
    ("https://www.bad-site.example/v/1", "site:bad-site.example"),
    ("https://bad-site.example/other", "site:bad-site.example"),
])
def test_cluster_keys(typed: str, key: str | None) -> None:
    loc = parse_location(typed)
    tg = loc.telegram
    channel = None
    if tg is not None:
        channel = tg.channel or (str(tg.channel_id) if tg.channel_id is not None else None)
    assert cluster_key(loc.url, loc.host, tg.kind.value if tg else None, channel) == key


def test_priority_from_two_victims() -> None:
    assert not raises_priority(1) and raises_priority(2) and raises_priority(9)


def test_monitor_config_defaults_and_errors() -> None:
    assert parse_monitor({}) == MonitorConfig()
    for raw, key in [({"per_host": 0}, "takedown.monitor.per_host"),
                     ({"per_host": "2"}, "takedown.monitor.per_host"),
                     ({"enabled": 1}, "takedown.monitor.enabled"),
                     ({"timeout_seconds": 0.1}, "takedown.monitor.timeout_seconds"),
                     ({"user_agent": ""}, "takedown.monitor.user_agent"),
                     ({"nope": 1}, "takedown.monitor.nope"),
                     ({"concurrency": True}, "takedown.monitor.concurrency"),
                     ({"telegram_hosts": "t.me"}, "takedown.monitor.telegram_hosts"),
                     ({"telegram_hosts": ["T.me"]}, "takedown.monitor.telegram_hosts"),
                     ({"telegram_hosts": [""]}, "takedown.monitor.telegram_hosts")]:
        with pytest.raises(ConfigError, match=f"^{key}:"):
            parse_monitor(raw)
    assert parse_monitor({"telegram_hosts": ["127.0.0.1"]}).telegram_hosts == ("127.0.0.1",)
