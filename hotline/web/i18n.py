"""The console's words in its pages: the jinja global `t(key, **values)`, the page language,
and the JSON bundle each page embeds for its script (`T(key, values)` in static/common.js).

The language of a page is its staff member's `ui_language`, else `console.default_language`;
on the login page, `?lang=` or the browser's Accept-Language. See docs/console.md ("Words").
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from markupsafe import Markup

from hotline.domain.staff import Staff
from hotline.web.appkeys import CONFIG, WORDS
from hotline.words import Words


def _script_json(data: object) -> Markup:
    """JSON safe inside <script> and HTML (<, >, &, ' escaped), as jinja's tojson does."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(ch, esc)
    return Markup(text)  # noqa: S704 - escaped above for a script element


def install(env: jinja2.Environment, words: Words, default_language: str, zone: str) -> None:
    """Make `t`, `lang`, `languages` and `words_json(lang)` available to every template, and
    the filters `codes` (a list of codes in words) and `local_time` (a stored UTC time in the
    centre's zone, `zone`).

    `lang` defaults to the centre's language; page handlers put the page's own in context."""
    bundles = {lang: _script_json(dict(words.bundle(lang))) for lang in words.languages}

    @jinja2.pass_context
    def t(context: jinja2.runtime.Context, key: str, **values: Any) -> str:
        return words.get(str(context.get("lang")), key, **values)

    @jinja2.pass_context
    def code(context: jinja2.runtime.Context, prefix: str, value: str) -> str:
        """A code in words (codes.<prefix>_<value>), or the code itself if it has none."""
        lang, key = str(context.get("lang")), f"codes.{prefix}_{value}"
        return words.get(lang, key) if words.has(lang, key) else value.replace("_", " ")

    @jinja2.pass_context
    def codes(context: jinja2.runtime.Context, values: Iterable[str], prefix: str) -> list[str]:
        """Each code of a list in words (the filter `codes`)."""
        return [code(context, prefix, v) for v in values]

    env.globals.update(t=t, code=code, lang=default_language, languages=words.languages,
                       words_json=lambda lang: bundles[lang])
    env.filters["codes"] = codes
    env.filters["local_time"] = functools.partial(local_time, zone=ZoneInfo(zone))


def local_time(value: str | datetime | None, zone: tzinfo) -> str:
    """A stored time (ISO text or datetime; naive is UTC) as `2026-12-06 11:52:03 KST` in the
    centre's zone: staff read the audit trail in their own clock, not UTC."""
    if not value:
        return "—"
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def staff_language(request: web.Request, staff: Staff) -> str:
    """The console language of `staff`: their choice, else the centre's default."""
    words = request.app[WORDS]
    if staff.ui_language in words.languages:
        return str(staff.ui_language)
    return request.app[CONFIG].console.default_language


def login_language(request: web.Request) -> str:
    """The login page's language: ?lang=, else the browser's, else the centre's default."""
    return request.app[WORDS].pick(request.query.get("lang"),
                                   request.headers.get("Accept-Language"),
                                   request.app[CONFIG].console.default_language)


def words_for(request: web.Request, lang: str, key: str, **values: Any) -> str:
    """One entry in `lang` (for words made in Python: flash and error messages)."""
    return request.app[WORDS].get(lang, key, **values)
