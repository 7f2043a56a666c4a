"""What each staff member's console stream carries: the cases that person may read (the one
read rule, domain.policy.may_read_case), that the queue moved (type only) for the rest, and
for leads and admins everything. Table-tested per role and event type on the pure policy,
then over the real app with real streams, on both databases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hotline.domain.policy import HEARD_WITHOUT_READING, event_for, event_form
from hotline.domain.staff import Role, Staff
from tests.conftest import AppRunner
from tests.floor import deps_of, hold_jobs
from tests.helpers import Counselor, Victim, add_staff
from tests.test_sse import SSE

ME, OTHER = 7, 9

EVENTS: dict[str, dict[str, Any]] = {
    "queued": {"type": "queued", "conversation": "c", "language": "ko", "channel": "webchat",
               "urgency": "critical", "reasons": ["self_harm"]},
    "assigned": {"type": "assigned", "conversation": "c", "counselor": OTHER, "previous": 3,
                 "reason": "workload"},
    "closed": {"type": "closed", "conversation": "c", "counselor": OTHER},
    "urgency": {"type": "urgency", "conversation": "c", "urgency": "high",
                "reasons": ["content_spreading"]},
    "language": {"type": "language", "conversation": "c", "language": "en"},
    "handover": {"type": "handover", "conversation": "c", "from": OTHER, "to_queue": True},
    "offered to another": {"type": "offered", "conversation": "c", "counselor": OTHER,
                           "deadline_ms": 1, "urgency": "high"},
    "offered to me": {"type": "offered", "conversation": "c", "counselor": ME,
                      "deadline_ms": 1, "urgency": "high"},
    "offer.expired for me": {"type": "offer.expired", "conversation": "c", "counselor": ME,
                             "misses": 1},
    "message": {"type": "message", "conversation": "c", "seq": 2, "direction": "in"},
    "alert": {"type": "alert", "alert": 1, "conversation": "c", "kind": "takedown",
              "reasons": ["content_spreading"], "step": 0, "target": OTHER, "leads": False},
    "alert.acked": {"type": "alert.acked", "alert": 1, "conversation": "c", "by": OTHER},
    "evidence": {"type": "evidence", "conversation": "c", "evidence": 4},
    "delivery": {"type": "delivery", "conversation": "c", "seq": 3, "delivery": "sent",
                 "error": None},
    "handover.planned": {"type": "handover.planned", "conversation": "c", "counselor": OTHER,
                         "to": None},
    "victim.left": {"type": "victim.left", "conversation": "c", "counselor": OTHER},
    "erased": {"type": "erased", "conversation": "c"},
    "call.bridging": {"type": "call.bridging", "conversation": "c", "counselor": OTHER},
    "sms.optout": {"type": "sms.optout", "conversation": "c"},
    "a new kind about a case": {"type": "future", "conversation": "c"},
    "my presence": {"type": "presence", "counselor": ME, "status": "available"},
    "another's presence": {"type": "presence", "counselor": OTHER, "status": "break"},
    "roster": {"type": "roster", "counselor": OTHER},
    "reset": {"type": "reset"},
    "queue.page": {"type": "queue.page", "frame": b"event: queue.page\ndata: {}\n\n"},
    "coverage": {"type": "coverage", "language": "ko", "channel": "sms", "state": "gap"},
    "lead.attention": {"type": "lead.attention", "reason": "presence_lost", "counselor": OTHER,
                       "conversations": ["c"]},
    "callback": {"type": "callback", "callback": 5, "state": "scheduled"},
    "a new kind about no case": {"type": "future"},
    "session.revoked": {"type": "session.revoked", "counselor": ME, "session": None},
    "chat.ended": {"type": "chat.ended", "chat": "ref"},
}

ALL, TYPE, NOTHING = "all", "type only", "nothing"
# For counselors and takedown staff: what they get when they may read the case, and when not.
# (Whether they may read it is the read rule's answer, tested with it in test_routing_api.)
CASE_STAFF: dict[str, tuple[str, str]] = {
    **{k: (ALL, TYPE) for k in ("queued", "assigned", "closed", "urgency", "language",
                                "handover", "offered to another")},
    **{k: (ALL, ALL) for k in ("offered to me", "offer.expired for me", "my presence",
                               "roster", "reset", "queue.page")},
    **{k: (ALL, NOTHING) for k in ("message", "alert", "alert.acked", "evidence", "delivery",
                                   "handover.planned", "victim.left", "erased",
                                   "call.bridging", "sms.optout", "a new kind about a case")},
    **{k: (NOTHING, NOTHING) for k in ("another's presence", "coverage", "lead.attention",
                                       "callback", "a new kind about no case",
                                       "session.revoked", "chat.ended")},
}


def _what(got: dict[str, Any] | None, event: dict[str, Any]) -> str:
    if got is None:
        return NOTHING
    if got == event:
        return ALL
    assert got == {"type": event["type"], "id": event["id"]}, got
    return TYPE


def _staff(role: Role) -> Staff:
    return Staff(id=ME, name="x", role=role, languages=("ko",))


def test_the_table_covers_every_event() -> None:
    assert set(CASE_STAFF) == set(EVENTS)


@pytest.mark.parametrize("role", [Role.COUNSELOR, Role.TAKEDOWN])
@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_what_case_staff_hear(role: Role, kind: str) -> None:
    event = {**EVENTS[kind], "id": "1700000000000-1"}
    readable, not_readable = CASE_STAFF[kind]
    assert _what(event_for(_staff(role), event, may_read=True), event) == readable
    assert _what(event_for(_staff(role), event, may_read=False), event) == not_readable


@pytest.mark.parametrize("role", [Role.COUNSELOR, Role.TAKEDOWN])
@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_the_quick_test_never_drops_what_case_staff_may_hear(role: Role, kind: str) -> None:
    # Streams drop an event on a case they may not read when its kind is not in
    # HEARD_WITHOUT_READING, without asking event_form: it must agree.
    event = {**EVENTS[kind], "id": "1700000000000-1"}
    if event["type"] not in HEARD_WITHOUT_READING:
        assert event_form(_staff(role), event, may_read=False) is None


@pytest.mark.parametrize("role", [Role.LEAD, Role.ADMIN])
@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_what_leads_and_admins_hear(role: Role, kind: str) -> None:
    event = {**EVENTS[kind], "id": "1700000000000-1"}
    internal = kind in ("session.revoked", "chat.ended")
    for may_read in (True, False):
        assert _what(event_for(_staff(role), event, may_read), event) == (
            NOTHING if internal else ALL)


# --- over the real app --------------------------------------------------------------------------


def _cases(events: list[dict[str, Any]]) -> set[str]:
    """The case ids a stream's events name, anywhere in them."""
    return {e["data"]["conversation"] for e in events if "conversation" in e["data"]}


