"""What the SMS and phone channels share: credentials, the REST client, webhook signatures.

- Credentials come only from HOTLINE_TWILIO_ACCOUNT_SID and HOTLINE_TWILIO_AUTH_TOKEN; without
  both, the channels are off and every Twilio webhook answers 503 saying so.
- Every webhook is checked against X-Twilio-Signature, computed over the URL Twilio requested.
  That URL is rebuilt from the configured `server.public_url` plus the request's path and query,
  never from Host or X-Forwarded-* headers (anyone can send those), so it stays right behind a
  TLS proxy. A forged or missing signature answers 403 before anything is read or stored.
- The REST client (twilio's AsyncTwilioHttpClient) is built inside a running loop, in a cleanup
  context, and its aiohttp session is closed on exit. Its own timeout setting is ignored by the
  library, so every REST call goes through `Runtime.rest`, which wraps it in asyncio.timeout.

See docs/twilio.md.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hmac
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlparse

from aiohttp import web
from multidict import MultiMapping
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import (
    HMAC_SHA1,
    add_port,
    get_signature_algorithm,
    remove_port,
)
from twilio.rest import Client

from hotline.config_channels import TwilioConfig
from hotline.web.appkeys import CONFIG
from hotline.web.inputs import form_body
from hotline.web.middleware import json_error

log = logging.getLogger(__name__)

T = TypeVar("T")

ENV_SID = "HOTLINE_TWILIO_ACCOUNT_SID"
ENV_TOKEN = "HOTLINE_TWILIO_AUTH_TOKEN"  # noqa: S105 - the variable's name, not a secret

# twilio's HTTP client logs every request URL and query at INFO (list filters can hold phone
# numbers). It gets a logger of its own that only passes warnings.
HTTP_LOG = logging.getLogger("hotline.twilio_http")
HTTP_LOG.setLevel(logging.WARNING)

# Twilio's ids: CallSid "CA" + 32 hex, MessageSid "SM"/"MM" + 32 hex, AccountSid "AC" + 32 hex.
CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-f]{32}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-f]{32}$")

@dataclass(frozen=True)
class Credentials:
    account_sid: str
    auth_token: str = field(repr=False)


def credentials(env: Mapping[str, str] | None = None) -> Credentials | None:
    """The account's credentials from the environment, or None (the channels are off)."""
    env = os.environ if env is None else env
    sid, token = env.get(ENV_SID, "").strip(), env.get(ENV_TOKEN, "").strip()
    if not sid or not token:
        return None
    return Credentials(sid, token)


@dataclass
class Runtime:
    """The switched-on Twilio channels' shared state (one per application)."""

    config: TwilioConfig
    public_url: str
    creds: Credentials
    client: Client
    http: AsyncTwilioHttpClient
    # The auth token as bytes: the key of X-Twilio-Signature (HMAC-SHA1).
    signing_key: bytes = field(repr=False)

    def url(self, path: str) -> str:
        """The absolute public URL of one of our webhook paths."""
        return self.public_url + path

    async def rest(self, call: Awaitable[T]) -> T:
        """Run one REST call with our timeout (AsyncTwilioHttpClient ignores its own)."""
        async with asyncio.timeout(self.config.rest_timeout_seconds):
            return await call

    @property
    def voice_on(self) -> bool:
        """Calls (and so call-backs) need our own number as caller id."""
        return bool(self.config.phone_number)


TWILIO = web.AppKey("twilio", Runtime)
_CTX_ADDED = web.AppKey("twilio_ctx_added", bool)


def add_runtime_ctx(app: web.Application) -> None:
    """Open the shared REST client once, however many Twilio channels are set up."""
    if app.get(_CTX_ADDED):
        return
    app[_CTX_ADDED] = True
    app.cleanup_ctx.append(_runtime_ctx)


async def _runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    creds = credentials()
    if creds is None:
        log.info("twilio channels off: no credentials in the environment")
        yield
        return
    cfg = app[CONFIG]
    # Built here, inside the running loop: the client opens an aiohttp session at once.
    http = AsyncTwilioHttpClient(logger=HTTP_LOG)
    # A non-empty environment keeps TWILIO_EDGE / TWILIO_REGION of the process from
    # silently rewriting the API host.
    client = Client(creds.account_sid, creds.auth_token, http_client=http,
                    environment={"HOTLINE": "1"})
    client.api.base_url = cfg.twilio.api_base_url.rstrip("/")
    app[TWILIO] = Runtime(cfg.twilio, cfg.server.public_url.rstrip("/"), creds, client, http,
                          creds.auth_token.encode())
    log.info("twilio channels on")
    try:
        yield
    finally:
        await http.close()


