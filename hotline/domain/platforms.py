"""The platform directory: each platform the desk asks to remove content, and its routes.

Pure: `parse_directory` turns the TOML-shaped table (platforms.toml, named by config as
`[takedown] platforms_file`) into frozen values, or raises ConfigError naming the exact key,
e.g. `platforms.x.routes.take_it_down.deadline_hours`. A route is one way to ask: a web form,
an in-app report, an e-mail address, a legal notice or a regulator, serving one legal basis,
with the fields that basis (and the route) require, a deadline no longer than the law's, and
the next route to try when a request is overdue or refused (the escalation ladder). See
docs/takedown.md, "Platform directory".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hotline.domain.errors import ConfigError
from hotline.domain.intake import PLATFORMS
from hotline.domain.legal import (
    DEADLINE_HOURS,
    LegalBasis,
    RequestField,
    required_fields,
    strictest_deadline_hours,
)
from hotline.domain.takedown import ItemKind
from hotline.domain.urls import LocationError, normalize_url


class PlatformType(StrEnum):
    SOCIAL = "social"
    MESSENGER = "messenger"
    SEARCH = "search"
    ADULT_SITE = "adult_site"
    FILE_HOST = "file_host"
    WEBSITE = "website"  # any other site: the generic host entry


class RouteKind(StrEnum):
    WEB_FORM = "web_form"
    IN_APP = "in_app"            # the app's own report button: staff file it by hand
    EMAIL = "email"
    LEGAL_NOTICE = "legal_notice"
    REGULATOR = "regulator"


# Platform codes a directory may hold: the intake form's, less "unknown" (nobody to ask).
PLATFORM_CODES = tuple(p for p in PLATFORMS if p != "unknown")
MAX_DEADLINE_HOURS = 24 * 90
_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_PLATFORM_KEYS = frozenset({"name", "type", "country", "routes"})
_ROUTE_KEYS = frozenset({"kind", "legal_basis", "url", "email", "address_per_request",
                         "deadline_hours", "required_fields", "escalate_to", "kinds",
                         "minor_only"})


@dataclass(frozen=True)
class Route:
    code: str
    kind: RouteKind
    legal_basis: LegalBasis
    deadline_hours: int
    # The basis's fields and the route's own, in the order a request presents them.
    required_fields: tuple[RequestField, ...]
    url: str | None = None
    email: str | None = None
    # The address differs per request (a host's abuse contact): given when drafting.
    address_per_request: bool = False
    escalate_to: str | None = None
    kinds: tuple[ItemKind, ...] = tuple(ItemKind)
    minor_only: bool = False

    @property
    def due_hours(self) -> int:
        """The deadline a request through this route gets: the route's or the law's,
        whichever is shorter (the parser refuses a route longer than its law)."""
        return strictest_deadline_hours(self.legal_basis, self.deadline_hours)

    @property
    def unfilled(self) -> bool:
        """No address although one is needed: the operator has yet to fill it in."""
        if self.address_per_request or self.kind is RouteKind.IN_APP:
            return False
        if self.kind is RouteKind.WEB_FORM:
            return self.url is None
        if self.kind is RouteKind.EMAIL:
            return self.email is None
        return self.url is None and self.email is None


@dataclass(frozen=True)
class Platform:
    code: str
    name: str
    type: PlatformType
    country: str  # ISO 3166-1 alpha-2, or "" when not known
    routes: tuple[Route, ...]
    # The name in other languages, where it is a word rather than a brand ("Other website").
    names: Mapping[str, str] = field(default_factory=dict)

    def name_in(self, lang: str) -> str:
        """The name a reader of `lang` sees (the default `name` when it has none of its own)."""
        return self.names.get(lang, self.name)

    def route(self, code: str) -> Route | None:
        return next((r for r in self.routes if r.code == code), None)

    def ladder(self, code: str) -> tuple[Route, ...]:
        """The route `code` and every rung after it, in order (the parser refuses cycles)."""
        rungs: list[Route] = []
        route = self.route(code)
        while route is not None:
            rungs.append(route)
            route = self.route(route.escalate_to) if route.escalate_to else None
        return tuple(rungs)

    def routes_for(self, kind: ItemKind, minor: bool) -> tuple[Route, ...]:
        """Routes that serve an item of `kind` (minor-only routes only for minors)."""
        return tuple(r for r in self.routes
                     if kind in r.kinds and (minor or not r.minor_only))


@dataclass(frozen=True)
class Directory:
    platforms: tuple[Platform, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.platforms)

    def get(self, code: str) -> Platform | None:
        return next((p for p in self.platforms if p.code == code), None)

    def unfilled(self, where: str = "platforms") -> tuple[str, ...]:
        """The keys of routes still waiting for an address (for a start-up warning)."""
        return tuple(f"{where}.{p.code}.routes.{r.code}"
                     for p in self.platforms for r in p.routes if r.unfilled)

    def names(self, lang: str) -> dict[str, str]:
        """Every platform's name in `lang`, by code."""
        return {p.code: p.name_in(lang) for p in self.platforms}

    def public(self) -> list[dict[str, Any]]:
        """The shape of `GET /api/v1/takedown/platforms`."""
        return [{"code": p.code, "name": p.name, "names": dict(p.names), "type": p.type.value,
                 "country": p.country,
                 "routes": [{"code": r.code, "kind": r.kind.value,
                             "legal_basis": r.legal_basis.value,
                             "deadline_hours": r.due_hours,
                             "required_fields": [f.value for f in r.required_fields]}
                            for r in p.routes]}
                for p in self.platforms]


