"""What a staff member does to their own account: set a password from a reset link, change
it, and the second factor (enrol, log in with a code or a recovery code). See docs/staff.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hotline.audit import log as audit
from hotline.audit import search as audit_log
from hotline.crypto import new_token
from hotline.deps import Deps
from hotline.domain.accounts import FieldError, check_password
from hotline.domain.staff import Role
from hotline.staff import sessions, store, totp
from hotline.staff.auth import hash_password, verify_password

# A login challenge (password right, second factor to come) lasts this long and allows this
# many codes; then the password must be given again (which the login throttle counts).
CHALLENGE_TTL = timedelta(minutes=10)
CHALLENGE_ATTEMPTS = 5


def needs_second_factor(deps: Deps, role: Role) -> bool:
    return role.value in deps.config.console.two_factor_roles


def _secret_context(counselor_id: int) -> str:
    return f"totp:{counselor_id}"


async def _record(deps: Deps, actor: int | None, action: str, target: int,
                  **detail: object) -> None:
    await audit_log.note(deps, actor, action, "counselor", str(target), **detail)


# Passwords.

async def reset_valid(deps: Deps, token: str) -> bool:
    async with deps.engine.connect() as conn:
        return await store.reset_owner(conn, deps.keyring.digest_token(token),
                                       datetime.now(UTC)) is not None


async def use_reset(deps: Deps, token: str, password: str) -> int | None:
    """Set a new password with a reset token (once); every session of the person ends.
    Returns the person, or None for an unknown, used or expired token."""
    check_password(password, deps.config.console.min_password_chars)
    pw_hash = hash_password(password)
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        owner = await store.spend_reset(conn, deps.keyring.digest_token(token), now)
        if owner is None:
            return None
        await store.update_fields(conn, owner, password_hash=pw_hash)
        await audit.record(conn, at=now, actor_id=owner, action="staff.password_set",
                           target_kind="counselor", target_id=str(owner), via="reset")
    await sessions.end_all(deps, owner, "password_reset", owner)
    return owner


async def change_password(deps: Deps, counselor_id: int, session_digest: str, current: str,
                          new: str) -> int:
    """The person's own change: the current password is required; every other session of
    theirs ends. Returns how many ended."""
    check_password(new, deps.config.console.min_password_chars)
    async with deps.engine.connect() as conn:
        stored = await store.password_hash(conn, counselor_id)
    if not await verify_password(stored, current):
        raise FieldError("current", "wrong password")
    pw_hash = hash_password(new)
    async with deps.engine.begin() as conn:
        await store.update_fields(conn, counselor_id, password_hash=pw_hash)
    await _record(deps, counselor_id, "staff.password_set", counselor_id, via="change")
    return await sessions.end_others(deps, counselor_id, session_digest, "password_changed")


# Second factor: the login challenge.

async def start_challenge(deps: Deps, counselor_id: int) -> str:
    """A right password of someone who needs a second factor: the token of their challenge."""
    token = new_token()
    async with deps.engine.begin() as conn:
        await store.add_challenge(conn, deps.keyring.digest_token(token), counselor_id,
                                  datetime.now(UTC) + CHALLENGE_TTL)
    return token


async def challenge_owner(deps: Deps, token: str) -> int | None:
    async with deps.engine.connect() as conn:
        return await store.challenge_owner(conn, deps.keyring.digest_token(token),
                                           datetime.now(UTC), CHALLENGE_ATTEMPTS)


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: str


async def enrolment(deps: Deps, counselor_id: int, name: str) -> Enrolment | None:
    """The secret to enrol with (the same on every reload until a first code confirms it);
    None if already enrolled."""
    async with deps.engine.connect() as conn:
        factor = await store.second_factor(conn, counselor_id)
    if factor.enabled:
        return None
    if factor.secret_sealed is None:
        async with deps.engine.begin() as conn:
            await store.set_pending_secret(conn, counselor_id, deps.keyring.seal_text(
                totp.new_secret(), _secret_context(counselor_id)))
            # Read back: of two pages loaded at once, the first one's secret stands.
            factor = await store.second_factor(conn, counselor_id)
    assert factor.secret_sealed is not None
    secret = deps.keyring.open_text(factor.secret_sealed, _secret_context(counselor_id))
    uri = totp.provisioning_uri(secret, name)
    return Enrolment(secret, uri, totp.qr_svg(uri))


async def is_enrolled(deps: Deps, counselor_id: int) -> bool:
    async with deps.engine.connect() as conn:
        return (await store.second_factor(conn, counselor_id)).enabled


@dataclass(frozen=True)
class Passed:
    """A challenge passed: who, and the recovery codes to show once (a new enrolment)."""

    counselor_id: int
    recovery_codes: tuple[str, ...] = ()
    used_recovery: bool = False


async def answer(deps: Deps, token: str, code: str) -> Passed | None:
    """Check a code (TOTP, or a recovery code once enrolled) against a live challenge.
    A first right code confirms an enrolment and makes ten recovery codes. None: wrong,
    replayed, or the challenge expired or ran out of attempts."""
    digest = deps.keyring.digest_token(token)
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        owner = await store.count_challenge_attempt(conn, digest, now, CHALLENGE_ATTEMPTS)
    if owner is None:
        return None
    async with deps.engine.connect() as conn:
        factor = await store.second_factor(conn, owner)
    if factor.secret_sealed is None:
        return None
    passed = (await _totp(deps, owner, factor, code, now)
              or await _recovery(deps, owner, factor, code, now))
    if passed is not None:
        async with deps.engine.begin() as conn:
            await store.end_challenge(conn, digest)
    else:
        await _record(deps, None, "staff.2fa_failed", owner)
    return passed


async def _totp(deps: Deps, owner: int, factor: store.SecondFactor, code: str,
                now: datetime) -> Passed | None:
    if not totp.looks_like_totp(code) or factor.secret_sealed is None:
        return None
    secret = deps.keyring.open_text(factor.secret_sealed, _secret_context(owner))
    step = totp.matching_step(secret, code, now, factor.last_step)
    if step is None:
        return None
    codes: list[str] = []
    async with deps.engine.begin() as conn:
        if not await store.use_step(conn, owner, step, None if factor.enabled else now):
            return None  # a concurrent login used this step first
        if not factor.enabled:
            codes = totp.new_recovery_codes()
            await store.put_recovery_codes(conn, owner,
                                           [deps.keyring.digest_token(c) for c in codes])
    if codes:
        await _record(deps, owner, "staff.2fa_enrolled", owner)
    return Passed(owner, tuple(codes))


async def _recovery(deps: Deps, owner: int, factor: store.SecondFactor, code: str,
                    now: datetime) -> Passed | None:
    normal = totp.normalize_recovery(code)
    if not factor.enabled or normal is None:
        return None
    async with deps.engine.begin() as conn:
        if not await store.use_recovery_code(conn, owner, deps.keyring.digest_token(normal),
                                             now):
            return None
        left = await store.recovery_codes_left(conn, owner)
        await audit.record(conn, at=now, actor_id=owner, action="staff.recovery_code_used",
                           target_kind="counselor", target_id=str(owner), left=left)
    return Passed(owner, used_recovery=True)


async def summary(deps: Deps, counselor_id: int) -> dict[str, object]:
    """What one's account page shows: second factor state, recovery codes left."""
    async with deps.engine.connect() as conn:
        factor = await store.second_factor(conn, counselor_id)
        left = await store.recovery_codes_left(conn, counselor_id)
    return {"two_factor": factor.enabled, "recovery_left": left}
