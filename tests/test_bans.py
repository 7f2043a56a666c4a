"""The ban list over the real app (both databases, real Redis, real sockets from distinct
loopback addresses): a lead bans the sender of a web chat case, or the address it came from,
without seeing either; the banned chat's next message gets the calm answer and nothing new is
stored or announced; another address is unaffected; bans are listed without pseudonyms or
addresses, lifted, audited, and end at their time. Bad input is a 400 naming the field and
changes nothing; only leads and admins may ban."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hotline.cases import conversations as convs
from hotline.cases import inbox
from hotline.cases.tables import messages
from hotline.domain.conversation import Channel
from hotline.domain.staff import Role
from hotline.limits.tables import bans
from hotline.prompts import Prompts
from tests.conftest import AppRunner, wait_for
from tests.flood_support import Address, Chat, Reply
from tests.floor import Staffer, audit, deps_of, staff, stream_events
from tests.helpers import row_counts
from tests.service_deps import inbound

CALM = Prompts().render("en", "flood_calm")


def _until(seconds: float = 3600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def _ban(lead: Staffer, **body: Any) -> Any:
    body.setdefault("reason", "flooding")
    body.setdefault("expires_at", _until())
    return await lead.post("/api/v1/bans", body)


async def _listed(lead: Staffer) -> list[dict[str, Any]]:
    resp = await lead.client.get("/api/v1/bans")
    assert resp.status == 200, await resp.text()
    found: list[dict[str, Any]] = (await resp.json())["bans"]
    return found


async def _messages(runner: AppRunner) -> int:
    async with deps_of(runner).engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(messages)))
                   .scalar_one())


async def _case_of(runner: AppRunner, chat: Chat) -> str:
    deps = deps_of(runner)
    pseudonym = deps.keyring.pseudonymize(Channel.WEBCHAT.value, chat.cookie.partition(".")[0])
    async with deps.engine.connect() as conn:
        conv = await convs.latest_for(conn, Channel.WEBCHAT, pseudonym)
    assert conv is not None
    return conv.id


def _refused(r: Reply) -> None:
    assert r.status == 429, (r.status, r.body)
    assert r.body["text"] == CALM


async def test_ban_the_sender_of_a_case_then_lift_it(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lena", Role.LEAD)
    here = Address(app_runner, "127.0.0.20")
    try:
        chat, neighbour = await here.open_chat(), await here.open_chat()
        assert isinstance(chat, Chat) and isinstance(neighbour, Chat)
        assert (await here.send(chat, "hello, please help")).status == 201
        cid = await _case_of(app_runner, chat)

        resp = await _ban(lead, case=cid, reason="abuse_of_staff")
        assert resp.status == 201, await resp.text()
        ban = (await resp.json())["ban"]
        assert ban["kind"] == "sender" and ban["channel"] == "webchat" and ban["case"] == cid
        assert ban["created_by"] == lead.id and ban["reason"] == "abuse_of_staff"
        # Neither the pseudonym nor anything of the address is shown.
        listed = await _listed(lead)
        assert listed == [ban]
        # The list names who made each ban (the lead page has no directory of every account).
        names = (await (await lead.client.get("/api/v1/bans")).json())["names"]
        assert names == {str(lead.id): "lena"}
        assert "subject" not in ban and "pseudonym" not in str(listed)

        before, events_before = await _messages(app_runner), len(await stream_events(app_runner))
        _refused(await here.send(chat, "you will regret this"))
        _refused(await here.send(chat, "and this"))
        assert await _messages(app_runner) == before  # nothing stored
        # Staff see nothing new (the router's own alerts about the waiting case may come).
        assert [e for e in (await stream_events(app_runner))[events_before:]
                if e.get("conversation") == cid
                and e["type"] in ("queued", "message", "urgency")] == []
        # Another chat from the same address is not this sender.
        assert (await here.send(neighbour, "I need help too")).status == 201

        resp = await lead.client.delete(f"/api/v1/bans/{ban['id']}",
                                        headers={"X-CSRF-Token": lead.csrf})
        assert resp.status == 200, await resp.text()
        assert await _listed(lead) == []
        assert (await here.send(chat, "sorry, I am back")).status == 201
        added, lifted = await audit(app_runner, "ban.added"), await audit(app_runner,
                                                                           "ban.lifted")
        assert [(a["actor_id"], a["target_id"], a["detail"]["case"], a["detail"]["reason"])
                for a in added] == [(lead.id, str(ban["id"]), cid, "abuse_of_staff")]
        assert [(a["actor_id"], a["target_id"]) for a in lifted] == [(lead.id, str(ban["id"]))]
    finally:
        await here.close()


async def test_ban_the_address_a_case_came_from(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lena", Role.LEAD)
    flood, other = Address(app_runner, "127.0.0.21"), Address(app_runner, "127.0.0.22")
    try:
        chat, second = await flood.open_chat(), await flood.open_chat()
        assert isinstance(chat, Chat) and isinstance(second, Chat)
        assert (await flood.send(chat, "spam spam spam")).status == 201
        cid = await _case_of(app_runner, chat)
        resp = await _ban(lead, case=cid, scope="address", reason="spam")
        assert resp.status == 201, await resp.text()
        assert (await resp.json())["ban"]["kind"] == "address"

        # Every chat from that address, old or new, gets the calm answer; nothing is stored.
        before = await _messages(app_runner)
        _refused(await flood.send(second, "more spam"))
        page = await flood.open_chat()
        assert isinstance(page, Reply) and page.status == 429 and CALM in page.body
        assert await _messages(app_runner) == before
        # Another address is served.
        assert (await other.victim("please help me")).status == 201
    finally:
        await flood.close()
        await other.close()


async def test_ban_an_address_or_a_pseudonym_given_directly(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lena", Role.LEAD)
    deps = deps_of(app_runner)
    a, b = Address(app_runner, "127.0.0.23"), Address(app_runner, "127.0.0.24")
    try:
        chat = await b.open_chat()
        assert isinstance(chat, Chat)
        assert (await _ban(lead, address="127.0.0.23")).status == 201
        pseudonym = deps.keyring.pseudonymize("webchat", chat.cookie.partition(".")[0])
        resp = await _ban(lead, pseudonym=pseudonym, channel="webchat")
        assert resp.status == 201, await resp.text()
        assert isinstance(await a.open_chat(), Reply)
        _refused(await b.send(chat, "hello"))
        # Stored as keyed tags: neither the address nor the chat token is in the table.
        async with deps.engine.connect() as conn:
            subjects = [r.subject for r in await conn.execute(select(bans.c.subject))]
        assert "127.0.0.23" not in str(subjects) and chat.cookie not in str(subjects)
    finally:
        await a.close()
        await b.close()


async def test_bans_end_at_their_time(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lena", Role.LEAD)
    here = Address(app_runner, "127.0.0.25")
    try:
        assert (await _ban(lead, address="127.0.0.25", expires_at=_until(1.5))).status == 201
        assert isinstance(await here.open_chat(), Reply)

        async def served() -> bool:
            return isinstance(await here.open_chat(), Chat)

        await wait_for(served, timeout=5)
        assert await _listed(lead) == []
    finally:
        await here.close()


@pytest.mark.parametrize(("body", "field"), [
    ({"case": "0" * 32, "reason": "because"}, "reason"),
    ({"case": "0" * 32, "expires_at": "tomorrow"}, "expires_at"),
    ({"case": "0" * 32, "expires_at": "2020-01-01T00:00:00+00:00"}, "expires_at"),
    ({"case": "0" * 32, "expires_at": _until(400 * 86400)}, "expires_at"),
    ({"case": "0" * 32, "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
    ({"case": "0" * 32, "scope": "planet"}, "scope"),
    ({"case": 7}, "case"),
    ({"address": "not-an-address"}, "address"),
    ({"address": "10.0.0.1", "case": "0" * 32}, "address"),
    ({}, "case"),
    ({"pseudonym": "ABC"}, "pseudonym"),
    ({"pseudonym": "a" * 64, "channel": "pigeon"}, "channel"),
])
async def test_bad_input_is_a_400_naming_the_field(app_runner: AppRunner,
                                                   body: dict[str, Any], field: str) -> None:
    lead = await staff(app_runner, "lena", Role.LEAD)
    before = await row_counts(app_runner.config)
    resp = await _ban(lead, **body)
    assert resp.status == 400, await resp.text()
    data = await resp.json()
    assert data["field"] == field and field in data["error"]
    assert await row_counts(app_runner.config) == before


async def test_who_may_ban(app_runner: AppRunner) -> None:
    counselor = await staff(app_runner, "mina")
    admin = await staff(app_runner, "ada", Role.ADMIN)
    lead = await staff(app_runner, "lena", Role.LEAD)
    # A role without the right gets the policy's 404, as for a missing record.
    assert (await _ban(counselor, address="10.0.0.1")).status == 404
    assert (await counselor.client.get("/api/v1/bans")).status == 404
    anonymous = await app_runner.client()
    assert (await anonymous.get("/api/v1/bans")).status == 401
    # Without the CSRF token the session's browser cannot be made to ban.
    resp = await lead.client.post("/api/v1/bans", json={
        "address": "10.0.0.1", "reason": "spam", "expires_at": _until()})
    assert resp.status == 403
    assert (await _ban(admin, address="10.0.0.1")).status == 201
    assert (await _ban(lead, case="f" * 32)).status == 404
    resp = await lead.client.delete("/api/v1/bans/999", headers={"X-CSRF-Token": lead.csrf})
    assert resp.status == 404
    page = await lead.client.get("/console/lead")
    assert page.status == 200 and 'id="bans"' in await page.text()


async def test_the_address_of_a_case_from_another_channel_is_not_known(
        app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "lena", Role.LEAD)
    stored = await inbox.receive(deps_of(app_runner), inbound())
    resp = await _ban(lead, case=stored.conversation_id, scope="address")
    assert resp.status == 409 and (await resp.json())["field"] == "scope"
    resp = await _ban(lead, case=stored.conversation_id)
    assert resp.status == 201 and (await resp.json())["ban"]["channel"] == "sms"


async def test_another_instance_picks_up_a_ban_by_its_event(app_runner: AppRunner) -> None:
    """A second app on the same stores (another instance) refuses the banned chat at once."""
    second = AppRunner(app_runner.config)
    await second.start()
    lead = await staff(app_runner, "lena", Role.LEAD)
    here = Address(second, "127.0.0.26")
    try:
        assert isinstance(await here.open_chat(), Chat)
        assert (await _ban(lead, address="127.0.0.26")).status == 201

        async def refused() -> bool:
            return isinstance(await here.open_chat(), Reply)

        # Well before the 30 s fallback reload: the "bans" event carried it.
        await wait_for(refused, timeout=5)
    finally:
        await here.close()
        await second.stop()
