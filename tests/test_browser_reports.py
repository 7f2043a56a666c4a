"""The reports in a real browser (Debian's chromium via Playwright) on the real app: a lead
opens every report from the console's navigation in the default Korean console, sets the
range, sees the chart and the table, switches to English, and downloads the CSV, which is
audited. No script error and no Content-Security-Policy violation on any page. SQLite only,
as tests/test_browser.py. Screenshots: HOTLINE_SCREENSHOTS=/tmp keeps them."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from hotline.audit.tables import audit_events
from hotline.domain.staff import Role
from tests import reports_fixture as fx
from tests.conftest import RedisProcess
from tests.helpers import PASSWORD, add_staff
from tests.test_browser import Problems, Site, _screenshot_dir, _serve, browser
from tests.test_console_a11y import _violations

__all__ = ["browser"]
NAMES_KO = {"takedown-platforms": "플랫폼별 삭제 요청",
            "takedown-routes": "경로·법적 근거별 삭제 요청",
            "service": "응대: 응답과 포기", "intake": "접수: 도움을 요청한 사람 (월별)"}
RANGES = {"takedown-platforms": ("2026-03-01", "2026-03-31"),
          "takedown-routes": ("2026-03-01", "2026-03-31"),
          "service": ("2026-03-01", "2026-03-03"), "intake": ("2026-03-01", "2026-04-30")}


@pytest.fixture
async def korean_site(tmp_path: Path, redis_server: RedisProcess) -> AsyncIterator[Site]:
    async with _serve(tmp_path, redis_server, {"mode": "pull"},
                      console={"default_language": "ko"}, reports={"suppress_below": 2}) as s:
        await fx.load(s.deps.engine)
        yield s


async def test_lead_opens_each_report_switches_language_and_downloads_csv(
        korean_site: Site, browser: Browser, tmp_path: Path) -> None:
    site = korean_site
    shots = _screenshot_dir(tmp_path)
    await add_staff(site.config, "lead", Role.LEAD)
    problems = Problems()
    ctx = await browser.new_context(base_url=site.origin, locale="en-US", accept_downloads=True,
                                    viewport={"width": 1200, "height": 900})
    page = problems.watch(await ctx.new_page(), "lead")
    await page.goto("/console/login")
    await page.get_by_label("Name").fill("lead")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(site.url("/console"))

    for name, title in NAMES_KO.items():
        await page.get_by_role("link", name="통계", exact=True).click()
        await expect(page).to_have_url(site.url("/console/reports"))
        await page.get_by_role("link", name=title).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(title)
        start, end = RANGES[name]
        await page.get_by_label("시작일").fill(start)
        await page.get_by_label("종료일").fill(end)
        await page.get_by_role("button", name="보기").click()
        await expect(page).to_have_url(re.compile(
            rf"/console/reports/{name}\?from={start}&to={end}"))
        await expect(page.locator("figure.report-chart svg")).to_be_visible()
        await expect(page.locator("table.report-table").first).to_be_visible()
        await page.screenshot(path=str(shots / f"report-{name}-ko.png"), full_page=True)

    # English, then the CSV of the last report (intake) and of takedown by platform.
    await page.locator(".lang-switch button[data-lang='en']").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Intake: who asked for help (monthly)")
    await expect(page.locator("figcaption")).to_have_text("Cases in the range")
    await page.screenshot(path=str(shots / "report-intake-en.png"), full_page=True)
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download CSV").click()
    download = await info.value
    assert download.suggested_filename == "intake_2026-03-01_2026-04-30.csv"
    text = Path(await download.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "month,dimension,value,records"
    assert "2026-03,harm_type,synthetic,2" in text and "<2" in text

    await page.goto("/console/reports/takedown-platforms?from=2026-03-01&to=2026-03-31")
    await expect(page.locator("figcaption")).to_have_text("Completion rate by platform")
    await page.screenshot(path=str(shots / "report-takedown-platforms-en.png"),
                          full_page=True)
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download CSV").click()
    text = Path(await (await info.value).path()).read_text(encoding="utf-8-sig")
    # Now (after the fixture's month) request 8 is overdue too: completion 3 of 7.
    assert "x,7,3,<2,<2,2,3,0.4286,36.0,64.8,<2,0.6667" in text

    async with site.deps.engine.connect() as conn:
        rows = (await conn.execute(select(audit_events.c.target_id, audit_events.c.detail)
                                   .where(audit_events.c.action == "report.exported")
                                   .order_by(audit_events.c.id))).all()
    assert [(r.target_id, json.loads(r.detail)["from"]) for r in rows] == [
        ("intake", "2026-03-01"), ("takedown-platforms", "2026-03-01")]
    assert problems.seen == []
    await ctx.close()


async def test_report_pages_pass_axe(korean_site: Site, browser: Browser) -> None:
    """axe-core finds no violation on the report pages (as tests/test_console_a11y.py for the
    other console pages), in Korean and in English."""
    site = korean_site
    await add_staff(site.config, "lead", Role.LEAD)
    ctx = await browser.new_context(base_url=site.origin, bypass_csp=True, locale="en-US",
                                    viewport={"width": 1100, "height": 900})
    page = await ctx.new_page()
    await page.goto("/console/login")
    await page.get_by_label("Name").fill("lead")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(site.url("/console"))
    found: dict[str, list[dict[str, object]]] = {}
    for lang in ("ko", "en"):
        for path in ("/console/reports", *(f"/console/reports/{n}?from={a}&to={b}"
                                           for n, (a, b) in RANGES.items())):
            await page.goto(path)
            found[f"{lang} {path}"] = await _violations(page)
        other = "en" if lang == "ko" else "ko"
        await page.locator(f".lang-switch button[data-lang='{other}']").click()
        await expect(page.locator("html")).to_have_attribute("lang", other)
    assert {p: v for p, v in found.items() if v} == {}
    await ctx.close()
