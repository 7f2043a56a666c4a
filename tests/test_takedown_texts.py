"""Request texts and their legal fields (hotline.domain.legal, prompts/<lang>/takedown/):
every template, in every language, carries every field its legal basis requires; the checks
that say so catch a template or a request that drops one."""

from __future__ import annotations

import itertools
from pathlib import Path

import jinja2
import pytest

from hotline.domain.legal import (
    DEADLINE_HOURS,
    DEFAULT_TEXTS,
    REQUIRED,
    LegalBasis,
    RequestField,
    fields_absent_from_text,
    missing_fields,
    required_fields,
    strictest_deadline_hours,
    template_fields,
    template_name,
)
from hotline.prompts import Prompts
from tests.takedown_samples import SAMPLE_FIELDS, sample_values

F = RequestField
PROMPTS = Prompts()
LANGS = PROMPTS.languages


@pytest.mark.parametrize(("lang", "basis"), list(itertools.product(LANGS, LegalBasis)))
def test_every_template_carries_every_required_field(lang: str, basis: LegalBasis) -> None:
    values = sample_values(basis)
    text = PROMPTS.render(lang, template_name(basis), **values)
    assert missing_fields(basis, values) == ()
    assert fields_absent_from_text(text, required_fields(basis), values) == ()


@pytest.mark.parametrize("lang", LANGS)
def test_dsa_notice_for_a_minor_may_leave_out_name_and_email(lang: str) -> None:
    values = {**sample_values(LegalBasis.EU_DSA_ART16), "notifier_name": "",
              "notifier_email": ""}
    text = PROMPTS.render(lang, template_name(LegalBasis.EU_DSA_ART16), **values)
    assert missing_fields(LegalBasis.EU_DSA_ART16, values, minor=True) == ()
    assert fields_absent_from_text(
        text, required_fields(LegalBasis.EU_DSA_ART16, minor=True), values) == ()
    assert missing_fields(LegalBasis.EU_DSA_ART16, values) == (F.NOTIFIER_NAME,
                                                               F.NOTIFIER_EMAIL)
    assert "16(2)(c)" in text or "제16조 제2항 (c)" in text


@pytest.mark.parametrize("basis", list(LegalBasis))
def test_the_check_catches_a_template_that_drops_a_field(basis: LegalBasis,
                                                         tmp_path: Path) -> None:
    """A copy of the English template with one field's line removed fails the check, for
    every field of every basis."""
    source = (Path(__file__).resolve().parent.parent / "prompts" / "en" /
              f"{template_name(basis)}.txt").read_text(encoding="utf-8")
    values = sample_values(basis)
    for field in REQUIRED[basis]:
        broken = "\n".join(line for line in source.splitlines()
                           if f"{{{{ {field.value} }}}}" not in line)
        (tmp_path / "en" / "takedown").mkdir(parents=True, exist_ok=True)
        (tmp_path / "en" / "takedown" / f"{basis.value}.txt").write_text(broken)
        text = Prompts(tmp_path).render("en", template_name(basis), **values)
        assert field in fields_absent_from_text(text, required_fields(basis), values), field


def test_every_url_must_appear() -> None:
    values = {"urls": "https://a.example/1\nhttps://b.example/2"}
    assert fields_absent_from_text("see https://a.example/1", [F.URLS], values) == (F.URLS,)
    assert fields_absent_from_text("https://b.example/2 and\n  https://a.example/1",
                                   [F.URLS], values) == ()


def test_values_are_matched_whitespace_insensitively() -> None:
    values = {"explanation": "taken  from\nher profile"}
    assert fields_absent_from_text("Why: taken from her\nprofile.", [F.EXPLANATION],
                                   values) == ()