async def test_each_role_hears_what_it_may_read(app_runner: AppRunner) -> None:
    deps = deps_of(app_runner)
    await hold_jobs(deps, "router")  # no offers: the test decides who holds what
    cfg = app_runner.config
    ids = {name: await add_staff(cfg, name, role) for name, role in (
        ("mina", Role.COUNSELOR), ("jun", Role.COUNSELOR), ("tara", Role.TAKEDOWN),
        ("lee", Role.LEAD))}
    people = {name: Counselor(await app_runner.client()) for name in ids}
    streams: dict[str, SSE] = {}
    for name, who in people.items():
        assert await who.login(name) == 303
        streams[name] = SSE(await who.client.get("/api/v1/events"))

    # c1: waiting, then mina's; c2: waiting, flagged as spreading (a takedown alert).
    first, second = Victim(await app_runner.client()), Victim(await app_runner.client())
    for victim in (first, second):
        await victim.open()
    assert (await first.send("I need help")).status == 201
    c1 = await people["mina"].take_next()
    assert (await first.send("thank you")).status == 201
    assert (await second.send("my pictures are out there")).status == 201
    c2 = await _waiting_case(people["lee"])
    resp = await people["lee"].post(f"/api/v1/cases/{c2}/flag-spreading")
    assert resp.status == 200, await resp.text()
    assert (await second.send("they are on a channel")).status == 201
    resp = await people["lee"].post(f"/api/v1/cases/{c1}/urgency",
                                    {"urgency": "high", "reason": "new_information"})
    assert resp.status == 200, await resp.text()
    await deps.publish({"type": "roster", "counselor": ids["lee"]})  # the end marker

    seen: dict[str, list[dict[str, Any]]] = {}
    for name, s in streams.items():
        await s.until(lambda e: e["type"] == "roster")
        seen[name] = s.seen
        s.resp.close()

    # mina holds c1: all of it, and that the queue moved for c2.
    assert _cases(seen["mina"]) == {c1}
    assert {"message", "urgency", "assigned"} <= {e["type"] for e in seen["mina"]
                                                  if e["data"].get("conversation") == c1}
    # jun holds nothing: only that the queue moved (no case, holder, urgency or reasons).
    assert _cases(seen["jun"]) == set()
    assert {e["type"] for e in seen["jun"]} >= {"queued", "assigned", "urgency"}
    for e in seen["jun"]:
        assert set(e["data"]) <= {"type", "id"} or e["type"] in ("presence", "roster"), e
        if e["type"] == "presence":
            assert e["data"]["counselor"] == ids["jun"]
    # tara reads c2 once it raised a takedown alert: the alert and what follows.
    assert _cases(seen["tara"]) == {c2}
    assert any(e["type"] == "alert" and e["data"]["kind"] == "takedown"
               for e in seen["tara"])
    assert any(e["type"] == "message" and e["data"]["conversation"] == c2
               and e["data"]["seq"] == 2 for e in seen["tara"])
    # The lead hears everything, reasons and holders included.
    assert _cases(seen["lee"]) == {c1, c2}
    assert any(e["type"] == "urgency" and e["data"].get("reasons") for e in seen["lee"])
    # Counselors never hear of alerts, messages or reasons of cases they may not read.
    for name in ("mina", "jun"):
        text = json.dumps([e["data"] for e in seen[name] if e["data"].get("conversation") != c1])
        assert "reasons" not in text and "alert" not in text and '"message"' not in text


