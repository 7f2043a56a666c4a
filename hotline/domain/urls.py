"""URL normalization for content locations: one spelling per place, so one item's locations
can be compared and counted, and nothing hostile passes.

Pure, standard library only. `normalize_url` is idempotent (normalize(normalize(u)) ==
normalize(u)) and raises only `LocationError`, whose `field` is the caller's form field and
whose `code` names the rule broken. What it does (docs/takedown.md, "Locations"):
- the scheme must be http or https (none given: https); userinfo (`a@host`) is refused, since
  `https://t.me@evil.example/` is a classic disguise;
- the host is lower-cased, one trailing dot dropped, and an international name turned into
  punycode; names with the four characters IDNA 2003 (the standard library's codec) and
  browsers read differently (ß, ς, zero-width joiner/non-joiner) are refused rather than
  silently sent to another site;
- the default port is dropped; the path loses dot segments; percent-escapes are upper-cased,
  unreserved ones decoded, and raw non-ASCII is escaped (RFC 3986 section 6.2.2);
- tracking parameters are dropped (the lists below; host-specific ones only on their hosts);
- the fragment is dropped, unless it is a route of a one-page site (`#!...` or `#/...`), where
  it is what locates the content.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import unquote, urlsplit

MAX_URL_CHARS = 2048

# Click and share identifiers that say who shared a link, never what it points to.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
    "mc_cid", "mc_eid", "igshid",
})
TRACKING_PREFIXES = ("utm_",)
# Only on these hosts (and their subdomains): elsewhere the same names may locate content
# (YouTube's `t` is a time and stays; `s` and `t` on X are share markers).
HOST_TRACKING_PARAMS: dict[str, frozenset[str]] = {
    "x.com": frozenset({"s", "t", "ref_src", "ref_url"}),
    "twitter.com": frozenset({"s", "t", "ref_src", "ref_url"}),
    "youtube.com": frozenset({"si", "feature", "pp"}),
    "youtu.be": frozenset({"si", "feature"}),
    "instagram.com": frozenset({"igsh"}),
    "facebook.com": frozenset({"mibextid", "__tn__"}),
    "tiktok.com": frozenset({"_r", "_t", "is_from_webapp", "sender_device", "is_copy_url"}),
}
HOST_TRACKING_PREFIXES: dict[str, tuple[str, ...]] = {"facebook.com": ("__cft__",)}

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = frozenset("!$&'()*+,;=")
_PATH_CHARS = _UNRESERVED | _SUB_DELIMS | frozenset(":@/")
_QUERY_CHARS = _PATH_CHARS | frozenset("?")
# Characters IDNA 2003 maps away ("ß" -> "ss") but IDNA 2008 and browsers keep (UTS 46).
_DEVIATIONS = frozenset("\u00df\u03c2\u200c\u200d")
_HEX = frozenset("0123456789abcdefABCDEF")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_SCHEME_SLASHES = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_HOST_PORT = re.compile(r"[^:/?#]+:\d*(?:[/?#]|$)")
_HOST = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*")
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
_EDGE_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp"})


class LocationError(ValueError):
    """A location is not acceptable. `field` names the form field, `code` the rule broken."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code
        self.detail = message


def _strip_invisible(text: str) -> str:
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start]) in _EDGE_CATEGORIES:
        start += 1
    while end > start and unicodedata.category(text[end - 1]) in _EDGE_CATEGORIES:
        end -= 1
    return text[start:end].strip()


def check_text(text: object, field: str) -> str:
    """`text` stripped (of invisible characters too), if it is a string of acceptable length
    with no control, format or space characters inside (a bidi override can disguise a
    host)."""
    if not isinstance(text, str):
        raise LocationError(field, "not_text", "expected a URL or Telegram link as text")
    # Links copied from chat apps often carry a zero-width space or BOM at either end.
    text = _strip_invisible(text.strip())
    if not text:
        raise LocationError(field, "empty", "expected a URL or Telegram link")
    if len(text) > MAX_URL_CHARS:
        raise LocationError(field, "too_long", f"longer than {MAX_URL_CHARS} characters")
    if any(unicodedata.category(c) in _BAD_CATEGORIES for c in text):
        raise LocationError(field, "bad_characters",
                            "contains spaces or control or invisible characters")
    return text


