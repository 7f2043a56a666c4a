"""Case numbers and PINs: a victim's way back to their case on any channel (StopNCII's model).

A case number is short and unambiguous to read out or type (Crockford base32: no I, L, O or U),
shown as HL-XXXX-XXXX. The PIN is six digits, shown once and stored only as an argon2id hash,
so a database leak does not reveal it. Asking again issues a new PIN for the same number (the
old one stops working, and any lock is lifted): whoever holds the chat can always get one.

Guessing is bounded twice (docs/victim.md, "Lockout"):
- per client (a web address tag, an SMS or Telegram sender): CLIENT_MAX_FAILURES wrong tries in
  an hour, then that client is refused for the rest of the hour, for every case;
- per case: MAX_FAILURES wrong PINs lock the number, 15 minutes the first time and twice as
  long each time after (at most a day), until a right PIN or a new PIN resets it.
A case's lock never holds its own victim: the sender the case came from (or came back from) on
SMS or Telegram, and a browser holding the device proof of an earlier successful look-up, are
let through it (the per-client limit still counts them). So a stranger who knows the number
can slow only other clients, and can never make a victim wait on their own channel.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.exceptions import RedisError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.audit import log as audit
from hotline.cases import case_rows
from hotline.cases import conversations as convs
from hotline.crypto import tokens_equal
from hotline.deps import Deps
from hotline.domain.conversation import Status
from hotline.stores.live.keys import CASE_GUESS_WINDOW_S
from hotline.victim.tables import case_codes

log = logging.getLogger(__name__)

# Crockford's base32 alphabet: the letters people confuse with digits are left out.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READS_AS = {"O": "0", "I": "1", "L": "1"}
NUMBER_LEN = 8
PIN_LEN = 6
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
MAX_LOCK = timedelta(hours=24)
CLIENT_MAX_FAILURES = 10
_HASHER = PasswordHasher()
# Verified against when a number is unknown, so timing does not tell which numbers exist.
_DUMMY = _HASHER.hash("0" * PIN_LEN)


@dataclass(frozen=True)
class Issued:
    """What the victim is shown once: the number (formatted) and the PIN."""

    case_number: str
    pin: str


@dataclass(frozen=True)
class CaseView:
    """What a later channel may tell someone who gave the right number and PIN."""

    conversation_id: str
    status: Status
    case_number: str = ""


class Locked(Exception):
    """Too many wrong PINs for this number: try again later."""


class ClientLimited(Exception):
    """This client made too many wrong tries (any case): refused for `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s)
        self.retry_after_s = retry_after_s


def lock_for(locks: int) -> timedelta:
    """How long the `locks`-th lock of a case lasts (1-based): doubling, at most MAX_LOCK."""
    doubled: timedelta = LOCK_FOR * (2 ** min(max(locks - 1, 0), 16))
    return min(doubled, MAX_LOCK)


def device_proof(deps: Deps, case_number: str) -> str:
    """What a browser keeps after a successful look-up (in its session cookie): it lets that
    browser through the case's lock later. Keyed, so it cannot be made without the key."""
    return deps.keyring.sign("case-device", normalise(case_number) or case_number)


def display(number: str) -> str:
    """HL-XXXX-XXXX for a stored number."""
    return f"HL-{number[:4]}-{number[4:]}"


def normalise(text: str) -> str | None:
    """A typed case number in stored form, forgiving case, spaces, dashes and O/I/L; or None."""
    raw = "".join(c for c in text.upper() if c.isalnum())
    raw = raw.removeprefix("HL")
    raw = "".join(_READS_AS.get(c, c) for c in raw)
    if len(raw) != NUMBER_LEN or any(c not in _ALPHABET for c in raw):
        return None
    return raw


def _new_number() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(NUMBER_LEN))


def _new_pin() -> str:
    return f"{secrets.randbelow(10 ** PIN_LEN):0{PIN_LEN}d}"


def _material(number: str, pin: str) -> str:
    # The number is part of the hashed secret: a PIN hash cannot be moved to another case.
    return f"{number}:{pin}"


async def _hash(number: str, pin: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(
        None, _HASHER.hash, _material(number, pin))


async def _verify(stored: str, number: str, pin: str) -> bool:
    def check() -> bool:
        try:
            return _HASHER.verify(stored, _material(number, pin))
        except (VerificationError, InvalidHashError):
            return False
    return await asyncio.get_running_loop().run_in_executor(None, check)


async def issue(deps: Deps, conversation_id: str) -> Issued:
    """A case number for the conversation (kept if it has one) and a fresh PIN."""
    pin = _new_pin()
    now = datetime.now(UTC)
    async with deps.engine.connect() as conn:
        existing = (await conn.execute(select(case_codes.c.case_number).where(
            case_codes.c.conversation_id == conversation_id))).scalar_one_or_none()
    if existing is not None:
        pin_hash = await _hash(existing, pin)
        async with deps.engine.begin() as conn:
            await conn.execute(update(case_codes).where(
                case_codes.c.case_number == existing).values(
                pin_hash=pin_hash, failed_attempts=0, locked_until=None, locks=0))
            await audit.record(conn, at=now, actor_id=None, action="case_code.pin_renewed",
                               target_kind="conversation", target_id=conversation_id)
        return Issued(display(existing), pin)
    for _ in range(5):
        number = _new_number()
        pin_hash = await _hash(number, pin)
        try:
            async with deps.engine.begin() as conn:
                await conn.execute(insert(case_codes).values(
                    case_number=number, conversation_id=conversation_id, pin_hash=pin_hash,
                    created_at=now))
                await audit.record(conn, at=now, actor_id=None, action="case_code.issued",
                                   target_kind="conversation", target_id=conversation_id)
        except IntegrityError:
            # A number collision (1 in 10^12) or a concurrent /case for the same conversation.
            async with deps.engine.connect() as conn:
                if (await conn.execute(select(case_codes.c.case_number).where(
                        case_codes.c.conversation_id == conversation_id))).first():
                    return await issue(deps, conversation_id)
            continue
        return Issued(display(number), pin)
    raise RuntimeError("could not allocate a case number")


async def lookup(deps: Deps, typed_number: str, pin: str, *, client: str | None = None,
                 sender: str | None = None, device: str | None = None) -> CaseView | None:
    """The case behind a number and PIN, or None if either is wrong. Raises ClientLimited
    when `client` made too many wrong tries, Locked when the case is locked and neither
    `sender` (a pseudonym) nor `device` (device_proof) shows the victim's own channel."""
    if client is not None:
        await _check_client(deps, client)
    number = normalise(typed_number)
    now = datetime.now(UTC)
    row = None
    trusted = False
    if number is not None:
        async with deps.engine.connect() as conn:
            row = (await conn.execute(select(case_codes).where(
                case_codes.c.case_number == number))).first()
            if row is not None:
                trusted = await _trusted(conn, deps, row, sender, device)
    if row is not None and not trusted and row.locked_until is not None \
            and _aware(row.locked_until) > now:
        raise Locked(display(row.case_number))
    ok = await _verify(row.pin_hash if row is not None else _DUMMY, number or "", pin)
    if row is None or not ok or not pin.isdigit():
        if client is not None:
            await _count_client(deps, client)
        if row is not None and not trusted:
            await _failed(deps, row, now)
        return None
    async with deps.engine.begin() as conn:
        await conn.execute(update(case_codes).where(
            case_codes.c.case_number == row.case_number).values(
            failed_attempts=0, locked_until=None, locks=0))
        conv = await convs.get(conn, row.conversation_id)
        await audit.record(conn, at=now, actor_id=None, action="case_code.used",
                           target_kind="conversation", target_id=row.conversation_id)
    if conv is None:
        return None
    return CaseView(conv.id, conv.status, display(row.case_number))


async def _trusted(conn: AsyncConnection, deps: Deps, row: Any, sender: str | None,
                   device: str | None) -> bool:
    """Whether the caller is on the victim's own channel: the device proof of this number, or
    the sender of the case's conversation or of one of its returns."""
    if device is not None and tokens_equal(device, device_proof(deps, row.case_number)):
        return True
    if sender is None:
        return False
    return await case_rows.sender_in_case(conn, sender, row.conversation_id)


async def _failed(deps: Deps, row: Any, now: datetime) -> None:
    failures = row.failed_attempts + 1
    locks = row.locks + 1 if failures >= MAX_FAILURES else row.locks
    locked = now + lock_for(locks) if failures >= MAX_FAILURES else None
    async with deps.engine.begin() as conn:
        await conn.execute(update(case_codes).where(
            case_codes.c.case_number == row.case_number).values(
            failed_attempts=0 if locked else failures, locks=locks,
            **({"locked_until": locked} if locked else {})))
        await audit.record(conn, at=now, actor_id=None, action="case_code.failed",
                           target_kind="conversation", target_id=row.conversation_id,
                           locked=locked is not None)


async def _check_client(deps: Deps, client: str) -> None:
    key = deps.keys.case_guesses(client)
    try:
        count = await deps.redis.get(key)
        if count is not None and int(count) >= CLIENT_MAX_FAILURES:
            ttl = await deps.redis.ttl(key)
            raise ClientLimited(max(int(ttl), 1))
    except (RedisError, OSError) as e:
        # Redis down: the per-case lock (in SQL) still bounds guessing.
        log.warning("case guess counter unavailable", extra={"error": type(e).__name__})


async def _count_client(deps: Deps, client: str) -> None:
    key = deps.keys.case_guesses(client)
    try:
        async with deps.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, CASE_GUESS_WINDOW_S, nx=True)
            await pipe.execute()
    except (RedisError, OSError) as e:
        log.warning("case guess not counted", extra={"error": type(e).__name__})


async def view_by_number(deps: Deps, number: str) -> CaseView | None:
    """The case behind a stored number, for a page that already checked its PIN (its signed
    cookie names the number); None if the number is gone (erased)."""
    async with deps.engine.connect() as conn:
        root = (await conn.execute(select(case_codes.c.conversation_id).where(
            case_codes.c.case_number == number))).scalar_one_or_none()
        conv = await convs.get(conn, root) if root is not None else None
    return None if conv is None else CaseView(conv.id, conv.status, display(number))


async def number_for(deps: Deps, conversation_id: str) -> str | None:
    """The formatted case number of a conversation, if one was issued."""
    async with deps.engine.connect() as conn:
        found = (await conn.execute(select(case_codes.c.case_number).where(
            case_codes.c.conversation_id == conversation_id))).scalar_one_or_none()
    return display(found) if found else None


async def drop(conn: AsyncConnection, conversation_ids: list[str]) -> int:
    """Within an erasure's transaction: delete the case codes of these conversations."""
    if not conversation_ids:
        return 0
    result = await conn.execute(delete(case_codes).where(
        case_codes.c.conversation_id.in_(conversation_ids)))
    return int(result.rowcount)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
