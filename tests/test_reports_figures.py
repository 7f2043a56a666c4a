"""The reports' pure arithmetic, table-tested: percentiles as PostgreSQL's percentile_cont,
shares, dates, where a contact ended, shifts, suppression, the chart's geometry, the config
section, and every word the report pages build a key for, in every language."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from hotline.config import ConfigError, config_from_mapping
from hotline.domain.intake import RELATIONS, IntakeError, parse_intake
from hotline.reports import chart, figures, intake
from hotline.reports.figures import Cell, ContactClass, ReportInputError
from hotline.reports.service import COLUMNS, FILTERS, Table, to_csv
from hotline.words import Words

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([], 0.5, None),
    ([7.0], 0.5, 7.0), ([7.0], 0.9, 7.0),
    ([1.0, 3.0], 0.5, 2.0),
    ([10.0, 36.0, 72.0], 0.5, 36.0),
    ([10.0, 36.0, 72.0], 0.9, 64.8),
    ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9, 9.1),
])
def test_percentile_cont(values: list[float], q: float, expected: float | None) -> None:
    got = figures.percentile_cont(values, q)
    assert got == expected if expected is None else got == pytest.approx(expected)


@pytest.mark.parametrize(("part", "whole", "expected"), [
    (0, 0, None), (1, 3, 0.3333), (2, 3, 0.6667), (3, 3, 1.0), (0, 5, 0.0)])
def test_share(part: int, whole: int, expected: float | None) -> None:
    assert figures.share(part, whole) == expected


@pytest.mark.parametrize(("outcome", "counselor", "expected"), [
    (None, None, ContactClass.ABANDONED_IVR),
    ("abandoned", None, ContactClass.ABANDONED_QUEUE),
    ("disconnected", None, ContactClass.ABANDONED_QUEUE),
    ("abandoned", 7, ContactClass.ABANDONED_AFTER_OFFER),
    ("disconnected", 7, ContactClass.ANSWERED),   # the counselor chose it on the form
    ("counselled", 7, ContactClass.ANSWERED),
    ("not_relevant", None, ContactClass.OTHER),   # a lead closed it unanswered
])
def test_contact_class(outcome: str | None, counselor: int | None,
                       expected: ContactClass) -> None:
    assert figures.contact_class(outcome, counselor) is expected


def test_a_caller_who_chose_a_call_back_did_not_abandon() -> None:
    assert figures.contact_class(None, None, True) is ContactClass.OTHER
    assert figures.contact_class("disconnected", None, True) is ContactClass.OTHER


@pytest.mark.parametrize(("minute", "expected"), [
    (0, "00:00-09:00"), (539, "00:00-09:00"), (540, "09:00-18:00"), (1079, "09:00-18:00"),
    (1080, "18:00-00:00"), (1439, "18:00-00:00")])
def test_shift_label(minute: int, expected: str) -> None:
    assert figures.shift_label((0, 540, 1080), minute) == expected


def test_shift_before_the_first_start_belongs_to_the_last() -> None:
    # Shifts from 08:00 and 20:00: 03:00 is in the night shift that began at 20:00.
    assert figures.shift_label((480, 1200), 180) == "20:00-08:00"


@pytest.mark.parametrize(("raw_from", "raw_to", "field"), [
    (None, "2026-01-01", "from"), ("2026-01-01", "", "to"), ("2026-02-30", "2026-03-01", "from"),
    ("20260101", "2026-03-01", "from"), ("2026-01-01", "2026-01-01T00", "to"),
    ("2026-03-01", "2026-02-28", "to"), ("2025-01-01", "2026-03-01", "to")])
def test_bad_periods_name_the_field(raw_from: str | None, raw_to: str | None,
                                    field: str) -> None:
    with pytest.raises(ReportInputError) as e:
        figures.parse_period(raw_from, raw_to, "Asia/Seoul")
    assert e.value.field == field


def test_suppression_hides_small_counts_and_what_is_made_of_them() -> None:
    counts = figures.TakedownCounts(requests=40, removed=4, verified=0, refused=12,
                                    unanswered=5, overdue=1, settled=30, escalated=0,
                                    within_24h=3, within_48h=4, median_seconds=7200.0,
                                    p90_seconds=36000.0)
    cells = figures.suppress(figures.takedown_figures(counts), 5)
    hidden = sorted(k for k, c in cells.items() if c.suppressed)
    assert hidden == ["completion_rate", "median_hours_to_removal", "overdue",
                      "p90_hours_to_removal", "removed", "within_24h", "within_48h"]
    # Zero is no one: shown. Five and more: shown.
    assert cells["verified"] == Cell(0) and cells["unanswered"] == Cell(5)
    table = Table("rows", ("platform", "removed", "refused"),
                  ({"platform": Cell("x"), "removed": cells["removed"],
                    "refused": cells["refused"]},))
    assert to_csv(table, 5) == "platform,removed,refused\r\nx,<5,12\r\n"
    assert figures.suppress(figures.takedown_figures(counts), 1)["removed"] == Cell(4)


def test_csv_cells_are_never_formulas() -> None:
    table = Table("rows", ("value",), tuple({"value": Cell(v)} for v in
                                             ("=1+1", "@x", "+1", "-1.5", "-x")))
    assert to_csv(table, 5).splitlines()[1:] == ["'=1+1", "'@x", "'+1", "-1.5", "'-x"]


def test_intake_counts_by_local_day_and_each_value() -> None:
    rec = intake.IntakeRecord(datetime(2026, 3, 31, 15, 30, tzinfo=UTC), "sms", "synthetic",
                               "18_24", "stranger", "telegram,x", "police", "referred")
    left = intake.IntakeRecord(datetime(2026, 3, 1, tzinfo=UTC), "sms", "unknown",
                                "unknown", "unknown", "", "", "abandoned")
    counts = intake.intake_counts([rec, left], "Asia/Seoul")
    day = date(2026, 4, 1)
    assert counts == {(day, "records", "all"): 1, (day, "harm_type", "synthetic"): 1,
                      (day, "age_band", "18_24"): 1, (day, "relation", "stranger"): 1,
                      (day, "channel", "sms"): 1, (day, "outcome", "referred"): 1,
                      (day, "platform", "telegram"): 1, (day, "platform", "x"): 1,
                      (day, "referral", "police"): 1}


def test_chart_scales_to_the_largest_and_leaves_suppressed_bars_empty() -> None:
    c = chart.bar_chart("t", [("a", 10.0, "10"), ("b", 5.0, "5"), ("c", None, "<5")])
    widths = [b.width for b in c.bars]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    assert [b.text for b in c.bars] == ["10", "5", "<5"]
    assert chart.bar_chart("t", []).bars == ()


@pytest.mark.parametrize(("raw", "key"), [
    ({"suppress_below": 0}, "reports.suppress_below"),
    ({"suppress_below": "5"}, "reports.suppress_below"),
    ({"shift_starts": ["9:00"]}, "reports.shift_starts"),
    ({"shift_starts": []}, "reports.shift_starts"),
    ({"shift_starts": ["09:00", "09:00"]}, "reports.shift_starts"),
    ({"colour": 1}, "reports.colour"),
])
def test_bad_config_fails_naming_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as e:
        config_from_mapping({"reports": raw})
    assert str(e.value).startswith(key)


def test_config_defaults() -> None:
    cfg = config_from_mapping({})
    assert cfg.reports.suppress_below == 5
    assert cfg.reports.shift_minutes == (0, 540, 1080)


def test_relation_on_the_intake_form() -> None:
    form = {"harm_type": "synthetic", "platforms": [], "age_band": "18_24",
            "urgency": "normal", "referrals": [], "outcome": "counselled"}
    assert parse_intake(form).relation == "unknown"   # a client that does not ask it yet
    assert parse_intake({**form, "relation": "ex_partner"}).relation == "ex_partner"
    with pytest.raises(IntakeError) as e:
        parse_intake({**form, "relation": "neighbour"})
    assert e.value.field == "relation"


def test_every_word_the_report_pages_build_a_key_for() -> None:
    words = Words(PROMPTS)
    keys = {f"reports.{p}_{n.replace('-', '_')}" for n in figures.NAMES
            for p in ("name", "about", "chart")}
    keys |= {f"reports.table_{n.replace('-', '_')}_{t}" for n in figures.NAMES
             for t in COLUMNS[n]}
    keys |= {f"reports.col_{c}" for n in figures.NAMES for t in COLUMNS[n]
             for c in COLUMNS[n][t]}
    keys |= {f"reports.filter_{f}" for fs in FILTERS.values() for f in fs}
    keys |= {f"reports.dim_{d}" for d in intake.INTAKE_DIMENSIONS}
    keys |= {f"intake.relation_{r}" for r in RELATIONS}
    for lang in ("ko", "en"):
        missing = sorted(k for k in keys if not words.has(lang, k))
        assert missing == [], lang


@pytest.mark.parametrize(("start", "end", "months", "edges"), [
    ("2026-01-01", "2026-12-31", [f"2026-{m:02d}" for m in range(1, 13)], []),
    ("2026-01-02", "2026-03-31", ["2026-02", "2026-03"], [("2026-01-02", "2026-01-31")]),
    ("2026-01-15", "2026-03-10", ["2026-02"], [("2026-01-15", "2026-01-31"),
                                              ("2026-03-01", "2026-03-10")]),
    ("2026-02-03", "2026-02-27", [], [("2026-02-03", "2026-02-27")]),
    ("2024-02-01", "2024-02-29", ["2024-02"], []),
])
def test_split_into_whole_months_and_days_around(start: str, end: str, months: list[str],
                                                 edges: list[tuple[str, str]]) -> None:
    got_months, got_edges = figures.split(figures.parse_period(start, end, "Asia/Seoul"))
    assert got_months == months
    assert [(e.start.isoformat(), e.end.isoformat()) for e in got_edges] == edges
