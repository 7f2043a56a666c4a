"""A victim on a phone-sized screen (390x844) in Korean, in Debian's chromium driven by
Playwright, against the real app on loopback (docs/victim.md):
- the message box and its Send button stay on screen however long the chat gets, and every
  message shows its time (screenshots kept with HOTLINE_SCREENSHOTS=/some/dir);
- one Esc while typing never leaves; Esc twice does, and ends the chat session on the server;
- a case number from the chat, then the case page in another browser with it;
- a picture's fingerprints computed in the browser (WebCrypto SHA-256, static/pdq.js) equal the
  server's (hashlib, pdqhash) within a few bits of PDQ, and only the fingerprints are sent.

SQLite only (the browser adds nothing that depends on the database). Without chromium the
test skips, except under CI=true.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from PIL import Image, ImageDraw, ImageFilter
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from hotline.app import create_app
from hotline.channels.telegram.media import fingerprint
from hotline.evidence import pdq_scan
from hotline.web.appkeys import DEPS
from tests.conftest import RedisProcess, free_port
from tests.test_browser import CHROMIUM_ARGS, WAIT_MS, Problems, Site, _chromium
from tests.victim_support import rows, victim_config

expect.set_options(timeout=WAIT_MS)
PHONE: ViewportSize = {"width": 390, "height": 844}
# The largest PDQ distance allowed between the browser's hash and the server's: lossless
# pictures must agree exactly; a JPEG's pixels may differ a little between decoders.
MAX_PDQ_DISTANCE = 8


@pytest.fixture
async def site(tmp_path: Path, redis_server: RedisProcess) -> AsyncIterator[Site]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    cfg = victim_config(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
                        redis_server.url, server={"public_url": origin},
                        privacy={"quick_exit_url": f"{origin}/healthz"},
                        routing={"mode": "pull"})
    runner = web.AppRunner(create_app(cfg), shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Site(cfg, port, runner.app[DEPS])
    finally:
        await runner.cleanup()


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


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("HOTLINE_SCREENSHOTS") or tmp_path)


async def _phone(browser: Browser, site: Site) -> BrowserContext:
    ctx = await browser.new_context(base_url=site.origin, locale="ko-KR", viewport=PHONE,
                                    device_scale_factor=2, is_mobile=True, has_touch=True)

    async def exit_page(route: Any) -> None:
        await route.fulfill(status=200, content_type="text/html; charset=utf-8",
                            body="<!doctype html><title>날씨</title><p>맑음</p>")

    await ctx.route(site.exit_url, exit_page)
    return ctx


async def _on_screen(page: Page, selector: str) -> bool:
    box = await page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]


async def test_phone_chat_keeps_send_on_screen_and_double_esc_exits(
        browser: Browser, site: Site, tmp_path: Path) -> None:
    problems = Problems()
    ctx = await _phone(browser, site)
    page = problems.watch(await ctx.new_page(), "victim")
    await page.clock.install(time=datetime.now(UTC))
    await page.goto("/chat?lang=ko")
    await expect(page.locator("#exit-hint")).to_contain_text("Esc 키를 두 번")
    for i in range(10):
        await page.locator("#text").fill(f"메시지 {i + 1}번: 제 사진이 퍼지고 있어요")
        await page.locator("#composer button").click()
        await expect(page.locator("#messages li")).to_have_count(i + 1)
        assert await _on_screen(page, "#composer button"), f"Send below the screen at {i + 1}"
    times = await page.locator("#messages li time").all_inner_texts()
    assert len(times) == 10 and all(any(c.isdigit() for c in t) for t in times)
    await page.screenshot(path=str(_shots(tmp_path) / "victim-phone-chat.png"))

    # One Esc while typing: nothing happens, the words stay.
    await page.locator("#text").fill("지금 누가 와서")
    await page.keyboard.press("Escape")
    await page.clock.fast_forward(2000)  # a second Esc much later is again a first one
    await page.keyboard.press("Escape")
    assert page.url.endswith("/chat?lang=ko")
    await expect(page.locator("#text")).to_have_value("지금 누가 와서")
    # Esc twice in a moment: gone, and the session ended on the server.
    await page.keyboard.press("Escape")
    await page.keyboard.press("Escape")
    await page.wait_for_url(site.exit_url)
    await expect(page.locator("p")).to_have_text("맑음")
    assert await rows(site.config, "chat_exits") != []
    assert problems.seen == []
    await ctx.close()


async def test_case_number_from_chat_then_the_case_page(browser: Browser, site: Site,
                                                         tmp_path: Path) -> None:
    problems = Problems()
    ctx = await _phone(browser, site)
    page = problems.watch(await ctx.new_page(), "victim")
    await page.goto("/chat?lang=ko")
    await page.locator("#text").fill("저는 중학생이에요. 제 사진이 퍼지고 있어요")
    await page.locator("#composer button").click()
    await expect(page.locator("#messages li")).to_have_count(1)
    await page.locator("#case-get").click()
    issued = page.locator("#issued")
    await expect(issued).to_contain_text("사건 번호: HL-")
    text = await issued.inner_text()
    number = text.split("사건 번호: ")[1].split("\n")[0].strip()
    pin = text.split("PIN: ")[1].split("\n")[0].strip()
    await page.screenshot(path=str(_shots(tmp_path) / "victim-phone-case-number.png"))

    later = await _phone(browser, site)  # another browser, another day
    case = problems.watch(await later.new_page(), "case page")
    await case.goto("/chat/case?lang=ko")
    await case.locator("#case-number").fill(number)
    await case.locator("#case-pin").fill("000000")
    await case.locator("#lookup button").click()
    await expect(case.locator("#case-error")).to_contain_text("맞지 않습니다")
    await case.locator("#case-number").fill(number)
    await case.locator("#case-pin").fill(pin)
    await case.locator("#lookup button").click()
    summary = case.locator("#case-summary")
    await expect(summary).to_contain_text(number)
    await expect(summary).to_contain_text("상담원 연결을 기다리고")
    await case.locator("#link-text").fill("https://example.org/post/991")
    await case.locator("#link button").click()
    await expect(case.locator("#case-done")).to_contain_text("담당자가 이 링크를 확인")
    await expect(case.locator("#case-summary")).to_contain_text("링크 1개")
    assert await _on_screen(case, "#quick-exit")
    await case.screenshot(path=str(_shots(tmp_path) / "victim-phone-case-page.png"),
                          full_page=True)
    # Esc twice leaves the case page too, and its cookie goes.
    await case.keyboard.press("Escape")
    await case.keyboard.press("Escape")
    await case.wait_for_url(site.exit_url)
    # The wrong PIN's page is a 403 (the browser notes the status of a page it shows).
    assert [p for p in problems.seen if "status of 403" not in p] == []
    await ctx.close()
    await later.close()


def _pictures() -> dict[str, tuple[bytes, str]]:
    """Several pictures as a victim would pick them: screenshots (PNG), photos (JPEG at
    several qualities and sizes), a WebP."""
    rng = np.random.default_rng(17)
    base = Image.new("RGB", (640, 480), (235, 232, 225))
    draw = ImageDraw.Draw(base)
    for _ in range(40):
        x, y = int(rng.integers(0, 600)), int(rng.integers(0, 440))
        w, h = int(rng.integers(20, 200)), int(rng.integers(20, 160))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.ellipse if rng.integers(0, 2) else draw.rectangle)((x, y, x + w, y + h),
                                                                  fill=colour)
    noise = Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8), "RGB")
    photo = Image.blend(base.resize((1200, 900)), noise.resize((1200, 900)), 0.25).filter(
        ImageFilter.GaussianBlur(1.5))
    out: dict[str, tuple[bytes, str]] = {}

    def save(name: str, im: Image.Image, fmt: str, mime: str, **kw: Any) -> None:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        out[name] = (buf.getvalue(), mime)

    save("screenshot.png", base, "PNG", "image/png")
    save("small.png", base.resize((120, 90)), "PNG", "image/png")
    save("photo-q95.jpg", photo, "JPEG", "image/jpeg", quality=95)
    save("photo-q70.jpg", photo, "JPEG", "image/jpeg", quality=70)
    save("photo-small-q85.jpg", photo.resize((300, 225)), "JPEG", "image/jpeg", quality=85)
    save("shapes-q80.jpg", base, "JPEG", "image/jpeg", quality=80)
    save("photo.webp", photo, "WEBP", "image/webp", quality=80)
    return out


async def test_browser_pdq_and_sha256_equal_the_servers(browser: Browser, site: Site,
                                                        tmp_path: Path) -> None:
    problems = Problems()
    ctx = await _phone(browser, site)
    page = problems.watch(await ctx.new_page(), "victim")
    await page.goto("/chat?lang=ko")
    report = []
    for name, (data, mime) in _pictures().items():
        got = await page.evaluate("""async ([b64, mime]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const blob = new Blob([bytes], {type: mime});
            const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
            const sha = Array.from(digest, b => b.toString(16).padStart(2, "0")).join("");
            const pdq = await window.hotlinePdq.fromBlob(blob);
            return {sha: sha, hash: pdq.hash, quality: pdq.quality};
        }""", [base64.b64encode(data).decode(), mime])
        server = fingerprint(data, mime)
        assert got["sha"] == server.sha256 == hashlib.sha256(data).hexdigest()
        assert server.pdq is not None and server.pdq_quality is not None
        distance = pdq_scan.pdq_distance(got["hash"], server.pdq)
        report.append((name, distance, got["quality"], server.pdq_quality))
        if name.endswith(".png"):
            assert distance == 0, name
        assert distance <= MAX_PDQ_DISTANCE, (name, distance)
    print("pdq browser vs server (name, distance, browser quality, server quality):",
          report, "largest distance:", max(r[1] for r in report))
    (_shots(tmp_path) / "pdq-distances.txt").write_text(repr(report) + "\n")
    assert problems.seen == []
    await ctx.close()


async def test_evidence_form_sends_fingerprints_only(browser: Browser, site: Site,
                                                     tmp_path: Path) -> None:
    problems = Problems()
    ctx = await _phone(browser, site)
    page = problems.watch(await ctx.new_page(), "victim")
    await page.goto("/chat?lang=ko")
    await page.locator("#text").fill("이 사진이 올라왔어요")
    await page.locator("#composer button").click()
    await expect(page.locator("#messages li")).to_have_count(1)
    data, mime = _pictures()["photo-q95.jpg"]
    # Every request the page makes is seen: the picture's bytes must not be in any.
    bodies: list[bytes] = []
    page.on("request", lambda req: bodies.append(req.post_data_buffer or b""))
    await page.locator("#evidence summary").click()
    await page.locator("#ev-file").set_input_files(
        {"name": "캡처.jpg", "mimeType": mime, "buffer": data})
    await page.locator("#ev-where").fill("https://t.me/somechannel/123")
    await page.locator("#evidence-form button").click()
    result = page.locator("#evidence-result")
    await expect(result).to_contain_text("받았습니다")
    [row] = await rows(site.config, "evidence")
    server = fingerprint(data, mime)
    assert row["sha256"] == server.sha256 and row["pdq"] is not None
    assert server.pdq is not None
    assert pdq_scan.pdq_distance(row["pdq"], server.pdq) <= MAX_PDQ_DISTANCE
    assert await rows(site.config, "evidence_files") == []
    assert not any(data[:4096] in b for b in bodies)
    await page.screenshot(path=str(_shots(tmp_path) / "victim-phone-evidence.png"))
    assert problems.seen == []
    await ctx.close()
