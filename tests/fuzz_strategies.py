"""Hypothesis strategies for the route fuzz (tests/test_fuzz_routes.py): odd values, plausible
field values by name, and whole requests (path, query, headers, cookies, body) per route.

A request is drawn from its route's Spec and the live World (real ids, cookies, CSRF tokens), so
most requests get past the first checks and reach the code behind them; the rest are odd on
purpose (wrong content types, undecodable bytes, lone surrogates, huge strings, bad signatures).
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlencode

from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from hotline.callbacks import service as callback
from hotline.cases import handover
from hotline.domain import intake, shift_text, shifts
from hotline.domain.bans import REASONS as BAN_REASONS
from hotline.domain.conversation import Channel, Urgency
from hotline.domain.routing import Presence

Body = Literal["none", "json", "form", "raw", "twilio", "telegram"]


@dataclass(frozen=True)
class Spec:
    """How to fuzz one route: what its body is, and the fields and query names it reads (odd
    and plausible values for those; random other names too)."""

    body: Body = "none"
    fields: tuple[str, ...] = ()
    query: tuple[str, ...] = ()


@dataclass
class Identity:
    """Cookies and a CSRF token of one party (empty for an anonymous client)."""

    kind: str
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""


@dataclass
class World:
    """What requests can name: real ids and parties (refreshed as the fuzz changes them)."""

    parties: dict[str, Identity]
    case_ids: list[str]
    staff_ids: list[int]
    small_ids: list[int]    # alert, ban and roster entry ids that exist
    call_sids: list[str]
    login_csrf: str
    public_url: str
    twilio_token: str
    telegram_secret: str
    metrics_token: str
    telegram_chat: int


# --- odd values ---------------------------------------------------------------------------

NASTY_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\ufeff", "\u202e", "0", "-1",
              "1e309", "NaN", "null", "[]", "{}", "../../etc/passwd", "%00", "%2e%2e%2f",
              "안녕하세요 도와주세요", "\U0001d7d9\U0001d7da", "\u0661\u0662", "²", "\u200b",
              "STOP", "전화", "CALL", "0" * 40,
              "a" * 5000, "가" * 20_000, "<script>alert(1)</script>", "' OR 1=1 --", "\r\n",
              "🙂" * 100, "\t", "9" * 400]
# Every code point, lone surrogates and NUL included.
ANY_CHAR = st.characters(codec=None, exclude_categories=())
odd_text = st.one_of(st.sampled_from(NASTY_TEXT), st.text(ANY_CHAR, max_size=40))
odd_int = st.one_of(st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63, 2**64,
                                     -(2**63) - 1, 10**400]),
                    st.integers(-(2**70), 2**70))
odd_number = st.one_of(odd_int, st.floats(allow_nan=True, allow_infinity=True))
scalar = st.one_of(st.none(), st.booleans(), odd_number, odd_text)
any_json = st.recursive(scalar, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(odd_text, kids, max_size=4)), max_leaves=12)
ODD_TIMES = ["0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00",
             "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59+00:00", "2026-02-30T00:00:00Z",
             "2026-12-05T10:00:00", "2026-12-05T10:00:00+09:00", "2027-01-01T00:00:00Z",
             "2026-12-05", "24:00", "09:00", "25:61", "T", "2026-12-05T10:00:00+99:00"]
times = st.one_of(st.sampled_from(ODD_TIMES), st.datetimes(timezones=st.timezones()).map(
    lambda d: d.isoformat()), odd_text)


def _choices(*values: str) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(values), st.lists(st.sampled_from(values), max_size=3))


PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "text": st.one_of(st.just("hello, I need help"), odd_text),
    "client_id": st.one_of(st.text(string.hexdigits, min_size=8, max_size=64), odd_text),
    "language": st.sampled_from(["ko", "en", "fr", "", "KO"]),
    "status": st.sampled_from([p.value for p in Presence]),
    "reason": st.sampled_from([*handover.REASONS, *shifts.OVERRIDE_REASONS, *BAN_REASONS]),
    "urgency": st.sampled_from([u.value for u in Urgency]),
    "override_capacity": st.booleans(),
    "days": st.one_of(st.lists(st.sampled_from([*shift_text.DAY_NAMES, "daily", "weekdays",
                                                "weekends", "MON", "mon "]), max_size=11),
                      st.lists(any_json, max_size=3)),
    "start": st.one_of(st.sampled_from(["09:00", "00:00", "23:59", "24:00", "9:00"]), times),
    "end": st.one_of(st.sampled_from(["17:00", "24:00", "00:00", "12:30"]), times),
    "tz": st.sampled_from(["UTC", "Asia/Seoul", "Nope/Zone", "../../etc/passwd", "", "\x00",
                           "posix/Asia/Seoul", "Etc/GMT+14", "localtime", "a" * 64]),
    "on_shift": st.booleans(),
    "note": odd_text,
    "harm_type": _choices(*intake.HARM_TYPES),
    "platforms": _choices(*intake.PLATFORMS),
    "age_band": _choices(*intake.AGE_BANDS),
    "referrals": _choices(*intake.REFERRALS),
    "outcome": _choices(*intake.OUTCOMES),
    "number": st.sampled_from(["+821012345678", "010-1234-5678", "+1", "+8210" + "9" * 20,
                               "01012345678", "+82 10 1234 5678",
                               "\u0660\u0661\u0660\u0661\u0662\u0663"]),
    "window": st.sampled_from([*callback.CHOICES, "0", "5", ""]),
    "leave_message": st.booleans(),
    "window_start": times,
    "window_end": times,
    "scope": st.sampled_from(["sender", "address", "both"]),
    "pseudonym": st.one_of(st.text("0123456789abcdef", min_size=64, max_size=64), odd_text),
    "channel": st.sampled_from([c.value for c in Channel]),
    # Never a loopback address: the fuzz would ban itself.
    "address": st.sampled_from(["abuse@example.org", "not-an-email", "a@b", "203.0.113.9",
                                "2001:db8::1", "999.1.1.1", "::ffff:1.2.3.4",
                                "fe80::1%eth0", "0.0.0.0/0", "1.2.3.4:80"]),
    "expires_at": st.one_of(st.sampled_from(["2099-01-01T00:00:00Z"]), times),
    "name": st.one_of(st.just("nobody"), odd_text),
    "password": odd_text,
    # The takedown desk.
    "case_id": st.one_of(st.text("0123456789abcdef", min_size=32, max_size=32), odd_int),
    "kind": st.sampled_from(["intimate", "synthetic", "threat", "other", "closed", "reduced"]),
    "minor": st.booleans(),
    "platform": st.sampled_from(["telegram", "x", "nope", ""]),
    "location": st.sampled_from(["https://t.me/somechannel/123", "https://x.com/a/status/1",
                                 "http://[::1", "javascript:alert(1)", "https://t.me/" + "a" * 3000,
                                 "https://xn--80ak6aa92e.com/%ff", "t.me/c/1/2"]),
    "reporter": st.sampled_from(["victim", "staff", "partner", "bot"]),
    "alert_id": odd_int,
    "evidence_id": odd_int,
    "fingerprint": st.one_of(st.text("0123456789abcdef", min_size=64, max_size=64), odd_text),
    "event": st.sampled_from(["monitor", "close", "all_offline", "reappeared"]),
    "purpose": st.sampled_from(["platform_report", "police", "partner", "press"]),
    "given": st.booleans(),
    "via": st.sampled_from(["chat", "phone", "in_person", "written", "partner", "fax"]),
    "route": st.sampled_from(["in_app", "abuse_email", "copyright", "kcsc", "take_it_down", "x"]),
    "location_ids": st.lists(odd_int, max_size=3),
    "fields": st.dictionaries(st.sampled_from(["name", "email", "address", "url", "x"]),
                              any_json, max_size=3),
    "step": st.sampled_from(["sent", "acknowledged", "removed", "partially_removed", "refused",
                             "info_requested", "overdue", "escalated", "verified"]),
    "ticket": odd_text,
    "state": st.sampled_from(["open", "all_removed", "monitoring", "closed", "draft", "sent"]),
    "overdue": st.sampled_from(["1", "true", "0"]),
    # Staff administration and wellbeing.
    "role": st.sampled_from(["counselor", "lead", "takedown", "admin", "root", ""]),
    "languages": st.lists(st.sampled_from(["ko", "en", "fr", ""]), max_size=3),
    "channels": st.lists(st.sampled_from([c.value for c in Channel] + ["fax"]), max_size=3),
    "specialisms": st.lists(odd_text, max_size=3),
    "max_chats": odd_int,
    "current": odd_text,
    "repeat": odd_text,
    "code": st.sampled_from(["123456", "000000", "abcdefgh", "", "1" * 64]),
    "day": st.sampled_from(["2026-12-25", "2027-02-29", "0001-01-01", "9999-12-31", "x"]),
    "opens": st.sampled_from(["09:00", "24:00", "", "25:00"]),
    "closes": st.sampled_from(["18:00", "24:00", "00:00", "x"]),
    "label": odd_text,
    "limit": st.sampled_from(["1", "100", "1000", "0", "999999999"]),
    "before": st.sampled_from(["0", "1", "999999999"]),
    "target_kind": st.sampled_from(["conversation", "staff", "ban", ""]),
    "target_id": odd_text,
    "changed": st.just("1"),
    # Reports (hotline/reports/).
    "from": st.sampled_from(["2026-01-01", "2026-13-01", "2025-12-31", "2026-1-1", "",
                             "9999-12-31"]),
    "to": st.sampled_from(["2026-12-31", "2026-02-30", "2024-01-01", "0001-01-01", ""]),
    "dimension": st.sampled_from(["harm_type", "relation", "records", "nope", ""]),
    "table": st.sampled_from(["rows", "by_rung", "by_day", "totals", "nope"]),
    # A victim's own case.
    "pin": st.sampled_from(["1234", "000000", "12345678", "١٢٣٤", ""]),
    "link": st.sampled_from(["https://t.me/somechannel/123", "not a link", "http://[::1",
                             "https://x.com/a/status/1 https://t.me/b/2"]),
    "hide": st.sampled_from(["1", "0", ""]),
    "done": st.sampled_from(["link_new", "consent", "x", ""]),
    "confirm": st.one_of(st.booleans(), st.just("true")),
    "sha256": st.one_of(st.text("0123456789abcdef", min_size=64, max_size=64), odd_text),
    "mime": st.sampled_from(["image/jpeg", "image/png", "application/pdf", "text/html", ""]),
    "size_bytes": odd_int,
    "pdq": st.one_of(st.text("0123456789abcdef", min_size=64, max_size=64), odd_text),
    "pdq_quality": odd_int,
    "where": odd_text,
    "rostered": st.booleans(),
    "hours": st.sampled_from(["1", "24", "0", "9999999999", "-1", "x"]),
    # Query names.
    "after": st.one_of(st.sampled_from(["0", "1", "999999999", "1000000000", "-1", "²"]),
                       odd_text),
    "at": times,
    "lang": st.sampled_from(["ko", "en", "xx", "", "ko-KR", "\x00"]),
    "last_event_id": st.sampled_from(["0-0", "1-0", "9999999999999-0", "$", "x", "-1-1"]),
    "t": st.text(string.ascii_letters + "-_", min_size=0, max_size=70),
}
TWILIO_PLAUSIBLE: dict[str, st.SearchStrategy[str]] = {
    "MessageSid": st.from_regex(r"\A(SM|MM)[0-9a-f]{32}\Z"),
    "AccountSid": st.just("AC" + "0123456789abcdef" * 2),
    "From": st.sampled_from(["+821055556666", "+821077778888", "anonymous", "+1", "",
                             "+82105555666677778888"]),
    "To": st.just("+15005550006"),
    "Body": st.one_of(st.sampled_from(["hello", "1", "0", "STOP", "START", "전화", "CALL",
                                       "2", "3", "4", "help me please"]), odd_text),
    "NumMedia": st.sampled_from(["0", "1", "x"]),
    "MessageStatus": st.sampled_from(["queued", "sent", "delivered", "failed", "undelivered",
                                      "read", "bogus"]),
    "ErrorCode": st.sampled_from(["", "30003", "x", "9999999"]),
    "CallStatus": st.sampled_from(["ringing", "in-progress", "completed", "busy", "failed",
                                   "no-answer", "canceled", "bogus"]),
    "Digits": st.sampled_from(["1", "2", "3", "4", "0", "#", "*", "", "12", "\u0661"]),
    "QueueResult": st.sampled_from(["bridged", "hangup", "leave", "redirected", "error",
                                    "queue-full", "bogus"]),
    "DialCallStatus": st.sampled_from(["completed", "busy", "no-answer", "failed",
                                       "canceled", "answered", "bogus"]),
    "AnsweredBy": st.sampled_from(["human", "machine_start", "fax", "unknown", ""]),
    "Direction": st.sampled_from(["inbound", "outbound-api"]),
}
ODD_HEADERS = [b"X-Forwarded-For", b"X-Forwarded-For", b"X-Forwarded-Proto", b"X-Forwarded-Host",
               b"X-Real-IP", b"Forwarded", b"Last-Event-ID", b"Origin",
               b"Sec-Fetch-Site", b"Accept-Language", b"Authorization", b"Referer",
               b"X-Twilio-Webhooks-Signature-Settings", b"Accept", b"User-Agent",
               b"X-Telegram-Bot-Api-Secret-Token", b"X-Twilio-Signature", b"Range",
               b"If-Modified-Since", b"Accept-Encoding", b"Transfer-Encoding-X"]
ODD_HEADER_VALUES = [b"127.0.0.1", b"203.0.113.7, 10.0.0.1", b"unknown", b"::1", b"1.2.3.4:80",
                     b"for=\"[2001:db8::1]\";proto=https", b"null", b"same-site", b"cross-site",
                     b"http://evil.example", b"ko-KR,ko;q=0.9", b"Bearer x", b"Bearer ",
                     b"bytes=0-1", b"\xff\xfe", b"\xed\xa0\x80", b"a" * 7000, b"0-0",
                     b"9999999999999-0", b"algorithm=sha256", b"gzip, br", b"\x01\x7f",
                     b"https", b"http, https", b"a b", b"ftp://", b"evil.example:99999",
                     b"[::1", b"host:port", b"203.0.113.7, 127.0.0.1", b",", b"%"]
# Header values never carry CR or LF: the request must stay one request.
header_value = st.one_of(st.sampled_from(ODD_HEADER_VALUES), st.binary(max_size=40).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"")))
CONTENT_TYPES = ["application/json", "application/json; charset=utf-16",
                 "application/json; charset=nope", "application/x-www-form-urlencoded",
                 "application/x-www-form-urlencoded; charset=unicode_escape",
                 "multipart/form-data", "multipart/form-data; boundary=zz", "text/plain",
                 "application/xml", "", "*/*", "application/json\x00"]


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    party: str

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        heads = b"\n".join(k + b": " + v[:200] for k, v in self.headers)
        return (f"{self.method} {self.target} as {self.party}\n{heads.decode('latin-1')}\n\n"
                f"{self.body[:2000]!r}")


# --- paths and queries --------------------------------------------------------------------

_PARAM = re.compile(r"\{([a-z]+)\}")


def _quoted(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def path_param(name: str, pattern: str | None, world: World) -> st.SearchStrategy[str]:
    """A value for one path parameter: mostly what its route accepts, sometimes odd."""
    if pattern is not None:
        fitting = st.one_of(st.from_regex(f"\\A(?:{pattern})\\Z", fullmatch=True),
                            st.sampled_from([str(i) for i in world.small_ids] or ["1"]))
    elif name == "name":  # a report's name
        fitting = st.sampled_from(["takedown-platforms", "takedown-routes", "service",
                                   "intake"])
    elif name == "id":  # a case id, or a number (takedown items, requests, alerts)
        fitting = st.one_of(st.sampled_from(world.case_ids),
                            st.sampled_from([str(i) for i in world.small_ids] or ["1"]))
    else:
        fitting = st.from_regex(r"\A[0-9]{1,12}\Z")
    odd = odd_text.filter(lambda s: s not in ("", ".", "..")).map(_quoted)
    return st.one_of(fitting, fitting, fitting, odd)


@st.composite
def target(draw: st.DrawFn, path: str, params: dict[str, str | None], spec: Spec,
           world: World) -> str:
    """The request target: the route's path with its parameters, and a query string."""
    out, pos = [], 0
    for m in _PARAM.finditer(path):
        out.append(path[pos:m.start()])
        out.append(draw(path_param(m.group(1), params.get(m.group(1)), world)))
        pos = m.end()
    out.append(path[pos:])
    query: dict[str, Any] = draw(st.fixed_dictionaries({}, optional={
        q: st.one_of(PLAUSIBLE.get(q, odd_text), odd_text) for q in spec.query}))
    extra = draw(st.lists(st.tuples(odd_text, odd_text), max_size=2))
    pairs = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in query.items()] + extra
    qs = "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in pairs)
    if draw(st.integers(0, 9)) == 0:
        qs += draw(st.sampled_from(["&&", "=", "%", "%zz", "a=%ff", "a=1&a=2", "[]=1", ";"]))
    return "".join(out) + ("?" + qs if qs else "")


