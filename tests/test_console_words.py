"""The console's words (prompts/<lang>/console/*.toml, hotline/words.py): every language has
every entry of every area with the same placeholders, every key the templates and scripts ask
for exists, and each page speaks its staff member's language."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from hotline.domain.staff import Role
from hotline.stores.sql.engine import migrate, open_engine
from hotline.words import Words, WordsError, placeholders
from tests.conftest import AppRunner, Database
from tests.floor import staff
from tests.helpers import down_then_up, migration_module, row_counts, schema_diffs, upgrade_to

REPO = Path(__file__).resolve().parent.parent
PROMPTS = REPO / "prompts"
WORDS = Words(PROMPTS)
LANGS = sorted(p.name for p in PROMPTS.iterdir() if (p / "console").is_dir())
# Every area any language has (so an area another change adds is checked too).
AREAS = sorted({p.stem for lang in LANGS for p in (PROMPTS / lang / "console").glob("*.toml")})
KEYS = sorted(set().union(*(WORDS.catalogues[lang] for lang in LANGS)))
_HANGUL = re.compile("[\uac00-\ud7a3]")


def test_korean_and_english_at_least() -> None:
    assert {"ko", "en"} <= set(LANGS)
    assert WORDS.languages == tuple(LANGS)


@pytest.mark.parametrize("area", AREAS)
@pytest.mark.parametrize("lang", LANGS)
def test_every_language_has_every_area_with_one_table(lang: str, area: str) -> None:
    path = PROMPTS / lang / "console" / f"{area}.toml"
    assert path.is_file(), f"{lang} has no console area {area}"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert list(data) == [area]
    assert all(isinstance(v, str) and v.strip() for v in data[area].values())


@pytest.mark.parametrize("key", KEYS)
def test_every_language_has_every_key_with_the_same_placeholders(key: str) -> None:
    seen = {lang: WORDS.catalogues[lang].get(key) for lang in LANGS}
    missing = [lang for lang, text in seen.items() if text is None]
    assert not missing, f"{key} missing in {missing}"
    marks = {lang: placeholders(str(text)) for lang, text in seen.items()}
    assert len(set(marks.values())) == 1, f"{key}: placeholders differ: {marks}"


def test_korean_entries_are_korean() -> None:
    """A Korean entry left in English is a missed translation (names of languages, and
    entries that are only placeholders or symbols, aside)."""
    untranslated = [k for k, text in WORDS.catalogues["ko"].items()
                    if not _HANGUL.search(text)
                    and re.search("[A-Za-z]{3}", re.sub(r"\{\w+\}", "", text))
                    and k not in {"common.language_en"}
                    and text == WORDS.catalogues["en"][k]]
    assert untranslated == []


def _keys_used() -> set[str]:
    used: set[str] = set()
    for path in (REPO / "hotline" / "templates" / "console").rglob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_0-9]+\.[a-z_0-9]+)["']\s*[,)]""",
                              path.read_text()))
    for path in (REPO / "hotline" / "static").glob("*.js"):
        used |= set(re.findall(r"""\bT\(\s*["']([a-z_0-9]+\.[a-z_0-9]+)["']\s*[,)]""",
                              path.read_text()))
    return used


def test_every_key_the_templates_and_scripts_ask_for_exists() -> None:
    used = _keys_used()
    assert "common.brand" in used and "login.submit" in used
    assert sorted(used - set(KEYS)) == []


def test_values_fill_placeholders_and_missing_ones_are_errors() -> None:
    assert WORDS.get("en", "common.who", name="mina", role="lead") == "mina (lead)"
    assert WORDS.get("ko", "login.wait_minutes", n=3) == "3분"
    with pytest.raises(KeyError):
        WORDS.get("en", "common.who", name="mina")
    with pytest.raises(KeyError):
        WORDS.get("en", "common.no_such_word")
    with pytest.raises(KeyError):
        WORDS.get("fr", "common.brand")


@pytest.mark.parametrize(("text", "why"), [
    ("[other]\nx = \"y\"\n", "exactly one table [area]"),
    ("[area]\nx = 1\n", "area.x: expected a string"),
    ("[area]\nx = \"{unclosed\"\n", "area.x"),
    ("[area\n", "area.toml"),
])
def test_a_bad_catalogue_file_is_refused_naming_it(tmp_path: Path, text: str, why: str) -> None:
    (tmp_path / "en" / "console").mkdir(parents=True)
    (tmp_path / "en" / "console" / "area.toml").write_text(text)
    with pytest.raises(WordsError, match=re.escape(why)):
        Words(tmp_path)


@pytest.mark.parametrize(("wanted", "header", "expected"), [
    ("en", "ko-KR,ko;q=0.9", "en"),
    (None, "en-US,en;q=0.9,ko;q=0.8", "en"),
    (None, "fr-FR, ko;q=0.5, en;q=0.4", "ko"),
    (None, "en;q=0, fr", "ko"),
    ("xx", None, "ko"),
    (None, "ko;q=bad, en;q=0.1", "en"),
])
def test_login_language_choice(wanted: str | None, header: str | None, expected: str) -> None:
    assert WORDS.pick(wanted, header, "ko") == expected


def _html_lang(page: str) -> str:
    m = re.search(r'<html lang="([a-z]+)">', page)
    assert m
    return m.group(1)