def runtime(request: web.Request) -> Runtime:
    """The Twilio runtime, or a clear 503 when the channels are off."""
    rt = request.app.get(TWILIO)
    if rt is None:
        raise web.HTTPServiceUnavailable(
            text='{"error": "the Twilio channels are off: set HOTLINE_TWILIO_ACCOUNT_SID and '
                 'HOTLINE_TWILIO_AUTH_TOKEN"}', content_type="application/json")
    return rt


def signature_ok(key: bytes, url: str, params: MultiMapping[Any], signature: str) -> bool:
    """Twilio's signature (HMAC-SHA1 over the URL, then every field name and value in sorted
    order, as twilio's RequestValidator computes it), compared in constant time.

    Like RequestValidator.validate, both the URL with and without its default port are tried
    (Twilio is not consistent about which it signs). The fields are joined once for both."""
    if not signature or len(signature) > 128 or not signature.isascii():
        # A header's bytes that are not UTF-8 reach us surrogate-escaped: never a match.
        return False
    items = list(params.items())
    if not all(isinstance(v, str) for _k, v in items):
        return False  # a file part: never in a Twilio webhook
    # Sorted by name, then value, each distinct pair once: RequestValidator's order.
    fields = "".join(k + v for k, v in sorted(set(items)))
    given = signature.encode()
    ok = False
    for candidate in _url_forms(url):
        mac = hmac.digest(key, (candidate + fields).encode(), "sha1")
        # Evaluate both without short-circuit: the time taken does not tell which one matched.
        ok |= hmac.compare_digest(base64.b64encode(mac), given)
    return ok


@functools.lru_cache(maxsize=256)
def _url_forms(url: str) -> tuple[str, ...]:
    parsed = urlparse(url)
    return tuple(dict.fromkeys((remove_port(parsed), add_port(parsed))))


async def verified_form(request: web.Request) -> dict[str, str]:
    """The webhook's form after its signature checked out; 403 and nothing done otherwise."""
    rt = runtime(request)
    settings = request.headers.get("X-Twilio-Webhooks-Signature-Settings", "")
    form = await form_body(request)
    url = rt.public_url + request.rel_url.raw_path_qs
    if get_signature_algorithm(settings) != HMAC_SHA1 or not signature_ok(
            rt.signing_key, url, form, request.headers.get("X-Twilio-Signature", "")):
        log.warning("twilio webhook refused: bad signature", extra={"path": request.path})
        raise json_error(403, "invalid or missing X-Twilio-Signature")
    out: dict[str, str] = {}
    for key, value in form.items():
        # A Twilio webhook is a plain form: no files, no repeated fields.
        if not isinstance(value, str) or key in out:
            raise json_error(400, f"{key}: malformed")
        out[key] = value
    return out


def field_str(form: Mapping[str, Any], name: str, pattern: re.Pattern[str] | None = None, *,
              required: bool = True, max_len: int = 1600) -> str:
    """One form field as text; 400 naming the field if it is missing or malformed."""
    value = form.get(name)
    if value is None or value == "":
        if required:
            raise json_error(400, f"{name}: missing")
        return ""
    if not isinstance(value, str) or len(value) > max_len:
        raise json_error(400, f"{name}: malformed")
    if pattern is not None and not pattern.match(value):
        raise json_error(400, f"{name}: malformed")
    return value


def rest_error(e: TwilioException) -> tuple[int, int]:
    """(HTTP status, Twilio error code) of a refused REST call, whichever error shape it had."""
    status, code = getattr(e, "status", 0), getattr(e, "code", 0)
    return (status if isinstance(status, int) else 0, code if isinstance(code, int) else 0)


def xml(body: object) -> web.Response:
    """A TwiML answer (VoiceResponse or MessagingResponse)."""
    return web.Response(text=str(body), content_type="application/xml")
