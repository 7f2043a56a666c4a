"""Staff administration in a real browser (Debian's chromium via Playwright) on the real app:
an admin logs in with her second factor, adds a counselor and is shown a one-time password
link, and sets a reduced day in the holiday calendar; the counselor chooses a password with
the link, enrols an authenticator (the QR code drawn by the server; the code computed with
pyotp from the key the page shows) and reaches the floor; the admin deactivates her and her
open console goes to the login page by itself.

Here every role needs the second factor (the shipped default leaves counselors out). SQLite
only, as tests/test_browser.py. Screenshots: HOTLINE_SCREENSHOTS=/tmp keeps them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pyotp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from hotline.domain.staff import Role
from tests.conftest import RedisProcess
from tests.helpers import PASSWORD, add_staff
from tests.test_browser import Problems, Site, _screenshot_dir, _serve, browser

__all__ = ["browser"]
NEW_PASSWORD = "spring rain on the han river"


@pytest.fixture
async def strict_site(tmp_path: Path, redis_server: RedisProcess) -> AsyncIterator[Site]:
    async with _serve(tmp_path, redis_server, {"mode": "pull"}, console={
            "two_factor_roles": ["admin", "lead", "takedown", "counselor"]}) as s:
        yield s


async def _context(browser: Browser, site: Site) -> BrowserContext:
    return await browser.new_context(base_url=site.origin, locale="en-US",
                                     viewport={"width": 1200, "height": 900})


async def _enrol(page: Page, shots: Path, who: str) -> None:
    """On the enrolment page: scan (read the key), type the first code, keep the codes."""
    await expect(page.locator("figure.qr svg")).to_be_visible()
    await page.screenshot(path=str(shots / f"staff-{who}-enrol.png"), full_page=True)
    secret = (await page.locator("[data-secret]").inner_text()).strip()
    await page.get_by_role("textbox", name="Code").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("[data-recovery-codes] li")).to_have_count(10)
    await page.get_by_role("link", name="I have saved them: go to the console").click()


async def test_admin_adds_a_counselor_who_enrols_and_is_logged_out_when_deactivated(
        strict_site: Site, browser: Browser, tmp_path: Path) -> None:
    site = strict_site
    shots = _screenshot_dir(tmp_path)
    await add_staff(site.config, "root", Role.ADMIN)
    problems = Problems()

    admin_ctx = await _context(browser, site)
    admin = problems.watch(await admin_ctx.new_page(), "admin")
    await admin.goto("/console/login")
    await admin.get_by_label("Name").fill("root")
    await admin.get_by_label("Password").fill(PASSWORD)
    await admin.get_by_role("button", name="Log in").click()
    await expect(admin).to_have_url(site.url("/console/2fa"))
    await _enrol(admin, shots, "admin")
    await expect(admin).to_have_url(site.url("/console"))

    await admin.get_by_role("link", name="Staff").click()
    await expect(admin).to_have_url(site.url("/console/staff"))
    form = admin.locator("#add-staff")
    await form.get_by_label("Name").fill("mina")
    await form.get_by_label("Role").select_option("counselor")
    await form.get_by_role("button", name="Add").click()
    link_el = admin.locator("#shown-link")
    await expect(link_el).to_contain_text("/console/reset/")
    link = (await link_el.inner_text()).strip()
    # A reduced day in the holiday calendar, on the same page.
    cal = admin.locator("#add-holiday")
    await cal.get_by_label("Day").fill("2026-12-31")
    await cal.get_by_label("Kind").select_option("reduced")
    await cal.get_by_label("Opens").fill("10:00")
    await cal.get_by_label("Closes").fill("14:00")
    await cal.get_by_label("Name").fill("year end")
    await cal.get_by_role("button", name="Add").click()
    await expect(admin.locator("#holidays li")).to_contain_text(
        "2026-12-31: 10:00\u201314:00 only year end")
    await admin.screenshot(path=str(shots / "staff-admin-added.png"), full_page=True)

    mina_ctx = await _context(browser, site)
    mina = problems.watch(await mina_ctx.new_page(), "mina")
    await mina.goto(link)
    await mina.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await mina.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    await mina.get_by_role("button", name="Set password").click()
    await expect(mina).to_have_url(site.url("/console/login"))
    await mina.get_by_label("Name").fill("mina")
    await mina.get_by_label("Password").fill(NEW_PASSWORD)
    await mina.get_by_role("button", name="Log in").click()
    await expect(mina).to_have_url(site.url("/console/2fa"))
    await _enrol(mina, shots, "mina")
    await expect(mina).to_have_url(site.url("/console"))
    await expect(mina.locator("#live")).to_have_text("Live")
    await mina.screenshot(path=str(shots / "staff-mina-floor.png"), full_page=True)
    assert problems.seen == []

    await admin.reload()
    row = admin.locator("tr[data-name='mina']")
    await expect(row).to_contain_text("On")  # her second factor
    admin.on("dialog", lambda dialog: dialog.accept())
    await row.get_by_role("button", name="Deactivate").click()
    await expect(admin.locator("#staff-status")).to_have_text("mina is deactivated.")
    # Her open console notices by itself: the stream ends, the session is gone, the login.
    await expect(mina).to_have_url(site.url("/console/login"))
    await mina.screenshot(path=str(shots / "staff-mina-logged-out.png"), full_page=True)
    await admin.screenshot(path=str(shots / "staff-admin-deactivated.png"), full_page=True)
    # The only problem her page may log is the 401 that sent it to the login page.
    assert [p for p in problems.seen if "401" not in p] == []
    await admin_ctx.close()
    await mina_ctx.close()