@pytest.mark.parametrize(("provided", "missing"), [
    (SAMPLE_FIELDS, ()),
    ({}, REQUIRED[LegalBasis.TAKE_IT_DOWN_US]),
    ({**{f.value: v for f, v in SAMPLE_FIELDS.items()}, "signature": "  "}, (F.SIGNATURE,)),
    ({**{f.value: v for f, v in SAMPLE_FIELDS.items()}, "contact": None}, (F.CONTACT,)),
    ({**{f.value: v for f, v in SAMPLE_FIELDS.items()}, "urls": "", "signature": ""},
     (F.SIGNATURE, F.URLS)),
])
def test_missing_fields_take_it_down(provided: dict[object, str | None],
                                     missing: tuple[RequestField, ...]) -> None:
    values = {str(k): v for k, v in provided.items()}
    assert missing_fields(LegalBasis.TAKE_IT_DOWN_US, values) == missing


def test_the_notes_requirements_per_basis() -> None:
    """What shared/notes/takedown.md says a valid request holds, basis by basis."""
    assert set(REQUIRED[LegalBasis.TAKE_IT_DOWN_US]) >= {
        F.SIGNATURE, F.CONTENT_IDENTIFICATION, F.URLS, F.GOOD_FAITH_STATEMENT, F.CONTACT}
    assert set(REQUIRED[LegalBasis.EU_DSA_ART16]) == {
        F.EXPLANATION, F.URLS, F.NOTIFIER_NAME, F.NOTIFIER_EMAIL, F.GOOD_FAITH_STATEMENT}
    assert F.REQUESTER in REQUIRED[LegalBasis.KR_REGULATOR]
    assert F.POLICY_BROKEN in REQUIRED[LegalBasis.PLATFORM_POLICY]
    assert {F.SIGNATURE, F.WORK_IDENTIFICATION, F.ACCURACY_STATEMENT} <= set(
        REQUIRED[LegalBasis.COPYRIGHT])
    assert (DEADLINE_HOURS[LegalBasis.TAKE_IT_DOWN_US],
            DEADLINE_HOURS[LegalBasis.KR_REGULATOR]) == (48, 24)


def test_only_the_dsa_waives_fields_for_minors() -> None:
    for basis in LegalBasis:
        waived = set(required_fields(basis)) - set(required_fields(basis, minor=True))
        assert waived == ({F.NOTIFIER_NAME, F.NOTIFIER_EMAIL}
                          if basis is LegalBasis.EU_DSA_ART16 else set())


def test_route_extra_fields_follow_the_basis_fields() -> None:
    assert required_fields(LegalBasis.PLATFORM_POLICY, extra=[F.CONTACT, F.URLS]) == (
        F.CONTENT_IDENTIFICATION, F.URLS, F.POLICY_BROKEN, F.EXPLANATION, F.CONTACT)


@pytest.mark.parametrize(("basis", "route", "due"), [
    (LegalBasis.TAKE_IT_DOWN_US, 72, 48), (LegalBasis.TAKE_IT_DOWN_US, 10, 10),
    (LegalBasis.KR_REGULATOR, 48, 24), (LegalBasis.PLATFORM_POLICY, 96, 96)])
def test_strictest_deadline(basis: LegalBasis, route: int, due: int) -> None:
    assert strictest_deadline_hours(basis, route) == due


@pytest.mark.parametrize(("lang", "key"), list(itertools.product(LANGS, DEFAULT_TEXTS)))
def test_default_statements_exist_and_fill_their_field(
        lang: str, key: tuple[LegalBasis, RequestField]) -> None:
    basis, field = key
    assert field in template_fields(basis)
    statement = PROMPTS.render(lang, DEFAULT_TEXTS[key])
    values = {**sample_values(basis), field.value: statement}
    text = PROMPTS.render(lang, template_name(basis), **values)
    assert fields_absent_from_text(text, [field], values) == ()


@pytest.mark.parametrize("basis", list(LegalBasis))
def test_a_missing_variable_is_an_error(basis: LegalBasis) -> None:
    values = sample_values(basis)
    values.pop(next(iter(values)))
    with pytest.raises(jinja2.UndefinedError):
        PROMPTS.render("en", template_name(basis), **values)
