"""What a console login attempt is throttled on: one browser, a name at a known address, or
the name and the client's address.

- A browser that logged in under this name before shows its device cookie (`hl_device`, a MAC
  over the name's pseudonym, sent to the login form only). It is throttled on its own key
  ("d"), so guesses by anyone else, from anywhere, never hold it back.
- From an address this name logged in from within KNOWN_DAYS, the attempt counts on a key of
  that name at that address ("p"): guesses elsewhere, or at other names, never hold it back.
- Any other attempt waits for its client address (`request.remote`, an IPv6 address by its
  /64; "a", counted once a password proves wrong, so colleagues logging in at once from one
  office never hold each other back) and counts on the name: on "u" if that address has
  failed before, else on "f". Guessing one name from many addresses stays bounded per name,
  and one guesser cannot delay a staff member's first try from another address.

Each key has growing delays (hotline/domain/throttle.py), never a hard lock. Keys hold keyed
MACs, never a name or an address. The bound is in docs/console.md.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from ipaddress import IPv6Network, ip_address

from aiohttp import web

from hotline.crypto import new_token, tokens_equal
from hotline.web.appkeys import CONFIG, DEPS, LOGIN_THROTTLE

DEVICE_COOKIE = "hl_device"
# A browser stays recognised this long after its last login.
DEVICE_DAYS = 180
# A name stays known at an address this long after its last login from there.
KNOWN_DAYS = 30
_DAY_MS = 86_400_000


def address_bucket(remote: str | None) -> str:
    """The unit one client is throttled as: an IPv4 address, or an IPv6 /64 (one subscriber
    holds a whole /64, so single IPv6 addresses would be free to rotate through)."""
    try:
        ip = ip_address(remote or "")
    except ValueError:
        return "?"
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(IPv6Network((int(ip) >> 64 << 64, 64)))


@dataclass(frozen=True)
class Attempt:
    """One login attempt's throttle keys, reserved before the password is checked."""

    name_ref: str
    address_ref: str
    keys: tuple[str, ...]
    # The client's address key when the attempt waited for it (counted if the password is
    # wrong); None for a known browser or address.
    gate: str | None
    by_device: bool
    wait_ms: int

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.wait_ms / 1000))


def _now_ms() -> int:
    return int(time.time() * 1000)


def _device_key(request: web.Request, name_ref: str) -> str | None:
    """The throttle key of this browser's device cookie, if it is valid for this name."""
    raw = request.cookies.get(DEVICE_COOKIE, "")
    nonce, _, mac = raw.partition(".")
    if not nonce or len(raw) > 128 or not raw.isascii():
        return None
    deps = request.app[DEPS]
    if not tokens_equal(mac, deps.keyring.sign("login-device", f"{name_ref}.{nonce}")):
        return None
    return deps.keys.login_throttle("d", deps.keyring.pseudonymize("login-device", nonce)[:32])


async def begin(request: web.Request, name: str) -> Attempt:
    """Reserve an attempt at `name` (wait_ms 0), or say how long it must still wait."""
    deps, throttle, now = request.app[DEPS], request.app[LOGIN_THROTTLE], _now_ms()
    name_ref = deps.keyring.pseudonymize("login-name", name.casefold())[:32]
    address_ref = deps.keyring.pseudonymize("login-address",
                                            address_bucket(request.remote))[:32]
    device = _device_key(request, name_ref)
    gate = fresh = None
    if device is not None:
        keys: tuple[str, ...] = (device,)
    elif await throttle.marked(deps.keys.login_known(name_ref, address_ref), now):
        keys = (deps.keys.login_throttle("p", f"{name_ref}:{address_ref}"),)
    else:
        gate = deps.keys.login_throttle("a", address_ref)
        keys = (deps.keys.login_throttle("u", name_ref),)
        fresh = deps.keys.login_throttle("f", name_ref)
    wait, counted = await throttle.reserve(keys, now, gate, fresh)
    return Attempt(name_ref, address_ref, counted, gate, device is not None, wait)


async def failed(request: web.Request, attempt: Attempt) -> None:
    """The password was wrong: the attempt stays counted; the address counts it too."""
    if attempt.gate is not None:
        await request.app[LOGIN_THROTTLE].count((attempt.gate,), _now_ms())


async def succeeded(request: web.Request, response: web.StreamResponse, attempt: Attempt
                    ) -> None:
    """The password was right: hand the attempt back, remember this address for the name,
    and give the browser a device cookie for it."""
    deps, throttle, now = request.app[DEPS], request.app[LOGIN_THROTTLE], _now_ms()
    if attempt.by_device:
        await throttle.forget(attempt.keys)  # its own failures only: start it afresh
    else:
        await throttle.refund(attempt.keys, now)
    await throttle.mark(deps.keys.login_known(attempt.name_ref, attempt.address_ref),
                        KNOWN_DAYS * _DAY_MS, now)
    nonce = new_token()
    value = f"{nonce}.{deps.keyring.sign('login-device', f'{attempt.name_ref}.{nonce}')}"
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_DAYS * 86400,
                        path="/console/login", httponly=True, samesite="Strict",
                        secure=request.app[CONFIG].secure_cookies)
