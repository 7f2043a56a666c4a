"""Every word the console shows staff, per language: prompts/<lang>/console/<area>.toml.

Each file holds one table named after the file (`[floor]` in floor.toml) of flat string
entries; the full key is `area.key` ("floor.take_next"). `{name}` placeholders are filled with
str.format_map. Everything is read once at start. A key nobody defined, or a placeholder left
without a value, is an error (KeyError), as a missing prompt is; tests check that every
language has every key with the same placeholders. See docs/console.md ("Words").
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hotline.prompts import prompts_dir

_FORMATTER = string.Formatter()


class WordsError(Exception):
    """A catalogue file that does not have the expected shape (start-up fails naming it)."""


def placeholders(text: str) -> frozenset[str]:
    """The `{name}` placeholders in `text`."""
    return frozenset(field for _lit, field, _spec, _conv in _FORMATTER.parse(text)
                     if field is not None)


def _load_area(path: Path) -> dict[str, str]:
    area = path.stem
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise WordsError(f"{path}: {e}") from None
    table = data.get(area)
    if set(data) != {area} or not isinstance(table, dict):
        raise WordsError(f"{path}: expected exactly one table [{area}]")
    out: dict[str, str] = {}
    for key, text in table.items():
        if not isinstance(text, str):
            raise WordsError(f"{path}: {area}.{key}: expected a string")
        try:
            placeholders(text)
        except ValueError as e:
            raise WordsError(f"{path}: {area}.{key}: {e}") from None
        out[f"{area}.{key}"] = text
    return out


class Words:
    """The console catalogue of every language (the folders under prompts/ that have a
    console/ folder)."""

    def __init__(self, root: Path | None = None) -> None:
        base = root or prompts_dir()
        self.catalogues: dict[str, dict[str, str]] = {}
        for folder in sorted(p for p in base.iterdir() if (p / "console").is_dir()):
            merged: dict[str, str] = {}
            for path in sorted((folder / "console").glob("*.toml")):
                merged.update(_load_area(path))
            self.catalogues[folder.name] = merged
        self.languages = tuple(self.catalogues)

    def get(self, lang: str, key: str, **values: Any) -> str:
        """The text of `key` in `lang` with `values` filled in (KeyError if either is unknown
        or a placeholder has no value)."""
        return self.catalogues[lang][key].format_map(values)

    def has(self, lang: str, key: str) -> bool:
        return key in self.catalogues.get(lang, {})

    def bundle(self, lang: str) -> Mapping[str, str]:
        """Every entry of `lang`, unformatted (embedded in each console page for its script)."""
        return self.catalogues[lang]

    def pick(self, wanted: str | None, accept_language: str | None, default: str) -> str:
        """A page language: `wanted` (?lang=) if we have it, else the best of the browser's
        Accept-Language we have, else `default`."""
        if wanted in self.catalogues:
            return str(wanted)
        for tag in _accepted(accept_language or ""):
            primary = tag.split("-", 1)[0]
            if primary in self.catalogues:
                return primary
        return default


def _accepted(header: str) -> list[str]:
    """The language tags of an Accept-Language header, most wanted first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag.strip().lower()))
    return [tag for _q, _i, tag in sorted(ranked)]
