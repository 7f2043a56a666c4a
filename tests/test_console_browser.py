"""The console in Korean and in English, in a real browser (Debian's chromium, Playwright) on the
real app: a counselor busy in one case hears a new offer (sound and desktop notification, opted
in) and accepts it from that case's page; a lead reassigns that case with a picker that lists
only who may take it; the former holder's reply box locks with a notice and the new holder is
told. Every word checked comes from the catalogue of the page's language, and no page logs a
missing word (tests/test_browser.py's Problems fails on any console error).

SQLite only, like tests/test_browser.py, whose fixtures and helpers this reuses."""

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
from tests.test_browser import (
    Problems,
    Site,
    _new_context,
    _screenshot_dir,
    _serve,
    browser,
)

__all__ = ["browser"]  # the fixture, imported for the tests below

WORDS = Words()

# Desktop notifications as the page asks for them, recorded: headless chromium shows none.
NOTIFICATIONS = """
window.__notes = [];
window.Notification = function (title, options) {
  window.__notes.push([title, options && options.body]);
};
window.Notification.permission = "granted";
window.Notification.requestPermission = function () { return Promise.resolve("granted"); };
"""


@pytest.fixture(params=["ko", "en"])
async def lang_site(request: pytest.FixtureRequest, tmp_path: Path,
                    redis_server: RedisProcess) -> AsyncIterator[tuple[Site, str]]:
    """Offer mode, with the console's default language the parameter."""
    async with _serve(tmp_path, redis_server, {"mode": "offer", "offer_timeout_seconds": 60},
                      console={"default_language": request.param}) as s:
        yield s, request.param


async def _log_in(browser: Browser, site: Site, problems: Problems, name: str, lang: str
                  ) -> tuple[BrowserContext, Page]:
    ctx = await _new_context(browser, site)
    await ctx.add_init_script(NOTIFICATIONS)
    page = problems.watch(await ctx.new_page(), name)

    def w(key: str, **values: Any) -> str:
        return WORDS.get(lang, key, **values)

    await page.goto(f"/console/login?lang={lang}")
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    await page.get_by_label(w("login.name")).fill(name)
    await page.get_by_label(w("login.password")).fill(PASSWORD)
    await page.get_by_role("button", name=w("login.submit")).click()
    await expect(page).to_have_url(site.url("/console"))
    await expect(page.locator("#live")).to_have_text(w("common.live"))
    return ctx, page


async def _victim_writes(browser: Browser, site: Site, problems: Problems, text: str,
                         who: str) -> BrowserContext:
    ctx = await _new_context(browser, site)
    page = problems.watch(await ctx.new_page(), who)
    await page.goto("/chat?lang=ko")
    await page.locator("#text").fill(text)
    await page.locator("#text").press("Enter")
    await expect(page.locator("#messages li.mine")).to_have_count(1)
    return ctx