async def _waiting_case(lead: Counselor) -> str:
    resp = await lead.client.get("/api/v1/queue")
    waiting = (await resp.json())["waiting"]
    assert len(waiting) == 1, waiting
    cid: str = waiting[0]["id"]
    return cid


async def test_streams_follow_a_case_to_its_new_holder(app_runner: AppRunner) -> None:
    """Whose a case is changes while the streams are open: a reassignment moves its events
    from one counselor's stream to the other's, and a requeue stops them for both."""
    deps = deps_of(app_runner)
    await hold_jobs(deps, "router")
    cfg = app_runner.config
    ids = {name: await add_staff(cfg, name, role) for name, role in (
        ("mina", Role.COUNSELOR), ("jun", Role.COUNSELOR), ("lee", Role.LEAD))}
    people = {name: Counselor(await app_runner.client()) for name in ids}
    for name, who in people.items():
        assert await who.login(name) == 303
    streams = {name: SSE(await people[name].client.get("/api/v1/events"))
               for name in ("mina", "jun")}
    victim = Victim(await app_runner.client())
    await victim.open()
    assert (await victim.send("one")).status == 201
    cid = await people["mina"].take_next()

    async def said(seq: int) -> dict[str, list[int]]:
        """Which streams carried message `seq` (read up to an end marker)."""
        marker = await deps.publish({"type": "roster", "counselor": seq})
        out: dict[str, list[int]] = {}
        for name, s in streams.items():
            start = len(s.seen)
            await s.until(lambda e: e["id"] == marker)
            out[name] = [e["data"]["seq"] for e in s.seen[start:] if e["type"] == "message"]
        return out

    assert (await victim.send("two")).status == 201
    assert await said(2) == {"mina": [2], "jun": []}
    resp = await people["lee"].post(f"/api/v1/cases/{cid}/reassign", {
        "counselor_id": ids["jun"], "reason": "workload", "override_capacity": True})
    assert resp.status == 200, await resp.text()
    assert (await victim.send("three")).status == 201
    assert await said(3) == {"mina": [], "jun": [3]}
    resp = await people["lee"].post(f"/api/v1/cases/{cid}/requeue", {"reason": "other"})
    assert resp.status == 200, await resp.text()
    assert (await victim.send("four")).status == 201
    assert await said(4) == {"mina": [], "jun": []}
    for s in streams.values():
        s.resp.close()


