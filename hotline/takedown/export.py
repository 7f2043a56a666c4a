"""Evidence export for police or legal counsel: one ZIP per item.

It holds `manifest.json` (the item, its locations and fingerprints, every request with its
text and timeline, the consent records, which evidence files are in it and why others are
not, who exported and when) and `SHA256SUMS` (the SHA-256 of every other file), plus the
kept evidence file only when the victim's consent covers the purpose. The same data, exporter
and time give the same bytes: entries in a fixed order with a fixed date, JSON with sorted
keys. Every export is audited with the manifest's hash. See docs/takedown.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hotline.audit import log as audit
from hotline.domain.staff import Staff
from hotline.domain.takedown import TakedownInputError
from hotline.evidence import service as evidence
from hotline.takedown import items as items_svc
from hotline.takedown import queries, views
from hotline.takedown.desk import Desk, DeskConflict

PURPOSES = ("police", "partner")
FORMAT = "hotline-takedown-export/1"
_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp",
        "application/pdf": "pdf", "video/mp4": "mp4"}


def _json(value: Any) -> bytes:
    return (json.dumps(value, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode()


def build_zip(files: Mapping[str, bytes], at: datetime) -> bytes:
    """The archive of `files` plus SHA256SUMS, byte for byte the same for the same input."""
    sums = "".join(f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in sorted(files))
    stamp = (max(at.year, 1980), at.month, at.day, at.hour, at.minute, at.second)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in [*sorted(files.items()), ("SHA256SUMS", sums.encode())]:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            z.writestr(info, data)
    return out.getvalue()


async def export_item(desk: Desk, staff: Staff, item_id: int, body: Mapping[str, object]
                      ) -> tuple[str, bytes]:
    """The file name and the ZIP of an item for `{purpose: police|partner}`; DeskConflict
    consent_required when the victim has not consented to that purpose."""
    items_svc.require_desk(staff)
    unknown = set(body) - {"purpose"}
    if unknown:
        raise TakedownInputError(sorted(unknown)[0], "unknown field")
    purpose = body.get("purpose")
    if purpose not in PURPOSES:
        raise TakedownInputError("purpose", f"expected one of {', '.join(PURPOSES)}")
    now = desk.clock()
    async with desk.deps.engine.connect() as conn:
        item = await items_svc.load_item(desk, conn, staff, item_id)
        consent = await items_svc.consent_of(conn, item)
        if items_svc.needs_consent(item) and not consent.covers(str(purpose)):
            raise DeskConflict("consent_required", f"the victim has not consented to "
                                                   f"sharing with {purpose}")
        item_view = await views.item_json(desk, conn, staff, item)
        reqs = (await queries.requests_of(conn, [item.id]))[item.id]
        requests = [await views.request_json(desk, conn, r, item) for r in reqs]
    files: dict[str, bytes] = {}
    kept = []
    if item.evidence_id is not None:
        ev = await evidence.get(desk.deps, item.evidence_id)
        data = await evidence.original(desk.deps, item.evidence_id) if ev and ev.kept else None
        entry: dict[str, Any] = {"id": item.evidence_id, "file": None,
                                 "sha256": ev.sha256 if ev else None}
        if data is None or ev is None:
            entry["left_out"] = "not_kept"
        elif items_svc.needs_consent(item) and ev.consent != evidence.KEPT:
            entry["left_out"] = "no_consent"
        else:
            name = f"evidence/{ev.id}.{_EXT.get(ev.mime, 'bin')}"
            files[name] = data
            entry.update(file=name, mime=ev.mime, size_bytes=len(data))
        kept.append(entry)
    manifest = {
        "format": FORMAT, "purpose": purpose, "exported_by": staff.id,
        "exported_at": now.isoformat(), "item": {k: v for k, v in item_view.items()
                                                 if k not in ("requests", "locations",
                                                              "consents")},
        "locations": item_view["locations"], "consents": item_view.get("consents", []),
        "requests": [{k: v for k, v in r.items() if k != "fields"} for r in requests],
        "evidence": kept,
    }
    files["manifest.json"] = _json(manifest)
    data = build_zip(files, now)
    digest = hashlib.sha256(files["manifest.json"]).hexdigest()
    async with desk.deps.engine.begin() as conn:
        await audit.record(conn, at=now, actor_id=staff.id, action="takedown.exported",
                           target_kind="takedown_item", target_id=str(item.id),
                           purpose=purpose, manifest_sha256=digest,
                           files=sorted(n for n in files if n != "manifest.json"),
                           zip_sha256=hashlib.sha256(data).hexdigest())
    return f"takedown-item-{item.id}-{now:%Y%m%dT%H%M%SZ}.zip", data


__all__ = ["PURPOSES", "build_zip", "export_item"]