def _with_scheme(text: str) -> str:
    """`text` with https:// in front when it has no scheme ("t.me/name/5", "//host/x",
    "host:8080/x"); an opaque scheme ("javascript:...") is left for the scheme check."""
    if text.startswith("//"):
        return "https:" + text
    if _SCHEME_SLASHES.match(text) or (_SCHEME.match(text) and not _HOST_PORT.match(text)):
        return text
    return "https://" + text


def _pct(part: str, allowed: frozenset[str]) -> str:
    """Percent-escapes upper-cased, unreserved ones decoded, other bytes escaped."""
    out: list[str] = []
    i = 0
    while i < len(part):
        c = part[i]
        if c == "%" and i + 2 < len(part) and part[i + 1] in _HEX and part[i + 2] in _HEX:
            decoded = chr(int(part[i + 1:i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + part[i + 1:i + 3].upper())
            i += 3
            continue
        if c in allowed:
            out.append(c)
        else:
            out.append("".join(f"%{b:02X}" for b in c.encode("utf-8")))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on a path that starts with "/"."""
    out: list[str] = []
    segments = path.split("/")[1:]
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        elif seg == ".":
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/" + "/".join(out)


def _host(bracketed: bool, hostname: str, field: str) -> str:
    if bracketed:
        if "%" in hostname:  # a zone id names the sender's own network interface
            raise LocationError(field, "bad_host", "the host is not a valid address")
        try:
            return f"[{ipaddress.IPv6Address(hostname).compressed}]"
        except ValueError:
            raise LocationError(field, "bad_host", "the host is not a valid address") from None
    host = hostname[:-1] if hostname.endswith(".") else hostname
    if not host:
        raise LocationError(field, "empty_host", "the host is empty")
    if any(c in _DEVIATIONS for c in host):
        raise LocationError(field, "ambiguous_host",
                            "the host has a character browsers read differently (ß, ς or an "
                            "invisible joiner); enter its xn-- form")
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise LocationError(field, "bad_host", "the host is not a valid name") from None
    if not _HOST.fullmatch(host) or len(host) > 253:
        raise LocationError(field, "bad_host", "the host is not a valid name")
    return host


def _on(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _is_tracking(key: str, host: str) -> bool:
    name = unquote(key.replace("+", " ")).lower()
    if name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES):
        return True
    for domain, names in HOST_TRACKING_PARAMS.items():
        if _on(host, domain) and name in names:
            return True
    return any(_on(host, d) and name.startswith(p)
               for d, p in HOST_TRACKING_PREFIXES.items())


def _query(query: str, host: str) -> str:
    kept = []
    for piece in query.split("&"):
        if not piece:
            continue
        key = piece.split("=", 1)[0]
        if not _is_tracking(key, host):
            kept.append(_pct(piece, _QUERY_CHARS))
    return "&".join(kept)


def _port(port: int | None, scheme: str, field: str) -> str:
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return ""
    if port == 0:
        raise LocationError(field, "bad_port", "the port is not valid")
    return f":{port}"


def normalize_url(text: object, field: str = "location") -> str:
    """The one spelling of an http(s) URL (see the module docstring), or LocationError."""
    raw = _with_scheme(check_text(text, field))
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise LocationError(field, "bad_url", "not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise LocationError(field, "bad_scheme", "only http and https links are accepted")
    if "@" in parts.netloc:
        raise LocationError(field, "userinfo", "a user name or password before the host "
                                               "(user@host) is not accepted")
    if not parts.hostname:
        raise LocationError(field, "empty_host", "the host is empty")
    host = _host(parts.netloc.startswith("["), parts.hostname, field)
    path = _remove_dot_segments(_pct(parts.path or "/", _PATH_CHARS))
    query = _query(parts.query, host)
    fragment = parts.fragment if parts.fragment.startswith(("!", "/")) else ""
    url = f"{scheme}://{host}{_port(port, scheme, field)}{path}"
    url += f"?{query}" if query else ""
    url += f"#{_pct(fragment, _QUERY_CHARS)}" if fragment else ""
    if len(url) > MAX_URL_CHARS:
        raise LocationError(field, "too_long", f"longer than {MAX_URL_CHARS} characters")
    return url
