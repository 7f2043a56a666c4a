"""The layout keeps its shape (tests/layers.py has the rules; docs/architecture.md explains
them). The project is checked, and each rule is shown to catch a breach in a fixture tree of
its own, so a rule that could not fail would fail here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.layers import MAX_LINES, check

ROOT = Path(__file__).resolve().parent.parent

# Imports that break a rule today, each a debt to pay (a room's service to call instead of
# its tables, a TTL to move out of the key module). The list may only shrink: a finding not
# listed fails, and so does a listed one that is gone.
KNOWN: frozenset[str] = frozenset()
# Not debts: the reports read other rooms' tables (never write them) to count what happened,
# in one statement per figure where the owners' services would read row by row
# (docs/reports.md, "How the figures are kept"; issue 15).
READERS = frozenset({
    "tables: hotline.reports.fold imports hotline.cases.tables",
    "tables: hotline.reports.fold imports hotline.takedown.tables",
    "tables: hotline.reports.queries imports hotline.callbacks.tables",
    "tables: hotline.reports.queries imports hotline.cases.tables",
    "tables: hotline.reports.queries imports hotline.channels.twilio.tables",
    "tables: hotline.reports.queries imports hotline.takedown.tables",
})
# Modules over MAX_LINES lines today (each to split); the list may only shrink.
KNOWN_LONG: frozenset[str] = frozenset()


def test_the_project_keeps_its_layers() -> None:
    findings = check(ROOT)
    long = {f.split()[1] for f in findings if f.startswith("size:")}
    rules = {f for f in findings if not f.startswith("size:")} - READERS
    assert rules - KNOWN == set(), "new breaches of the layout"
    assert KNOWN - rules == set(), "paid debts: remove them from KNOWN"
    assert long - KNOWN_LONG == set(), f"modules over {MAX_LINES} lines"
    assert KNOWN_LONG - long == set(), "split modules: remove them from KNOWN_LONG"


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# A small project that keeps every rule: a pure domain, a room with its tables and its query
# module, a handler calling the room's service, a channel with its own tables.
CLEAN = {
    "pkg/__init__.py": "",
    "pkg/domain/__init__.py": "",
    "pkg/domain/rules.py": "import re\nfrom pkg.domain import words\n",
    "pkg/domain/words.py": "from dataclasses import dataclass\n",
    "pkg/stores/__init__.py": "",
    "pkg/stores/sql/__init__.py": "",
    "pkg/stores/sql/engine.py": "import sqlalchemy\n",
    "pkg/cases/__init__.py": "",
    "pkg/cases/tables.py": "from pkg.stores.sql import engine\n",
    "pkg/cases/queries.py": "from pkg.cases.tables import conversations\n",
    "pkg/cases/service.py": "from pkg.cases import queries\nfrom pkg.domain import rules\n",
    "pkg/cases/api.py": "from pkg.cases import service\n",
    "pkg/channels/__init__.py": "",
    "pkg/channels/sms/__init__.py": "",
    "pkg/channels/sms/tables.py": "from pkg.stores.sql import engine\n",
    "pkg/channels/sms/store.py": "from pkg.channels.sms import tables\n",
    "pkg/channels/sms/handler.py": ("from pkg.channels.sms import store\n"
                                    "from pkg.cases import service\n"),
    "pkg/schema.py": "from pkg.cases import tables\nfrom pkg.channels.sms import tables as t2\n",
}


def test_a_tree_that_keeps_the_rules_has_no_findings(tmp_path: Path) -> None:
    assert check(_tree(tmp_path, CLEAN), "pkg") == []


@pytest.mark.parametrize(("name", "files", "finding"), [
    ("impure domain", {"pkg/domain/words.py": "from pkg.cases import service\n"},
     "domain: pkg.domain.words imports pkg.cases.service"),
    ("domain imports a library", {"pkg/domain/words.py": "import sqlalchemy\n"},
     "domain: pkg.domain.words imports sqlalchemy"),
    ("another room's tables", {"pkg/channels/sms/store.py": "from pkg.cases.tables import x\n"},
     "tables: pkg.channels.sms.store imports pkg.cases.tables"),
    ("handler writes SQL", {"pkg/cases/api.py": "from pkg.stores.sql import engine\n"},
     "handler: pkg.cases.api imports pkg.stores.sql.engine"),
    ("handler reads tables", {"pkg/cases/api.py": "from pkg.cases.tables import x\n"},
     "handler: pkg.cases.api imports pkg.cases.tables"),
    ("channel opens the store", {"pkg/channels/sms/handler.py": "import pkg.stores.sql.engine\n"},
     "handler: pkg.channels.sms.handler imports pkg.stores.sql.engine"),
    ("circle", {"pkg/cases/queries.py": "from pkg.cases import service\n"},
     "circle: pkg.cases.queries -> pkg.cases.service"),
    ("long module", {"pkg/cases/service.py": "x = 1\n" * (MAX_LINES + 1)},
     f"size: pkg.cases.service has {MAX_LINES + 1} lines"),
])
def test_each_rule_catches_a_breach(tmp_path: Path, name: str, files: dict[str, str],
                                    finding: str) -> None:
    found = check(_tree(tmp_path, {**CLEAN, **files}), "pkg")
    assert finding in found, name