async def test_a_stream_carries_only_the_kinds_its_page_listens_for(app_runner: AppRunner
                                                                    ) -> None:
    """`?types=` (what H.events sends: the kinds the page has handlers for) narrows a stream,
    live and replayed: the lead's page takes no victims' messages, which were most of its
    stream on a busy floor. What is left out is still followed: a counselor whose page does
    not listen for `assigned` still hears the messages of the case she was given."""
    deps = deps_of(app_runner)
    await hold_jobs(deps, "router")
    cfg = app_runner.config
    ids = {name: await add_staff(cfg, name, role) for name, role in (
        ("mina", Role.COUNSELOR), ("lee", Role.LEAD))}
    people = {name: Counselor(await app_runner.client()) for name in ids}
    for name, who in people.items():
        assert await who.login(name) == 303
    # A bad kind is a 400 naming the field, and opens no stream.
    resp = await people["lee"].client.get("/api/v1/events?types=queued,nonsense")
    assert resp.status == 400
    assert (await resp.json())["field"] == "types"
    lead_all = SSE(await people["lee"].client.get("/api/v1/events"))
    lead_page = SSE(await people["lee"].client.get("/api/v1/events?types=queued,roster"))
    mina = SSE(await people["mina"].client.get("/api/v1/events?types=message,roster"))
    victim = Victim(await app_runner.client())
    await victim.open()
    assert (await victim.send("one")).status == 201
    cid = await _waiting_case(people["lee"])
    resp = await people["lee"].post(f"/api/v1/cases/{cid}/reassign", {
        "counselor_id": ids["mina"], "reason": "workload", "override_capacity": True})
    assert resp.status == 200, await resp.text()
    assert (await victim.send("two")).status == 201
    marker = await deps.publish({"type": "roster", "counselor": ids["lee"]})
    for s in (lead_all, lead_page, mina):
        await s.until(lambda e: e["id"] == marker)
        s.resp.close()
    assert {"queued", "message", "assigned"} <= {e["type"] for e in lead_all.seen}
    assert {e["type"] for e in lead_page.seen} == {"queued", "roster"}
    assert [e["data"]["seq"] for e in mina.seen if e["type"] == "message"] == [2]
    assert {e["type"] for e in mina.seen} == {"message", "roster"}
    # A replay from the case's `queued` is narrowed the same way. (Not from the first event
    # seen: a login's `presence`, published before the stream opened, may still reach it.)
    first = next(e["id"] for e in lead_all.seen if e["type"] == "queued")
    replay = SSE(await people["lee"].client.get(
        "/api/v1/events?types=queued,roster", headers={"Last-Event-ID": first}))
    await replay.until(lambda e: e["id"] == marker)
    replay.resp.close()
    assert {e["type"] for e in replay.seen} == {"roster"}


async def test_the_client_cursor_keeps_up_with_what_the_stream_leaves_out(
        app_runner: AppRunner) -> None:
    """A stream leaves out most events; after a write that empties its queue it also sends
    an `id:` with no data, so the page's Last-Event-ID is the log's, not that of the last
    event it was sent: a reconnect replays nothing it left out, and loses nothing."""
    deps = deps_of(app_runner)
    await hold_jobs(deps, "router")
    await add_staff(app_runner.config, "lee", Role.LEAD)
    lee = Counselor(await app_runner.client())
    assert await lee.login("lee") == 303
    page = "/api/v1/events?types=queued,roster"
    stream = SSE(await lee.client.get(page))
    victim = Victim(await app_runner.client())
    await victim.open()
    # A new case's `queued` and first `message` are appended together: the stream sends the
    # one, and then the id of the other as its cursor.
    assert (await victim.send("one")).status == 201
    newest: Any = await deps.redis.xrevrange(deps.keys.events, count=1)
    message_id = str(newest[0][0])
    got = await stream.until_cursor(message_id)
    assert [e["type"] for e in got] == ["queued"]
    assert got[0]["id"] != message_id
    stream.resp.close()
    # Reconnecting from there replays nothing, and what comes next arrives.
    again = SSE(await lee.client.get(page, headers={"Last-Event-ID": stream.last_id}))
    marker = await deps.publish({"type": "roster", "counselor": 1})
    await again.until(lambda e: e["id"] == marker)
    again.resp.close()
    assert [e["type"] for e in again.seen] == ["roster"]
