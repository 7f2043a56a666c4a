"""A real browser (Debian's chromium driven by Playwright) on the real app over real TCP.

Two browser contexts are two people: a victim in the web chat at /chat and a counselor in the
console. Everything the pages show must arrive live (server-sent events), without reloads,
and the pages' own scripts must run under the app's Content-Security-Policy.

The app runs in the test's own asyncio loop, so the test uses Playwright's async API. The
browser only ever talks to 127.0.0.1: the quick-exit target is a loopback URL that is also
answered by a route, so nothing leaves the machine. SQLite only: the browser adds nothing
that depends on the database, and the HTTP end-to-end tests cover PostgreSQL.

Without chromium the test skips, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PIL import Image, ImageDraw
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    async_playwright,
    expect,
)
from sqlalchemy import select

from hotline.app import create_app
from hotline.callbacks.tables import callbacks
from hotline.cases.tables import intake_records
from hotline.channels.telegram.media import fingerprint
from hotline.config import Config
from hotline.deps import Deps
from hotline.domain.staff import Role
from hotline.evidence import service as evidence
from hotline.stores.sql.engine import open_engine
from hotline.web.appkeys import DEPS
from tests.conftest import RedisProcess, free_port, make_config, wait_for
from tests.helpers import PASSWORD, add_staff

SECRET_TEXT = "my ex posted a deepfake of me on a telegram channel"
REPLY_TEXT = "I am here with you. Can you tell me the channel name?"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
# Generous: a first chromium start on a loaded CI machine can be slow. Never a sleep.
WAIT_MS = 15_000
expect.set_options(timeout=WAIT_MS)


def _chromium() -> str:
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    found = shutil.which("chromium")
    if found:
        return found
    reason = "no chromium at /usr/bin/chromium or on PATH (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser test is required under CI: {reason}")
    pytest.skip(reason)


class Site:
    """The real app served on a loopback TCP port, as a browser reaches it."""

    def __init__(self, config: Config, port: int, deps: Deps) -> None:
        self.config = config
        self.deps = deps  # the app's own services, for what a channel would do (evidence)
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.exit_url = f"{self.origin}/healthz"

    def url(self, path: str) -> str:
        return self.origin + path


def _evidence_png() -> bytes:
    """A 200x200 picture with structure (PDQ needs some), as a victim's screenshot."""
    im = Image.new("RGB", (200, 200), (240, 240, 240))
    draw = ImageDraw.Draw(im)
    for i in range(0, 200, 20):
        draw.line((0, i, 200, 200 - i), fill=(i, 40, 200 - i), width=3)
    draw.ellipse((50, 50, 150, 150), outline=(10, 10, 10), width=5)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


@contextlib.asynccontextmanager
async def _serve(tmp_path: Path, redis_server: RedisProcess,
                 routing: dict[str, Any], **sections: dict[str, Any]) -> AsyncIterator[Site]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    # These flows read the console's English words; the Korean default has tests of its own.
    sections["console"] = {"default_language": "en", **sections.get("console", {})}
    cfg = make_config(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
                      redis_server.url, server={"public_url": origin},
                      privacy={"quick_exit_url": f"{origin}/healthz"}, routing=routing,
                      **sections)
    runner = web.AppRunner(create_app(cfg), shutdown_timeout=1.0)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", port)
    await tcp.start()
    try:
        yield Site(cfg, port, runner.app[DEPS])
    finally:
        await runner.cleanup()


@pytest.fixture
async def site(tmp_path: Path, redis_server: RedisProcess) -> AsyncIterator[Site]:
    # Pull mode: the counselor takes the case with "Take next".
    async with _serve(tmp_path, redis_server, {"mode": "pull"}) as s:
        yield s


