"""Evidence export on SQLite and PostgreSQL: the ZIP holds the manifest, SHA256SUMS and the
kept evidence file only with the victim's consent for the purpose; the same data gives the
same bytes; every export is audited, a refused one changes nothing."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotline.config import Config
from hotline.domain.staff import Role, Staff
from hotline.evidence import service as evidence
from hotline.takedown.desk import Desk
from hotline.takedown.export import export_item
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import audit, deps_of
from tests.takedown_support import (
    DESK_DETAILS,
    EXPLANATION,
    Floor,
    call,
    consent,
    floor,
    new_item,
    new_request,
    step,
)

FILE = b"\x89PNG\r\n\x1a\n" + b"evidence bytes for the test" * 10


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"}, takedown=DESK_DETAILS)


@pytest.fixture
async def desk_floor(app_runner: AppRunner) -> Floor:
    return await floor(app_runner)


async def _kept_evidence(f: Floor) -> int:
    deps = deps_of(f.runner)
    eid = await evidence.record(deps, conversation_id=f.case_id, message_seq=None,
                                kind="photo", mime="image/png", size_bytes=len(FILE),
                                sha256=hashlib.sha256(FILE).hexdigest(), pdq=None,
                                pdq_quality=None)
    assert await evidence.keep(deps, eid, FILE)
    return eid


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


async def test_export_needs_consent_and_carries_the_whole_record(desk_floor: Floor) -> None:
    f = desk_floor
    eid = await _kept_evidence(f)
    item = await new_item(f.tk, case_id=f.case_id, evidence_id=eid)
    assert item["fingerprint"]["sha256"] == hashlib.sha256(FILE).hexdigest()
    await consent(f.tk, item["id"])
    req = await new_request(f.tk, item["id"], fields=EXPLANATION)
    await step(f.tk, req["id"], "sent", ticket="TID-9")
    path = f"/api/v1/takedown/items/{item['id']}/export"
    status, data = await call(f.tk, "POST", path, {"purpose": "police"})
    assert status == 409 and data["code"] == "consent_required"
    assert await audit(f.runner, "takedown.exported") == []
    assert (await call(f.tk, "POST", path, {"purpose": "press"}))[1]["field"] == "purpose"
    assert (await call(f.counselor, "POST", path, {"purpose": "police"}))[0] == 404
    await consent(f.tk, item["id"], purpose="police")
    status, zipped = await call(f.tk, "POST", path, {"purpose": "police"})
    assert status == 200 and isinstance(zipped, bytes)
    files = _files(zipped)
    assert set(files) == {"SHA256SUMS", "manifest.json", f"evidence/{eid}.png"}
    assert files[f"evidence/{eid}.png"] == FILE
    sums = {name: digest for digest, name in (
        line.split("  ") for line in files["SHA256SUMS"].decode().splitlines())}
    assert sums == {n: hashlib.sha256(b).hexdigest() for n, b in files.items()
                    if n != "SHA256SUMS"}
    manifest = json.loads(files["manifest.json"])
    assert manifest["exported_by"] == f.tk.id and manifest["purpose"] == "police"
    assert manifest["item"]["id"] == item["id"]
    assert manifest["locations"][0]["url"].startswith("https://x.com/")
    assert [s["step"] for s in manifest["requests"][0]["steps"]] == ["sent"]
    assert EXPLANATION["explanation"] in manifest["requests"][0]["text"]
    assert {c["purpose"] for c in manifest["consents"]} == {"platform_report", "police"}
    assert manifest["evidence"][0]["file"] == f"evidence/{eid}.png"
    exported = await audit(f.runner, "takedown.exported", str(item["id"]))
    assert exported[0]["actor_id"] == f.tk.id
    assert exported[0]["detail"]["manifest_sha256"] == hashlib.sha256(
        files["manifest.json"]).hexdigest()
    assert exported[0]["detail"]["files"] == [f"evidence/{eid}.png"]
    assert exported[0]["detail"]["zip_sha256"] == hashlib.sha256(zipped).hexdigest()


async def test_same_data_same_bytes(desk_floor: Floor) -> None:
    f = desk_floor
    eid = await _kept_evidence(f)
    item = await new_item(f.tk, case_id=f.case_id, evidence_id=eid)
    await consent(f.tk, item["id"], purpose="partner")
    at = datetime(2026, 12, 5, 3, 0, 0, tzinfo=UTC)
    desk = Desk(f.desk.deps, f.desk.prompts, clock=lambda: at)
    staff = await _staff(f)
    first = await export_item(desk, staff, item["id"], {"purpose": "partner"})
    second = await export_item(desk, staff, item["id"], {"purpose": "partner"})
    assert first == second
    assert first[0] == f"takedown-item-{item['id']}-20261205T030000Z.zip"
    assert len(await audit(f.runner, "takedown.exported", str(item["id"]))) == 2


async def test_found_by_staff_needs_no_consent_and_keeps_no_file(desk_floor: Floor) -> None:
    f = desk_floor
    item = await new_item(f.tk, fingerprint={"sha256": "ab" * 32})
    status, zipped = await call(f.lead, "POST", f"/api/v1/takedown/items/{item['id']}/export",
                                {"purpose": "police"})
    assert status == 200
    files = _files(zipped)
    assert sorted(files) == ["SHA256SUMS", "manifest.json"]
    assert json.loads(files["manifest.json"])["item"]["fingerprint"]["sha256"] == "ab" * 32


async def _staff(f: Floor) -> Staff:
    return Staff(f.tk.id, f.tk.name, Role.TAKEDOWN, ("ko", "en"))