async def test_login_page_speaks_the_browser_or_chosen_language(app_runner: AppRunner) -> None:
    client = await app_runner.client()
    page = await (await client.get("/console/login")).text()
    assert _html_lang(page) == "ko" and "비밀번호" in page
    page = await (await client.get("/console/login",
                                   headers={"Accept-Language": "en-GB,en;q=0.8"})).text()
    assert _html_lang(page) == "en" and "Password" in page
    page = await (await client.get("/console/login?lang=en",
                                   headers={"Accept-Language": "ko"})).text()
    assert _html_lang(page) == "en" and 'action="/console/login?lang=en"' in page
    # The page's words are there for its script too.
    assert '<script type="application/json" id="words">' in page


async def test_a_failed_login_says_why_in_the_page_language(app_runner: AppRunner) -> None:
    await staff(app_runner, "mina", login=False)
    client = await app_runner.client()
    page = await (await client.get("/console/login?lang=ko")).text()
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m
    resp = await client.post("/console/login?lang=ko", data={
        "name": "mina", "password": "wrong", "csrf": m.group(1)})
    assert resp.status == 401
    assert "이름 또는 비밀번호가 맞지 않습니다." in await resp.text()


async def test_staff_pages_follow_their_choice(app_runner: AppRunner) -> None:
    lead = await staff(app_runner, "jun", Role.LEAD)
    for path in ("/console", "/console/lead", "/console/roster"):
        page = await (await lead.client.get(path)).text()
        assert _html_lang(page) == "ko", path
        assert "로그아웃" in page
    resp = await lead.post("/api/v1/me/language", {"language": "en"})
    assert resp.status == 200 and (await resp.json()) == {"language": "en"}
    me = await (await lead.client.get("/api/v1/me")).json()
    assert me["ui_language"] == "en"
    for path in ("/console", "/console/lead", "/console/roster"):
        page = await (await lead.client.get(path)).text()
        assert _html_lang(page) == "en", path
        assert "Log out" in page and 'aria-pressed="true">English' in page


async def test_the_centre_default_language_applies_to_those_without_a_choice(
        tmp_path: Path, database: Database, redis_server: Any) -> None:
    from tests.conftest import make_config
    runner = AppRunner(make_config(tmp_path / "data", database.url, redis_server.url,
                                   console={"default_language": "en"}))
    await runner.start()
    try:
        mina = await staff(runner, "mina")
        page = await (await mina.client.get("/console")).text()
        assert _html_lang(page) == "en"
    finally:
        await runner.stop()


@pytest.mark.parametrize("body", [{"language": "fr"}, {"language": 7}, {}, {"language": ""}])
async def test_an_unknown_language_is_refused_naming_the_field(
        app_runner: AppRunner, body: dict[str, Any]) -> None:
    mina = await staff(app_runner, "mina")
    before = await row_counts(app_runner.config)
    resp = await mina.post("/api/v1/me/language", body)
    assert resp.status == 400
    data = await resp.json()
    assert data["field"] == "language" and data["error"].startswith("language:")
    assert await row_counts(app_runner.config) == before
    assert (await (await mina.client.get("/api/v1/me")).json())["ui_language"] is None


def _has_column(sync: Connection) -> bool:
    return "ui_language" in {c["name"] for c in inspect(sync).get_columns("counselors")}


@pytest.mark.empty_database
async def test_migration_0018_adds_ui_language_and_reverses(database: Database) -> None:
    rev = migration_module("0018_staff_ui_language.py")
    assert rev.revision == "0018"
    engine = open_engine(database.url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, rev.down_revision)
            assert not await conn.run_sync(_has_column)
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, "counselors") == []
        async with engine.begin() as conn:
            before, after = await conn.run_sync(down_then_up, rev, _has_column)
        assert (before, after) == (False, True)
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_diffs, "counselors") == []
    finally:
        await engine.dispose()


_JINJA = re.compile(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", re.S)
# Names that read the same in every language (technical terms), allowed as they are.
_NAMES = {"SHA-256", "PDQ", "URL"}
_WORDY_ATTR = re.compile(r"""\b(aria-label|placeholder|title|alt|label)="([^"]*)\"""")


def _bare_words(html: str) -> list[str]:
    """Words written into a template instead of asked of the catalogue: text between tags,
    and the attributes people read (aria-label, placeholder, title, alt, label)."""
    text = _JINJA.sub("", html)
    text = re.sub(r"<script\b.*?</script>", "", text, flags=re.S)
    found = [v for _a, v in _WORDY_ATTR.findall(text) if re.search(r"\w{2,}", v)]
    between = re.sub(r"<[^>]*>", "\n", text)
    found += [t.strip() for t in between.splitlines()
              if re.search(r"[A-Za-z\uac00-\ud7a3]{2,}", t)]
    return [f for f in found if f not in _NAMES]


@pytest.mark.parametrize("template", sorted(
    p.name for p in (REPO / "hotline" / "templates" / "console").glob("*.html")))
def test_console_templates_write_no_words_of_their_own(template: str) -> None:
    html = (REPO / "hotline" / "templates" / "console" / template).read_text()
    assert _bare_words(html) == []


def test_bare_words_are_found() -> None:
    html = ('<p class="x">{{ t("common.brand") }}</p><a title="Go" href="/">Hello</a>\n'
            '<span aria-label="{{ t(\'common.nav_label\') }}">안녕</span>{# a comment #}')
    assert _bare_words(html) == ["Go", "Hello", "안녕"]
