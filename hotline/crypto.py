"""Key material and the three things we do with it: pseudonyms, sealed fields, token digests.

One master key (HOTLINE_SECRET_KEY, or a 0600 key file the embedded default creates) is split
with HKDF into purpose keys, so a leak of one derived value says nothing about the others.
See docs/privacy.md.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hotline.config import ConfigError

log = logging.getLogger(__name__)

KEY_FILE = "secret.key"
ENV_KEY = "HOTLINE_SECRET_KEY"
_MIN_KEY_BYTES = 32


def _decode_key(text: str, where: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where}: expected base64 of at least 32 random bytes") from None
    if len(raw) < _MIN_KEY_BYTES:
        raise ConfigError(f"{where}: expected base64 of at least 32 random bytes, got {len(raw)}")
    return raw


def load_master_key(data_dir: Path, env: dict[str, str] | os._Environ[str]) -> bytes:
    """The master key from the environment, else the data folder's key file (made on first use)."""
    if env.get(ENV_KEY):
        return _decode_key(env[ENV_KEY], ENV_KEY)
    path = data_dir / KEY_FILE
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{path}: key file must not be readable by others (chmod 600)")
        return _decode_key(path.read_text(), str(path))
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(_MIN_KEY_BYTES)
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _decode_key(path.read_text(), str(path))
    with os.fdopen(fd, "w") as f:
        f.write(base64.urlsafe_b64encode(key).decode() + "\n")
    return key


def _derive(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"hotline/{purpose}".encode()).derive(master)


@dataclass(frozen=True)
class Keyring:
    """Purpose keys derived from the master key. Never logged (repr is masked)."""

    pseudonym: bytes = field(repr=False)
    seal: bytes = field(repr=False)
    token: bytes = field(repr=False)

    @classmethod
    def from_master(cls, master: bytes) -> Keyring:
        return cls(
            pseudonym=_derive(master, "pseudonym"),
            seal=_derive(master, "seal"),
            token=_derive(master, "token"),
        )

    def __repr__(self) -> str:
        return "Keyring(***)"

    def pseudonymize(self, channel: str, address: str) -> str:
        """Keyed HMAC-SHA256 of a contact address, per channel: stable, not reversible."""
        # hmac.digest: the one-shot form, same value as hmac.new(...).hexdigest(), no object.
        return hmac.digest(self.pseudonym, f"{channel}\x00{address}".encode(), "sha256").hex()

    @functools.cached_property
    def _aead(self) -> AESGCM:
        # Built once per keyring (every inbound message seals its text); safe to share.
        return AESGCM(self.seal)

    def seal_text(self, text: str, context: str) -> bytes:
        """AES-GCM encrypt; `context` (e.g. the conversation id) is bound as associated data."""
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, text.encode(), context.encode())

    def open_text(self, blob: bytes, context: str) -> str:
        """Decrypt what seal_text produced for the same context; ValueError if tampered."""
        try:
            return self._aead.decrypt(blob[:12], blob[12:], context.encode()).decode()
        except InvalidTag:
            raise ValueError("sealed field failed authentication") from None

    def open_text_or_none(self, blob: bytes, context: str) -> str | None:
        """open_text for display: None (logged, without the context) if it cannot be opened,
        so one damaged field never makes a whole page fail."""
        try:
            return self.open_text(blob, context)
        except ValueError:
            log.error("sealed field cannot be opened", extra={"kind": context.split(":")[0]})
            return None

    def seal_bytes(self, data: bytes, context: str) -> bytes:
        """seal_text for binary content (evidence files kept with a victim's consent)."""
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, data, context.encode())

    def open_bytes(self, blob: bytes, context: str) -> bytes:
        """Decrypt what seal_bytes produced for the same context; ValueError if tampered."""
        try:
            return self._aead.decrypt(blob[:12], blob[12:], context.encode())
        except InvalidTag:
            raise ValueError("sealed field failed authentication") from None

    def sign(self, purpose: str, value: str) -> str:
        """A short keyed MAC binding `value` to `purpose` (for self-verifying tokens)."""
        mac = hmac.new(self.token, f"{purpose}\x00{value}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def digest_token(self, token: str) -> str:
        """Digest of a bearer token (session cookie) as stored; the token itself never is."""
        return hmac.new(self.token, token.encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    """A fresh unguessable bearer token for a cookie."""
    return secrets.token_urlsafe(32)


def tokens_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets. Ours are ASCII: a value that is not (header or
    cookie bytes that were not UTF-8 arrive surrogate-escaped) is unequal, never an error."""
    return a.isascii() and b.isascii() and hmac.compare_digest(a, b)
