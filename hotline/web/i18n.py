"""The console's words in its pages: the jinja global `t(key, **values)`, the page language,
and the JSON bundle each page embeds for its script (`T(key, values)` in static/common.js).

The language of a page is its staff member's `ui_language`, else `console.default_language`;
on the login page, `?lang=` or the browser's Accept-Language. See docs/console.md ("Words").
"""

from __future__ import annotations

import json
from typing import Any

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


def install(env: jinja2.Environment, words: Words, default_language: str) -> None:
    """Make `t`, `lang`, `languages` and `words_json(lang)` available to every template.

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

    env.globals.update(t=t, code=code, lang=default_language, languages=words.languages,
                       words_json=lambda lang: bundles[lang])


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