# --- bodies -------------------------------------------------------------------------------

@st.composite
def fields_of(draw: st.DrawFn, names: tuple[str, ...],
              plausible: dict[str, st.SearchStrategy[Any]],
              odd: st.SearchStrategy[Any]) -> dict[str, Any]:
    """Each named field: mostly a plausible value (so the request gets past the first
    check), sometimes an odd one, sometimes missing."""
    out: dict[str, Any] = {}
    for name in names:
        how = draw(st.integers(0, 19))
        if how < 15:
            out[name] = draw(plausible.get(name, odd))
        elif how < 18:
            out[name] = draw(odd)
    return out


def _json_fields(spec: Spec) -> st.SearchStrategy[dict[str, Any]]:
    return fields_of(spec.fields, PLAUSIBLE, any_json)


def _dumps(value: Any) -> bytes:
    # ensure_ascii: a lone surrogate goes as a \ud800 escape (valid JSON, undecodable text).
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


@st.composite
def json_body(draw: st.DrawFn, spec: Spec) -> tuple[str, bytes]:
    kind = draw(st.integers(0, 9))
    if kind <= 5:
        body = draw(_json_fields(spec))
        body.update(draw(st.dictionaries(odd_text, any_json, max_size=2)))
        return "application/json", _dumps(body)
    if kind == 6:
        return "application/json", _dumps(draw(any_json))
    if kind == 7:
        depth = draw(st.sampled_from([100, 5000, 60_000]))
        return "application/json", b"[" * depth + b"]" * draw(st.sampled_from([0, depth]))
    return draw(raw_body())


