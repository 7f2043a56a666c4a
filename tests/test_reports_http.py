"""The reports over HTTP on both databases: JSON and CSV for leads and admins, 404 for everyone
else, 400 naming the bad field, every CSV export audited (who, which report, which range),
and the pages (list, chart, table, CSV link, Korean by default)."""

from __future__ import annotations

import json

from sqlalchemy import select

from hotline.audit.tables import audit_events
from hotline.domain.staff import Role
from tests import reports_fixture as fx
from tests.conftest import AppRunner
from tests.floor import deps_of, staff

MARCH = "from=2026-03-01&to=2026-03-31"


async def _exports(runner: AppRunner) -> list[tuple[int | None, str, dict[str, object]]]:
    async with deps_of(runner).engine.connect() as conn:
        rows = (await conn.execute(select(audit_events.c.actor_id, audit_events.c.target_id,
                                          audit_events.c.detail)
                                   .where(audit_events.c.action == "report.exported")
                                   .order_by(audit_events.c.id))).all()
    return [(r.actor_id, r.target_id, json.loads(r.detail)) for r in rows]


async def test_json_csv_and_audit(app_runner: AppRunner) -> None:
    await fx.load(deps_of(app_runner).engine)
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    resp = await lead.client.get(f"/api/v1/reports/takedown-platforms?{MARCH}")
    assert resp.status == 200
    body = await resp.json()
    x = body["rows"][1]
    assert (x["platform"], x["requests"], x["removed"]) == ("x", 7, None)
    assert "removed" in x["suppressed"] and body["suppress_below"] == 5
    assert await _exports(app_runner) == []  # reading is not exporting

    resp = await lead.client.get(f"/api/v1/reports/takedown-platforms.csv?{MARCH}")
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "takedown-platforms_2026-03-01_2026-03-31.csv" in resp.headers[
        "Content-Disposition"]
    text = (await resp.read()).decode("utf-8-sig")
    assert text.splitlines()[2].startswith("x,7,<5,")
    resp = await lead.client.get(f"/api/v1/reports/takedown-routes.csv?{MARCH}"
                                 f"&table=by_rung&platform=x")
    assert resp.status == 200
    assert (await resp.text()).splitlines()[0].endswith("platform,rung,requests,removed,"
                                                         "overdue,escalated")
    assert await _exports(app_runner) == [
        (lead.id, "takedown-platforms", {"format": "csv", "from": "2026-03-01",
                                         "to": "2026-03-31", "table": "rows",
                                         "filters": {}}),
        (lead.id, "takedown-routes", {"format": "csv", "from": "2026-03-01",
                                      "to": "2026-03-31", "table": "by_rung",
                                      "filters": {"platform": "x"}}),
    ]
    admin = await staff(app_runner, "admin", role=Role.ADMIN)
    for name in ("service", "intake"):
        resp = await admin.client.get(f"/api/v1/reports/{name}?{MARCH}")
        assert resp.status == 200 and "rows" in await resp.json()


async def test_bad_input_names_the_field(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    cases = [
        ("/api/v1/reports/service?to=2026-03-01", 400, "from"),
        ("/api/v1/reports/service?from=2026-13-01&to=2026-03-01", 400, "from"),
        ("/api/v1/reports/service?from=2026-03-01&to=2026-02-01", 400, "to"),
        ("/api/v1/reports/service?from=2025-01-01&to=2026-03-01", 400, "to"),
        ("/api/v1/reports/service?from=2026-03-01&to=2026-03-02&colour=red", 400, "colour"),
        ("/api/v1/reports/service?from=2026-03-01&to=2026-03-02&channel=fax", 400,
         "channel"),
        ("/api/v1/reports/takedown-platforms?from=2026-03-01&to=2026-03-02&platform=nope",
         400, "platform"),
        ("/api/v1/reports/intake?from=2026-03-01&to=2026-03-02&dimension=name", 400,
         "dimension"),
        ("/api/v1/reports/intake.csv?from=2026-03-01&to=2026-03-02&table=nope", 400,
         "table"),
        ("/api/v1/reports/victims?from=2026-03-01&to=2026-03-02", 404, "name"),
        ("/api/v1/reports/victims.csv?from=2026-03-01&to=2026-03-02", 404, "name"),
    ]
    for url, status, field in cases:
        resp = await lead.client.get(url)
        assert resp.status == status, url
        assert (await resp.json())["field"] == field, url
    assert await _exports(app_runner) == []  # a refused export is not one


async def test_only_leads_and_admins(app_runner: AppRunner) -> None:
    counselor = await staff(app_runner, "co", role=Role.COUNSELOR)
    desk = await staff(app_runner, "tk", role=Role.TAKEDOWN)
    for who in (counselor, desk):
        for url in (f"/api/v1/reports/service?{MARCH}", f"/api/v1/reports/service.csv?{MARCH}"):
            resp = await who.client.get(url)
            assert resp.status == 404, url
        page = await who.client.get("/console")
        assert 'href="/console/reports"' not in await page.text()
    anon = await app_runner.client()
    assert (await anon.get(f"/api/v1/reports/service?{MARCH}")).status == 401
    assert await _exports(app_runner) == []


async def test_pages(app_runner: AppRunner) -> None:
    await fx.load(deps_of(app_runner).engine)
    lead = await staff(app_runner, "lead", role=Role.LEAD)
    home = await (await lead.client.get("/console")).text()
    assert '<a href="/console/reports">통계</a>' in home
    index = await lead.client.get("/console/reports")
    assert index.status == 200
    text = await index.text()
    for name in ("takedown-platforms", "takedown-routes", "service", "intake"):
        assert f'href="/console/reports/{name}"' in text
    page = await lead.client.get(f"/console/reports/takedown-platforms?{MARCH}")
    text = await page.text()
    assert page.status == 200
    assert "<svg" in text and "플랫폼별 완료율" in text and "style=" not in text
    assert ('href="/api/v1/reports/takedown-platforms.csv?from=2026-03-01&amp;to=2026-03-31"'
            in text)
    assert "&lt;5" in text  # suppressed counts
    resp = await lead.client.get(f"/console/reports/intake?{MARCH}&dimension=relation")
    assert resp.status == 200 and "가해자와의 관계" in await resp.text()
    default = await lead.client.get("/console/reports/service")
    assert default.status == 200  # the last 30 days
    bad = await lead.client.get("/console/reports/service?from=2026-03-09&to=2026-03-01")
    assert bad.status == 400 and "“to”" in await bad.text()
    assert (await lead.client.get("/console/reports/nope")).status == 404
