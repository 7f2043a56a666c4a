"""The staff pages' words: prompts/<lang>/console/staff.toml, one [staff] table per language.

A stand-in for the console catalogue (hotline/words.py) until it lands on main: the same
files, keys ("staff.x") and `t("staff.x", name=value)` call, so templates need no change when
it does. A key missing in a language is a KeyError (tests check every language has every key).
"""

from __future__ import annotations

import tomllib
from functools import cache
from typing import Any

import jinja2
from aiohttp import web

from hotline.prompts import prompts_dir

AREA = "staff"


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every language's staff words, read once."""
    out: dict[str, dict[str, str]] = {}
    for folder in sorted(prompts_dir().iterdir()):
        path = folder / "console" / f"{AREA}.toml"
        if path.is_file():
            table = tomllib.loads(path.read_text(encoding="utf-8"))[AREA]
            out[folder.name] = {f"{AREA}.{k}": str(v) for k, v in table.items()}
    return out


def language(request: web.Request, supported: tuple[str, ...]) -> str:
    """The first of the browser's languages we have words in, else the centre's first."""
    have = [x for x in supported if x in catalogue()] or list(catalogue())
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in have:
            return tag
    return have[0]


def translator(lang: str) -> Any:
    words = catalogue()[lang]

    def t(key: str, **values: Any) -> str:
        return words[key].format_map(values)
    return t


@jinja2.pass_context
def jinja_t(context: Any, key: str, **values: Any) -> str:
    """`t("staff.x", name=value)` in templates: the page's `lang`, else English (the pages
    not yet moved to the catalogue are English)."""
    lang = context.get("lang") or "en"
    return str(catalogue()[lang][key].format_map(values))


def bundle(lang: str) -> dict[str, str]:
    """Every entry of `lang` unformatted (embedded in a page for its script's T())."""
    return dict(catalogue()[lang])
