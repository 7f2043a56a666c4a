"""The console's `local_time` filter: stored UTC times in the centre's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.web.i18n import local_time

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.mark.parametrize(("value", "shown"), [
    ("2026-12-06T02:52:03+00:00", "2026-12-06 11:52:03 KST"),
    ("2026-12-06T02:52:03.123456", "2026-12-06 11:52:03 KST"),   # naive: stored UTC
    ("2026-12-31T15:00:00Z", "2027-01-01 00:00:00 KST"),         # the day changes
    (datetime(2026, 6, 1, 0, 0, tzinfo=UTC), "2026-06-01 09:00:00 KST"),
    (None, "—"),
    ("", "—"),
])
def test_local_time(value: str | datetime | None, shown: str) -> None:
    assert local_time(value, SEOUL) == shown


def test_another_zone_keeps_its_summer_time() -> None:
    assert local_time("2026-07-01T12:00:00Z", ZoneInfo("Europe/Berlin")) == (
        "2026-07-01 14:00:00 CEST")
