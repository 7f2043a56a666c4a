"""The layout's rules, read from the source with `ast` (docs/architecture.md):

- `domain/` is pure: it imports the standard library and `domain/` only;
- a room's tables (`<room>/tables.py`) are imported by that room's modules only (and by the
  schema gatherer and migrations);
- channels and HTTP handlers (`api.py`, `*_api.py`, `pages.py`, `web/`) do not import the
  stores' engines or any tables: they call their room's services;
- no import circles;
- no module over MAX_LINES lines.

`check(root)` returns every finding as text; tests/test_layers.py runs it over the project and
over small fixture trees that break each rule.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

MAX_LINES = 400
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


@dataclass
class Module:
    name: str
    path: Path
    imports: set[str] = field(default_factory=set)
    lines: int = 0


def modules(root: Path, package: str = "hotline") -> dict[str, Module]:
    """Every module of `package` under `root` (migration scripts aside), with what it imports:
    module names, and `from pkg import mod` counted as an import of `pkg.mod`."""
    found: dict[str, Module] = {}
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        if "migrations" in rel.parts[:-1] and rel.parts[-1] != "env":
            continue
        name = ".".join(rel.parts).removesuffix(".__init__")
        text = path.read_text()
        found[name] = Module(name, path, lines=text.count("\n"))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                found[name].imports.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found[name].imports.add(node.module)
                found[name].imports.update(f"{node.module}.{a.name}" for a in node.names)
    for mod in found.values():
        mod.imports = {i for i in mod.imports if i != mod.name and (
            i in found or not i.startswith(package + "."))}
    return found


def room_of(name: str, package: str = "hotline") -> str | None:
    """The room a module belongs to: `hotline.cases.inbox` -> "cases",
    `hotline.channels.twilio.sms` -> "channels.twilio"; None for the kernel."""
    parts = name.split(".")[1:]
    if len(parts) < 2:
        return None
    if parts[0] == "channels" and len(parts) >= 3:
        return f"channels.{parts[1]}"
    return parts[0]


# A channel that owns tables (Twilio's calls and texts) has its own query layer.
_QUERY_LAYER = frozenset({"tables", "store", "queries"})


def is_handler(name: str) -> bool:
    """Channels and HTTP handlers: they call services, never the stores. A command-line entry
    point (`cli`) opens the engine and runs migrations as the server does; its SQL still goes
    through the rooms' services (the tables rule)."""
    parts = name.split(".")
    last = parts[-1]
    if last in _QUERY_LAYER or last == "cli":
        return False
    return (len(parts) > 1 and parts[1] in ("channels", "web")) or last in ("api", "pages") \
        or last.endswith("_api")


def _pure(mods: dict[str, Module], package: str) -> Iterable[str]:
    domain = f"{package}.domain"
    for mod in mods.values():
        if mod.name == domain or mod.name.startswith(domain + "."):
            for imp in sorted(mod.imports):
                top = imp.split(".")[0]
                if not (imp == domain or imp.startswith(domain + ".") or top in STDLIB):
                    yield f"domain: {mod.name} imports {imp}"


def _tables(mods: dict[str, Module], package: str) -> Iterable[str]:
    gatherers = {f"{package}.schema", f"{package}.stores.migrations.env"}
    for mod in mods.values():
        if mod.name in gatherers:
            continue
        for imp in sorted(mod.imports):
            if imp.endswith(".tables") and imp in mods and room_of(imp, package) \
                    and room_of(imp, package) != room_of(mod.name, package):
                yield f"tables: {mod.name} imports {imp}"


def _handlers(mods: dict[str, Module], package: str) -> Iterable[str]:
    stores = f"{package}.stores"
    for mod in mods.values():
        if not is_handler(mod.name):
            continue
        for imp in sorted(mod.imports):
            if imp == stores or imp.startswith(stores + ".") or imp.endswith(".tables"):
                yield f"handler: {mod.name} imports {imp}"


def _inner(mods: dict[str, Module], name: str) -> list[str]:
    return sorted(i for i in mods[name].imports if i in mods)


def cycles(mods: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(mods):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, _inner(mods, start))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, _inner(mods, nxt)))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def check(root: Path, package: str = "hotline") -> list[str]:
    """Every broken rule under `root`, as one line each."""
    mods = modules(root, package)
    out = [*_pure(mods, package), *_tables(mods, package), *_handlers(mods, package)]
    out += [f"circle: {' -> '.join(c)}" for c in cycles(mods)]
    out += [f"size: {m.name} has {m.lines} lines" for m in mods.values() if m.lines > MAX_LINES]
    return sorted(out)
