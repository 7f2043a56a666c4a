"""Legal bases of removal requests: their deadlines and the fields a valid request must hold.

Pure. Sources are the takedown notes (shared/notes/takedown.md, "What a valid request must
contain"); the copyright fields follow 17 U.S.C. 512(c)(3), which the notes do not quote, and
the Korean regulator's form fields are *verify*: the notes name who may file, not the form.
A request text is rendered from `prompts/<lang>/takedown/<basis>.txt`; `fields_absent_from_text`
checks the rendered text really carries every required value (a missing field is the commonest
reason a platform rejects a request). See docs/takedown.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType


class LegalBasis(StrEnum):
    TAKE_IT_DOWN_US = "take_it_down_us"  # US TAKE IT DOWN Act s.3: removal within 48 h
    KR_REGULATOR = "kr_regulator"        # Korea, TBA Art. 22-5 via the regulator: 24 h target
    EU_DSA_ART16 = "eu_dsa_art16"        # EU Digital Services Act Art. 16 notice
    PLATFORM_POLICY = "platform_policy"  # the platform's own rules (terms, community standards)
    COPYRIGHT = "copyright"              # copyright notice (DMCA-style), from the rights-holder


class RequestField(StrEnum):
    """One piece of a request. The value given for it must appear in the text sent."""

    SIGNATURE = "signature"                # physical or electronic signature (the signer's name)
    CONTENT_IDENTIFICATION = "content_identification"  # which image or video it is
    URLS = "urls"                          # exact locations, one per line
    GOOD_FAITH_STATEMENT = "good_faith_statement"
    EXPLANATION = "explanation"            # why it is unlawful / non-consensual, substantiated
    CONTACT = "contact"                    # how the platform reaches the sender
    # The notifier's name and e-mail address (DSA). Not "name": Prompts.render takes that.
    NOTIFIER_NAME = "notifier_name"
    NOTIFIER_EMAIL = "notifier_email"
    REQUESTER = "requester"                # who files: the victim, the support centre, a body
    POLICY_BROKEN = "policy_broken"        # the platform rule the content breaks
    WORK_IDENTIFICATION = "work_identification"  # the copyrighted work (copyright)
    ACCURACY_STATEMENT = "accuracy_statement"    # accurate, and authorised to act (copyright)


F = RequestField

# Hours within which the law or the regulator expects removal; None: no fixed number (the
# route's own deadline applies alone). DSA Art. 16 says "without undue delay"; Korea's statute
# says "without delay" (*verify*) and 24 h is the government's target.
DEADLINE_HOURS: Mapping[LegalBasis, int | None] = MappingProxyType({
    LegalBasis.TAKE_IT_DOWN_US: 48,
    LegalBasis.KR_REGULATOR: 24,
    LegalBasis.EU_DSA_ART16: None,
    LegalBasis.PLATFORM_POLICY: None,
    LegalBasis.COPYRIGHT: None,
})

# What each basis requires, in the order a request text presents it.
REQUIRED: Mapping[LegalBasis, tuple[RequestField, ...]] = MappingProxyType({
    # TAKE IT DOWN Act s.3(a)(1)(B): signature; identification and location; good-faith
    # statement of non-consent with supporting information; contact information.
    LegalBasis.TAKE_IT_DOWN_US: (F.SIGNATURE, F.CONTENT_IDENTIFICATION, F.URLS,
                                 F.GOOD_FAITH_STATEMENT, F.EXPLANATION, F.CONTACT),
    # Korea: the victim, the DSC centre or a designated body files the report-and-deletion form.
    LegalBasis.KR_REGULATOR: (F.REQUESTER, F.CONTENT_IDENTIFICATION, F.URLS, F.EXPLANATION,
                              F.CONTACT),
    # DSA Art. 16(2): substantiated explanation; exact URLs; name and e-mail; good faith.
    LegalBasis.EU_DSA_ART16: (F.EXPLANATION, F.URLS, F.NOTIFIER_NAME, F.NOTIFIER_EMAIL,
                              F.GOOD_FAITH_STATEMENT),
    # The Revenge Porn Helpline's advice: name the guideline broken.
    LegalBasis.PLATFORM_POLICY: (F.CONTENT_IDENTIFICATION, F.URLS, F.POLICY_BROKEN,
                                 F.EXPLANATION),
    # 17 U.S.C. 512(c)(3)(A)(i)-(vi).
    LegalBasis.COPYRIGHT: (F.SIGNATURE, F.WORK_IDENTIFICATION, F.CONTENT_IDENTIFICATION, F.URLS,
                           F.CONTACT, F.GOOD_FAITH_STATEMENT, F.ACCURACY_STATEMENT),
})

# Fields a basis waives when the content shows a minor: DSA Art. 16(2) drops name and e-mail
# for child sexual abuse material, so a notifier need not identify themselves.
WAIVED_FOR_MINOR: Mapping[LegalBasis, frozenset[RequestField]] = MappingProxyType({
    LegalBasis.EU_DSA_ART16: frozenset({F.NOTIFIER_NAME, F.NOTIFIER_EMAIL}),
})


# Standard wordings staff start from (prompt names under prompts/<lang>/), per basis and field.
DEFAULT_TEXTS: Mapping[tuple[LegalBasis, RequestField], str] = MappingProxyType({
    (LegalBasis.TAKE_IT_DOWN_US, F.GOOD_FAITH_STATEMENT): "takedown/statement_non_consent",
    # DSA Art. 16(2)(d): a bona fide belief that the notice is accurate and complete.
    (LegalBasis.EU_DSA_ART16, F.GOOD_FAITH_STATEMENT): "takedown/statement_dsa",
    (LegalBasis.COPYRIGHT, F.GOOD_FAITH_STATEMENT): "takedown/statement_copyright_good_faith",
    (LegalBasis.COPYRIGHT, F.ACCURACY_STATEMENT): "takedown/statement_copyright_accuracy",
})


def required_fields(basis: LegalBasis, *, minor: bool = False,
                    extra: Iterable[RequestField] = ()) -> tuple[RequestField, ...]:
    """The fields a request under `basis` must hold (plus a route's `extra` ones), in order."""
    waived = WAIVED_FOR_MINOR.get(basis, frozenset()) if minor else frozenset()
    wanted = [f for f in REQUIRED[basis] if f not in waived]
    wanted += [f for f in RequestField if f in set(extra) and f not in wanted]
    return tuple(wanted)


def template_fields(basis: LegalBasis) -> tuple[RequestField, ...]:
    """The variables `prompts/<lang>/takedown/<basis>.txt` takes: every field of the basis,
    waivable ones included (given as "" when waived; the template leaves them out)."""
    return REQUIRED[basis]


def template_name(basis: LegalBasis) -> str:
    """The prompt name of a basis's request text (for hotline.prompts.Prompts.render)."""
    return f"takedown/{basis.value}"


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def missing_fields(basis: LegalBasis, provided: Mapping[str, str | None], *,
                   minor: bool = False,
                   extra: Iterable[RequestField] = ()) -> tuple[RequestField, ...]:
    """Required fields with no value (absent, None or only spaces), in the basis's order."""
    return tuple(f for f in required_fields(basis, minor=minor, extra=extra)
                 if _blank(provided.get(f.value)))


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def fields_absent_from_text(text: str, fields: Iterable[RequestField],
                            provided: Mapping[str, str | None]) -> tuple[RequestField, ...]:
    """Fields whose value does not appear in `text` (whitespace-insensitive; each line of a
    multi-line value, e.g. each URL, must appear). A blank value counts as absent."""
    flat = _squeeze(text)
    absent = []
    for f in fields:
        value = provided.get(f.value)
        if value is None or not value.strip():
            absent.append(f)
            continue
        lines = [_squeeze(line) for line in value.splitlines() if line.strip()]
        if not all(line in flat for line in lines):
            absent.append(f)
    return tuple(absent)


def strictest_deadline_hours(basis: LegalBasis, route_hours: int) -> int:
    """The due period of a request: the route's deadline or the law's, whichever is shorter."""
    legal = DEADLINE_HOURS[basis]
    return route_hours if legal is None else min(route_hours, legal)
