"""bench/surge_bench.py's consoles ask for the event kinds the pages ask for: its
LEAD_KINDS and COUNSELOR_KINDS are copied by hand from lead.js and console.js (with the
offers bar every console page has, common.js), and LEAD_COVER_KINDS from the kinds after which
lead.js reads the roster's cover. A page that gains a handler must not leave the bench
measuring a stream, or reads, the page no longer makes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.test_docs import _object_keys

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "hotline" / "static"


def _bench_kinds(name: str) -> set[str]:
    tree = ast.parse((ROOT / "bench" / "surge_bench.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, str)
            return set(value.split(","))
    raise AssertionError(f"{name} not found in bench/surge_bench.py")


def _offers_bar_kinds() -> set[str]:
    text = (STATIC / "common.js").read_text()
    listed = re.search(r"\[([^\]]*)\]\.forEach\(function \(t\) \{\s*also\(t, refresh\)", text)
    assert listed, "the offers bar's kinds were not found in common.js"
    kinds = set(re.findall(r'"([^"]+)"', listed.group(1)))
    kinds.update(re.findall(r"""\balso\(["']([^"']+)["'], function""", text))
    return kinds - {"open"}


def test_the_counselor_consoles_ask_for_what_console_js_asks_for() -> None:
    text = (STATIC / "console.js").read_text()
    at = text.index("H.events({")
    page = set(_object_keys(text, at + len("H.events(")))
    assert _bench_kinds("COUNSELOR_KINDS") == page | _offers_bar_kinds()


def test_the_lead_consoles_ask_for_what_lead_js_asks_for() -> None:
    text = (STATIC / "lead.js").read_text()
    listed = re.search(r"const types = \[([^\]]*)\]", text)
    assert listed, "lead.js's kinds were not found"
    page = set(re.findall(r'"([^"]+)"', listed.group(1)))
    assert _bench_kinds("LEAD_KINDS") == page | _offers_bar_kinds()


def test_the_lead_consoles_read_the_cover_after_what_lead_js_reads_it_after() -> None:
    text = (STATIC / "lead.js").read_text()
    listed = re.search(r"if \(\[([^\]]*)\]\.indexOf\(t\) >= 0\) \{\s*window\.Cover\.load\(\)",
                       text)
    assert listed, "the kinds after which lead.js reads the cover were not found"
    assert _bench_kinds("LEAD_COVER_KINDS") == set(re.findall(r'"([^"]+)"', listed.group(1)))
