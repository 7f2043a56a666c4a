"""Reading request input strictly: bad input is a JSON 4xx that names the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from hotline.web.middleware import json_error


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, or a 415/400 naming what is wrong."""
    if request.content_type != "application/json":
        raise json_error(415, "expected application/json")
    try:
        body = await request.json()
        # "\ud800" is valid JSON but a lone surrogate, which no later .encode() (sealing,
        # hashing, the database) accepts: refuse it here, once, for every field.
        json.dumps(body, ensure_ascii=False).encode()
    except (ValueError, LookupError, RecursionError):
        # ValueError covers JSONDecodeError and Unicode{De,En}codeError; LookupError is an
        # unknown charset; RecursionError is nesting too deep for the parser.
        raise json_error(400, "malformed JSON") from None
    if not isinstance(body, dict):
        raise json_error(400, "expected a JSON object")
    return body


async def form_body(request: web.Request
                    ) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The request's form (urlencoded or multipart), or a 400 if it cannot be decoded: an
    unknown charset, bytes that are not in it, a multipart body without a usable boundary."""
    try:
        form = await request.post()
        # A charset like unicode_escape can decode to lone surrogates, which no later
        # .encode() accepts: refuse them here, once.
        for key, value in form.items():
            key.encode()
            if isinstance(value, str):
                value.encode()
    except (ValueError, LookupError, AssertionError, RuntimeError, HttpProcessingError):
        # ValueError covers UnicodeDecodeError and UnicodeEncodeError; aiohttp's multipart
        # reader asserts on a missing boundary, raises RuntimeError for an unknown part
        # encoding and BadHttpMessage for too many part headers.
        raise json_error(400, "malformed form") from None
    return form


def query_int(request: web.Request, name: str, default: int = 0) -> int:
    """A non-negative integer query parameter."""
    raw = request.query.get(name, str(default))
    # isdigit alone is true for "²" or "١٢": only ASCII digits are a number here.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise json_error(400, f"{name}: expected a non-negative integer", field=name)
    return int(raw)


def page_limit(request: web.Request, default: int = 50, most: int = 200) -> int:
    """The `limit` of a paged list: 1 to `most`."""
    n = query_int(request, "limit", default)
    if not 1 <= n <= most:
        raise json_error(400, f"limit: expected 1 to {most}", field="limit")
    return n


def page_after(request: web.Request, name: str = "after") -> str | None:
    """A paged list's cursor (`next` of the previous page), checked by shape only."""
    raw = request.query.get(name)
    if raw is None:
        return None
    if not (0 < len(raw) <= 100 and raw.isascii() and raw.replace(".", "").isalnum()):
        raise json_error(400, f"{name}: not a cursor of this list", field=name)
    return raw


def query_text(request: web.Request, name: str, max_len: int) -> str:
    """A search's text from the query string, stripped ("" when absent): at most `max_len`
    printable characters (a NUL or a lone surrogate would fail in the database, not here)."""
    raw = request.query.get(name, "").strip()
    if len(raw) > max_len or not raw.isprintable():
        raise json_error(400, f"{name}: expected at most {max_len} printable characters",
                         field=name)
    return raw


def field_str(body: dict[str, Any], name: str, max_len: int, *, required: bool = True,
              choices: tuple[str, ...] | None = None) -> str:
    value = body.get(name, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_len:
        raise json_error(400, f"{name}: expected a string of at most {max_len} characters")
    if choices is not None and value not in choices:
        raise json_error(400, f"{name}: expected one of {', '.join(choices)}")
    return value


def parse_time(raw: str, name: str, check: Callable[[datetime], datetime] | None = None
               ) -> datetime:
    """An ISO 8601 time with an offset (kept as given); a 400 naming `name` otherwise, also
    near year 1 or 9999, where converting it to UTC (as storing it does) would overflow, and
    when `check` (a ValueError for a time out of its range) refuses it."""
    try:
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError("no offset")
        value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise json_error(400, f"{name}: expected an ISO 8601 time with offset",
                         field=name) from None
    if check is not None:
        try:
            check(value)
        except (ValueError, OverflowError) as e:
            raise json_error(400, f"{name}: {e}", field=name) from None
    return value


# Ids are 32-bit integer columns in PostgreSQL (a larger value is a DataError there, and past
# 2**63 an OverflowError in SQLite): nothing at or above this is an id of ours.
INT_LIMIT = 2**31


def field_int(body: dict[str, Any], name: str) -> int:
    """A non-negative integer field (an id) that fits a 32-bit SQL integer."""
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < INT_LIMIT:
        raise json_error(400, f"{name}: expected an integer from 0 to {INT_LIMIT - 1}",
                         field=name)
    return value


def field_bool(body: dict[str, Any], name: str, default: bool | None = None) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise json_error(400, f"{name}: expected true or false")
    return value
