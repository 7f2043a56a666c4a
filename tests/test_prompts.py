"""prompts/: every language has the same prompts, each renders strictly with the variables it
needs, and everything the code asks for exists."""

from __future__ import annotations

from pathlib import Path

import jinja2
import jinja2.meta
import pytest

from hotline.channels.webchat.chat import PAGE_PROMPTS
from hotline.config import LANG_CODES, load_config
from hotline.domain.legal import LegalBasis, template_name
from hotline.prompts import Prompts, prompts_dir
from tests.takedown_samples import sample_values
from tests.victim_prompts import VICTIM_NEEDS, VICTIM_SELECTORS

REPO_ROOT = Path(__file__).resolve().parent.parent
ROOT = REPO_ROOT / "prompts"
LANGS = sorted(p.name for p in ROOT.iterdir() if p.is_dir())



def _names(lang: str) -> set[str]:
    """Prompt names as Prompts.render takes them: paths below the language folder, without
    .txt ("chat_title", "takedown/take_it_down_us")."""
    return {p.relative_to(ROOT / lang).with_suffix("").as_posix()
            for p in (ROOT / lang).rglob("*.txt")}


NAMES = sorted(set().union(*(_names(lang) for lang in LANGS)))

# The variables each prompt needs; every other prompt needs none.
NEEDS: dict[str, dict[str, object]] = {
    "chat_waiting": {"position": 7},
    "wait_status": {"position": 7, "minutes": 12, "coverage": "ok", "critical": True,
                    "callback": True, "spoken": False},
    # Phone and SMS (docs/twilio.md).
    "sms_callback_confirmed": {"start": "18:00", "end": "21:00", "tomorrow": False,
                               "leave_message": False},
    "voice_callback_unanswered": {"machine": True},
    "chat_callback_confirmed": {"start": "18:00", "end": "21:00", "tomorrow": False,
                                "leave_message": True},
    "voice_callback_confirmed": {"start": "18:00", "end": "21:00", "tomorrow": True,
                                 "leave_message": True},
    "voice_language": {"digit": 2},
    "voice_menu": {"callback": True},
    "voice_whisper": {"critical": True},
    "voice_whisper_callback": {"leave_message": False},
    "marker_call": {"spreading": True},
    "marker_callback": {"start": "11-28 18:00", "end": "21:00", "leave_message": True},
    # The rule on abandoned contacts (docs/floor.md).
    "marker_victim_silent": {"hours": 24, "minutes": 10},
    # Telegram (docs/telegram.md).
    "tg_intake_record": {"shared": "Yes", "age": "18+", "safe": "No", "where": "Telegram"},
    "tg_case": {"case_number": "HL-7K3M-9QX2", "pin": "482913"},
    "tg_too_long": {"max_chars": 4000},
    "tg_media_too_big": {"max_mb": 20},
    "tg_media_keep": {"days": 30},
    "tg_staff_whoami": {"telegram_id": "7301234567"},
    "tg_staff_alert": {"kind": "takedown", "case_number": "3f2a9c1b", "urgency": "critical",
                       "reasons": "content_spreading", "platform": "telegram",
                       "link": "https://hotline.example/console/cases/3f2a9c1b"},
    "tg_staff_acked": {"case_number": "3f2a9c1b", "by": "12"},
    "tg_desk_alert_overdue": {"request": "41", "item": "17", "platform": "X", "route": "form",
                              "due": "2026-12-06 18:00 KST", "link": "https://h/r/41"},
    "tg_desk_alert_reupload": {"request": "41", "item": "17", "platform": "X", "route": "form",
                               "link": "https://h/r/41"},
    "tg_desk_alert_acked": {"request": "41"},
    # Takedown request texts (docs/takedown.md): one variable per field of the legal basis.
    **{template_name(b): dict(sample_values(b)) for b in LegalBasis},
    # The desk's default identification of an item (hotline/takedown/requests.py).
    "takedown/identification": {"kind": "synthetic", "minor": True, "sha256": "ab" * 32,
                                "pdq": "cd" * 32},
    "takedown/email_subject": {"basis": "take_it_down_us", "reference": "TD-42"},
    **VICTIM_NEEDS,
}
# Variables that choose between wordings rather than being shown (not looked for in the text).
SELECTORS = {"coverage", "critical", "callback", "spoken", "tomorrow", "leave_message",
             "spreading", "machine", "kind", "minor", "basis", *VICTIM_SELECTORS}


def _source(lang: str, name: str) -> str:
    return (ROOT / lang / f"{name}.txt").read_text(encoding="utf-8")


def test_prompts_dir_is_repo_folder() -> None:
    assert prompts_dir().resolve() == ROOT.resolve()


def test_languages_found() -> None:
    assert len(LANGS) >= 2
    assert Prompts().languages == tuple(LANGS)


@pytest.mark.parametrize("lang", LANGS)
def test_same_prompt_names_in_every_language(lang: str) -> None:
    names = Prompts().names(lang)
    reference = Prompts().names(LANGS[0])
    assert names == reference, (
        f"{lang}: missing {sorted(reference - names)}, extra {sorted(names - reference)}")