def _table(value: object, key: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected {what}")
    return value


def _unknown(table: Mapping[str, Any], known: frozenset[str], key: str) -> None:
    extra = sorted(set(table) - known)
    if extra:
        raise ConfigError(f"{key}.{extra[0]}: unknown key (known keys: "
                          f"{', '.join(sorted(known))})")


def _enum(value: object, enum: type[StrEnum], key: str) -> Any:
    allowed = [e.value for e in enum]
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"{key}: expected one of {', '.join(allowed)}, got {value!r}")
    return enum(value)


def _enum_list(value: object, enum: type[StrEnum], key: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list")
    return tuple(_enum(v, enum, f"{key}[{i}]") for i, v in enumerate(value))


def _text(value: object, key: str, pattern: re.Pattern[str] | None = None,
          what: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200 or (
            pattern is not None and not pattern.fullmatch(value)):
        raise ConfigError(f"{key}: expected {what}, got {value!r}")
    return value


def _names(value: object, key: str) -> tuple[str, Mapping[str, str]]:
    """A name: one string for every language (a brand), or a table by language code whose
    English entry (else its first) is the default."""
    if not isinstance(value, Mapping):
        return _text(value, key), {}
    if not value:
        raise ConfigError(f"{key}: expected a name or a table of names by language, got {{}}")
    names = {}
    for lang, text in value.items():
        if not isinstance(lang, str) or not _LANGUAGE.fullmatch(lang):
            raise ConfigError(f"{key}: {lang!r} is not a language code like ko or en")
        names[lang] = _text(text, f"{key}.{lang}")
    return names.get("en", next(iter(names.values()))), names


def _bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    return value


def _url(value: object, key: str) -> str:
    try:
        url = normalize_url(value, key)
    except LocationError as e:
        raise ConfigError(str(e)) from None
    if not url.startswith("https://"):
        raise ConfigError(f"{key}: expected an https:// address, got {value!r}")
    return url


def _email(value: object, key: str) -> str:
    """The address with its domain lower-cased (the local part is the receiver's business)."""
    local, _, domain = _text(value, key, _EMAIL, "an e-mail address").rpartition("@")
    return f"{local}@{domain.lower()}"


def _deadline(value: object, basis: LegalBasis, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not (
            0 < value <= MAX_DEADLINE_HOURS):
        raise ConfigError(f"{key}: expected whole hours 1..{MAX_DEADLINE_HOURS}, "
                          f"got {value!r}")
    legal = DEADLINE_HOURS[basis]
    if legal is not None and value > legal:
        raise ConfigError(f"{key}: {value} h is longer than the {legal} h that "
                          f"{basis.value} allows")
    return value


def _route(code: str, raw: object, key: str) -> Route:
    t = _table(raw, key, "a table of route settings")
    _unknown(t, _ROUTE_KEYS, key)
    _text(code, key, _CODE, "a route code of lower-case letters, digits and _")
    kind = _enum(t.get("kind"), RouteKind, f"{key}.kind")
    basis = _enum(t.get("legal_basis"), LegalBasis, f"{key}.legal_basis")
    if "deadline_hours" not in t:
        raise ConfigError(f"{key}.deadline_hours: missing (whole hours)")
    extra = _enum_list(t.get("required_fields", []), RequestField, f"{key}.required_fields")
    kinds = _enum_list(t.get("kinds", [k.value for k in ItemKind]), ItemKind, f"{key}.kinds")
    if not kinds:
        raise ConfigError(f"{key}.kinds: expected at least one of intimate, synthetic, threat")
    escalate_to = t.get("escalate_to")
    if escalate_to is not None:
        _text(escalate_to, f"{key}.escalate_to", _CODE, "a route code of this platform")
    return Route(
        code=code, kind=kind, legal_basis=basis,
        deadline_hours=_deadline(t["deadline_hours"], basis, f"{key}.deadline_hours"),
        required_fields=required_fields(basis, extra=extra),
        url=_url(t["url"], f"{key}.url") if "url" in t else None,
        email=_email(t["email"], f"{key}.email") if "email" in t else None,
        address_per_request=_bool(t.get("address_per_request", False),
                                  f"{key}.address_per_request"),
        escalate_to=escalate_to, kinds=kinds,
        minor_only=_bool(t.get("minor_only", False), f"{key}.minor_only"))


def _check_ladder(routes: tuple[Route, ...], key: str) -> None:
    codes = {r.code for r in routes}
    for r in routes:
        if r.escalate_to is not None and r.escalate_to not in codes:
            raise ConfigError(f"{key}.{r.code}.escalate_to: no route {r.escalate_to!r} on "
                              f"this platform (routes: {', '.join(sorted(codes))})")
    for r in routes:
        seen = [r.code]
        nxt = r.escalate_to
        while nxt is not None:
            if nxt in seen:  # name the key that closes the circle
                raise ConfigError(f"{key}.{seen[-1]}.escalate_to: the ladder goes round in "
                                  f"a circle ({' -> '.join([*seen, nxt])})")
            seen.append(nxt)
            nxt = next(x.escalate_to for x in routes if x.code == nxt)


def _platform(code: str, raw: object, key: str) -> Platform:
    if code not in PLATFORM_CODES:
        raise ConfigError(f"{key}: unknown platform code (known: {', '.join(PLATFORM_CODES)})")
    t = _table(raw, key, "a table of platform settings")
    _unknown(t, _PLATFORM_KEYS, key)
    routes_raw = _table(t.get("routes"), f"{key}.routes", "[...routes.CODE] tables")
    if not routes_raw:
        raise ConfigError(f"{key}.routes: expected at least one route")
    routes = tuple(_route(c, r, f"{key}.routes.{c}") for c, r in routes_raw.items())
    _check_ladder(routes, f"{key}.routes")
    name, names = _names(t.get("name"), f"{key}.name")
    return Platform(
        code=code, name=name, names=names,
        type=_enum(t.get("type"), PlatformType, f"{key}.type"),
        country=(_text(t["country"], f"{key}.country", _COUNTRY,
                       "a two-letter country code like KR") if t.get("country") else ""),
        routes=routes)


def parse_directory(raw: object, where: str = "platforms") -> Directory:
    """The directory from its table (`{code: {name, type, country, routes: {...}}}`); `where`
    is the key the table sits at, for error messages."""
    table = _table(raw, where, "a table of [platforms.CODE] entries")
    if not table:
        raise ConfigError(f"{where}: expected at least one platform")
    return Directory(tuple(_platform(c, p, f"{where}.{c}") for c, p in table.items()))
