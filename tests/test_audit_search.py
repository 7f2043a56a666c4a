"""The audit trail, readable, over the real app (SQLite and PostgreSQL): what is now audited
(logins and refused ones, the evidence list, the blurred preview, exports), the search by
person, case, action and time with pages, the CSV export (itself audited), the lead's floor
scope, and finding a closed case by number or day."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.evidence import service as evidence
from hotline.victim import casecode
from tests.conftest import AppRunner
from tests.floor import audit, deps_of
from tests.helpers import Counselor
from tests.takedown_support import Floor, call, floor
from tests.test_telegram_media import picture


@pytest.fixture
async def desk_floor(app_runner: AppRunner) -> Floor:
    return await floor(app_runner)


async def _refused_login(f: Floor, name: str) -> int:
    stranger = Counselor(await f.runner.client())
    return await stranger.login(name, "not-the-password-at-all")


async def test_what_is_audited_now(desk_floor: Floor) -> None:
    f = desk_floor
    logins = await audit(f.runner, "staff.login")
    assert {e["actor_id"] for e in logins} >= {f.tk.id, f.lead.id, f.counselor.id, f.admin.id}
    assert await _refused_login(f, "co") == 401
    assert await _refused_login(f, "nobody-of-that-name") == 401
    refused = await audit(f.runner, "staff.login_failed")
    assert [(e["target_id"], e["detail"]) for e in refused] == [
        (str(f.counselor.id), {"reason": "wrong"}), ("unknown", {"reason": "wrong"})]
    # Nothing typed is in the record: not the name, not the password, not an address.
    for e in refused:
        assert "nobody" not in str(e) and "not-the-password" not in str(e)
        assert "127.0.0.1" not in str(e)
    deps = deps_of(f.runner)
    eid = await evidence.record(deps, conversation_id=f.case_id, message_seq=None,
                                kind="photo", mime="image/png", size_bytes=10, sha256="0" * 64,
                                pdq=None, pdq_quality=None, location="a note")
    assert await evidence.keep(deps, eid, picture())
    status, _listed = await call(f.counselor, "GET", f"/api/v1/cases/{f.case_id}/evidence")
    assert status == 200
    status, _jpeg = await call(f.counselor, "GET", f"/api/v1/evidence/{eid}/preview")
    assert status == 200
    listed = await audit(f.runner, "evidence.listed", f.case_id)
    assert [(e["actor_id"], e["detail"]["evidence"]) for e in listed] == [
        (f.counselor.id, [eid])]
    seen = await audit(f.runner, "evidence.previewed", f.case_id)
    assert [(e["actor_id"], e["detail"]["evidence"]) for e in seen] == [(f.counselor.id, eid)]


async def test_search_pages_and_csv(desk_floor: Floor) -> None:
    f = desk_floor
    await call(f.counselor, "GET", f"/api/v1/cases/{f.case_id}/evidence")
    await call(f.counselor, "GET", f"/api/v1/cases/{f.case_id}/evidence")
    status, found = await call(f.admin, "GET", f"/api/v1/audit?actor={f.counselor.id}"
                                                "&action=evidence.listed")
    assert status == 200
    assert [e["action"] for e in found["events"]] == ["evidence.listed"] * 2
    assert found["events"][0]["actor_name"] == "co" and found["next"] is None
    assert found["events"][0]["id"] > found["events"][1]["id"]  # newest first
    _s, first = await call(f.admin, "GET", f"/api/v1/audit?case={f.case_id}&limit=1")
    _s, second = await call(f.admin, "GET",
                            f"/api/v1/audit?case={f.case_id}&limit=1&before={first['next']}")
    assert first["next"] == first["events"][0]["id"]
    assert second["events"][0]["id"] < first["events"][0]["id"]
    assert all(e["target_id"] == f.case_id for e in first["events"] + second["events"])
    _s, staff_events = await call(f.admin, "GET", "/api/v1/audit?action=staff.&limit=500")
    assert {e["action"] for e in staff_events["events"]} == {"staff.login"}
    today = datetime.now(UTC).date()
    _s, in_range = await call(f.admin, "GET", f"/api/v1/audit?from={today}&to={today}")
    _s, before = await call(f.admin, "GET",
                            f"/api/v1/audit?to={today - timedelta(days=1)}")
    assert in_range["events"] and before["events"] == []
    # The lead: the floor's records only (cases, the desk), never logins or accounts.
    _s, lead_view = await call(f.lead, "GET", "/api/v1/audit?limit=500")
    kinds = {e["target_kind"] for e in lead_view["events"]}
    assert "conversation" in kinds and "counselor" not in kinds
    _s, lead_logins = await call(f.lead, "GET", "/api/v1/audit?action=staff.login")
    assert lead_logins["events"] == []
    for who in (f.counselor, f.tk):
        assert (await call(who, "GET", "/api/v1/audit"))[0] == 404
        assert (await call(who, "GET", "/api/v1/audit.csv"))[0] == 404
    for query, field in (("actor=x", "actor"), ("limit=501", "limit"), ("from=2026-13-01",
                         "from"), ("action=DROP TABLE", "action"), ("case=a%20b", "case"),
                         ("from=2026-12-02&to=2026-12-01", "to"), ("x=1", "x"),
                         ("to=2026-12-01T00:00:00", "to")):
        status, body = await call(f.admin, "GET", f"/api/v1/audit?{query}")
        assert (status, body["field"]) == (400, field), query
    # CSV: the same search, a header, a quote before a would-be formula; the export audited.
    resp = await f.admin.client.get("/api/v1/audit.csv?action=evidence.listed")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    assert rows[0] == ["id", "at", "actor_id", "action", "target_kind", "target_id", "detail"]
    assert [r[3] for r in rows[1:]] == ["evidence.listed"] * 2
    exported = await audit(f.runner, "audit.exported")
    assert [(e["actor_id"], e["detail"]["rows"], e["detail"]["filter"]["action"])
            for e in exported] == [(f.admin.id, 2, "evidence.listed")]
    # The page: the search form, the results, the CSV link; a bad field is a 400 page.
    status, page = await call(f.lead, "GET", f"/console/audit?case={f.case_id}")
    assert status == 200 and b"evidence.listed" in page and b"/api/v1/audit.csv" in page
    # Times in the centre's zone (roster.timezone), the target's kind in words.
    text = page.decode()
    assert re.search(r"<time datetime=\"[^\"]+\">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d KST</time>",
                     text), text
    assert f"상담 건 {f.case_id}" in text or f"case {f.case_id}" in text
    assert (await call(f.lead, "GET", "/console/audit?actor=x"))[0] == 400
    assert (await call(f.counselor, "GET", "/console/audit"))[0] in (403, 404)


async def test_a_closed_case_by_number_or_day(desk_floor: Floor) -> None:
    f = desk_floor
    deps = deps_of(f.runner)
    issued = await casecode.issue(deps, f.case_id)
    resp = await f.counselor.close(f.case_id)
    assert resp.status == 200, await resp.text()
    number = issued.case_number
    for who in (f.lead, f.admin, f.counselor):
        status, found = await call(who, "GET", f"/api/v1/case-search?number={number.lower()}")
        assert status == 200, found
        assert [c["id"] for c in found["cases"]] == [f.case_id]
        assert found["cases"][0]["status"] == "closed"
    # Another counselor may not read it: as for an open case, nothing is found.
    _s, other = await call(f.other_counselor, "GET", f"/api/v1/case-search?number={number}")
    assert other == {"cases": []}
    day = datetime.now(ZoneInfo(deps.config.roster.timezone)).date()
    _s, by_day = await call(f.lead, "GET", f"/api/v1/case-search?date={day}")
    assert f.case_id in [c["id"] for c in by_day["cases"]]
    _s, other_day = await call(f.lead, "GET",
                               f"/api/v1/case-search?date={day - timedelta(days=2)}")
    assert other_day == {"cases": []}
    searched = await audit(f.runner, "case.searched")
    assert searched[0]["actor_id"] == f.lead.id and searched[0]["detail"]["found"] == [
        f.case_id]
    for query, field in (("", "number"), ("number=x", "number"), ("date=2026-02-30", "date"),
                         ("number=HL-AAAA-AAAA&date=2026-12-01", "number"), ("y=1", "y")):
        status, body = await call(f.lead, "GET", f"/api/v1/case-search?{query}")
        assert (status, body["field"]) == (400, field), query
    status, page = await call(f.lead, "GET", f"/console/audit?number={number}")
    assert status == 200 and f"/console/cases/{f.case_id}".encode() in page
