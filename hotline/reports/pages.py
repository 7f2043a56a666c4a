"""The report pages: /console/reports (the list) and /console/reports/{name} (date range and
filters, a chart drawn on the server as SVG, the table, a CSV link). Leads and admins only
(the policy guard). Every word is from the catalogue (prompts/<lang>/console/reports.toml)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from hotline.domain import policy
from hotline.reports import chart
from hotline.reports.api import REPORTS
from hotline.reports.figures import NAMES, ReportInputError
from hotline.reports.service import COLUMNS, FILTERS, Report, Reports, cell_text
from hotline.staff import auth
from hotline.web import i18n
from hotline.web.appkeys import WORDS
from hotline.words import Words

routes = web.RouteTableDef()
RATES = frozenset({"completion_rate", "within_24h", "within_48h", "answered_within_60s"})
# The words of an intake dimension's values (the intake form's own).
_VALUE_WORDS = {"harm_type": "intake.harm_", "age_band": "intake.age_",
                "relation": "intake.relation_", "platform": "intake.platform_",
                "referral": "intake.referral_", "outcome": "intake.outcome_",
                "channel": "codes.channel_"}


async def _context(request: web.Request) -> dict[str, Any]:
    staff, csrf = await auth.require_session(request)
    lang = i18n.staff_language(request, staff)
    if not policy.may(staff.role, policy.Action.REPORTS):
        raise web.HTTPNotFound(text=i18n.words_for(request, lang, "common.not_found"))
    return {"staff": staff, "csrf": csrf, "lang": lang, "names": NAMES}


@routes.get("/console/reports")
async def index(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("console/reports.html", request,
                                          await _context(request))


def value_words(words: Words, lang: str, dimension: str, value: str) -> str:
    """An intake value in words (its form label), or the code when it has none."""
    prefix = _VALUE_WORDS.get(dimension)
    if prefix and words.has(lang, prefix + value):
        return words.get(lang, prefix + value)
    return value.replace("_", " ")


def show(field: str, text: str) -> str:
    """A figure for the page: shares as percentages."""
    if field in RATES and text and not text.startswith("<"):
        return f"{float(text) * 100:.1f}%"
    return text


def _chart(report: Report, reports: Reports, words: Words, lang: str) -> chart.Chart:
    below = report.suppress_below
    names = reports.config.takedown.directory.names(lang)

    def point(label: str, cell: Any, field: str) -> tuple[str, float | None, str]:
        text = cell_text(cell, below)
        value = None if cell.suppressed or cell.value is None else float(cell.value)
        return label, value, show(field, text) or "-"

    title = words.get(lang, f"reports.chart_{report.name.replace('-', '_')}")
    if report.name == "takedown-platforms":
        pts = [point(names.get(str(r["platform"].value), str(r["platform"].value)),
                     r["completion_rate"], "completion_rate") for r in report.table().rows]
    elif report.name == "takedown-routes":
        pts = [point(f"{r['route'].value} · {r['legal_basis'].value}", r["completion_rate"],
                     "completion_rate") for r in report.table().rows]
    elif report.name == "service":
        pts = [point(str(r["day"].value), r["contacts"], "contacts")
               for r in report.table("by_day").rows]
    else:
        dim = report.filters.get("dimension", "harm_type")
        pts = [point(value_words(words, lang, dim, str(r["value"].value)), r["records"],
                     "records")
               for r in report.table("totals").rows if r["dimension"].value == dim]
    return chart.bar_chart(title, pts)


@routes.get("/console/reports/{name}")
async def report_page(request: web.Request) -> web.Response:
    ctx = await _context(request)
    name = request.match_info["name"]
    if name not in NAMES:
        raise web.HTTPNotFound(text=i18n.words_for(request, ctx["lang"], "common.not_found"))
    reports: Reports = request.app[REPORTS]
    words: Words = request.app[WORDS]
    params = dict(request.query)
    if not params.get("from") and not params.get("to"):
        today = datetime.now(ZoneInfo(reports.tz)).date()
        params.update({"from": (today - timedelta(days=29)).isoformat(),
                       "to": today.isoformat()})
    ctx.update(name=name, params=params, filters=FILTERS[name], columns=COLUMNS[name],
               choices={f: reports.choices(f) for f in FILTERS[name]},
               platform_names=reports.config.takedown.directory.names(ctx["lang"]),
               show=show, cell_text=cell_text, value_words=value_words, words=words,
               report=None, error=None, chart=None)
    status = 200
    try:
        q = reports.parse(name, params)
    except ReportInputError as e:
        ctx["error"] = i18n.words_for(request, ctx["lang"], "reports.bad_input",
                                      field=e.field)
        status = 400
    else:
        report = await reports.build(q)
        ctx.update(report=report, chart=_chart(report, reports, words, ctx["lang"]),
                   csv_url=f"/api/v1/reports/{name}.csv?" + urlencode(
                       {k: v for k, v in params.items() if v}))
    return aiohttp_jinja2.render_template("console/report.html", request, ctx, status=status)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
