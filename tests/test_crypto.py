"""hotline/crypto.py: pseudonyms, sealed fields, the master key and its file."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from hotline.config import ConfigError
from hotline.crypto import (
    ENV_KEY,
    KEY_FILE,
    Keyring,
    load_master_key,
    new_token,
    tokens_equal,
)

MASTER_A = bytes(range(32))
MASTER_B = bytes(range(1, 33))


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.from_master(MASTER_A)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


# --- pseudonyms --------------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "address"), [
    ("sms", "+821012345678"),
    ("telegram", "123456789"),
    ("webchat", "token-abc.def"),
    ("voice", ""),
    ("sms", "전화번호"),
])
def test_pseudonymize_is_stable(channel: str, address: str) -> None:
    a = Keyring.from_master(MASTER_A).pseudonymize(channel, address)
    b = Keyring.from_master(MASTER_A).pseudonymize(channel, address)
    assert a == b
    assert len(a) == 64 and all(c in "0123456789abcdef" for c in a)
    if address:
        assert address not in a


@pytest.mark.parametrize(("one", "other"), [
    (("sms", "+821012345678"), ("telegram", "+821012345678")),
    (("sms", "+821012345678"), ("voice", "+821012345678")),
    (("sms", "+821012345678"), ("sms", "+821012345679")),
    # The separator keeps channel and address apart: no ambiguity when concatenated.
    (("sms", "x"), ("smsx", "")),
    (("sm", "sx"), ("sms", "x")),
])
def test_pseudonymize_differs(keyring: Keyring, one: tuple[str, str],
                              other: tuple[str, str]) -> None:
    assert keyring.pseudonymize(*one) != keyring.pseudonymize(*other)


def test_pseudonymize_differs_per_key() -> None:
    a = Keyring.from_master(MASTER_A).pseudonymize("sms", "+821012345678")
    b = Keyring.from_master(MASTER_B).pseudonymize("sms", "+821012345678")
    assert a != b


def test_purpose_keys_are_distinct() -> None:
    k = Keyring.from_master(MASTER_A)
    assert len({k.pseudonym, k.seal, k.token, MASTER_A}) == 4
    assert all(len(x) == 32 for x in (k.pseudonym, k.seal, k.token))


# --- sealed fields -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "", "hello", "+821012345678", "딥페이크 영상이 텔레그램에 올라왔어요", "x" * 10_000,
    "line\nbreak\x00nul",
])
def test_seal_roundtrip(keyring: Keyring, text: str) -> None:
    blob = keyring.seal_text(text, "msg:abc:1")
    assert isinstance(blob, bytes)
    if text:
        assert text.encode() not in blob
    assert keyring.open_text(blob, "msg:abc:1") == text


def test_seal_is_randomized(keyring: Keyring) -> None:
    a = keyring.seal_text("same", "ctx")
    b = keyring.seal_text("same", "ctx")
    assert a != b
    assert keyring.open_text(a, "ctx") == keyring.open_text(b, "ctx") == "same"


@pytest.mark.parametrize("wrong", ["msg:abc:2", "msg:abd:1", "", "contact:abc", "msg:abc:1 "])
def test_open_with_wrong_context_fails(keyring: Keyring, wrong: str) -> None:
    blob = keyring.seal_text("secret", "msg:abc:1")
    with pytest.raises(ValueError):
        keyring.open_text(blob, wrong)


def _flip(blob: bytes, index: int) -> bytes:
    b = bytearray(blob)
    b[index] ^= 0x01
    return bytes(b)


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda b: _flip(b, 0), id="nonce-first"),
    pytest.param(lambda b: _flip(b, 11), id="nonce-last"),
    pytest.param(lambda b: _flip(b, 12), id="ciphertext"),
    pytest.param(lambda b: _flip(b, len(b) - 1), id="tag"),
    pytest.param(lambda b: b[:-1], id="truncated-tag"),
    pytest.param(lambda b: b + b"\x00", id="appended"),
    pytest.param(lambda b: b[:12], id="nonce-only"),
    pytest.param(lambda b: b"", id="empty"),
    pytest.param(lambda b: b[:5], id="short-nonce"),
])
def test_open_tampered_blob_fails(keyring: Keyring, mutate: object) -> None:
    blob = keyring.seal_text("secret message", "ctx")
    bad = mutate(blob)  # type: ignore[operator]
    with pytest.raises(ValueError):
        keyring.open_text(bad, "ctx")


def test_open_with_other_key_fails() -> None:
    blob = Keyring.from_master(MASTER_A).seal_text("secret", "ctx")
    with pytest.raises(ValueError):
        Keyring.from_master(MASTER_B).open_text(blob, "ctx")


def test_open_for_display_gives_none_and_logs_only_the_kind(
        keyring: Keyring, caplog: pytest.LogCaptureFixture) -> None:
    blob = keyring.seal_text("secret message", "msg:abc:1")
    assert keyring.open_text_or_none(blob, "msg:abc:1") == "secret message"
    with caplog.at_level("ERROR", logger="hotline.crypto"):
        assert keyring.open_text_or_none(_flip(blob, 12), "msg:abc:1") is None
        assert Keyring.from_master(MASTER_B).open_text_or_none(blob, "msg:abc:1") is None
        assert keyring.open_text_or_none(b"", "msg:abc:1") is None
    assert [r.__dict__["kind"] for r in caplog.records] == ["msg"] * 3
    assert not any("abc" in repr(r.__dict__) or "secret" in r.getMessage()
                   for r in caplog.records)


# --- tokens ------------------------------------------------------------------------------------


def test_sign_and_digest(keyring: Keyring) -> None:
    assert keyring.sign("chat", "abc") == keyring.sign("chat", "abc")
    assert keyring.sign("chat", "abc") != keyring.sign("csrf", "abc")
    assert keyring.sign("chat", "abc") != keyring.sign("chat", "abd")
    assert keyring.sign("chat", "abc") != Keyring.from_master(MASTER_B).sign("chat", "abc")
    assert len(keyring.sign("chat", "abc")) == 32
    t = new_token()
    assert keyring.digest_token(t) == keyring.digest_token(t)
    assert t not in keyring.digest_token(t)
    assert keyring.digest_token(t) != keyring.digest_token(new_token())


def test_new_token_and_compare() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) >= 40 for t in tokens)
    assert tokens_equal("abc", "abc")
    assert not tokens_equal("abc", "abd")
    assert not tokens_equal("abc", "abcd")


# --- repr hides keys ---------------------------------------------------------------------------


def test_keyring_repr_hides_keys(keyring: Keyring) -> None:
    for text in (repr(keyring), str(keyring), f"{keyring}", f"{keyring!r}", repr([keyring])):
        assert "***" in text
        for key in (keyring.pseudonym, keyring.seal, keyring.token, MASTER_A):
            assert repr(key) not in text
            assert key.hex() not in text
            assert _b64(key) not in text
        assert "seal=" not in text and "pseudonym=" not in text


# --- the master key ----------------------------------------------------------------------------


def test_key_file_created_0600_and_reused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = load_master_key(data, {})
    assert len(key) >= 32
    path = data / KEY_FILE
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_key(data, {}) == key
    assert load_master_key(data, {ENV_KEY: ""}) == key  # empty variable: the file is used
    assert Keyring.from_master(load_master_key(data, {})).pseudonymize("sms", "1") == \
        Keyring.from_master(key).pseudonymize("sms", "1")


def test_key_file_created_0600_despite_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_master_key(tmp_path, {})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


def test_different_folders_get_different_keys(tmp_path: Path) -> None:
    assert load_master_key(tmp_path / "a", {}) != load_master_key(tmp_path / "b", {})


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606, 0o666, 0o700 | 0o040])
def test_readable_key_file_refused(tmp_path: Path, mode: int) -> None:
    load_master_key(tmp_path, {})
    path = tmp_path / KEY_FILE
    os.chmod(path, mode)
    with pytest.raises(ConfigError) as e:
        load_master_key(tmp_path, {})
    assert str(path) in str(e.value)
    assert "600" in str(e.value)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_key_file_accepted(tmp_path: Path, mode: int) -> None:
    key = load_master_key(tmp_path, {})
    os.chmod(tmp_path / KEY_FILE, mode)
    assert load_master_key(tmp_path, {}) == key


def test_existing_key_file_is_read(tmp_path: Path) -> None:
    raw = os.urandom(48)
    path = tmp_path / KEY_FILE
    path.write_text(_b64(raw) + "\n")
    os.chmod(path, 0o600)
    assert load_master_key(tmp_path, {}) == raw


def test_corrupt_key_file_refused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text(_b64(b"short"))
    os.chmod(path, 0o600)
    with pytest.raises(ConfigError) as e:
        load_master_key(tmp_path, {})
    assert str(path) in str(e.value)


def test_env_key_wins_over_file(tmp_path: Path) -> None:
    file_key = load_master_key(tmp_path, {})
    env_raw = os.urandom(32)
    got = load_master_key(tmp_path, {ENV_KEY: _b64(env_raw)})
    assert got == env_raw != file_key


def test_env_key_creates_no_file(tmp_path: Path) -> None:
    env_raw = os.urandom(32)
    assert load_master_key(tmp_path / "d", {ENV_KEY: _b64(env_raw)}) == env_raw
    assert not (tmp_path / "d" / KEY_FILE).exists()


def test_env_key_wins_over_readable_file(tmp_path: Path) -> None:
    """With the key in the environment, a stale world-readable file is not consulted."""
    load_master_key(tmp_path, {})
    os.chmod(tmp_path / KEY_FILE, 0o644)
    env_raw = os.urandom(32)
    assert load_master_key(tmp_path, {ENV_KEY: _b64(env_raw)}) == env_raw


@pytest.mark.parametrize("encode", [
    pytest.param(lambda r: base64.urlsafe_b64encode(r).decode(), id="urlsafe"),
    pytest.param(lambda r: base64.urlsafe_b64encode(r).decode().rstrip("="), id="unpadded"),
    pytest.param(lambda r: base64.b64encode(r).decode(), id="standard"),
    pytest.param(lambda r: "  " + base64.b64encode(r).decode() + "\n", id="whitespace"),
])
@pytest.mark.parametrize("size", [32, 33, 64])
def test_env_key_encodings(tmp_path: Path, encode: object, size: int) -> None:
    # Bytes chosen so standard and url-safe alphabets differ (0xfb 0xff -> '+/' vs '-_').
    raw = (b"\xfb\xff\xbf" * 30)[:size]
    assert load_master_key(tmp_path, {ENV_KEY: encode(raw)}) == raw  # type: ignore[operator]


@pytest.mark.parametrize("value", [
    _b64(bytes(range(16))),
    _b64(bytes(range(31))),
    "a",
    "!!!!",
    "tooshort",
    "not base64 at all ???",
])
def test_bad_env_key_names_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_master_key(tmp_path, {ENV_KEY: value})
    assert ENV_KEY in str(e.value)
    assert value not in str(e.value) or len(value) < 4
    assert not (tmp_path / KEY_FILE).exists()
