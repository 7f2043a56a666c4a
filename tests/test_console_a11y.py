"""axe-core (tests/vendor/axe-core, from the npm registry) finds no violation on any console
page, in Korean and in English, each with something on it: the login page, a counselor's floor
with an offer and a waiting case, a case page, the page a counselor may not open, the lead view
with its manage panel open and an alert, the roster with a person picker's matches open, the
takedown staff's floor with an alert, the read-only case page they open from it and their
desk, one's account, the staff and audit pages of an admin; and the victim's chat page.

Real chromium on the real app (tests/test_browser.py's server and fixtures). The pages run with
their Content-Security-Policy bypassed so that axe's script can be added to them: what axe checks
is the document, not the policy (tests/test_browser.py checks that)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from hotline.domain.staff import Role
from hotline.words import Words
from tests.conftest import RedisProcess
from tests.helpers import PASSWORD, add_staff
from tests.test_browser import Problems, Site, _screenshot_dir, _serve, browser

__all__ = ["browser"]  # the fixture, imported for the test below

AXE = (Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js").read_text()
WORDS = Words()
# What each violation names: its rule, impact and up to five elements.
_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
}"""


@pytest.fixture(params=["ko", "en"])
async def lang_site(request: pytest.FixtureRequest, tmp_path: Path,
                    redis_server: RedisProcess) -> AsyncIterator[tuple[Site, str]]:
    async with _serve(tmp_path, redis_server, {"mode": "offer", "offer_timeout_seconds": 120},
                      console={"default_language": request.param}) as s:
        yield s, request.param


async def _context(browser: Browser, site: Site) -> BrowserContext:
    return await browser.new_context(base_url=site.origin, bypass_csp=True, locale="en-US",
                                     viewport={"width": 1100, "height": 900})


async def _violations(page: Page) -> list[dict[str, Any]]:
    await page.evaluate(AXE)
    found: list[dict[str, Any]] = await page.evaluate(_RUN)
    return found


async def _log_in(ctx: BrowserContext, site: Site, problems: Problems, name: str, lang: str
                  ) -> Page:
    page = problems.watch(await ctx.new_page(), name)
    await page.goto(f"/console/login?lang={lang}")
    await page.get_by_label(WORDS.get(lang, "login.name")).fill(name)
    await page.get_by_label(WORDS.get(lang, "login.password")).fill(PASSWORD)
    await page.get_by_role("button", name=WORDS.get(lang, "login.submit")).click()
    await expect(page).to_have_url(site.url("/console"))
    return page


async def test_every_console_page_passes_axe(lang_site: tuple[Site, str], browser: Browser,
                                            tmp_path: Path) -> None:
    site, lang = lang_site
    shots = _screenshot_dir(tmp_path)

    def w(key: str, **values: Any) -> str:
        return WORDS.get(lang, key, **values)

    await add_staff(site.config, "mina")
    await add_staff(site.config, "tari", role=Role.TAKEDOWN)
    await add_staff(site.config, "lee", role=Role.LEAD)
    await add_staff(site.config, "ada", role=Role.ADMIN)
    problems = Problems()
    found: dict[str, list[dict[str, Any]]] = {}

    anonymous = await _context(browser, site)
    login = await anonymous.new_page()
    await login.goto(f"/console/login?lang={lang}")
    found["login"] = await _violations(login)
    # The victim's chat page too (Quick exit was seen outside any landmark).
    chat = await (await _context(browser, site)).new_page()
    await chat.goto(f"/chat?lang={lang}")
    found["chat"] = await _violations(chat)

    counselor = await _context(browser, site)
    mina = await _log_in(counselor, site, problems, "mina", lang)
    victim = await (await _context(browser, site)).new_page()
    await victim.goto("/chat?lang=ko")
    await victim.locator("#text").fill("도와주세요. 상담하고 싶어요")
    await victim.locator("#text").press("Enter")
    await expect(mina.locator("#offers-list li")).to_have_count(1)
    await expect(mina.locator("#queue tbody tr")).to_have_count(1)
    found["floor"] = await _violations(mina)
    await mina.screenshot(path=str(shots / f"a11y-{lang}-floor.png"), full_page=True)

    await mina.locator("#offers-list li").get_by_role("button", name=w("floor.accept")).click()
    await expect(mina).to_have_url(re.compile(r"/console/cases/[0-9a-f]{32}$"))
    case_url = mina.url
    await expect(mina.locator("#transcript li")).to_have_count(1)
    await mina.get_by_role("button", name=w("case.flag_spreading")).click()
    await expect(mina.locator("#flag-spreading")).to_be_disabled()
    found["case"] = await _violations(mina)
    await mina.goto("/console/lead")
    found["forbidden"] = await _violations(mina)
    await mina.goto("/console/account")
    found["account"] = await _violations(mina)

    takedown = await _context(browser, site)
    tari = await _log_in(takedown, site, problems, "tari", lang)
    await expect(tari.locator("#alerts li.alert")).to_have_count(1)
    found["takedown floor"] = await _violations(tari)
    await tari.screenshot(path=str(shots / f"a11y-{lang}-takedown-floor.png"), full_page=True)
    await tari.locator("#alerts li.alert a").click()
    await expect(tari).to_have_url(case_url)
    await expect(tari.locator("#transcript li")).to_have_count(1)
    found["read-only case"] = await _violations(tari)
    await tari.goto("/console/takedown")
    found["takedown desk"] = await _violations(tari)
    await tari.screenshot(path=str(shots / f"a11y-{lang}-read-only-case.png"), full_page=True)

    leads = await _context(browser, site)
    lee = await _log_in(leads, site, problems, "lee", lang)
    await lee.goto("/console/lead")
    await expect(lee.locator("#active tbody tr")).to_have_count(1)
    await expect(lee.locator("#alerts li.alert")).to_have_count(1)
    await lee.locator("#active tbody tr").get_by_role("button", name=w("lead.manage")).click()
    await expect(lee.locator("#manage")).to_be_visible()
    found["lead"] = await _violations(lee)
    await lee.goto("/console/roster")
    await expect(lee.locator("#on-shift tbody tr")).not_to_have_count(0)
    # With the person picker's matches open.
    await lee.locator("#shift-who").press_sequentially("e")
    await expect(lee.locator("#shift-who-list [role=option]")).not_to_have_count(0)
    found["roster"] = await _violations(lee)

    admins = await _context(browser, site)
    ada = await _log_in(admins, site, problems, "ada", lang)
    for path in ("/console/staff", "/console/audit"):
        await ada.goto(path)
        found[path] = await _violations(ada)

    for ctx in (anonymous, counselor, takedown, leads, admins):
        await ctx.close()
    assert {page: v for page, v in found.items() if v} == {}
    assert len(found) == 13
    # The page a counselor may not open answers 403, which the browser logs.
    forbidden = "mina: console error: Failed to load resource: the server responded with a " \
        "status of 403 (Forbidden)"
    assert [p for p in problems.seen if p != forbidden] == []
