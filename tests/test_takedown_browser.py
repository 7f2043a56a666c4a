"""The takedown desk in a real browser (Debian's chromium via Playwright) on the real app.

An urgent case pages takedown; the takedown staffer creates an item from the alert in one
click, records the victim's consent, drafts a TAKE IT DOWN request to X and a regulator
request, marks both sent (the first one two days ago, as staff may record a step that
happened earlier), records the removal of one; the other goes overdue (the app's own deadline
job), pages the desk, and is escalated to its next rung. In English, then the worklist in
Korean. SQLite only, as the other browser tests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from hotline.cases import roster
from hotline.domain import shifts
from hotline.domain.staff import Role
from tests.conftest import RedisProcess
from tests.helpers import PASSWORD, add_staff
from tests.takedown_support import DESK_DETAILS
from tests.test_browser import Problems, Site, _screenshot_dir, _serve, browser

__all__ = ["browser"]
POST = "https://x.com/someone/status/1790000000000000001"
VICTIM_TEXT = f"they posted my video and it is spreading now {POST}"
SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
async def site(tmp_path: Path, redis_server: RedisProcess) -> AsyncIterator[Site]:
    async with _serve(tmp_path, redis_server, {"mode": "pull"},
                      takedown={**DESK_DETAILS, "check_seconds": 1.0}) as s:
        yield s


async def _login(page: Page, name: str) -> None:
    await page.goto("/console/login")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(page.url.split("/console")[0] + "/console")


EXPLAIN = {"Explanation (why it is non-consensual)":
           "Her face was taken from a public photo; she never agreed to this."}


async def _fill(page: Page, fields: dict[str, str]) -> None:
    for label, value in fields.items():
        await page.get_by_label(label).fill(value)
    await page.get_by_role("button", name="Save and render").click()
    await expect(page.locator(".ok")).to_have_text("Every required field is in the text.")


async def _mark(page: Page, step: str, ticket: str = "", at: datetime | None = None) -> None:
    if at is not None:
        await page.get_by_label("When (empty: now)").fill(
            at.astimezone(SEOUL).strftime("%Y-%m-%dT%H:%M"))
    if ticket:
        await page.get_by_label("Platform's ticket number").fill(ticket)
    await page.locator("form.js-steps").get_by_role("button", name=step, exact=True).click()


async def test_the_desk_in_a_browser(site: Site, browser: Browser, tmp_path: Path) -> None:
    problems = Problems()
    shots = _screenshot_dir(tmp_path)
    tk_id = await add_staff(site.config, "tk", role=Role.TAKEDOWN)
    now = datetime.now(UTC)
    await roster.set_rostered(site.deps, tk_id, True, tk_id, confirm=True)
    await roster.add_override(site.deps, shifts.Override(
        tk_id, now - timedelta(hours=1), now + timedelta(hours=12), True, "cover"), tk_id)

    # A victim writes that their video is spreading, with the link: the case pages takedown.
    victim_ctx = await browser.new_context(base_url=site.origin, locale="en-US")
    victim = problems.watch(await victim_ctx.new_page(), "victim")
    await victim.goto("/chat?lang=en")
    await victim.locator("#text").fill(VICTIM_TEXT)
    await victim.get_by_role("button", name="Send").click()
    await expect(victim.locator("#messages li")).to_have_count(1)

    ctx = await browser.new_context(base_url=site.origin, locale="en-US",
                                    timezone_id="Asia/Seoul",
                                    viewport={"width": 1200, "height": 900})
    page = problems.watch(await ctx.new_page(), "takedown")
    await _login(page, "tk")
    await page.get_by_role("link", name="Takedown").click()
    await expect(page.locator("h1")).to_have_text("Takedown desk")
    alert = page.locator("[data-alert]").first
    await expect(alert.get_by_label("Location (URL or Telegram link)")).to_have_value(POST)
    await expect(alert.get_by_label("Platform")).to_have_value("x")
    await page.screenshot(path=str(shots / "takedown-desk-alert.png"), full_page=True)

    # One click: the item, from the alert (which is acknowledged by it).
    await alert.get_by_role("button", name="Create item").click()
    await expect(page.locator("h1")).to_contain_text("Item 1")
    await expect(page.locator("#locations")).to_contain_text(POST)
    await page.locator("form.js-consent").get_by_role("button", name="Record consent").click()
    await expect(page.locator("[data-purpose=platform_report]")).to_contain_text("given")

    # A TAKE IT DOWN request to X, sent two days ago (recorded now).
    await page.get_by_label("Route").select_option("x:take_it_down")
    await page.get_by_role("button", name="Draft").click()
    await expect(page.locator("#request-state")).to_have_text("draft")
    await expect(page.locator("#missing")).to_contain_text("explanation")
    await _fill(page, EXPLAIN)
    await expect(page.locator("#request-text")).to_contain_text("TAKE IT DOWN")
    await expect(page.locator("#form-link")).to_have_attribute(
        "href", "https://help.x.com/forms/safety-and-sensitive-content/take-it-down")
    await page.get_by_role("button", name="Copy text").click()
    await expect(page.locator("#copy-result")).to_have_text("Copied")
    await _mark(page, "Mark sent", "TID-2026-1", now - timedelta(hours=49))
    # Overdue at once (its 48 h are over): the deadline job may already have marked it.
    await expect(page.locator("#request-state")).to_have_text(re.compile("^(sent|overdue)$"))
    await expect(page.locator("#overdue-badge")).to_be_visible()
    await expect(page.locator("#ticket")).to_have_text("TID-2026-1")
    tid_url = page.url

    # The regulator request, in Korean, sent now; the platform removes it.
    await page.get_by_role("link", name="Back to item 1").click()
    await page.get_by_label("Route").select_option("x:kcsc")
    await page.get_by_role("button", name="Draft").click()
    await expect(page.locator("#request-text")).to_contain_text("전기통신사업법")
    await _fill(page, EXPLAIN)
    await _mark(page, "Mark sent", "KCSC-77")
    await expect(page.locator("#request-state")).to_have_text("sent")
    await _mark(page, "Removed", "KCSC-77")
    await expect(page.locator("#request-state")).to_have_text("removed (platform says)")
    await expect(page.locator("#timeline tbody tr")).to_have_count(2)
    await page.screenshot(path=str(shots / "takedown-request-removed.png"), full_page=True)

    # The TAKE IT DOWN request went past its 48 h: the deadline job marks it and pages the
    # desk; the request page proposes the next rung, which is one click.
    await page.get_by_role("link", name="Back to the desk").click()
    await expect(page.locator("#desk-alerts-title")).to_be_visible()
    await expect(page.locator("#worklist tbody tr").first).to_contain_text("overdue")
    await page.screenshot(path=str(shots / "takedown-desk-overdue.png"), full_page=True)
    await page.locator("#desk-alerts-title + ul a").first.click()
    await expect(page).to_have_url(tid_url)
    await expect(page.locator("#request-state")).to_have_text("overdue")
    await page.get_by_role("button", name="Draft next rung: copyright").click()
    await expect(page.locator("h1")).to_contain_text("copyright")
    await expect(page.locator("#missing")).to_contain_text("work_identification")
    await _fill(page, {"The copyrighted work": "Her own photograph, 2024"})
    await _mark(page, "Mark sent")
    await expect(page.locator("#request-state")).to_have_text("sent")
    await page.get_by_role("link", name="Escalates request 1").click()
    await expect(page.locator("#request-state")).to_have_text("escalated")
    await expect(page.locator("#timeline")).to_contain_text("overdue")

    # The same desk in Korean.
    await page.locator(".lang-switch button[data-lang=ko]").click()
    await expect(page.locator("html")).to_have_attribute("lang", "ko")
    await page.get_by_role("link", name="삭제 지원 업무로 돌아가기").click()
    await expect(page.locator("h1")).to_have_text("삭제 지원 업무")
    await page.screenshot(path=str(shots / "takedown-desk-ko.png"), full_page=True)
    assert problems.seen == []
    await victim_ctx.close()
    await ctx.close()
