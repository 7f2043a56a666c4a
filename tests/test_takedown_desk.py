"""The takedown desk over the real app on SQLite and PostgreSQL: items from a case and from
an alert, locations (Telegram links parsed), requests drafted with the legal basis's fields,
every staff step through the state machine (409 and nothing changed when impossible), consent
gating, who may do what (404 for the rest), and the audit of every decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hotline.config import Config
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.floor import audit
from tests.helpers import row_counts
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


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"}, takedown=DESK_DETAILS)


@pytest.fixture
async def desk_floor(app_runner: AppRunner) -> Floor:
    return await floor(app_runner)


def _ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


async def test_platform_directory_is_public_to_the_desk(desk_floor: Floor) -> None:
    f = desk_floor
    status, data = await call(f.tk, "GET", "/api/v1/takedown/platforms")
    assert status == 200
    codes = [p["code"] for p in data]
    assert {"telegram", "x", "meta", "youtube", "search_engine", "adult_site",
            "other"} <= set(codes)
    x = next(p for p in data if p["code"] == "x")
    tid = next(r for r in x["routes"] if r["code"] == "take_it_down")
    assert tid["legal_basis"] == "take_it_down_us" and tid["deadline_hours"] == 48
    assert "signature" in tid["required_fields"]
    assert (await call(f.counselor, "GET", "/api/v1/takedown/platforms"))[0] == 200
    assert (await call(f.admin, "GET", "/api/v1/takedown/platforms"))[0] == 404


@pytest.mark.parametrize(("link", "channel", "message_id"), [
    ("https://t.me/SomeChannel/123", "somechannel", 123),
    ("t.me/c/123456/7", "123456", 7),
    ("https://t.me/+AbCdEf123", None, None),
])
async def test_item_from_a_telegram_link(desk_floor: Floor, link: str, channel: str | None,
                                         message_id: int | None) -> None:
    item = await new_item(desk_floor.tk, platform="telegram", location=link)
    assert item["status"] == "open" and item["reporter"] == "staff"
    loc = item["locations"][0]
    assert loc["platform"] == "telegram"
    assert loc["channel"] == channel and loc["message_id"] == message_id


async def test_url_is_normalized_and_one_location_per_url(desk_floor: Floor) -> None:
    f = desk_floor
    item = await new_item(f.tk)
    assert item["locations"][0]["url"] == "https://x.com/someone/status/1790000000000000001"
    status, again = await call(f.tk, "POST", f"/api/v1/takedown/items/{item['id']}/locations",
                               {"platform": "x", "location":
                                "HTTPS://X.COM/someone/status/1790000000000000001?t=abc"})
    assert status == 200 and len(again["locations"]) == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "nude", "platform": "x", "location": "https://x.com/a/status/1"}, "kind"),
    ({"kind": "synthetic", "platform": "myspace", "location": "https://x.com/a"}, "platform"),
    ({"kind": "synthetic", "platform": "x", "location": "ftp://x.com/a"}, "location"),
    ({"kind": "synthetic", "platform": "x", "location": "https://t.me/name/5"}, "platform"),
    ({"kind": "synthetic", "platform": "x"}, "location"),
    ({"kind": "synthetic", "platform": "x", "location": "https://x.com/a", "minor": "yes"},
     "minor"),
    ({"kind": "synthetic", "platform": "x", "location": "https://x.com/a", "secret": 1},
     "secret"),
])
async def test_bad_item_is_400_naming_the_field_and_changes_nothing(
        desk_floor: Floor, config: Config, body: dict[str, Any], field: str) -> None:
    before = await row_counts(config)
    status, data = await call(desk_floor.tk, "POST", "/api/v1/takedown/items", body)
    assert status == 400 and data["field"] == field, data
    assert await row_counts(config) == before


async def test_item_from_alert_in_one_call_acknowledges_it(desk_floor: Floor) -> None:
    f = desk_floor
    item = await new_item(f.tk, case_id=f.case_id, alert_id=f.alert_id)
    assert item["case_id"] == f.case_id and item["reporter"] == "victim"
    status, open_alerts = await call(f.tk, "GET", "/api/v1/alerts")
    assert status == 200
    # The floor's list keeps an alert acknowledged a moment ago, with who did it.
    assert [a["acked_by"] for a in open_alerts["alerts"] if a["id"] == f.alert_id] in (
        [], [f.tk.id])
    created = await audit(f.runner, "takedown.item.created", str(item["id"]))
    assert created[0]["actor_id"] == f.tk.id
    assert created[0]["detail"]["alert"] == f.alert_id
    assert created[0]["detail"]["case"] == f.case_id


async def test_who_may_do_what(desk_floor: Floor) -> None:
    f = desk_floor
    # A counselor creates an item from the case they hold and sees its state...
    mine = await new_item(f.counselor, case_id=f.case_id)
    status, seen = await call(f.counselor, "GET", f"/api/v1/takedown/items/{mine['id']}")
    assert status == 200 and seen["status"] == "open" and "consents" not in seen
    status, listed = await call(f.counselor, "GET", "/api/v1/takedown/items")
    assert [i["id"] for i in listed["items"]] == [mine["id"]]
    # ...but cannot find content proactively, draft, or read requests.
    proactive = {"kind": "synthetic", "platform": "x", "location": "https://x.com/a"}
    assert (await call(f.counselor, "POST", "/api/v1/takedown/items", proactive))[0] == 404
    assert (await call(f.counselor, "POST", f"/api/v1/takedown/items/{mine['id']}/requests",
                       {"platform": "x", "route": "take_it_down"}))[0] == 404
    req = await new_request(f.tk, mine["id"])
    assert (await call(f.counselor, "GET", f"/api/v1/takedown/requests/{req['id']}"))[0] == 404
    # Another counselor, and an admin, see nothing at all: 404 as if it did not exist.
    for who in (f.other_counselor, f.admin):
        assert (await call(who, "GET", f"/api/v1/takedown/items/{mine['id']}"))[0] == 404
        assert (await call(who, "POST", "/api/v1/takedown/items",
                           {**proactive, "case_id": f.case_id}))[0] == 404
        assert (await call(who, "GET", "/api/v1/takedown/worklist"))[0] == 404
    assert (await call(f.admin, "GET", "/api/v1/takedown/items"))[0] == 404
    # The lead acts like takedown staff.
    assert (await call(f.lead, "GET", f"/api/v1/takedown/requests/{req['id']}"))[0] == 200


async def test_request_text_holds_every_field_of_its_legal_basis(desk_floor: Floor) -> None:
    f = desk_floor
    item = await new_item(f.tk, case_id=f.case_id)
    draft = await new_request(f.tk, item["id"])
    assert draft["state"] == "draft" and draft["due_at"] is None
    assert draft["missing_fields"] == ["explanation"]
    assert DESK_DETAILS["signature"] in draft["text"]
    assert "https://x.com/someone/status/1790000000000000001" in draft["text"]
    status, edited = await call(f.tk, "POST", f"/api/v1/takedown/requests/{draft['id']}/fields",
                                {"fields": EXPLANATION})
    assert status == 200 and edited["missing_fields"] == []
    assert EXPLANATION["explanation"] in edited["text"]
    # The Korean regulator's request is in Korean by default, with its own fields.
    kr = await new_request(f.tk, item["id"], route="kcsc", fields=EXPLANATION)
    assert kr["language"] == "ko" and kr["legal_basis"] == "kr_regulator"
    assert kr["missing_fields"] == [] and "신고인" in kr["text"]
    assert DESK_DETAILS["requester"] in kr["text"]
    # A field the basis does not know, or the URLs (they come from the locations): 400.
    for fields, name in (({"urls": "x"}, "fields.urls"), ({"colour": "x"}, "fields.colour")):
        status, data = await call(f.tk, "POST",
                                  f"/api/v1/takedown/requests/{draft['id']}/fields",
                                  {"fields": fields})
        assert status == 400 and data["field"] == name


async def test_missing_field_blocks_sending(desk_floor: Floor) -> None:
    f = desk_floor
    item = await new_item(f.tk)
    draft = await new_request(f.tk, item["id"])
    status, data = await step(f.tk, draft["id"], "sent")
    assert status == 409 and data["code"] == "missing_fields"
    assert (await call(f.tk, "GET", f"/api/v1/takedown/requests/{draft['id']}"))[1][
        "state"] == "draft"


async def test_consent_gates_sending(desk_floor: Floor, config: Config) -> None:
    f = desk_floor
    item = await new_item(f.tk, case_id=f.case_id)
    draft = await new_request(f.tk, item["id"], fields=EXPLANATION)
    before = await row_counts(config)
    status, data = await step(f.tk, draft["id"], "sent")
    assert status == 409 and data["code"] == "consent_required"
    assert await row_counts(config) == before
    await consent(f.tk, item["id"], given=False)
    assert (await step(f.tk, draft["id"], "sent"))[1]["code"] == "consent_required"
    await consent(f.tk, item["id"], given=True)
    status, sent = await step(f.tk, draft["id"], "sent", ticket="TID-1")
    assert status == 200 and sent["state"] == "sent" and sent["ticket"] == "TID-1"
    records = await audit(f.runner, "takedown.consent", str(item["id"]))
    assert [r["detail"]["given"] for r in records] == [False, True]
    assert records[0]["detail"]["purpose"] == "platform_report"


async def test_every_staff_step_and_its_audit(desk_floor: Floor) -> None:
    f = desk_floor
    item = await new_item(f.tk)  # found by staff: no victim to ask
    req = await new_request(f.tk, item["id"], fields=EXPLANATION)
    rid = req["id"]
    # Removed before it was sent: 409, nothing changes.
    status, data = await step(f.tk, rid, "removed")
    assert status == 409 and data["code"] == "not_from_state"
    sent_at = _ago(3)
    status, sent = await step(f.tk, rid, "sent", at=sent_at)
    assert sent["state"] == "sent"
    assert datetime.fromisoformat(sent["due_at"]) == (
        datetime.fromisoformat(sent_at) + timedelta(hours=48))
    status, data = await step(f.tk, rid, "acknowledged", at=_ago(4))
    assert status == 409 and data["code"] == "at_before_previous"
    status, data = await step(f.tk, rid, "acknowledged",
                              at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    assert status == 409 and data["code"] == "at_in_future"
    for name, state in (("acknowledged", "acknowledged"), ("info_requested", "info_requested"),
                        ("sent", "sent"), ("refused", "refused"),
                        ("partially_removed", "partially_removed"), ("removed", "removed")):
        status, after = await step(f.tk, rid, name, ticket=f"T-{name}", reason="checked")
        assert status == 200 and after["state"] == state, after
    assert after["attempt"] == 2
    assert [s["step"] for s in after["steps"]] == [
        "sent", "acknowledged", "info_requested", "sent", "refused", "partially_removed",
        "removed"]
    assert after["steps"][0]["at"] == datetime.fromisoformat(sent_at).astimezone(
        UTC).isoformat()
    assert after["steps"][0]["recorded_at"] != after["steps"][0]["at"]
    # The platform's word is not our check: verified is the system's step.
    status, data = await step(f.tk, rid, "verified")
    assert status == 400 and data["field"] == "step"
    steps = await audit(f.runner, "takedown.step", str(rid))
    assert len(steps) == 7 and steps[0]["detail"]["happened_at"] == sent_at.replace(
        "+00:00", "+00:00")
    assert all(s["actor_id"] == f.tk.id for s in steps)


async def test_bad_step_bodies_are_400(desk_floor: Floor) -> None:
    f = desk_floor
    item = await new_item(f.tk)
    req = await new_request(f.tk, item["id"], fields=EXPLANATION)
    for body, field in (({"step": "sent", "at": "yesterday"}, "at"),
                        ({"step": "sent", "at": "2026-05-20T09:30:00"}, "at"),
                        ({"step": "sent", "ticket": "a\nb"}, "ticket"),
                        ({"step": "gone"}, "step")):
        status, data = await call(f.tk, "POST", f"/api/v1/takedown/requests/{req['id']}/steps",
                                  body)
        assert status == 400 and data["field"] == field, (body, data)
    assert (await call(f.tk, "GET", "/api/v1/takedown/requests/999999"))[0] == 404
    assert (await call(f.tk, "GET", "/api/v1/takedown/requests/abc"))[0] == 404


async def test_overdue_shows_without_the_job_and_escalation_is_one_click(
        desk_floor: Floor) -> None:
    f = desk_floor
    item = await new_item(f.tk)
    req = await new_request(f.tk, item["id"], fields=EXPLANATION)
    await step(f.tk, req["id"], "sent", at=_ago(49))
    status, seen = await call(f.tk, "GET", f"/api/v1/takedown/requests/{req['id']}")
    assert seen["state"] == "sent" and seen["overdue"] is True
    assert seen["next_rung"] == "copyright"
    status, nxt = await call(f.tk, "POST", f"/api/v1/takedown/requests/{req['id']}/escalate")
    assert status == 201 and nxt["route"] == "copyright" and nxt["rung"] == 1
    assert nxt["parent_id"] == req["id"]
    assert (await call(f.tk, "POST",
                       f"/api/v1/takedown/requests/{req['id']}/escalate"))[1]["code"] == \
        "already_escalated"
    fields = {**EXPLANATION, "work_identification": "Her own photograph, 2024"}
    await call(f.tk, "POST", f"/api/v1/takedown/requests/{nxt['id']}/fields",
               {"fields": fields})
    status, sent = await step(f.tk, nxt["id"], "sent")
    assert status == 200, sent
    status, old = await call(f.tk, "GET", f"/api/v1/takedown/requests/{req['id']}")
    assert old["state"] == "escalated"
    assert [s["step"] for s in old["steps"]] == ["sent", "overdue", "escalated"]
    # Not escalatable: a draft.
    other = await new_request(f.tk, item["id"], fields=EXPLANATION)
    status, data = await call(f.tk, "POST",
                              f"/api/v1/takedown/requests/{other['id']}/escalate")
    assert status == 409 and data["code"] == "not_escalatable"


async def test_item_status_and_lists(desk_floor: Floor) -> None:
    f = desk_floor
    item = await new_item(f.tk, platform="telegram", location="https://t.me/chan_name/9")
    status, data = await call(f.tk, "POST", f"/api/v1/takedown/items/{item['id']}/status",
                              {"event": "monitor"})
    assert status == 409 and data["code"] == "item_event"
    status, closed = await call(f.tk, "POST", f"/api/v1/takedown/items/{item['id']}/status",
                                {"event": "close"})
    assert closed["status"] == "closed"
    status, again = await call(f.tk, "POST", f"/api/v1/takedown/items/{item['id']}/locations",
                               {"platform": "telegram", "location": "t.me/chan_name/10"})
    assert status == 201 and again["status"] == "open"  # reappeared
    status, listed = await call(f.tk, "GET", "/api/v1/takedown/items?platform=telegram")
    assert [i["id"] for i in listed["items"]] == [item["id"]]
    assert (await call(f.tk, "GET", "/api/v1/takedown/items?state=nope"))[1]["field"] == \
        "state"
    status, work = await call(f.tk, "GET", "/api/v1/takedown/worklist")
    assert status == 200 and work["worklist"][0]["item"] == item["id"]