@st.composite
def form_body(draw: st.DrawFn, spec: Spec, csrf: str) -> tuple[str, bytes]:
    """A form with the route's fields (its CSRF field mostly right), or odd bytes."""
    kind = draw(st.integers(0, 9))
    values = {k: _as_text(v) for k, v in draw(fields_of(spec.fields, PLAUSIBLE, odd_text)).items()}
    if "csrf" in spec.fields and draw(st.integers(0, 3)):
        values["csrf"] = csrf
    encoded = "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in values.items())
    if kind <= 5:
        return "application/x-www-form-urlencoded", encoded.encode()
    if kind <= 7:
        parts = b"".join(b"--zz\r\nContent-Disposition: form-data; name=\"" + k.encode(
            "utf-8", "surrogatepass") + b"\"\r\n\r\n" + v.encode("utf-8", "surrogatepass")
            + b"\r\n" for k, v in values.items())
        return "multipart/form-data; boundary=zz", parts + draw(st.sampled_from(
            [b"--zz--\r\n", b"", b"--zz\r\n", b"--zz\r\nContent-Transfer-Encoding: x\r\n\r\n"]))
    return draw(raw_body())


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@st.composite
def raw_body(draw: st.DrawFn) -> tuple[str, bytes]:
    ctype = draw(st.sampled_from(CONTENT_TYPES))
    body = draw(st.one_of(
        st.binary(max_size=200),
        st.sampled_from([b"", b"{", b'{"a":\xff}', b'{"text": "\\ud800"}', b"a=%ff&b",
                         b"x" * (70 * 1024), b"\x00" * 100, b'"just a string"', b"NaN",
                         b"--zz\r\n", b'{"a": 1e999999}', b"[" * 20_000]),
        odd_text.map(lambda s: s.encode("utf-8", "surrogatepass"))))
    return ctype, body