async def test_an_offer_is_accepted_from_a_case_page_and_a_reassignment_locks_the_reply(
        lang_site: tuple[Site, str], browser: Browser, tmp_path: Path) -> None:
    site, lang = lang_site

    def w(key: str, **values: Any) -> str:
        return WORDS.get(lang, key, **values)

    await add_staff(site.config, "mina")
    await add_staff(site.config, "jun")
    await add_staff(site.config, "lee", role=Role.LEAD)
    problems = Problems()
    shots = _screenshot_dir(tmp_path)

    # Jun is on the floor but on a break: the first cases go to mina.
    jun_ctx, jun = await _log_in(browser, site, problems, "jun", lang)
    await jun.get_by_role("button", name=w("floor.break")).click()
    await expect(jun.locator("#presence-now")).to_have_text(
        w("floor.status_not_offered", status=w("codes.presence_break")))
    mina_ctx, mina = await _log_in(browser, site, problems, "mina", lang)
    await expect(mina.locator("#presence-now")).to_have_text(w("floor.status_can_be_offered"))
    await expect(mina.get_by_role("button", name=w("floor.take_next"))).to_be_visible()

    # A first victim writes; mina accepts the offer on the floor and is in the case.
    first = await _victim_writes(browser, site, problems, "도와주세요. 제 사진이 퍼지고 있어요",
                                 "v1")
    offer = mina.locator("#offers-list li")
    await expect(offer).to_have_count(1)
    await expect(offer).to_contain_text(w("codes.channel_webchat"))
    await offer.get_by_role("button", name=w("floor.accept")).click()
    await expect(mina).to_have_url(re.compile(r"/console/cases/[0-9a-f]{32}$"))
    first_case = mina.url.rsplit("/", 1)[1]
    await expect(mina.locator("#case-status")).to_have_text(w("codes.status_active"))
    await expect(mina.locator("#fact-victim")).to_have_text(w("case.victim_here"))
    await expect(mina.locator("#transcript li.victim .who")).to_have_text([w("case.victim")])

    # She opts in to sound and desktop notifications, from the case page.
    await mina.get_by_label(w("floor.notify_label")).check()

    # A second victim writes: the offer shows on the case page, with a notification.
    second = await _victim_writes(browser, site, problems, "누가 제 영상을 올렸어요", "v2")
    offer = mina.locator("#offers-list li")
    await expect(offer).to_have_count(1)
    # Jun's queue names whom the case is offered to (it said "#<id>" for a colleague).
    await expect(jun.locator("#queue tbody tr")).to_contain_text(
        [w("floor.offered_to", who="mina")])
    await expect(offer.locator(".countdown")).to_have_text(re.compile(r"\d"))
    await expect(mina).to_have_title(re.compile(re.escape(w("floor.new_offer_title", n=1,
                                                             title=""))))
    await expect(mina.locator("#offers")).to_have_attribute("data-notified", "1")
    notes = await mina.evaluate("window.__notes")
    assert [n[0] for n in notes] == [w("floor.notify_title")]
    await mina.screenshot(path=str(shots / f"console-{lang}-offer-on-case.png"), full_page=True)
    await offer.get_by_role("button", name=w("floor.accept")).click()
    await expect(mina).not_to_have_url(site.url(f"/console/cases/{first_case}"))
    await expect(mina).to_have_url(re.compile(r"/console/cases/[0-9a-f]{32}$"))
    second_case = mina.url.rsplit("/", 1)[1]
    await expect(mina.locator("#reply-text")).to_be_enabled()
    await expect(mina.locator("#reply-locked")).to_be_hidden()

    # Jun is available again; the lead reassigns the second case to him.
    await jun.get_by_role("button", name=w("floor.available")).click()
    await expect(jun.locator("#presence-now")).to_have_text(w("floor.status_can_be_offered"))
    lead_ctx, lead = await _log_in(browser, site, problems, "lee", lang)
    await lead.get_by_role("link", name=w("common.nav_lead")).click()
    row = lead.locator(f'#active tr[data-case="{second_case}"]')
    await expect(row).to_contain_text("mina")
    # How long the victim has waited for a reply (nobody answered yet), in minutes.
    await expect(row.locator("td.warn")).to_have_text(w("lead.victim_waiting_for", n=0))
    await row.get_by_role("button", name=w("lead.manage")).click()
    picker = lead.locator("#reassign-to")
    # Whoever may take the case, from everyone (GET .../takers, read when the panel opens).
    await expect(picker.locator("option", has_text="jun")).to_have_count(1)
    # Nobody is preselected, and the current holder is not offered.
    await expect(picker).to_have_value("")
    options = await picker.locator("option").all_text_contents()
    assert options[0] == w("lead.reassign_choose")
    assert any(o.startswith("jun") for o in options[1:])
    assert not any(o.startswith("mina") for o in options[1:])
    assert not any(o.startswith("lee") for o in options[1:])
    jun_id = await picker.locator("option", has_text="jun").get_attribute("value")
    assert jun_id
    await picker.select_option(jun_id)
    await lead.locator("#reassign").get_by_role("button", name=w("lead.reassign")).click()
    await expect(lead.locator("#manage-result")).to_have_text(w("lead.done"))
    await lead.screenshot(path=str(shots / f"console-{lang}-lead.png"), full_page=True)

    # Mina's page locks its reply box with a notice (the case is no longer hers to read);
    # jun is told.
    await expect(mina.locator("#reply-locked")).to_have_text(w("case.locked_away"))
    await expect(mina.locator("#reply-text")).to_be_disabled()
    await mina.screenshot(path=str(shots / f"console-{lang}-locked.png"), full_page=True)
    notice = jun.locator("#notices li")
    await expect(notice).to_contain_text(w("floor.assigned_to_you", case=second_case[:8]))
    await notice.get_by_role("link", name=w("floor.open_case")).click()
    await expect(jun).to_have_url(site.url(f"/console/cases/{second_case}"))
    await expect(jun.locator("#reply-text")).to_be_enabled()

    for ctx in (first, second, jun_ctx, mina_ctx, lead_ctx):
        await ctx.close()
    # Mina's page asking once more for a case no longer hers answers 404 (missing and
    # forbidden look the same): the browser logs that; nothing else may be logged.
    gone = "mina: console error: Failed to load resource: the server responded with a " \
        "status of 404 (Not Found)"
    assert [p for p in problems.seen if p != gone] == []


async def test_the_language_switch_changes_the_console_for_that_person(
        lang_site: tuple[Site, str], browser: Browser) -> None:
    site, lang = lang_site
    other = "en" if lang == "ko" else "ko"
    await add_staff(site.config, "mina")
    problems = Problems()
    ctx, page = await _log_in(browser, site, problems, "mina", lang)
    take_next = WORDS.get(lang, "floor.take_next")
    await expect(page.get_by_role("button", name=take_next)).to_be_visible()
    await page.locator(f'.lang-switch button[data-lang="{other}"]').click()
    await expect(page.locator("html")).to_have_attribute("lang", other)
    take_next = WORDS.get(other, "floor.take_next")
    await expect(page.get_by_role("button", name=take_next)).to_be_visible()
    await expect(page.locator(f'.lang-switch button[data-lang="{other}"]')).to_have_attribute(
        "aria-pressed", "true")
    await ctx.close()
    assert problems.seen == []
