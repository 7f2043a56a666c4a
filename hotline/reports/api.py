"""The reports' JSON and CSV under /api/v1/reports (docs/reports.md, "HTTP API").

`GET /api/v1/reports/{name}?from=&to=[&filters]` answers `{"rows": [...], ...}`;
`GET /api/v1/reports/{name}.csv` the same rows as CSV (`?table=` for another of its tables),
audited. Leads and admins only (the policy guard; anyone else gets 404, as for a report that
does not exist). A bad date or filter is a 400 naming it; an unknown report a 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hotline.domain import policy
from hotline.domain.staff import Staff
from hotline.reports.figures import NAMES, ReportInputError
from hotline.reports.service import Query, Reports, to_json
from hotline.staff.auth import require_staff
from hotline.web.appkeys import CONFIG, ENGINE
from hotline.web.middleware import json_error

REPORTS = web.AppKey("reports", Reports)
routes = web.RouteTableDef()


async def _staff(request: web.Request) -> Staff:
    staff = await require_staff(request)
    if not policy.may(staff.role, policy.Action.REPORTS):
        raise json_error(404, "not found")
    return staff


def _query(request: web.Request, name: str, extra: tuple[str, ...] = ()) -> Query:
    if name not in NAMES:
        raise json_error(404, "no such report", field="name", reports=list(NAMES))
    try:
        return request.app[REPORTS].parse(name, request.query, extra)
    except ReportInputError as e:
        raise json_error(400, str(e), field=e.field) from None


# Registered before the JSON route: "{name}" would match "intake.csv" too.
@routes.get("/api/v1/reports/{name}.csv")
async def report_csv(request: web.Request) -> web.Response:
    staff = await _staff(request)
    q = _query(request, request.match_info["name"], ("table",))
    table = request.query.get("table") or "rows"
    try:
        filename, text = await request.app[REPORTS].export_csv(staff.id, q, table)
    except ReportInputError as e:
        raise json_error(400, str(e), field=e.field) from None
    return web.Response(body=("\ufeff" + text).encode(), content_type="text/csv",
                        charset="utf-8", headers={
                            "Content-Disposition": f'attachment; filename="{filename}"'})


@routes.get("/api/v1/reports/{name}")
async def report_json(request: web.Request) -> web.Response:
    await _staff(request)
    q = _query(request, request.match_info["name"])
    return web.json_response(to_json(await request.app[REPORTS].build(q)))


async def _reports_ctx(app: web.Application) -> AsyncIterator[None]:
    app[REPORTS] = Reports(app[ENGINE], app[CONFIG])
    yield


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    app.cleanup_ctx.append(_reports_ctx)


__all__ = ["REPORTS", "setup"]
