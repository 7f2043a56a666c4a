"""The second factor at login, with real codes from pyotp, on both databases: enrolment
confirmed by a first code (QR drawn on the server), ten recovery codes stored as digests,
a used code refused within its window, a failed code changes nothing, a challenge dies after
its attempts, recovery codes work once, the admin's reset, and the roles it applies to."""

from __future__ import annotations

from sqlalchemy import select

from hotline.domain.staff import Role
from hotline.staff.tables import counselors, staff_recovery_codes
from hotline.stores.sql.engine import open_engine
from tests.conftest import AppRunner
from tests.helpers import add_staff
from tests.staff_support import Person, audit_rows, code_at, tf_runner

__all__ = ["tf_runner"]


async def test_enrolment_then_login_with_a_code_and_replay_refused(tf_runner: AppRunner
                                                                    ) -> None:
    cfg = tf_runner.config
    lead_id = await add_staff(cfg, "hana", Role.LEAD)
    first = Person(await tf_runner.client())
    resp = await first.password("hana")
    assert resp.status == 303 and resp.headers["Location"] == "/console/2fa"
    assert "hl_staff" not in resp.cookies and await first.me() == 401
    status, page = await first.code_page()
    assert status == 200 and "<svg" in page
    # A wrong first code does not enrol, and no session starts.
    assert (await first.code("000000")).status == 401
    assert await first.me() == 401
    secret, codes = await first.enrol_with(page)
    assert await first.me() == 200
    assert len(codes) == 10 and len(set(codes)) == 10

    engine = open_engine(cfg.database_url)
    try:
        async with engine.connect() as conn:
            stored = [r.code_digest for r in await conn.execute(select(staff_recovery_codes))]
            row = (await conn.execute(select(counselors).where(counselors.c.id == lead_id))).one()
    finally:
        await engine.dispose()
    assert len(stored) == 10 and not set(codes) & set(stored)
    assert secret.encode() not in row.totp_secret  # sealed, never plain
    assert row.totp_enabled_at is not None

    # Logging in again with the very code just used is refused (same step), and again after a
    # wrong attempt; the code of the next step works.
    again = Person(await tf_runner.client())
    assert (await again.password("hana")).status == 303
    status, page = await again.code_page()
    assert status == 200 and "<svg" not in page
    assert (await again.code(first.last_code)).status == 401
    assert await again.me() == 401
    assert (await again.code(code_at(secret, 1))).status == 303
    assert await again.me() == 200
    # ... and that one cannot be used a second time either, from another browser.
    third = Person(await tf_runner.client())
    assert (await third.password("hana")).status == 303
    assert (await third.code(again.last_code)).status == 401
    assert await third.me() == 401
    assert [r.action for r in await audit_rows(cfg.database_url, "staff.2fa_enrolled")] \
        == ["staff.2fa_enrolled"]


async def test_recovery_codes_work_once_and_a_challenge_dies_after_five_codes(
        tf_runner: AppRunner) -> None:
    await add_staff(tf_runner.config, "hana", Role.TAKEDOWN)
    secret, codes = await Person(await tf_runner.client()).enrol("hana")
    lost_phone = Person(await tf_runner.client())
    assert (await lost_phone.password("hana")).status == 303
    assert (await lost_phone.code(codes[3].lower().replace("-", " "))).status == 303
    assert await lost_phone.me() == 200
    again = Person(await tf_runner.client())
    assert (await again.password("hana")).status == 303
    assert (await again.code(codes[3])).status == 401
    # Without the form's token nothing is counted at all.
    resp = await again.client.post("/console/2fa", allow_redirects=False,
                                   data={"code": code_at(secret, 1), "csrf": "x"})
    assert resp.status == 403
    # Five codes spend the challenge: the fifth wrong one goes back to the login, and the
    # right code then opens nothing (the password must be given again).
    for _ in range(3):
        assert (await again.code("123456")).status == 401
    fifth = await again.code("123456")
    assert fifth.status == 303 and fifth.headers["Location"] == "/console/login"
    status, _page = await again.code_page()
    assert status == 303
    late = await again.client.post("/console/2fa", allow_redirects=False, data={
        "code": code_at(secret, 1), "csrf": again.client.session.cookie_jar.filter_cookies(
            again.client.make_url("/console/2fa"))["hl_login"].value})
    assert late.status == 303 and late.headers["Location"] == "/console/login"
    assert await again.me() == 401
    used = await audit_rows(tf_runner.config.database_url, "staff.recovery_code_used")
    assert len(used) == 1 and '"left":9' in used[0].detail


async def test_admin_resets_a_second_factor_and_the_person_enrols_again(
        tf_runner: AppRunner) -> None:
    cfg = tf_runner.config
    await add_staff(cfg, "root", Role.ADMIN)
    lead_id = await add_staff(cfg, "hana", Role.LEAD)
    admin = Person(await tf_runner.client())
    await admin.enrol("root")
    hana = Person(await tf_runner.client())
    old_secret, _codes = await hana.enrol("hana")

    resp = await admin.api("POST", f"/api/v1/staff/{lead_id}/reset-2fa")
    assert resp.status == 200, await resp.text()
    assert await hana.me() == 401  # her sessions ended
    again = Person(await tf_runner.client())
    assert (await again.password("hana")).status == 303
    assert (await again.code(code_at(old_secret, 1))).status == 401  # the old app is useless
    status, page = await again.code_page()
    assert status == 200
    assert "<svg" in page
    new_secret, _ = await again.enrol_with(page)
    assert new_secret != old_secret and await again.me() == 200
    rows = await audit_rows(cfg.database_url, "staff.2fa_reset")
    assert [(r.target_id, r.actor_id is not None) for r in rows] == [(str(lead_id), True)]


async def test_only_the_configured_roles_need_a_second_factor(tf_runner: AppRunner) -> None:
    await add_staff(tf_runner.config, "mina", Role.COUNSELOR)
    mina = Person(await tf_runner.client())
    resp = await mina.password("mina")
    assert resp.status == 303 and resp.headers["Location"] == "/console"
    assert await mina.me() == 200
