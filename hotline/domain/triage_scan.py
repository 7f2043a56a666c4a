"""Finding signals in message text: phrase hits judged by the hedges in their clause.

Pure functions; hotline.domain.triage turns the findings into urgency. What each kind of hedge
(hotline.domain.hedges) does to a phrase of each signal is `EFFECTS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType

from hotline.domain import triage_words as words
from hotline.domain.hedges import Clause, Cue, clauses, cues, general_talk, removed
from hotline.domain.phrases import Hit, Matcher, PhraseIndex, matcher
from hotline.domain.signals import Certainty, Finding, Signal

# Each signal's phrase matchers: those that fire it, those that make it possible at most.
Matchers = tuple[tuple[Signal, Matcher, Matcher], ...]


class Role(StrEnum):
    """What a phrase is to its signal."""

    FIRES = "fires"          # fires it unless hedged
    POSSIBLE = "possible"    # makes it possible at most
    NEEDED = "needed"        # a companion: needed in the clause for PAIRED phrases to count
    PAIRED = "paired"        # fires it (unless hedged) only with a NEEDED phrase in the clause
    BLOCKS = "blocks"        # a FIRES phrase inside this one does not count


Index = PhraseIndex[tuple[Role, Signal]]


class Effect(StrEnum):
    KEEP = "keep"
    POSSIBLE = "possible"
    DROP = "drop"


_P, _D = Effect.POSSIBLE, Effect.DROP
# What a hedge does to a phrase of each signal (KEEP where not listed). Self-harm and being
# unsafe are never doubted away: "I don't know if I want to live" is self-harm. A threat is
# what sextortion is, so being only threatened or a condition ("if I don't pay") keeps it;
# fear of a future leak, or "if it gets posted", is no leak.
EFFECTS: Mapping[Signal, Mapping[Cue, Effect]] = MappingProxyType({
    Signal.CONTENT_SPREADING: {Cue.NEGATED: _P, Cue.UNSURE: _P, Cue.FEARED: _D,
                               Cue.THREATENED: _D, Cue.PAST: _P, Cue.REMOVED: _P,
                               Cue.SELF: _D, Cue.IF: _D},
    Signal.SYNTHETIC: {Cue.NEGATED: _D, Cue.UNSURE: _P, Cue.FEARED: _D, Cue.THREATENED: _P,
                       Cue.GENERAL: _D, Cue.IF: _D},
    Signal.MINOR: {Cue.NEGATED: _D, Cue.UNSURE: _P, Cue.PAST: _P},
    Signal.SEXTORTION: {Cue.NEGATED: _D, Cue.UNSURE: _P, Cue.FEARED: _D, Cue.PAST: _P,
                        Cue.GENERAL: _D},
    Signal.SELF_HARM: {Cue.NEGATED: _P},
    Signal.PHYSICAL_THREAT: {Cue.NEGATED: _P, Cue.UNSURE: _P, Cue.FEARED: _P, Cue.PAST: _P},
    Signal.ADDRESS_POSTED: {Cue.NEGATED: _P, Cue.UNSURE: _P, Cue.FEARED: _P,
                            Cue.THREATENED: _P, Cue.PAST: _P},
    Signal.UNSAFE_NOW: {Cue.NEGATED: _P, Cue.PAST: _P},
})


# The built-in phrases that need company or block others (not configurable).
_BUILT_IN = (
    *(((Role.NEEDED, Signal(k)), matcher(need)) for k, (need, _p) in words.COMPANIONS.items()),
    *(((Role.PAIRED, Signal(k)), matcher(p)) for k, (_n, p) in words.COMPANIONS.items()),
    *(((Role.BLOCKS, Signal(k)), matcher(v)) for k, v in words.NOT_SIGNAL.items()))
# What the prefilter must also look for: phrases that fire with company.
PAIRED = tuple(m for (role, _s), m in _BUILT_IN if role is Role.PAIRED)


def index(matchers: Matchers) -> Index:
    """One index over the rules' phrases and the built-in companions and blockers."""
    return PhraseIndex.of((
        *(((Role.FIRES, s), sure) for s, sure, _maybe in matchers),
        *(((Role.POSSIBLE, s), maybe) for s, _sure, maybe in matchers),
        *_BUILT_IN))


def _overlap(a: Hit, b: Hit) -> bool:
    return a.squeezed == b.squeezed and a.start < b.end and b.start < a.end


