"""Reading request input strictly: bad input is a JSON 4xx that names the field."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from hotline.web.middleware import json_error


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, or a 415/400 naming what is wrong."""
    if request.content_type != "application/json":
        raise json_error(415, "expected application/json")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise json_error(400, "malformed JSON") from None
    if not isinstance(body, dict):
        raise json_error(400, "expected a JSON object")
    return body


def query_int(request: web.Request, name: str, default: int = 0) -> int:
    """A non-negative integer query parameter."""
    raw = request.query.get(name, str(default))
    if not raw.isdigit() or len(raw) > 9:
        raise json_error(400, f"{name}: expected a non-negative integer")
    return int(raw)


def field_str(body: dict[str, Any], name: str, max_len: int, *, required: bool = True,
              choices: tuple[str, ...] | None = None) -> str:
    value = body.get(name, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_len:
        raise json_error(400, f"{name}: expected a string of at most {max_len} characters")
    if choices is not None and value not in choices:
        raise json_error(400, f"{name}: expected one of {', '.join(choices)}")
    return value


def field_int(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise json_error(400, f"{name}: expected a non-negative integer")
    return value


def field_bool(body: dict[str, Any], name: str, default: bool | None = None) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise json_error(400, f"{name}: expected true or false")
    return value