@st.composite
def twilio_body(draw: st.DrawFn, spec: Spec, world: World, path_qs: str
                ) -> tuple[list[tuple[bytes, bytes]], str, bytes]:
    """A webhook form as Twilio sends it, signed with the test's auth token (mostly)."""
    plausible = {f: _twilio_field(f, world) for f in spec.fields}
    params: dict[str, str] = draw(fields_of(spec.fields, plausible, odd_text))
    params = {k: v for k, v in params.items() if _encodable(k) and _encodable(v)}
    body = urlencode(params).encode()
    sig = RequestValidator(world.twilio_token).compute_signature(world.public_url + path_qs,
                                                                 params)
    how = draw(st.integers(0, 9))
    if how == 9:
        ctype, body = draw(raw_body())
        return [(b"X-Twilio-Signature", sig.encode())], ctype, body
    if how == 8:
        return [(b"X-Twilio-Signature", draw(header_value))], \
            "application/x-www-form-urlencoded", body
    return [(b"X-Twilio-Signature", sig.encode())], "application/x-www-form-urlencoded", body


def _encodable(s: str) -> bool:
    try:
        s.encode()
    except UnicodeEncodeError:
        return False
    return True


def _twilio_field(name: str, world: World) -> st.SearchStrategy[str]:
    if name in ("CallSid", "ParentCallSid"):
        return st.one_of(st.sampled_from(world.call_sids), st.from_regex(r"\ACA[0-9a-f]{32}\Z"))
    return TWILIO_PLAUSIBLE.get(name, st.just("x"))