@pytest.mark.parametrize("lang", LANGS)
def test_same_prompt_paths_in_every_language(lang: str) -> None:
    """Subfolders too (Prompts.names gives file stems, which would hide a misplaced file)."""
    assert _names(lang) == _names(LANGS[0])


@pytest.mark.parametrize("lang", LANGS)
def test_no_stray_files(lang: str) -> None:
    for p in (ROOT / lang).rglob("*"):
        if p.is_file():
            # The console catalogue (staff words) lives in console/*.toml.
            assert p.suffix == ".txt" or (p.parent.name == "console" and p.suffix == ".toml"), p


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", NAMES)
def test_prompt_variables_are_the_documented_ones(lang: str, name: str) -> None:
    env = jinja2.Environment(autoescape=False)
    used = jinja2.meta.find_undeclared_variables(env.parse(_source(lang, name)))
    assert used == set(NEEDS.get(name, {})), f"{lang}/{name}.txt uses {sorted(used)}"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", NAMES)
def test_prompt_renders_strictly(lang: str, name: str) -> None:
    values = NEEDS.get(name, {})
    text = Prompts().render(lang, name, **values)
    assert text.strip() == text
    assert text
    assert "{{" not in text and "{%" not in text
    for k, v in values.items():
        if k not in SELECTORS:
            assert str(v) in text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", sorted(NEEDS))
def test_missing_variable_is_an_error(lang: str, name: str) -> None:
    with pytest.raises(jinja2.UndefinedError):
        Prompts().render(lang, name)


@pytest.mark.parametrize("lang", LANGS)
def test_chat_waiting_position(lang: str) -> None:
    p = Prompts()
    assert "3" in p.render(lang, "chat_waiting", position=3)
    assert p.render(lang, "chat_waiting", position=3) != p.render(lang, "chat_waiting",
                                                                  position=4)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", PAGE_PROMPTS)
def test_page_prompts_exist(lang: str, name: str) -> None:
    assert (ROOT / lang / f"{name}.txt").is_file()
    assert name in _names(lang)  # with its folder ("victim/chat_case_get")


@pytest.mark.parametrize("lang", LANGS)
def test_page_bundle_renders(lang: str) -> None:
    """What the chat page renders: the whole bundle with a placeholder position."""
    texts = Prompts().bundle(lang, PAGE_PROMPTS, position="{position}", short="{short}",
                             days=30)
    assert set(texts) == set(PAGE_PROMPTS)
    assert all(texts.values())
    assert "{position}" in texts["chat_waiting"]


def test_page_prompts_have_no_duplicates() -> None:
    assert len(PAGE_PROMPTS) == len(set(PAGE_PROMPTS))


@pytest.mark.parametrize("lang", sorted(LANG_CODES))
def test_config_lang_codes_have_prompt_folders(lang: str) -> None:
    assert (ROOT / lang).is_dir()
    assert lang in Prompts().languages


def test_repo_config_languages_have_prompt_folders() -> None:
    cfg = load_config(REPO_ROOT / "config.toml", env={})
    for lang in cfg.languages.supported:
        assert lang in Prompts().languages, lang
    assert cfg.languages.default in Prompts().languages


def test_unknown_language_and_prompt() -> None:
    p = Prompts()
    with pytest.raises(KeyError):
        p.render("fr", "chat_title")
    with pytest.raises(jinja2.TemplateNotFound):
        p.render(LANGS[0], "no_such_prompt")


def test_custom_root(tmp_path: Path) -> None:
    (tmp_path / "xx").mkdir()
    (tmp_path / "xx" / "hello.txt").write_text("Hi {{ who }}!\n")
    p = Prompts(tmp_path)
    assert p.languages == ("xx",)
    assert p.names("xx") == {"hello"}
    assert p.render("xx", "hello", who="<b>") == "Hi <b>!"  # plain text: no escaping here
    with pytest.raises(jinja2.UndefinedError):
        p.render("xx", "hello")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("spoken", [False, True])
def test_wait_status_with_an_unknown_place_is_a_plain_acknowledgement(lang: str,
                                                                      spoken: bool) -> None:
    """With the live queue unreadable (position none) every language says the message is
    saved (or, spoken, to stay on the line): no place, no estimate, no "None", whatever the
    coverage; the emergency numbers still follow for a critical case."""
    p = Prompts()
    values: dict[str, object] = {"position": None, "minutes": None, "coverage": "gap",
                                 "critical": False, "callback": False, "spoken": spoken}
    plain = p.render(lang, "wait_status", **values)
    assert plain and "None" not in plain and not any(c.isdigit() for c in plain)
    assert plain == p.render(lang, "wait_status", **{**values, "coverage": "ok"})
    assert plain != p.render(lang, "wait_status", **{**values, "position": 3})
    critical = p.render(lang, "wait_status", **{**values, "critical": True})
    assert critical.startswith(plain) and "112" in critical
