"""The audit search, the case finder and the cluster list in a real browser (Debian's chromium
via Playwright) on the real app: an admin searches the log and downloads its CSV, a lead sees
the floor's records and the clusters page, in English and in Korean. No script error, no
Content-Security-Policy violation. SQLite only, as the other browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from hotline.domain.staff import Role
from tests.conftest import RedisProcess
from tests.helpers import PASSWORD, add_staff
from tests.test_browser import Problems, Site, _screenshot_dir, _serve, browser

__all__ = ["browser"]


@pytest.fixture
async def site(tmp_path: Path, redis_server: RedisProcess) -> AsyncIterator[Site]:
    async with _serve(tmp_path, redis_server, {"mode": "pull"}) as s:
        yield s


async def _login(page: Page, name: str) -> None:
    await page.goto("/console/login")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(page.url.split("/console")[0] + "/console")


async def test_audit_search_and_clusters(site: Site, browser: Browser, tmp_path: Path) -> None:
    await add_staff(site.config, "boss", role=Role.ADMIN)
    await add_staff(site.config, "lead", role=Role.LEAD)
    shots = _screenshot_dir(tmp_path)
    problems = Problems()
    ctx = await browser.new_context(base_url=site.origin, accept_downloads=True)
    admin = problems.watch(await ctx.new_page(), "admin")
    await _login(admin, "boss")
    await admin.get_by_role("link", name="Audit log").click()
    await admin.get_by_label("Action (or prefix ending in .)").fill("staff.")
    await admin.get_by_role("button", name="Search", exact=True).click()
    await expect(admin.locator("table.audit tbody tr").first).to_contain_text("staff.login")
    await admin.screenshot(path=str(shots / "audit-admin.png"), full_page=True)
    async with admin.expect_download() as info:
        await admin.get_by_role("link", name="Download CSV").click()
    download = await info.value
    text = Path(await download.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "id,at,actor_id,action,target_kind,target_id,detail"
    assert "staff.login" in text
    lctx = await browser.new_context(base_url=site.origin)
    lead = problems.watch(await lctx.new_page(), "lead")
    await _login(lead, "lead")
    await lead.goto("/console/audit?action=staff.")
    await expect(lead.get_by_text("No events match.")).to_be_visible()
    await lead.get_by_label("Case number").fill("HL-AAAA-AAAA")
    await lead.get_by_role("button", name="Find").click()
    await expect(lead.get_by_text("No case you may read matches.")).to_be_visible()
    await lead.goto("/console/takedown")
    await lead.get_by_role("link", name="Clusters: one channel, account or site across "
                                       "victims").click()
    await expect(lead.get_by_role("heading", name="Clusters")).to_be_visible()
    await lead.locator(".lang-switch button[data-lang='ko']").click()
    await expect(lead.get_by_role("heading", name="클러스터")).to_be_visible()
    await lead.screenshot(path=str(shots / "clusters-lead-ko.png"), full_page=True)
    await lead.goto("/console/audit")
    await expect(lead.get_by_role("heading", name="사건 찾기 (종결된 사건 포함)")).to_be_visible()
    await lead.screenshot(path=str(shots / "audit-lead-ko.png"), full_page=True)
    assert problems.seen == []
    await ctx.close()
    await lctx.close()