@st.composite
def telegram_update(draw: st.DrawFn, world: World) -> bytes:
    """An update as the Bot API sends it, with fields changed to odd values (or raw bytes)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(raw_body())[1]
    ident = st.one_of(st.just(world.telegram_chat), odd_int, any_json)
    user = st.fixed_dictionaries({"id": ident, "is_bot": st.just(False),
                                  "first_name": st.just("Fuzz")},
                                 optional={"language_code": PLAUSIBLE["lang"]})
    chat = st.fixed_dictionaries({"id": ident, "type": st.sampled_from(["private", "group"])})
    message = st.fixed_dictionaries(
        {"message_id": st.one_of(st.integers(1, 10**6), odd_int),
         "date": st.one_of(st.just(1_780_000_000), odd_int), "chat": chat},
        optional={"from": user, "text": st.one_of(PLAUSIBLE["text"], st.sampled_from(
            ["/start", "/forget", "/help", "1", "2", "전화"]), any_json),
                  "caption": odd_text, "sticker": any_json, "photo": any_json,
                  "document": any_json})
    press = st.fixed_dictionaries({"id": st.text(max_size=8), "from": user,
                                   "chat_instance": st.just("ci"),
                                   "data": st.one_of(odd_text, st.text(max_size=64))},
                                  optional={"message": message})
    update = draw(st.fixed_dictionaries({"update_id": st.one_of(st.integers(1, 2**31), odd_int)},
                                        optional={"message": message, "callback_query": press,
                                                  "edited_message": any_json}))
    update.update(draw(st.dictionaries(odd_text, any_json, max_size=1)))
    return _dumps(update)
