"""Staff administration over the real app, on both databases: an admin adds someone (who sets
a password from a one-time link), edits every field, deactivates (sessions end, held cases go
back to the queue, history stays) and reactivates, issues password links (the latest works,
once, until it expires), lists and ends sessions; a person changes their own password and their
other sessions end. Bad input answers 400 naming the field and changes nothing. Every change
is in the audit log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from hotline.domain.staff import Role
from hotline.staff.tables import password_resets
from hotline.stores.sql.engine import open_engine
from tests.conftest import AppRunner
from tests.floor import deps_of
from tests.helpers import PASSWORD, Counselor, Victim, add_staff, row_counts
from tests.staff_support import audit_rows

NEW_PASSWORD = "a long new passphrase 42"
_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


async def _admin(app: AppRunner) -> Counselor:
    await add_staff(app.config, "root", Role.ADMIN)
    admin = Counselor(await app.client())
    assert await admin.login("root") == 303
    return admin


async def _use_link(app: AppRunner, link: str, password: str, repeat: str | None = None
                    ) -> Any:
    path = link.split("127.0.0.1:8080", 1)[1]
    client = await app.client()
    form = await client.get(path)
    if form.status != 200:
        return form
    m = _CSRF_FIELD.search(await form.text())
    assert m
    return await client.post(path, allow_redirects=False, data={
        "password": password, "repeat": password if repeat is None else repeat,
        "csrf": m.group(1)})


async def _staff(admin: Counselor) -> dict[str, dict[str, Any]]:
    resp = await admin.client.get("/api/v1/staff")
    assert resp.status == 200
    return {m["name"]: m for m in (await resp.json())["staff"]}


async def test_add_with_a_password_link_and_edit_every_field(app_runner: AppRunner) -> None:
    cfg = app_runner.config
    admin = await _admin(app_runner)
    before = await row_counts(cfg)
    for body, field in (
            ({"name": "mina", "languages": ["ko"]}, "role"),
            ({"name": "mina", "role": "boss", "languages": ["ko"]}, "role"),
            ({"name": "mi na", "role": "counselor", "languages": ["ko"]}, "name"),
            ({"name": "mina", "role": "counselor", "languages": ["xx"]}, "languages"),
            ({"name": "mina", "role": "counselor", "languages": []}, "languages"),
            ({"name": "mina", "role": "counselor", "languages": ["ko"], "channels": ["fax"]},
             "channels"),
            ({"name": "mina", "role": "counselor", "languages": ["ko"], "max_chats": 0},
             "max_chats"),
            ({"name": "mina", "role": "counselor", "languages": ["ko"],
              "specialisms": ["magic"]}, "specialisms"),
            ({"name": "root", "role": "counselor", "languages": ["ko"]}, "name")):
        resp = await admin.post("/api/v1/staff", body)
        assert resp.status == 400, (body, await resp.text())
        assert (await resp.json())["field"] == field
    assert await row_counts(cfg) == before

    resp = await admin.post("/api/v1/staff", {
        "name": "mina", "role": "counselor", "languages": ["ko"], "channels": ["webchat", "sms"],
        "specialisms": ["minors"], "max_chats": 2})
    assert resp.status == 201, await resp.text()
    made = await resp.json()
    mina_id = made["id"]
    listed = (await _staff(admin))["mina"]
    assert listed | {"last_login_at": None} == {
        "id": mina_id, "name": "mina", "role": "counselor", "active": True,
        "languages": ["ko"], "channels": ["webchat", "sms"], "specialisms": ["minors"],
        "max_chats": 2, "two_factor": False, "last_login_at": None, "deactivated_at": None}
    # She cannot log in before choosing a password through the link.
    assert await Counselor(await app_runner.client()).login("mina") == 401
    assert (await _use_link(app_runner, made["reset_link"], NEW_PASSWORD, "other")).status == 400
    assert (await _use_link(app_runner, made["reset_link"], "short")).status == 400
    done = await _use_link(app_runner, made["reset_link"], NEW_PASSWORD)
    assert done.status == 303 and done.headers["Location"] == "/console/login"
    assert (await _use_link(app_runner, made["reset_link"], NEW_PASSWORD)).status == 404
    mina = Counselor(await app_runner.client())
    assert await mina.login("mina", NEW_PASSWORD) == 303

    # Edit each field; bad values change nothing.
    bad_edits: list[tuple[dict[str, Any], str]] = [
        ({"max_chats": 11}, "max_chats"), ({"role": "boss"}, "role"),
        ({"password_hash": "x"}, "password_hash"), ({}, "fields")]
    for body, field in bad_edits:
        resp = await admin.post(f"/api/v1/staff/{mina_id}", body)
        assert resp.status == 400 and (await resp.json())["field"] == field
    assert (await admin.post("/api/v1/staff/999999", {"max_chats": 3})).status == 404
    resp = await admin.post(f"/api/v1/staff/{mina_id}", {
        "role": "takedown", "languages": ["ko", "en"], "channels": ["telegram"],
        "specialisms": ["sextortion", "minors"], "max_chats": 4})
    assert resp.status == 200, await resp.text()
    listed = (await _staff(admin))["mina"]
    assert (listed["role"], listed["languages"], listed["channels"], listed["specialisms"],
            listed["max_chats"]) == ("takedown", ["ko", "en"], ["telegram"],
                                     ["sextortion", "minors"], 4)
    assert listed["last_login_at"] is not None
    # Routing sees the new skills at once.
    states = {a.id: a for a in await deps_of(app_runner).live.staff_states()}
    assert states[mina_id].max_chats == 4
    assert states[mina_id].skills == frozenset({"sextortion", "minors"})
    assert states[mina_id].channels == frozenset({"telegram"})
    # The role change holds on her next request.
    me = await (await mina.client.get("/api/v1/me")).json()
    assert me["role"] == "takedown"
    actions = [(r.action, r.target_id) for r in await audit_rows(cfg.database_url)
               if r.action.startswith("staff.") and not r.action.startswith("staff.login")]
    assert actions == [("staff.added", str(mina_id)), ("staff.password_reset", str(mina_id)),
                       ("staff.password_set", str(mina_id)), ("staff.edited", str(mina_id))]


async def test_deactivate_ends_sessions_hands_over_cases_and_keeps_history(
        app_runner: AppRunner) -> None:
    cfg = app_runner.config
    admin = await _admin(app_runner)
    mina_id = await add_staff(cfg, "mina")
    mina = Counselor(await app_runner.client())
    assert await mina.login("mina") == 303
    victim = Victim(await app_runner.client())
    await victim.open()
    assert (await victim.send("hello, I need help")).status == 201
    cid = await mina.take_next()
    assert (await mina.reply(cid, "I am here")).status == 201

    assert (await admin.post(f"/api/v1/staff/{mina_id}/deactivate")).status == 200
    assert (await mina.client.get("/api/v1/me")).status == 401
    assert await Counselor(await app_runner.client()).login("mina") == 401
    # Her case is back in the queue, its transcript whole.
    queue = await (await admin.client.get("/api/v1/queue")).json()
    assert cid in [c["id"] for c in queue["waiting"]]
    case = await admin.case(cid)
    assert [m["text"] for m in case["messages"]][:2] == ["hello, I need help", "I am here"]
    listed = (await _staff(admin))["mina"]
    assert listed["active"] is False and listed["deactivated_at"] is not None
    assert mina_id not in {a.id for a in await deps_of(app_runner).live.staff_states()}
    # Deactivating oneself is refused; an unknown id is 404.
    root_id = (await _staff(admin))["root"]["id"]
    resp = await admin.post(f"/api/v1/staff/{root_id}/deactivate")
    assert resp.status == 400 and (await resp.json())["field"] == "id"
    assert (await admin.post("/api/v1/staff/999999/deactivate")).status == 404

    assert (await admin.post(f"/api/v1/staff/{mina_id}/reactivate")).status == 200
    assert await Counselor(await app_runner.client()).login("mina") == 303
    rows = [(r.action, r.detail) for r in await audit_rows(cfg.database_url)
            if r.target_id == str(mina_id) and r.target_kind == "counselor"]
    assert ("sessions.ended", '{"reason":"deactivated","sessions":1}') in rows
    assert ("staff.deactivated", '{"cases_moved":1}') in rows
    # Reactivated, then she logged in again (logins are audited).
    assert [a for a, _ in rows][-2:] == ["staff.reactivated", "staff.login"]
    requeued = await audit_rows(cfg.database_url, "case.requeued")
    assert [(r.target_id, '"reason":"deactivated"' in r.detail) for r in requeued] \
        == [(cid, True)]


async def test_password_links_sessions_and_changing_ones_own_password(
        app_runner: AppRunner) -> None:
    cfg = app_runner.config
    admin = await _admin(app_runner)
    mina_id = await add_staff(cfg, "mina")
    laptop, phone = Counselor(await app_runner.client()), Counselor(await app_runner.client())
    for who in (laptop, phone):
        assert await who.login("mina") == 303

    sessions = await (await admin.client.get(f"/api/v1/staff/{mina_id}/sessions")).json()
    assert len(sessions["sessions"]) == 2
    ref = sessions["sessions"][0]["ref"]
    resp = await admin.client.delete(f"/api/v1/staff/{mina_id}/sessions/{ref}",
                                     headers={"X-CSRF-Token": admin.csrf})
    assert resp.status == 200
    assert sorted([(await w.client.get("/api/v1/me")).status for w in (laptop, phone)]) \
        == [200, 401]
    resp = await admin.client.delete(f"/api/v1/staff/{mina_id}/sessions/{ref}",
                                     headers={"X-CSRF-Token": admin.csrf})
    assert resp.status == 404
    still = laptop if (await laptop.client.get("/api/v1/me")).status == 200 else phone
    other = Counselor(await app_runner.client())
    assert await other.login("mina") == 303

    # Her own change: the current password is needed; her other session ends, this one stays.
    async def change(current: str, new: str, repeat: str) -> Any:
        return await still.client.post("/console/account/password", allow_redirects=False,
                                       data={"csrf": still.csrf, "current": current,
                                             "password": new, "repeat": repeat})
    assert (await change("wrong password!", NEW_PASSWORD, NEW_PASSWORD)).status == 400
    assert (await change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x")).status == 400
    assert (await change(PASSWORD, "short", "short")).status == 400
    assert (await other.client.get("/api/v1/me")).status == 200
    done = await change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert done.status == 303 and done.headers["Location"] == "/console/account?changed=1"
    assert (await other.client.get("/api/v1/me")).status == 401
    assert (await still.client.get("/api/v1/me")).status == 200
    assert await Counselor(await app_runner.client()).login("mina") == 401
    assert await Counselor(await app_runner.client()).login("mina", NEW_PASSWORD) == 303

    # Links: only the latest works; an expired one does not; setting one ends every session.
    first = await (await admin.post(f"/api/v1/staff/{mina_id}/reset-password")).json()
    second = await (await admin.post(f"/api/v1/staff/{mina_id}/reset-password")).json()
    assert (await _use_link(app_runner, first["reset_link"], PASSWORD)).status == 404
    engine = open_engine(cfg.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(password_resets).values(
                expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    finally:
        await engine.dispose()
    assert (await _use_link(app_runner, second["reset_link"], PASSWORD)).status == 404
    third = await (await admin.post(f"/api/v1/staff/{mina_id}/reset-password")).json()
    assert (await _use_link(app_runner, third["reset_link"], PASSWORD)).status == 303
    assert (await still.client.get("/api/v1/me")).status == 401
    assert await Counselor(await app_runner.client()).login("mina") == 303
    reasons = [r.detail for r in await audit_rows(cfg.database_url, "sessions.ended")]
    assert reasons == ['{"reason":"ended_by_admin","sessions":1}',
                       '{"reason":"password_changed","sessions":1}',
                       '{"reason":"password_reset","sessions":2}']