class _Found:
    """The best certainty seen for one signal so far, with its words and hedges."""

    def __init__(self) -> None:
        self.certainty: Certainty | None = None
        self.words: dict[str, None] = {}
        self.hedges: dict[str, None] = {}

    def add(self, certainty: Certainty, word: str, hedges: Iterable[str] = ()) -> None:
        if self.certainty is Certainty.FIRED and certainty is Certainty.POSSIBLE:
            return
        if self.certainty is not certainty:  # the first, or FIRED replacing POSSIBLE
            self.certainty, self.words, self.hedges = certainty, {}, {}
        self.hedges.update(dict.fromkeys(hedges))
        # Phrases found inside one another ("딥페" in "딥페이크") show as the longest.
        if not any(word in w for w in self.words):
            self.words = {w: None for w in self.words if w not in word}
            self.words[word] = None


def _judge(found: _Found, signal: Signal, hit: Hit, clause: Clause, certainty: Certainty,
           text_cues: Sequence[tuple[Cue, str]]) -> None:
    """Record one phrase hit at the certainty its hedges leave it (or not at all)."""
    effects = EFFECTS.get(signal, {})
    lowered = []
    for cue, word in (*cues(clause, hit), *text_cues):
        effect = effects.get(cue, Effect.KEEP)
        if effect is Effect.DROP:
            return
        if effect is Effect.POSSIBLE:
            lowered.append(word)
    found.add(Certainty.POSSIBLE if lowered else certainty, hit.phrase, lowered)


def _scan(text: str, idx: Index, found: dict[Signal, _Found]) -> None:
    """Every phrase, sum demanded and deadline in one normalised text, judged in its clause."""
    text_cues: list[tuple[Cue, str]] = []
    if (general := general_talk(text)) is not None:
        text_cues.append((Cue.GENERAL, general))
    spreading_cues = text_cues
    if (taken_down := removed(text)) is not None:
        spreading_cues = [*text_cues, (Cue.REMOVED, taken_down)]
    for clause in clauses(text):
        hits = idx.hits(clause.text, clause.squeezed)
        for signal in {s: None for _role, s in hits}:
            here = spreading_cues if signal is Signal.CONTENT_SPREADING else text_cues
            hedged = hits.get((Role.POSSIBLE, signal), [])
            # Inside a hedged phrase ("photoshopped" in "real or photoshopped") the hedged
            # reading stands; inside a blocking one ("옥상에 올라와") the phrase means
            # something else.
            overruled = [*hedged, *hits.get((Role.BLOCKS, signal), [])]
            sure = hits.get((Role.FIRES, signal), [])
            if (Role.NEEDED, signal) in hits:
                sure = [*sure, *hits.get((Role.PAIRED, signal), [])]
            for hit in hedged:
                _judge(found.setdefault(signal, _Found()), signal, hit, clause,
                       Certainty.POSSIBLE, here)
            for hit in sure:
                if not any(_overlap(hit, h) for h in overruled):
                    _judge(found.setdefault(signal, _Found()), signal, hit, clause,
                           Certainty.FIRED, here)
        for money in words.MONEY_DEMAND.finditer(clause.text):
            hit = Hit(money.group(), money.start(), money.end(), False)
            _judge(found.setdefault(Signal.SEXTORTION, _Found()), Signal.SEXTORTION, hit,
                   clause, Certainty.FIRED, text_cues)
        for when in words.DEADLINE.finditer(clause.text):
            found.setdefault(Signal.SEXTORTION_DEADLINE, _Found()).add(
                Certainty.FIRED, when.group())


def findings(normalised_texts: Iterable[str], idx: Index,
             seed: Iterable[tuple[Signal, str]] = ()) -> list[Finding]:
    """What the texts (already normalised and past the prefilter) say, one finding per signal;
    `seed`: signals already fired by intake answers, with the answer's name."""
    found: dict[Signal, _Found] = {}
    for signal, word in seed:
        found.setdefault(signal, _Found()).add(Certainty.FIRED, word)
    for text in normalised_texts:
        _scan(text, idx, found)
    # Deadline phrases are everyday words on their own ("24시간 상담"): only with a threat,
    # and only as certain as it.
    deadline = found.pop(Signal.SEXTORTION_DEADLINE, None)
    threat = found.get(Signal.SEXTORTION)
    if deadline is not None and deadline.certainty and threat is not None and threat.certainty:
        deadline.certainty, deadline.hedges = threat.certainty, dict(threat.hedges)
        found[Signal.SEXTORTION_DEADLINE] = deadline
    return [Finding(s, f.certainty, tuple(f.words),
                    tuple(f.hedges) if f.certainty is Certainty.POSSIBLE else ())
            for s, f in found.items() if f.certainty is not None]
