"""Time-based one-time codes (RFC 6238, pyotp), their QR code (segno, SVG) and recovery codes.

A code is accepted for its own 30 s step and one step either side (clock drift), and only if
that step is later than the last step the person used: a code seen over a shoulder, or sent
twice, is refused within its window. Callers record the step (staff/store.use_step).
"""

from __future__ import annotations

import secrets
from datetime import datetime

import pyotp
import segno

from hotline.crypto import tokens_equal

ISSUER = "Hotline"
RECOVERY_CODES = 10
# Unambiguous letters for recovery codes (no 0/O, 1/I/L).
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, name: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as inline SVG (drawn here: the secret never leaves the server)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff"))


def matching_step(secret: str, code: str, at: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to (within one step of `at`) if it is later than
    `last_step`, else None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(at)
    for step in (now_step - 1, now_step, now_step + 1):
        expected = totp.generate_otp(step)
        if tokens_equal(expected, code) and (last_step is None or step > last_step):
            return step
    return None


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """Codes like "K7QM-3XPA-W9RT" (60 bits each), shown once."""
    def one() -> str:
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
    return [one() for _ in range(count)]


def normalize_recovery(code: str) -> str | None:
    """A typed recovery code in its stored form, or None if it cannot be one."""
    raw = "".join(c for c in code.upper() if c.isalnum())
    if len(raw) != 12 or any(c not in _ALPHABET for c in raw):
        return None
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def looks_like_totp(code: str) -> bool:
    digits = "".join(code.split())
    return len(digits) == 6 and digits.isascii() and digits.isdigit()
