"""Referrals as data: which places a victim is pointed to, by situation (docs/victim.md).

The directory comes from config.toml ([[referrals.entries]]); this module is pure: from what a
case says (intake answers, triage signals) it names the case's situations, and from those the
entries to offer. A minor is always given the entries for minors (the youth lines), whatever
else matches.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SITUATIONS = ("minor", "takedown", "legal", "police", "counseling", "shelter")

# Triage signals (hotline.domain.signals) and the situations each one means.
_SIGNAL_SITUATIONS: dict[str, tuple[str, ...]] = {
    "minor": ("minor",),
    "content_spreading": ("takedown", "legal"),
    "synthetic": ("takedown", "legal"),
    "sextortion": ("police", "legal"),
    "sextortion_deadline": ("police", "legal"),
    "physical_threat": ("police", "shelter"),
    "address_posted": ("police", "shelter"),
    "unsafe_now": ("police", "shelter"),
    "self_harm": ("counseling",),
}


@dataclass(frozen=True)
class Referral:
    """One place in the directory. `name` and `hours` per language code."""

    code: str
    name: Mapping[str, str]
    phone: str
    web: str
    hours: Mapping[str, str]
    languages: tuple[str, ...]
    situations: tuple[str, ...]

    def text(self, lang: str, fallback: str) -> tuple[str, str]:
        """The name and hours in `lang` (the directory's `fallback` language otherwise)."""
        return (self.name.get(lang) or self.name[fallback],
                self.hours.get(lang) or self.hours[fallback])


def situations_of(answers: Mapping[str, object], signals: Iterable[str]) -> tuple[str, ...]:
    """A case's situations from its intake answers and fired signals; always counseling."""
    found = {"counseling"}
    if answers.get("age_group") in ("under_14", "14_17"):
        found.add("minor")
    if answers.get("spreading") is True:
        found.update(("takedown", "legal"))
    if answers.get("safe_now") is False:
        found.update(("police", "shelter"))
    for signal in signals:
        found.update(_SIGNAL_SITUATIONS.get(signal, ()))
    return tuple(s for s in SITUATIONS if s in found)


def offer(entries: Iterable[Referral], situations: Iterable[str], limit: int = 4
          ) -> tuple[Referral, ...]:
    """The entries to give a victim in these situations, most specific first: entries for
    minors first when the victim is one (and never otherwise), then those matching the most
    situations; at most `limit` (a phone screen or an SMS holds a few)."""
    wanted = set(situations)
    ranked = []
    for i, entry in enumerate(entries):
        hits = wanted.intersection(entry.situations)
        if not hits or ("minor" in entry.situations and "minor" not in wanted):
            continue  # nothing matches, or a line for minors and the victim is not one
        minor_first = 0 if "minor" in wanted and "minor" in entry.situations else 1
        ranked.append((minor_first, -len(hits), i, entry))
    ranked.sort(key=lambda r: r[:3])
    return tuple(r[3] for r in ranked[:limit])


def for_case(entries: Iterable[Referral], answers_json: str, reasons: Iterable[str]
             ) -> tuple[Referral, ...]:
    """The entries to offer a case, from its stored intake answers (JSON) and triage reasons
    ("signal" or "signal:detail")."""
    try:
        answers = json.loads(answers_json or "{}")
    except ValueError:
        answers = {}
    if not isinstance(answers, dict):
        answers = {}
    return offer(entries, situations_of(answers, [r.split(":")[0] for r in reasons if r]))