@pytest.fixture
async def phone_site(tmp_path: Path, redis_server: RedisProcess,
                     monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Site]:
    # The phone channel on (credentials and our number): the chat offers call-backs. No
    # request reaches Twilio's REST API in this test (its base URL is a closed local port).
    monkeypatch.setenv("HOTLINE_TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("HOTLINE_TWILIO_AUTH_TOKEN", "browser-test-token")
    async with _serve(tmp_path, redis_server, {"mode": "pull"},
                      twilio={"phone_number": "+8215661366",
                              "api_base_url": f"http://127.0.0.1:{free_port()}"}) as s:
        yield s


@pytest.fixture
async def offer_site(tmp_path: Path, redis_server: RedisProcess) -> AsyncIterator[Site]:
    # Offer mode: the router offers each waiting case to the best counselor.
    async with _serve(tmp_path, redis_server,
                      {"mode": "offer", "offer_timeout_seconds": 30}) as s:
        yield s


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = _chromium()
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=executable, headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


class Problems:
    """Script errors and CSP violations seen by any page: a page that 'works' with a blocked
    script or an exception in its console is still broken."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, page: Page, who: str) -> Page:
        page.on("pageerror", lambda exc: self.seen.append(f"{who}: uncaught {exc}"))

        def on_console(msg: ConsoleMessage) -> None:
            text = msg.text
            if msg.type == "error" or "Content Security Policy" in text:
                self.seen.append(f"{who}: console {msg.type}: {text}")

        page.on("console", on_console)
        return page


def _screenshot_dir(tmp_path: Path) -> Path:
    # HOTLINE_SCREENSHOTS=/tmp keeps the screenshots for a human to look at.
    return Path(os.environ.get("HOTLINE_SCREENSHOTS") or tmp_path)


async def _intake_rows(config: Config) -> list[dict[str, Any]]:
    engine = open_engine(config.database_url)
    try:
        async with engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(select(intake_records))]
    finally:
        await engine.dispose()


async def _chat_cookie(ctx: BrowserContext) -> bool:
    return any(c["name"] == "hl_chat" for c in await ctx.cookies())


async def _new_context(browser: Browser, site: Site) -> BrowserContext:
    ctx = await browser.new_context(base_url=site.origin, locale="en-US",
                                    viewport={"width": 1000, "height": 800})

    # The quick-exit target is answered here: the browser never needs the network.
    async def exit_page(route: Any) -> None:
        await route.fulfill(status=200, content_type="text/html",
                            body="<!doctype html><title>Weather</title><p>Sunny</p>")

    await ctx.route(site.exit_url, exit_page)
    # Page timers are frozen, so the pages' safety-net polling (every 15 s) never runs: what
    # shows up live can only have come through the event stream.
    start = datetime.now(UTC)
    await ctx.clock.install(time=start)
    await ctx.clock.pause_at(start + timedelta(seconds=1))
    return ctx


async def _mark(page: Page) -> None:
    """Mark the loaded document; `_still_marked` proves later that it was never reloaded."""
    await page.evaluate("window.__noReload = true")


async def _still_marked(page: Page) -> None:
    assert await page.evaluate("window.__noReload === true"), "the page was reloaded"


async def test_victim_and_counselor_in_real_browsers(site: Site, browser: Browser,
                                                     tmp_path: Path) -> None:
    await add_staff(site.config, "mina")
    problems = Problems()
    shots = _screenshot_dir(tmp_path)

    # The victim opens the chat: safety notice and quick exit are there before anything else.
    victim_ctx = await _new_context(browser, site)
    victim = problems.watch(await victim_ctx.new_page(), "victim")
    await victim.goto("/chat?lang=en")
    await expect(victim).to_have_title("Confidential support chat")
    await expect(victim.locator("#safety-notice")).to_contain_text("This chat is anonymous")
    await expect(victim.locator("#quick-exit")).to_be_visible()
    await expect(victim.locator("#quick-exit")).to_have_text("Quick exit")
    await expect(victim.locator("#status")).to_have_attribute("data-state", "none")
    await expect(victim.locator("#messages li")).to_have_count(0)

    # The counselor logs in and watches an empty queue.
    counselor_ctx = await _new_context(browser, site)
    counselor = problems.watch(await counselor_ctx.new_page(), "counselor")
    await counselor.goto("/console/login")
    await counselor.get_by_label("Name").fill("mina")
    await counselor.get_by_label("Password").fill(PASSWORD)
    await counselor.get_by_role("button", name="Log in").click()
    await expect(counselor).to_have_url(site.url("/console"))
    await expect(counselor.locator("#live")).to_have_text("Live")
    await expect(counselor.locator("#waiting-count")).to_have_text("0")
    await expect(counselor.locator("#queue tbody tr")).to_have_count(0)
    await _mark(counselor)
    await _mark(victim)

    # The victim writes; the page says they are waiting, first in line.
    await victim.locator("#text").fill(SECRET_TEXT)
    await victim.get_by_role("button", name="Send").click()
    await expect(victim.locator("#messages li.mine .body")).to_have_text([SECRET_TEXT])
    await expect(victim.locator("#text")).to_have_value("")
    await expect(victim.locator("#status")).to_have_attribute("data-state", "waiting")
    await expect(victim.locator("#status")).to_contain_text("You are number 1 in line")
    await expect(victim.locator("#error")).to_be_hidden()

    # The waiting case appears in the counselor's queue live, without a reload.
    row = counselor.locator("#queue tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator("td").nth(1)).to_have_text("web chat")
    await expect(row.locator("td").nth(2)).to_have_text("English")
    await expect(counselor.locator("#waiting-count")).to_have_text("1")
    await expect(counselor.locator("#queue")).not_to_contain_text(SECRET_TEXT)
    # It came as the page pushed on the stream (queue.page), not read again.
    await expect(counselor.locator("#floor")).to_have_attribute("data-queue-pages",
                                                                   re.compile(r"^[1-9]"))
    await _still_marked(counselor)

    # Take next: the case page shows the victim's words.
    await counselor.get_by_role("button", name="Take next").click()
    await expect(counselor).to_have_url(re.compile(r"/console/cases/[^/]+$"))
    await expect(counselor.locator("#case-status")).to_have_text("in conversation")
    await expect(counselor.locator("#transcript li.victim .text")).to_have_text([SECRET_TEXT])
    await _mark(counselor)

    # Evidence arrives as the Telegram bot records it (fingerprints first, the file once the
    # victim agrees): the panel appears and fills in live, the preview is blurred, and the
    # original shows only after an explicit, audited "Reveal".
    cid = counselor.url.rsplit("/", 1)[-1]
    png = _evidence_png()
    fp = fingerprint(png, "image/png")
    panel = counselor.locator("#evidence")
    await expect(panel).to_be_hidden()
    eid = await evidence.record(site.deps, conversation_id=cid, message_seq=None, kind="photo",
                                mime="image/png", size_bytes=len(png), sha256=fp.sha256,
                                pdq=fp.pdq, pdq_quality=fp.pdq_quality)
    await expect(panel).to_be_visible()
    await expect(panel).to_contain_text("SHA-256 " + fp.sha256)
    await expect(panel).to_contain_text("Victim has not said whether we may keep the file")
    assert await evidence.keep(site.deps, eid, png)
    await expect(panel).to_contain_text("File kept (encrypted) until")
    preview = panel.locator("img.evidence-preview")
    await expect(preview).to_have_attribute("src", f"/api/v1/evidence/{eid}/preview")
    # The blurred preview is the server's (scaled down); the page's CSP forbids eval, so
    # the image is checked through a property, not wait_for_function.
    await expect(preview).to_have_js_property("complete", True)
    await expect(preview).not_to_have_js_property("naturalWidth", 0)
    await panel.get_by_role("button", name="Reveal original (audited)").click()
    await expect(panel.get_by_role("button", name="Revealed (recorded)")).to_be_disabled()
    await expect(preview).not_to_have_attribute("src", f"/api/v1/evidence/{eid}/preview")
    await expect(preview).to_have_js_property("naturalWidth", 200)
    await counselor.screenshot(path=str(shots / "browser-evidence.png"), full_page=True)
    await _still_marked(counselor)

    # Being taken shows on the victim's page live.
    await expect(victim.locator("#status")).to_have_attribute("data-state", "active")
    await expect(victim.locator("#status")).to_have_text("A counselor is with you now.")

    # The counselor replies; the victim sees it live.
    await counselor.locator("#reply-text").fill(REPLY_TEXT)
    await counselor.locator("#reply").get_by_role("button", name="Send").click()
    await expect(counselor.locator("#transcript li.counselor .text")).to_have_text([REPLY_TEXT])
    await expect(counselor.locator("#reply-text")).to_have_value("")
    await expect(victim.locator("#messages li.theirs .body")).to_have_text([REPLY_TEXT])
    await expect(victim.locator("#messages li .body")).to_have_text([SECRET_TEXT, REPLY_TEXT])

    # The victim writes again; the counselor's transcript follows live.
    await victim.locator("#text").fill("It is called 'leaks 2'.")
    await victim.locator("#text").press("Enter")
    await expect(counselor.locator("#transcript li .text")).to_have_text(
        [SECRET_TEXT, REPLY_TEXT, "It is called 'leaks 2'."])
    await _still_marked(victim)
    await _still_marked(counselor)

    await victim.screenshot(path=str(shots / "browser-victim-chat.png"), full_page=True)
    await counselor.screenshot(path=str(shots / "browser-console-case.png"), full_page=True)

    # A reload keeps the conversation: the session cookie names the chat.
    await victim.reload()
    await expect(victim.locator("#messages li .body")).to_have_text(
        [SECRET_TEXT, REPLY_TEXT, "It is called 'leaks 2'."])
    await expect(victim.locator("#status")).to_have_attribute("data-state", "active")
    await _mark(victim)

    # The counselor closes with the intake form and is back on the floor.
    close = counselor.locator("#close")
    await close.get_by_label("Harm type").select_option("synthetic")
    await close.get_by_role("checkbox", name="Telegram", exact=True).check()
    await close.get_by_label("Age band").select_option("18_24")
    await close.get_by_label("Urgency").select_option("high")
    await close.get_by_role("checkbox", name="Takedown support", exact=True).check()
    await close.get_by_label("Outcome").select_option("takedown_requested")
    await close.get_by_role("button", name="Close case").click()
    # Closing asks first.
    await expect(close.locator("#close-confirm")).to_be_visible()
    await close.locator("#close-yes").click()
    await expect(counselor).to_have_url(site.url("/console"))
    await expect(counselor.locator("#live")).to_have_text("Live")
    await expect(counselor.locator("#mine li")).to_have_count(0)

    # The victim sees the conversation has ended, live.
    await expect(victim.locator("#status")).to_have_attribute("data-state", "closed")
    await expect(victim.locator("#status")).to_contain_text("This conversation has ended")
    await _still_marked(victim)

    rows = await _intake_rows(site.config)
    assert len(rows) == 1
    assert rows[0]["harm_type"] == "synthetic" and rows[0]["platforms"] == "telegram"
    assert rows[0]["age_band"] == "18_24" and rows[0]["outcome"] == "takedown_requested"

    # Quick exit: the page leaves for the exit URL and the chat cookie is ended, so the next
    # person to open /chat in this browser sees an empty chat.
    assert await _chat_cookie(victim_ctx)
    await victim.locator("#quick-exit").click()
    await expect(victim).to_have_url(site.exit_url)
    await expect(victim).to_have_title("Weather")

    # The page's beacon to /chat/api/exit ends the cookie; it may land just after the page left.
    async def cookie_gone() -> bool:
        return not await _chat_cookie(victim_ctx)

    await wait_for(cookie_gone, timeout=WAIT_MS / 1000)
    await victim.goto("/chat?lang=en")
    await expect(victim.locator("#status")).to_have_attribute("data-state", "none")
    await expect(victim.locator("#status")).to_have_text(
        "Write to us whenever you are ready. A counselor will answer you here.")
    await expect(victim.locator("#messages li")).to_have_count(0)

    # The Korean page is in Korean.
    await victim.goto("/chat?lang=ko")
    await expect(victim.locator("html")).to_have_attribute("lang", "ko")
    await expect(victim).to_have_title("비밀 상담 채팅")
    await expect(victim.locator("#quick-exit")).to_have_text("빠른 나가기")
    await expect(victim.locator("#safety-notice")).to_contain_text("이 채팅은 익명입니다")
    await expect(victim.get_by_role("button", name="보내기")).to_be_visible()

    await victim_ctx.close()
    await counselor_ctx.close()
    assert problems.seen == []


async def _log_in(browser: Browser, site: Site, problems: Problems, name: str
                  ) -> tuple[BrowserContext, Page]:
    ctx = await _new_context(browser, site)
    page = problems.watch(await ctx.new_page(), name)
    await page.goto("/console/login")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(site.url("/console"))
    await expect(page.locator("#live")).to_have_text("Live")
    return ctx, page


async def test_offer_flag_alert_and_lead_view_in_real_browsers(
        offer_site: Site, browser: Browser, tmp_path: Path) -> None:
    site = offer_site
    mina_id = await add_staff(site.config, "mina")
    await add_staff(site.config, "tari", role=Role.TAKEDOWN)
    lee_id = await add_staff(site.config, "lee", role=Role.LEAD)
    problems = Problems()
    shots = _screenshot_dir(tmp_path)

    # The counselor is on the floor, available, with no offers.
    counselor_ctx, counselor = await _log_in(browser, site, problems, "mina")
    await expect(counselor.locator(".presence-bar button.current")).to_have_text("Available")
    await expect(counselor.locator("#offers-empty")).to_be_visible()
    await expect(counselor.locator("#offers-list li")).to_have_count(0)
    # Leads' pages are not for counselors.
    assert (await counselor.request.get(site.url("/console/lead"))).status == 403
    await _mark(counselor)

    # A victim writes; the router offers the case to the counselor, live.
    victim_ctx = await _new_context(browser, site)
    victim = problems.watch(await victim_ctx.new_page(), "victim")
    await victim.goto("/chat?lang=en")
    await victim.locator("#text").fill(SECRET_TEXT)
    await victim.get_by_role("button", name="Send").click()
    await expect(victim.locator("#messages li.mine .body")).to_have_text([SECRET_TEXT])

    offer = counselor.locator("#offers-list li")
    await expect(offer).to_have_count(1)
    await expect(offer).to_contain_text("web chat · English")
    await expect(offer.locator(".countdown")).to_have_text(re.compile(r"^\d+ s left$"))
    await expect(offer).to_have_class(re.compile(r"\bfresh\b"))
    await expect(counselor).to_have_title(re.compile(r"^\(1\) New offer"))
    await expect(counselor.locator("#queue tbody tr")).to_contain_text("offered to you")
    await expect(counselor.locator("#offers")).not_to_contain_text(SECRET_TEXT)
    await _still_marked(counselor)
    await counselor.screenshot(path=str(shots / "browser-floor-offer.png"), full_page=True)

    # Accept: the case page, with the victim's words.
    await offer.get_by_role("button", name="Accept").click()
    await expect(counselor).to_have_url(re.compile(r"/console/cases/[0-9a-f]{32}$"))
    case_id = counselor.url.rsplit("/", 1)[1]
    await expect(counselor.locator("#case-status")).to_have_text("in conversation")
    await expect(counselor.locator("#transcript li.victim .text")).to_have_text([SECRET_TEXT])
    await _mark(counselor)

    # Takedown staff and a lead come on the floor (nothing waits, so nothing is offered).
    takedown_ctx, takedown = await _log_in(browser, site, problems, "tari")
    # Their floor is their alerts, not the victims' queue.
    await expect(takedown.locator("#alerts .alerts-empty")).to_be_visible()
    await expect(takedown.locator("#queue")).to_have_count(0)
    await _mark(takedown)
    lead_ctx, lead = await _log_in(browser, site, problems, "lee")
    await lead.get_by_role("link", name="Lead view").click()
    await expect(lead).to_have_url(site.url("/console/lead"))
    await expect(lead.locator("#live")).to_have_text("Live")
    mina_row = lead.locator(f'#agents tr[data-agent="{mina_id}"]')
    await expect(mina_row).to_contain_text("mina")
    await expect(mina_row.locator("td.load")).to_have_text(re.compile(r"^1/\d+$"))
    await expect(lead.locator(f'#active tr[data-case="{case_id}"]')).to_contain_text("mina")
    await _mark(lead)

    # The counselor flags the content as spreading now: urgency and reasons show at once.
    await counselor.get_by_role("button", name="Content is spreading now").click()
    await expect(counselor.locator("#action-result")).to_contain_text("takedown staff")
    await expect(counselor.locator("#case-reasons")).to_contain_text("content spreading")
    await expect(counselor.locator("#flag-spreading")).to_be_disabled()
    await _still_marked(counselor)
    await counselor.screenshot(path=str(shots / "browser-case-flagged.png"), full_page=True)

    # The takedown staff member sees the alert live (without the case's words; its link leads
    # to a read-only view of the case), and acknowledges it.
    alert = takedown.locator("#alerts li.alert")
    await expect(alert).to_have_count(1)
    await expect(alert).to_contain_text("Takedown")
    await expect(alert).to_contain_text("content spreading")
    await expect(alert).to_contain_text(f"case {case_id[:8]}")
    await expect(alert.locator("a")).to_have_attribute("href", f"/console/cases/{case_id}")
    await expect(takedown.locator("#alerts")).not_to_contain_text(SECRET_TEXT)
    # Its age keeps counting between events (it froze at the first render: "7 s ago" for an
    # hour on a quiet panel). The page's clock is paused: 5 s pass for it.
    age = alert.locator(".alert-item .muted").first
    first_age = await age.inner_text()
    assert re.fullmatch(r"\d+ s ago", first_age), first_age
    await takedown.clock.fast_forward(5000)
    await expect(age).to_have_text(re.compile(r"^\d+ s ago$"))
    await expect(age).not_to_have_text(first_age)
    await expect(lead.locator("#alerts li.alert")).to_have_count(1)
    await takedown.screenshot(path=str(shots / "browser-takedown-alert.png"), full_page=True)
    await alert.get_by_role("button", name="Acknowledge").click()
    await expect(takedown.locator("#alerts .alerts-empty")).to_be_visible()
    # The lead's panel follows live (who acknowledged), and the case now shows as urgent.
    await expect(lead.locator("#alerts li.alert .acked-by")).to_contain_text(
        "acknowledged by tari")
    await expect(lead.locator("#alerts .alert-items button")).to_have_count(0)
    await expect(lead.locator(f'#active tr[data-case="{case_id}"]')).to_have_class(
        re.compile(r"urgency-(high|critical)"))
    await _still_marked(takedown)
    await _still_marked(lead)
    await lead.locator(f'#active tr[data-case="{case_id}"]').get_by_role(
        "button", name="Manage").click()
    await expect(lead.locator("#manage")).to_be_visible()
    await lead.screenshot(path=str(shots / "browser-lead.png"), full_page=True)

    # The roster page shows who is on shift now (nobody follows the roster: all are on).
    await lead.get_by_role("link", name="Roster").click()
    await expect(lead.locator(f'#on-shift tr[data-staff="{mina_id}"]')).to_contain_text("mina")
    # The lead makes himself follow the roster: that ends his shift now, so the page asks
    # (a 409 the browser logs) and he confirms.
    asked: list[str] = []

    async def accept(d: Any) -> None:
        asked.append(d.message)
        await d.accept()

    lead.on("dialog", accept)
    await lead.get_by_label("Follows the roster: lee").check()
    await expect(lead.locator("#people-result")).to_have_text("Saved.")
    assert len(asked) == 1 and "ends lee's shift now" in asked[0]
    # A weekly shift added on the page is listed with the roster's entries and removed there.
    # Found by his number; Enter chooses the only match.
    await lead.locator("#shift-who").press_sequentially(f"#{lee_id}")
    await expect(lead.locator("#shift-who-list [role=option]")).to_have_count(1)
    await lead.locator("#shift-who").press("Enter")
    await lead.locator('#shift input[name=days][value="sun"]').check()
    await lead.get_by_role("button", name="Add shift").click()
    entries = lead.locator("#shift-entries tbody tr")
    await expect(entries).to_have_count(1)
    await expect(entries).to_contain_text("lee")
    await expect(entries).to_contain_text("Sunday")
    await lead.screenshot(path=str(shots / "browser-roster.png"), full_page=True)
    await entries.get_by_role("button", name="Remove").click()
    await expect(entries).to_have_count(0)

    for ctx in (victim_ctx, counselor_ctx, takedown_ctx, lead_ctx):
        await ctx.close()
    # Only the confirmations asked for (409, then sent again with confirm).
    assert [p for p in problems.seen if "status of 409 " not in p] == []


async def test_a_victim_asks_for_a_call_back_from_the_chat(phone_site: Site, browser: Browser,
                                                           tmp_path: Path) -> None:
    site = phone_site
    problems = Problems()
    ctx = await _new_context(browser, site)
    page = problems.watch(await ctx.new_page(), "victim")
    await page.goto("/chat?lang=ko")
    form = page.locator("#callback-form")
    await expect(form).to_be_hidden()  # folded away under the messages
    await page.get_by_text("전화 상담 요청").click()
    await expect(form).to_be_visible()
    # A number that cannot be one is refused with the prompt's words, nothing stored.
    await page.locator("#cb-number").fill("전화해 주세요")
    await form.get_by_role("button", name="전화 요청하기").click()
    await expect(page.locator("#callback-error")).to_have_text(
        "번호를 확인해 주세요. 예: 010-1234-5678 또는 +82 10 1234 5678")
    # As a victim types it; the evening window; no message (the default).
    await page.locator("#cb-number").fill("010-3333-4444")
    await form.get_by_label("저녁 (18-21시)").check()
    await form.get_by_role("button", name="전화 요청하기").click()
    result = page.locator("#callback-result")
    # Inside the evening already, the window starts now (so not always at 18:00).
    await expect(result).to_contain_text(re.compile(r"\d\d:\d\d에서 21:00 사이에 전화드리겠습니다"))
    await expect(result).to_contain_text("메시지는 남기지 않습니다")
    await expect(form).to_be_hidden()
    await page.screenshot(path=str(_screenshot_dir(tmp_path) / "browser-chat-callback.png"),
                          full_page=True)
    async with site.deps.engine.connect() as conn:
        [row] = (await conn.execute(select(callbacks))).all()
    assert row.source_channel == "webchat" and row.leave_message is False
    await ctx.close()
    # The browser logs the deliberate 400 above as a failed load; nothing else may appear.
    expected = "victim: console error: Failed to load resource: the server responded with a " \
               "status of 400 (Bad Request)"
    assert [p for p in problems.seen if p != expected] == []
