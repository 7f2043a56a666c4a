"""Staff account fields an admin sets, checked. Pure; errors name the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hotline.domain.conversation import Channel
from hotline.domain.staff import Role

# What a case can call for (hotline/domain/routing.needs_for) and a counselor can offer.
SPECIALISMS = ("minors", "sextortion")
CHANNELS = tuple(c.value for c in Channel)
MAX_CHATS = 10


class FieldError(ValueError):
    """A field's value is wrong; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Fields:
    """The settable fields of an account; None: leave as it is."""

    role: Role | None = None
    languages: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    specialisms: tuple[str, ...] | None = None
    max_chats: int | None = None

    def columns(self) -> dict[str, Any]:
        """The SQL column values of the fields that are set."""
        out: dict[str, Any] = {}
        if self.role is not None:
            out["role"] = self.role.value
        for name in ("languages", "channels", "specialisms"):
            value = getattr(self, name)
            if value is not None:
                out[name] = ",".join(value)
        if self.max_chats is not None:
            out["max_chats"] = self.max_chats
        return out


def check_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 64 \
            or any(c.isspace() for c in name.strip()) or not name.strip().isprintable():
        raise FieldError("name", "expected 1-64 characters without spaces")
    return name.strip()


def _items(field: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, Sequence) or not all(isinstance(x, str) for x in value):
        raise FieldError(field, "expected a list of words")
    return tuple(dict.fromkeys(x.strip() for x in value if x.strip()))


def _subset(field: str, value: Any, allowed: Sequence[str], empty_ok: bool) -> tuple[str, ...]:
    items = _items(field, value)
    bad = [x for x in items if x not in allowed]
    if bad or (not items and not empty_ok):
        raise FieldError(field, f"expected {'' if empty_ok else 'one or more of '}"
                                f"{', '.join(allowed)}")
    return items


def parse_fields(raw: Mapping[str, Any], languages: Sequence[str]) -> Fields:
    """The fields present in `raw` (a JSON body or form), checked."""
    role = None
    if "role" in raw:
        if raw["role"] not in [r.value for r in Role]:
            raise FieldError("role", f"expected one of {', '.join(r.value for r in Role)}")
        role = Role(raw["role"])
    max_chats = None
    if "max_chats" in raw:
        value = raw["max_chats"]
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_CHATS:
            raise FieldError("max_chats", f"expected a whole number 1..{MAX_CHATS}")
        max_chats = value
    return Fields(
        role=role,
        languages=_subset("languages", raw["languages"], languages, False)
        if "languages" in raw else None,
        channels=_subset("channels", raw["channels"], CHANNELS, False)
        if "channels" in raw else None,
        specialisms=_subset("specialisms", raw["specialisms"], SPECIALISMS, True)
        if "specialisms" in raw else None,
        max_chats=max_chats)


def check_password(password: Any, min_chars: int) -> str:
    if not isinstance(password, str) or not min_chars <= len(password) <= 1024:
        raise FieldError("password", f"expected {min_chars} to 1024 characters")
    return password
