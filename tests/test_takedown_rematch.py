"""New evidence against removed items, through the real evidence path (a Telegram photo to the
app, pdqhash on the server, the desk following the event stream): a resized copy of a removed
item's picture reopens the item as a re-upload (audited with the distance and thresholds); a
different picture changes nothing."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
from PIL import Image, ImageDraw

from hotline.domain.staff import Role
from hotline.evidence import service as evidence
from hotline.takedown import rematch
from tests import telegram_standin
from tests.conftest import wait_for
from tests.floor import audit, deps_of, staff
from tests.service_deps import open_deps
from tests.takedown_support import call
from tests.telegram_standin import TgEnv, table
from tests.test_telegram_media import _send_photo, picture

log_guard = telegram_standin.log_guard
standin = telegram_standin.standin
tg = telegram_standin.tg
pytestmark = pytest.mark.usefixtures("log_guard")


def other_picture() -> bytes:
    im = Image.new("RGB", (256, 256), (240, 240, 240))
    d = ImageDraw.Draw(im)
    for i in range(0, 256, 16):
        d.rectangle([i, 255 - i, i + 8, 255], fill=(30, i, 200))
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


async def _closed_item(tg: TgEnv) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Takedown staff, a victim's photo, and a closed item made from its fingerprint."""
    tk = await staff(tg.runner, "tk", role=Role.TAKEDOWN)
    first = await _send_photo(tg, "ph-1", picture())
    status, item = await call(tk, "POST", "/api/v1/takedown/items", {
        "kind": "intimate", "platform": "other", "location": "https://bad.example/v/1",
        "fingerprint": {"pdq": first["pdq"], "pdq_quality": first["pdq_quality"]}})
    assert status == 201, item
    status, _b = await call(tk, "POST", f"/api/v1/takedown/items/{item['id']}/status",
                            {"event": "close"})
    assert status == 200
    return tk, first, item


async def test_resized_copy_of_a_removed_item_reopens_it(tg: TgEnv) -> None:
    tk, first, item = await _closed_item(tg)
    # A different picture: nothing happens (its event is handled before the next one's).
    await _send_photo(tg, "ph-2", other_picture())
    _s, seen = await call(tk, "GET", f"/api/v1/takedown/items/{item['id']}")
    assert seen["status"] == "closed" and seen["reuploads"] == []
    # The same picture, resized and re-encoded: another file, a close PDQ hash.
    again = await _send_photo(tg, "ph-3", picture(size=180, fmt="JPEG", quality=70))
    assert again["sha256"] != first["sha256"]

    async def reopened() -> dict[str, Any] | None:
        _s, seen = await call(tk, "GET", f"/api/v1/takedown/items/{item['id']}")
        return seen if seen["status"] == "open" else None

    # The desk follows the event stream: the match lands a moment after the evidence.
    seen = await wait_for(reopened)
    assert [(r["via"], r["evidence"]) for r in seen["reuploads"]] == [("evidence", again["id"])]
    rows = await audit(tg.runner, "takedown.reupload", str(item["id"]))
    assert len(rows) == 1 and rows[0]["actor_id"] is None
    detail = rows[0]["detail"]
    assert detail["evidence"] == again["id"] and detail["distance"] <= detail["max_distance"]
    statuses = await audit(tg.runner, "takedown.item.status", str(item["id"]))
    assert [(s["detail"]["status"], s["detail"].get("via")) for s in statuses] == [
        ("closed", None), ("open", "evidence")]
    assert len(await table(tg.config, "takedown_reuploads")) == 1


def _near(pdq: str, bits: int) -> str:
    """The hash with its first `bits` bits flipped (distance `bits`)."""
    value = int(pdq, 16) ^ (((1 << bits) - 1) << 252)
    return f"{value:064x}"


async def test_evidence_whose_event_was_lost_is_matched_by_the_next_pass(tg: TgEnv) -> None:
    """The event stream is at most once (a Redis outage loses events): a piece recorded
    with nobody hearing of it is compared by the periodic pass, once; the item it was made
    from, and pieces older than the item, are never its re-uploads."""
    tk, first, item = await _closed_item(tg)
    deps = deps_of(tg.runner)
    # What was there before the item (its own picture) is no re-upload.
    assert await rematch.catch_up(deps) == []
    # A near copy recorded where no desk hears its event (another instance's stream).
    quiet = dataclasses.replace(tg.config, storage=dataclasses.replace(
        tg.config.storage, redis_prefix="elsewhere"))
    async with open_deps(quiet) as other:
        eid = await evidence.record(
            other, conversation_id=first["conversation_id"], message_seq=None, kind="photo",
            mime="image/jpeg", size_bytes=1000, sha256="ab" * 32,
            pdq=_near(first["pdq"], 3), pdq_quality=first["pdq_quality"])
    _s, seen = await call(tk, "GET", f"/api/v1/takedown/items/{item['id']}")
    assert seen["status"] == "closed"
    # The pass the job runs every minute: matched, paged once; the next pass finds nothing.
    assert await rematch.catch_up(deps) == [item["id"]]
    assert await rematch.catch_up(deps) == []
    _s, seen = await call(tk, "GET", f"/api/v1/takedown/items/{item['id']}")
    assert seen["status"] == "open"
    assert [(r["via"], r["evidence"]) for r in seen["reuploads"]] == [("evidence", eid)]
    rows = await audit(tg.runner, "takedown.reupload", str(item["id"]))
    assert [r["detail"]["evidence"] for r in rows] == [eid]
    marks = await table(tg.config, "takedown_marks")
    assert marks == [{"name": "rematch", "position": eid}]
