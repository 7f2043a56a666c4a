"""Photos and documents as evidence: fingerprints stored, the file kept only with consent
(sealed), size and type limits with a clear reply, PDQ matches across cases, and the console's
blurred preview with an audited, one-time reveal of the original."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image, ImageDraw

from hotline.domain.staff import Role
from hotline.evidence import service as evidence
from tests import telegram_standin
from tests.helpers import Counselor, add_staff
from tests.service_deps import open_deps
from tests.telegram_standin import (
    CHAT,
    TgEnv,
    Updates,
    stored_anywhere,
    table,
)

# The Telegram fixtures (a module-level name is how pytest finds them).
log_guard = telegram_standin.log_guard
standin = telegram_standin.standin
tg = telegram_standin.tg

# Every test's logs are scanned for the victim's id, name, text and our secrets.
pytestmark = pytest.mark.usefixtures("log_guard")

CAPTION = "Okapi-3371 it is in https://t.me/example_channel/42"


def picture(size: int = 256, fmt: str = "PNG", quality: int = 90) -> bytes:
    """A structured test image (lines, shapes): high PDQ quality, robust to resizing."""
    im = Image.new("RGB", (256, 256))
    d = ImageDraw.Draw(im)
    for i in range(0, 256, 8):
        d.line([(i, 0), (256 - i, 256)], fill=(i, (2 * i) % 256, 255 - i), width=3)
    d.ellipse([64, 64, 192, 192], fill=(200, 30, 60))
    d.rectangle([10, 10, 85, 51], fill=(20, 200, 90))
    if size != 256:
        im = im.resize((size, size))
    out = io.BytesIO()
    im.save(out, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return out.getvalue()


async def _send_photo(tg: TgEnv, file_id: str, data: bytes, victim: Updates | None = None,
                      caption: str | None = None) -> dict[str, Any]:
    tg.api.add_file(file_id, data)
    await tg.send((victim or tg.victim).photo(file_id, len(data), caption=caption))
    return max(await table(tg.config, "evidence"), key=lambda e: int(e["id"]))


async def test_photo_fingerprinted_and_not_kept_without_consent(
        tg: TgEnv, log_guard: dict[str, str]) -> None:
    log_guard.update(caption="Okapi-3371", channel="example_channel")
    png = picture()
    ev = await _send_photo(tg, "ph-1", png, caption=CAPTION)
    assert ev["sha256"] == hashlib.sha256(png).hexdigest()
    assert len(ev["pdq"]) == 64 and ev["pdq_quality"] == 100
    assert ev["kind"] == "photo" and ev["consent"] == "pending"
    assert await table(tg.config, "evidence_files") == []
    # The caption is the message and the location note: both sealed, never in the clear.
    assert await stored_anywhere(tg.config, "example_channel") == []

    mid, buttons = tg.markup_of("We received it")
    assert f"ev:p:{ev['id']}:telegram" in buttons
    await tg.send(tg.victim.press(f"ev:p:{ev['id']}:telegram", mid))
    assert (await table(tg.config, "evidence"))[0]["platform"] == "telegram"
    mid, buttons = tg.markup_of("May we keep an encrypted copy")
    assert buttons == [f"ev:k:{ev['id']}:yes", f"ev:k:{ev['id']}:no"]
    await tg.send(tg.victim.press(f"ev:k:{ev['id']}:no", mid))
    assert (await table(tg.config, "evidence"))[0]["consent"] == "declined"
    assert await table(tg.config, "evidence_files") == []
    assert len(tg.api.of("getFile")) == 1, "the file was fetched again without consent"
    # A later "yes" on the old question changes nothing.
    await tg.send(tg.victim.press(f"ev:k:{ev['id']}:yes", mid))
    assert await table(tg.config, "evidence_files") == []


async def test_kept_with_consent_blurred_preview_and_audited_reveal(tg: TgEnv) -> None:
    png = picture()
    ev = await _send_photo(tg, "ph-2", png)
    mid, _ = tg.markup_of("We received it")
    await tg.send(tg.victim.press(f"ev:p:{ev['id']}:x", mid))
    mid, _ = tg.markup_of("May we keep an encrypted copy")
    await tg.send(tg.victim.press(f"ev:k:{ev['id']}:yes", mid))
    [row] = await table(tg.config, "evidence")
    assert row["consent"] == "kept" and row["purge_at"] is not None
    [kept] = await table(tg.config, "evidence_files")
    assert png not in kept["blob_sealed"], "the file must be stored sealed"

    await add_staff(tg.config, "mina")
    await add_staff(tg.config, "other")
    counselor = Counselor(await tg.runner.client())
    assert await counselor.login("mina") == 303
    cid = await counselor.take_next()
    listing = await counselor.client.get(f"/api/v1/cases/{cid}/evidence")
    [item] = (await listing.json())["evidence"]
    assert item["kept"] and item["image"] and item["platform"] == "x"

    preview = await counselor.client.get(f"/api/v1/evidence/{ev['id']}/preview")
    assert preview.status == 200 and preview.content_type == "image/jpeg"
    blurred = Image.open(io.BytesIO(await preview.read()))
    assert max(blurred.size) <= 320
    assert (await preview.read()) != png

    base = f"/api/v1/evidence/{ev['id']}"
    assert (await counselor.client.get(f"{base}/original")).status == 403
    reveal = await counselor.post(f"{base}/reveal")
    assert reveal.status == 200
    url = (await reveal.json())["url"]
    original = await counselor.client.get(url)
    assert original.status == 200 and await original.read() == png
    assert original.headers["Cache-Control"] == "no-store"
    assert (await counselor.client.get(url)).status == 403, "a reveal link works once"
    revealed = [a for a in await table(tg.config, "audit_events")
                if a["action"] == "evidence.revealed"]
    assert len(revealed) == 1 and revealed[0]["target_id"] == cid

    # Someone who does not hold the case sees nothing, exactly as for a missing one.
    stranger = Counselor(await tg.runner.client())
    assert await stranger.login("other") == 303
    assert (await stranger.client.get(f"{base}/preview")).status == 404
    assert (await stranger.post(f"{base}/reveal")).status == 404
    assert (await stranger.client.get("/api/v1/evidence/99999/preview")).status == 404

    # Retention: after evidence_days the file goes, the fingerprints stay.
    async with open_deps(tg.config) as deps:
        later = datetime.now(UTC) + timedelta(days=tg.config.telegram.evidence_days, hours=1)
        assert await evidence.purge_due(deps, later) == 1
    assert await table(tg.config, "evidence_files") == []
    [row] = await table(tg.config, "evidence")
    assert row["consent"] == "expired" and row["sha256"] == hashlib.sha256(png).hexdigest()
    assert (await counselor.client.get(f"{base}/preview")).status == 404


async def test_same_picture_from_two_victims_matches_by_pdq(tg: TgEnv) -> None:
    first = await _send_photo(tg, "ph-a", picture())
    other = Updates(chat=7301239999, name="Other-Person", username="other_person_1")
    second = await _send_photo(tg, "ph-b", picture(180, "JPEG", 70), victim=other)
    assert first["sha256"] != second["sha256"]
    await add_staff(tg.config, "lead1", role=Role.LEAD)
    lead = Counselor(await tg.runner.client())
    assert await lead.login("lead1") == 303
    resp = await lead.client.get(f"/api/v1/cases/{second['conversation_id']}/evidence")
    data = await resp.json()
    [item] = data["evidence"]
    [match] = item["matches"]
    assert match["evidence"] == first["id"]
    assert match["distance"] <= data["pdq"]["max_distance"] == 31


async def test_size_and_type_limits_have_a_clear_reply(tg: TgEnv) -> None:
    too_big = tg.config.telegram.max_file_mb * 1024 * 1024 + 1
    await tg.send(tg.victim.photo("huge", too_big))
    assert "too large" in tg.api.texts_to(CHAT)[-1]
    assert "20 MB" in tg.api.texts_to(CHAT)[-1]
    await tg.send(tg.victim.document("exe", 2048, "application/x-msdownload"))
    assert "cannot accept this kind of file" in tg.api.texts_to(CHAT)[-1]
    assert tg.api.of("getFile") == []
    assert await table(tg.config, "evidence") == []

    pdf = b"%PDF-1.4 a statement"
    tg.api.add_file("pdf-1", pdf)
    await tg.send(tg.victim.document("pdf-1", len(pdf), "application/pdf"))
    [ev] = await table(tg.config, "evidence")
    assert ev["kind"] == "document" and ev["pdq"] is None
    assert ev["sha256"] == hashlib.sha256(pdf).hexdigest()
