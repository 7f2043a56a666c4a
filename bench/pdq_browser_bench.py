"""How long a phone-sized Chromium takes to fingerprint a victim's picture (static/pdq.js and
WebCrypto SHA-256), beside the server's pdqhash and hashlib on the same pictures (the baseline
from the same run). No server: the script is loaded into a blank page.

    .venv/bin/python bench/pdq_browser_bench.py [--repeat 3]

Prints, per picture size, the browser's median milliseconds (decode + PDQ, and SHA-256) and
the server's (Pillow decode + pdqhash, and hashlib), and the Hamming distance between the two
PDQ hashes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import io
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from playwright.async_api import async_playwright

from hotline.channels.telegram.media import fingerprint
from hotline.evidence.pdq_scan import pdq_distance

SCRIPT = (Path(__file__).resolve().parent.parent / "hotline" / "static" / "pdq.js").read_text()
SIZES = [(640, 480), (1600, 1200), (4000, 3000)]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _photo(w: int, h: int) -> bytes:
    rng = np.random.default_rng(w)
    small = Image.fromarray(rng.integers(0, 255, (h // 20, w // 20, 3), dtype=np.uint8), "RGB")
    im = small.resize((w, h), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


async def main(repeat: int) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        # A loopback origin (answered here, nothing listens): a secure context, as WebCrypto
        # needs; about:blank is not one.
        await page.route("http://127.0.0.1/bench", lambda route: route.fulfill(
            status=200, content_type="text/html",
            body=f"<!doctype html><title>bench</title><script>{SCRIPT}</script>"))
        await page.goto("http://127.0.0.1/bench")
        print("size        browser pdq ms  browser sha ms  server pdq ms  server sha ms  dist")
        for w, h in SIZES:
            data = _photo(w, h)
            got = await page.evaluate("""async ([b64, n]) => {
                const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                const blob = new Blob([bytes], {type: "image/jpeg"});
                const pdq = [], sha = [];
                let hash = "";
                for (let i = 0; i < n; i++) {
                    let t = performance.now();
                    hash = (await window.hotlinePdq.fromBlob(blob)).hash;
                    pdq.push(performance.now() - t);
                    t = performance.now();
                    await crypto.subtle.digest("SHA-256", bytes);
                    sha.push(performance.now() - t);
                }
                return {pdq, sha, hash};
            }""", [base64.b64encode(data).decode(), repeat])
            server_pdq, server_sha = [], []
            for _ in range(repeat):
                t = time.perf_counter()
                fp = fingerprint(data, "image/jpeg")
                server_pdq.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                hashlib.sha256(data).hexdigest()
                server_sha.append((time.perf_counter() - t) * 1000)
            assert fp.pdq is not None
            print(f"{w}x{h:<6} {statistics.median(got['pdq']):14.0f} "
                  f"{statistics.median(got['sha']):15.1f} {statistics.median(server_pdq):14.0f} "
                  f"{statistics.median(server_sha):14.1f} {pdq_distance(got['hash'], fp.pdq):5d}")
        await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(parser.parse_args().repeat))
