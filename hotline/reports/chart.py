"""A horizontal bar chart as plain geometry for an inline SVG (templates/console/
_report_chart.html): presentation attributes only, no style attribute or script, so the
Content-Security-Policy (style-src 'self') holds. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 720
LABEL_W = 280
LABEL_CHARS = 36
BAR_H = 22
GAP = 8
TOP = 8


@dataclass(frozen=True)
class Bar:
    label: str
    text: str          # the value as shown ("<5" when suppressed, "-" when undefined)
    y: int
    width: int         # of the bar, 0 when suppressed or undefined
    text_x: int


@dataclass(frozen=True)
class Chart:
    title: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_w: int


def bar_chart(title: str, points: Sequence[tuple[str, float | None, str]]) -> Chart:
    """Bars for (label, value or None, text) points, scaled to the largest value."""
    top = max((v for _, v, _ in points if v is not None), default=0.0) or 1.0
    room = WIDTH - LABEL_W - 70
    bars = []
    for i, (label, value, text) in enumerate(points):
        w = 0 if value is None else max(1, round(room * value / top)) if value > 0 else 0
        short = label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"
        bars.append(Bar(short, text, TOP + i * (BAR_H + GAP), w, LABEL_W + w + 6))
    return Chart(title, tuple(bars), WIDTH, TOP * 2 + len(bars) * (BAR_H + GAP), LABEL_W)
