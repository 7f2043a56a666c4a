"""The docs and the event catalogue match the code: every route the app answers is in
docs/routes.md (and every route listed there exists), every event type is in docs/events.md,
services publish catalogue members (never a bare string), and the console's JavaScript listens
only for types the catalogue has."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from hotline.app import create_app
from hotline.config import config_from_mapping
from hotline.domain.event_types import EventType

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _handlers() -> dict[str, str]:
    """Every route as "METHOD path" -> the module of its handler (without "hotline.")."""
    app = create_app(config_from_mapping({"storage": {
        "data_dir": "/nonexistent", "database_url": "sqlite+aiosqlite://"}}))
    out = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or (info["prefix"] + "/{filename}")
        if route.method != "HEAD":
            module = str(getattr(route.handler, "__module__", ""))
            out[f"{route.method} {path}"] = module.removeprefix("hotline.")
    return out


def _routes() -> set[str]:
    return set(_handlers())


def test_the_routes_page_names_each_handler_module() -> None:
    rows = re.findall(r"^\| `([A-Z]+ /[^`]*)` \| [^|]* \| `([^`]*)` \|",
                      (DOCS / "routes.md").read_text(), re.M)
    handlers = _handlers()
    wrong = {route: (listed, actual) for route, listed in rows
             if not (actual := handlers.get(route, "")).startswith("aiohttp")
             and listed != actual}
    assert wrong == {}


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    listed = set(re.findall(r"^\| `([A-Z]+ /[^`]*)` \|", (DOCS / "routes.md").read_text(),
                            re.M))
    routes = _routes()
    assert routes - listed == set(), "routes missing from docs/routes.md"
    assert listed - routes == set(), "docs/routes.md lists routes the app does not have"


def test_every_event_type_is_documented() -> None:
    text = (DOCS / "events.md").read_text()
    assert [e.value for e in EventType if f"`{e.value}`" not in text] == []


def test_services_publish_catalogue_members_not_strings() -> None:
    """A dict literal's "type" is an EventType member (or an expression), never a bare string:
    a typo would publish an event nobody hears."""
    bare = []
    for path in (ROOT / "hotline").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "type" \
                            and isinstance(value, ast.Constant) and isinstance(value.value, str):
                        bare.append(f"{path.relative_to(ROOT)}:{node.lineno} {value.value}")
    assert bare == []


def test_every_event_type_is_used() -> None:
    code = "\n".join(p.read_text() for p in (ROOT / "hotline").rglob("*.py")
                     if p.name != "event_types.py")
    assert [e.name for e in EventType if f"EventType.{e.name}" not in code] == []


def _object_keys(text: str, start: int) -> list[str]:
    """The top-level keys of the object literal opening at text[start] ('{')."""
    depth, keys, i = 0, [], start
    while i < len(text):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                break
        elif depth == 1:
            m = re.match(r"""(?:"([^"]+)"|([A-Za-z_]\w*))\s*:""", text[i:])
            if m and (i == start + 1 or re.match(r"[\s,{]", text[i - 1])):
                keys.append(m.group(1) or m.group(2))
                i += m.end()
                continue
        i += 1
    return keys


def test_the_console_listens_only_for_catalogue_types() -> None:
    """Keys of the handler objects given to H.events, H.also's first argument, and the types
    lead.js compares with: each must be a catalogue type ("open" is the stream's own)."""
    known = {e.value for e in EventType} | {"open"}
    heard: set[str] = set()
    for path in (ROOT / "hotline" / "static").glob("*.js"):
        text = path.read_text()
        for m in re.finditer(r"H\.events\(\{|const handlers = \{", text):
            heard.update(_object_keys(text, m.end() - 1))
        heard.update(re.findall(r"""H\.also\(["']([^"']+)["']""", text))
        heard.update(re.findall(r"""\bt === "([^"]+)\"""", text))
    assert heard, "the console's event handlers were not found"
    assert sorted(heard - known) == []


def test_every_table_is_listed_in_the_stores_page() -> None:
    from hotline.schema import metadata

    text = (DOCS / "stores.md").read_text()
    assert sorted(t for t in metadata.tables if f"`{t}`" not in text) == []
