"""The [referrals] section of config.toml: the directory of places victims are pointed to.

Each [[referrals.entries]] has a code, a name and opening hours per language (a table with
every supported language), a phone number, a web address, the languages spoken there and the
situations it serves (hotline.domain.referrals.SITUATIONS). A bad entry stops start-up naming
the key, e.g. referrals.entries[2].situations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hotline.domain.errors import ConfigError
from hotline.domain.referrals import SITUATIONS, Referral

_CODE = re.compile(r"^[a-z0-9_]{1,32}$")
_PHONE = re.compile(r"^[0-9+][0-9 -]{1,23}$")
_KEYS = ("code", "name", "phone", "web", "hours", "languages", "situations")


@dataclass(frozen=True)
class ReferralsConfig:
    entries: tuple[Referral, ...] = ()

    def get(self, code: str) -> Referral | None:
        return next((e for e in self.entries if e.code == code), None)


def _texts(where: str, value: Any, languages: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
            isinstance(v, str) and v.strip() for v in value.values()):
        raise ConfigError(f"{where}: expected a table of texts by language, like "
                          "{ ko = \"...\", en = \"...\" }")
    missing = [lang for lang in languages if lang not in value]
    if missing:
        raise ConfigError(f"{where}: missing the {missing[0]!r} text")
    return {str(k): str(v) for k, v in value.items()}


def _entry(where: str, e: Any, languages: tuple[str, ...]) -> Referral:
    if not isinstance(e, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(e) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key (known keys: "
                          f"{', '.join(sorted(_KEYS))})")
    code = e.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise ConfigError(f"{where}.code: expected a short lower-case code like \"dsc\"")
    phone = e.get("phone", "")
    if not isinstance(phone, str) or (phone and not _PHONE.match(phone)):
        raise ConfigError(f"{where}.phone: expected a phone number like 02-735-8994")
    web = e.get("web", "")
    if not isinstance(web, str) or (web and not web.startswith("https://")):
        raise ConfigError(f"{where}.web: expected an https:// address or nothing")
    if not phone and not web:
        raise ConfigError(f"{where}.phone: expected a phone number or a web address")
    spoken = e.get("languages", [])
    if not isinstance(spoken, list) or not spoken or not all(
            isinstance(s, str) for s in spoken):
        raise ConfigError(f"{where}.languages: expected a list like [\"ko\"]")
    situations = e.get("situations", [])
    if not isinstance(situations, list) or not situations or any(
            s not in SITUATIONS for s in situations):
        raise ConfigError(f"{where}.situations: expected a list of "
                          f"{', '.join(SITUATIONS)}")
    return Referral(code=code, name=_texts(f"{where}.name", e.get("name"), languages),
                    phone=phone, web=web,
                    hours=_texts(f"{where}.hours", e.get("hours"), languages),
                    languages=tuple(spoken), situations=tuple(situations))


def parse_referrals(raw: Any, languages: tuple[str, ...]) -> ReferralsConfig:
    """Validate [referrals]; every entry has its texts in every supported language."""
    if not isinstance(raw, dict):
        raise ConfigError("referrals: expected a table [referrals]")
    for key in raw:
        if key != "entries":
            raise ConfigError(f"referrals.{key}: unknown key (known keys: entries)")
    entries = raw.get("entries", [])
    if not isinstance(entries, list):
        raise ConfigError("referrals.entries: expected [[referrals.entries]] tables")
    parsed = tuple(_entry(f"referrals.entries[{i}]", e, languages)
                   for i, e in enumerate(entries))
    codes = [p.code for p in parsed]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            raise ConfigError(f"referrals.entries[{i}].code: {code!r} is used twice")
    return ReferralsConfig(parsed)
