"""What raised a triage signal, kept without keeping what the victim wrote.

A finding's words are phrases of the catalogue (config [triage.keywords] and the built-ins),
intake answers, or text a pattern matched (a sum demanded, a deadline) and hedge words. Staff
need to see why a signal fired, but a copy of message text outside the sealed transcript would
outlive its retention and widen what a database reader learns. So a case stores term ids only:
  "t:<digest>"   a catalogue phrase, by a digest of its normalised form (resolved against the
                 current catalogue when shown; a phrase since removed shows as such);
  "answer:<q>"   an intake answer ("answer:spreading");
  "p:<pattern>"  a pattern, never its text ("p:money_demand", "p:deadline");
  "cue:hedged"   a hedge lowered it to possible (the hedge words are not kept);
  "flag:staff"   a counselor flagged it.
Pure functions; the table is case_signals (stores/sql/signals.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hotline.domain import triage_words as words
from hotline.domain.phrases import matcher
from hotline.domain.signals import Finding, Signal
from hotline.domain.triage import _FINALS, TriageRules

HEDGED = "cue:hedged"
FLAGGED = "flag:staff"
_PATTERNS = {Signal.SEXTORTION: "p:money_demand", Signal.SEXTORTION_DEADLINE: "p:deadline"}
# The column holds 255 characters: a long list keeps its first terms.
MAX_TEXT = 255


def term_id(form: str) -> str:
    return "t:" + hashlib.sha256(form.encode("utf-8")).hexdigest()[:10]


def _forms(phrase: str, finals: str) -> list[str]:
    m = matcher((phrase,), finals)
    return [w for w, _s, _e in m.words] + list(m.squeezed)


_CACHE: dict[int, tuple[TriageRules, Mapping[Signal, Mapping[str, str]]]] = {}


def catalogue(rules: TriageRules) -> Mapping[Signal, Mapping[str, str]]:
    """Per signal: term id of every form a catalogue phrase is found in -> the phrase."""
    hit = _CACHE.get(id(rules))
    if hit is not None and hit[0] is rules:
        return hit[1]
    out: dict[Signal, dict[str, str]] = {}
    for signal in Signal:
        finals = _FINALS.get(signal, "")
        phrases = (*rules.keywords.get(signal, ()), *rules.possible_keywords.get(signal, ()),
                   *words.COMPANIONS.get(signal.value, ((), ()))[1])
        out[signal] = {term_id(f): p for p in phrases for f in _forms(p, finals)}
    _CACHE[id(rules)] = (rules, out)
    return out


def terms_of(finding: Finding, rules: TriageRules) -> tuple[str, ...]:
    """The term ids of one finding (see the module docstring)."""
    known = catalogue(rules)[finding.signal]
    out: list[str] = []
    for w in finding.words:
        if w.startswith("answer:") or w == FLAGGED:
            out.append(w)
        elif term_id(w) in known:
            out.append(term_id(w))
        else:
            out.append(_PATTERNS.get(finding.signal, "p:phrase"))
    if finding.hedges:
        out.append(HEDGED)
    return tuple(dict.fromkeys(out))


def merge(old: Iterable[str], new: Iterable[str]) -> str:
    """Both lists of terms, once each, as stored (cut to the column's width on a term)."""
    text = ""
    for t in dict.fromkeys((*old, *new)):
        if len(text) + len(t) + 1 > MAX_TEXT:
            break
        text = f"{text},{t}" if text else t
    return text


@dataclass(frozen=True)
class Shown:
    """One term as staff read it: kind (phrase, answer, pattern, hedge, flag, removed) and,
    for a phrase, the catalogue's words; for an answer or pattern, its name."""

    kind: str
    text: str


def show(signal: Signal, term: str, rules: TriageRules) -> Shown:
    if term.startswith("t:"):
        phrase = catalogue(rules)[signal].get(term)
        return Shown("phrase", phrase) if phrase is not None else Shown("removed", "")
    if term.startswith("answer:"):
        return Shown("answer", term.removeprefix("answer:"))
    if term.startswith("p:"):
        return Shown("pattern", term.removeprefix("p:"))
    if term == HEDGED:
        return Shown("hedge", "")
    return Shown("flag", "")
