"""Automatic triage: urgency from the intake answers and the words a victim writes.

Pure functions over frozen values. A signal is a reason for urgency (see notes/domain.md §6);
each raises the case to its configured level, and a waiting case also ages upward so none
starves. Automatic triage only ever raises urgency; lowering it is a counselor's decision.

A signal is *fired* or only *possible*. A phrase fires its signal unless the words around it
hedge it (hotline.domain.hedges): "아직 퍼졌는지는 몰라요", "he hasn't posted anything yet" make
content spreading possible; "what if it leaks" or "I'm not a minor" drop it. What each kind of
hedge does to each signal is `triage_scan.EFFECTS`. A possible signal raises the case at most to
`possible_level` (high) and never pages anyone: callers page on `Triage.reasons` (fired) only.
Every signal found comes with a `Finding`: the phrases that raised it and the hedge words that
lowered it, so staff can see why and withdraw it.

Matching rules for keyword phrases (both sides pass through `normalise` first; the matching
itself is in hotline.domain.phrases):
- A phrase with any non-ASCII character (Korean) matches anywhere, ignoring spaces, because
  Korean attaches endings and particles to stems and people often drop spaces ("죽고싶어").
- An ASCII phrase (English) matches whole words only, so "pay me" does not fire on "repay me".
- SEXTORTION_DEADLINE phrases are deadlines ("by tonight", "오늘까지"); the signal is raised
  only together with SEXTORTION (in the same text or another), and is as certain as it.
- A sum of money demanded ("pay him 500,000 won", "50만원 보내래요") is sextortion on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from types import MappingProxyType

from hotline.domain import triage_words as words
from hotline.domain.conversation import Urgency
from hotline.domain.errors import ConfigError
from hotline.domain.phrases import Prefilter, matcher, normalise
from hotline.domain.signals import POSSIBLE_PREFIX as POSSIBLE_PREFIX
from hotline.domain.signals import Certainty as Certainty
from hotline.domain.signals import Finding as Finding
from hotline.domain.signals import Signal as Signal
from hotline.domain.signals import parse_reason as parse_reason
from hotline.domain.signals import reason_code as reason_code
from hotline.domain.triage_scan import PAIRED, Index, Matchers, findings, index

AGE_GROUPS = ("under_14", "14_17", "18_plus")
_MINOR_AGE_GROUPS = frozenset({"under_14", "14_17"})

# Ties between signals at one level break by this (declaration) order, so reasons are stable.
_ORDER = {s: i for i, s in enumerate(Signal)}
# Endings a Korean verb phrase ending in an open syllable also matches with ("뿌리" -> "뿌린대",
# "뿌릴 거"); not ㄹ for spreading, where it is the future ("유포될까 봐" has not happened).
_FINALS = {Signal.CONTENT_SPREADING: "ㄴㅁㅂ", Signal.SELF_HARM: "ㄴㄹㅁㅂ",
           Signal.PHYSICAL_THREAT: "ㄴㄹㅁㅂ", Signal.UNSAFE_NOW: "ㄴㄹㅁㅂ",
           Signal.SEXTORTION: "ㄴㄹㅁㅂ"}


@dataclass(frozen=True)
class IntakeAnswers:
    """The victim's answers to the first questions; None means skipped."""

    spreading: bool | None = None
    age_group: str | None = None
    safe_now: bool | None = None
    platform: str | None = None

    def __post_init__(self) -> None:
        # A misspelt age group would silently drop the MINOR signal.
        if self.age_group is not None and self.age_group not in AGE_GROUPS:
            raise ValueError(f"age_group: expected one of {', '.join(AGE_GROUPS)} or None, "
                             f"got {self.age_group!r}")


@dataclass(frozen=True)
class Compiled:
    """A rule set's phrases, compiled once: triage runs on every inbound message."""

    # Each signal's phrase matchers (fired, possible), all of them (and the built-in
    # companions and blockers) found in one pass per clause.
    index: Index
    # Whether any phrase of any signal (or a sum of money) occurs at all (one regex each for
    # the normalised and the squeezed text, and one for money): most messages contain none
    # and skip everything else.
    prefilter: Prefilter


# Equal phrases share one compilation (the config's rules and the defaults, say).
@lru_cache(maxsize=8)
def _compile(keywords: tuple[tuple[Signal, tuple[str, ...]], ...],
             possible: tuple[tuple[Signal, tuple[str, ...]], ...]) -> Compiled:
    fired, maybe = dict(keywords), dict(possible)
    matchers: Matchers = tuple(
        (s, matcher(fired.get(s, ()), _FINALS.get(s, "")),
         matcher(maybe.get(s, ()), _FINALS.get(s, "")))
        for s in Signal)
    return Compiled(index(matchers), Prefilter.of(
        (*(m for _s, *ms in matchers for m in ms), *PAIRED), (words.MONEY_ANCHOR,)))


@dataclass(frozen=True)
class TriageRules:
    """Which phrases raise which signal, the level each signal raises to, and ageing limits."""

    keywords: Mapping[Signal, tuple[str, ...]]
    levels: Mapping[Signal, Urgency]
    # A case waiting longer than this at the level moves up one; CRITICAL never appears.
    age_up_seconds: Mapping[Urgency, int]
    # Phrases that are hedged in themselves ("hasn't posted"): possible at most.
    possible_keywords: Mapping[Signal, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({}))
    # The most a possible signal raises a case to.
    possible_level: Urgency = Urgency.HIGH

    def __post_init__(self) -> None:
        missing = [s.value for s in Signal if s not in self.levels]
        if missing:
            raise ValueError(f"levels: no level for {', '.join(missing)}")
        if Urgency.CRITICAL in self.age_up_seconds:
            raise ValueError("age_up_seconds: critical cannot move up")
        if any(v <= 0 for v in self.age_up_seconds.values()):
            raise ValueError("age_up_seconds: expected positive limits")
        # Rules are shared by every request: read-only views keep them frozen in practice.
        for name in ("keywords", "possible_keywords", "levels", "age_up_seconds"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @cached_property
    def compiled(self) -> Compiled:
        """The phrases compiled, on first use: compiling took 0.2-0.3 s, which every `hotline`
        command paid at import and again on loading its config (the server compiles them at
        start)."""
        return _compile(tuple((s, self.keywords.get(s, ())) for s in Signal),
                        tuple((s, self.possible_keywords.get(s, ())) for s in Signal))

    def possible_urgency(self, signal: Signal) -> Urgency:
        """What a possible signal raises a case to: the lower of its level and possible_level."""
        level = self.levels[signal]
        return level if level.rank >= self.possible_level.rank else self.possible_level


@dataclass(frozen=True)
class Triage:
    urgency: Urgency
    # Every signal that fired, most severe first (ties in Signal declaration order).
    reasons: tuple[Signal, ...] = ()
    # Signals found only as possible (never also in reasons), in the same order.
    possible: tuple[Signal, ...] = ()
    # What raised each signal of reasons and possible, in that order (empty for a Triage
    # read back from stored reason codes).
    findings: tuple[Finding, ...] = ()

    def codes(self) -> tuple[str, ...]:
        """Reason codes: fired signals, then "possible:" ones."""
        return (*(s.value for s in self.reasons),
                *(POSSIBLE_PREFIX + s.value for s in self.possible))

    @classmethod
    def from_codes(cls, urgency: Urgency, codes: Iterable[str]) -> Triage:
        """The signals of stored reason codes (others, such as "aged", are skipped)."""
        parsed = [p for p in map(parse_reason, codes) if p is not None]
        fired = tuple(dict.fromkeys(s for s, c in parsed if c is Certainty.FIRED))
        maybe = tuple(dict.fromkeys(s for s, c in parsed
                                    if c is Certainty.POSSIBLE and s not in fired))
        return cls(urgency, fired, maybe)


_DEFAULT_LEVELS: Mapping[Signal, Urgency] = MappingProxyType({
    Signal.CONTENT_SPREADING: Urgency.CRITICAL,
    Signal.SELF_HARM: Urgency.CRITICAL,
    Signal.PHYSICAL_THREAT: Urgency.CRITICAL,
    Signal.ADDRESS_POSTED: Urgency.CRITICAL,
    Signal.UNSAFE_NOW: Urgency.CRITICAL,
    Signal.MINOR: Urgency.HIGH,
    Signal.SEXTORTION_DEADLINE: Urgency.HIGH,
    Signal.SEXTORTION: Urgency.HIGH,
    Signal.SYNTHETIC: Urgency.HIGH,
})

_DEFAULT_AGE_UP: Mapping[Urgency, int] = MappingProxyType({Urgency.NORMAL: 600, Urgency.HIGH: 900})

_DEFAULT_KEYWORDS: Mapping[Signal, tuple[str, ...]] = MappingProxyType(
    {Signal(k): v for k, v in words.KEYWORDS.items()})
_DEFAULT_POSSIBLE: Mapping[Signal, tuple[str, ...]] = MappingProxyType(
    {Signal(k): v for k, v in words.POSSIBLE_KEYWORDS.items()})


@cache
def default_rules() -> TriageRules:
    """The built-in phrases (Korean and English), levels and ageing limits."""
    return TriageRules(keywords=_DEFAULT_KEYWORDS, levels=_DEFAULT_LEVELS,
                       age_up_seconds=_DEFAULT_AGE_UP, possible_keywords=_DEFAULT_POSSIBLE)


def _table(raw: Mapping[str, object], name: str) -> Mapping[str, object]:
    value = raw.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"triage.{name}: expected a table, got {value!r}")
    return value


def _signal(key: str, name: str) -> Signal:
    try:
        return Signal(name)
    except ValueError:
        known = ", ".join(s.value for s in Signal)
        raise ConfigError(f"{key}: unknown signal (known: {known})") from None


def _level(key: str, value: object) -> Urgency:
    if not isinstance(value, str) or value not in tuple(Urgency):
        choices = ", ".join(u.value for u in Urgency)
        raise ConfigError(f"{key}: unknown level {value!r} (known: {choices})")
    return Urgency(value)


def _phrases(raw: Mapping[str, object], name: str,
             defaults: Mapping[Signal, tuple[str, ...]]) -> dict[Signal, tuple[str, ...]]:
    out = dict(defaults)
    for signal_name, value in _table(raw, name).items():
        key = f"triage.{name}.{signal_name}"
        signal = _signal(key, signal_name)
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            raise ConfigError(f"{key}: expected a list of phrases, got {value!r}")
        for phrase in value:
            # An empty phrase would match every message.
            if not normalise(phrase):
                raise ConfigError(f"{key}: expected non-empty phrases, got {phrase!r}")
        out[signal] = tuple(dict.fromkeys((*out.get(signal, ()), *value)))
    return out


def rules_from_mapping(raw: Mapping[str, object]) -> TriageRules:
    """Rules from the [triage] table: levels and limits replace defaults, phrases add to them."""
    known = ("age_up_seconds", "keywords", "levels", "possible_keywords", "possible_level")
    for name in raw:
        if name not in known:
            raise ConfigError(f"triage.{name}: unknown key (known keys: {', '.join(known)})")

    levels = dict(_DEFAULT_LEVELS)
    for name, value in _table(raw, "levels").items():
        key = f"triage.levels.{name}"
        levels[_signal(key, name)] = _level(key, value)
    possible_level = _level("triage.possible_level", raw.get("possible_level", "high"))

    age_up = dict(_DEFAULT_AGE_UP)
    for name, value in _table(raw, "age_up_seconds").items():
        key = f"triage.age_up_seconds.{name}"
        if name not in (Urgency.NORMAL, Urgency.HIGH):
            raise ConfigError(f"{key}: unknown level (known: high, normal; critical cannot age)")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key}: expected a positive integer, got {value!r}")
        age_up[Urgency(name)] = value

    return TriageRules(keywords=_phrases(raw, "keywords", _DEFAULT_KEYWORDS), levels=levels,
                       age_up_seconds=age_up, possible_level=possible_level,
                       possible_keywords=_phrases(raw, "possible_keywords", _DEFAULT_POSSIBLE))


def _ranked(signals: Iterable[Signal], levels: Mapping[Signal, Urgency]) -> tuple[Signal, ...]:
    return tuple(sorted(set(signals), key=lambda s: (levels[s].rank, _ORDER[s])))


def _top(urgencies: Iterable[Urgency]) -> Urgency:
    return min(urgencies, key=lambda u: u.rank, default=Urgency.NORMAL)


def _result(found: Iterable[Finding], rules: TriageRules) -> Triage:
    by_signal = {f.signal: f for f in found}
    fired = _ranked((s for s, f in by_signal.items() if f.certainty is Certainty.FIRED),
                    rules.levels)
    maybe = _ranked((s for s, f in by_signal.items() if f.certainty is Certainty.POSSIBLE),
                    rules.levels)
    urgency = _top((*(rules.levels[s] for s in fired),
                    *(rules.possible_urgency(s) for s in maybe)))
    return Triage(urgency, fired, maybe, tuple(by_signal[s] for s in (*fired, *maybe)))


def triage(answers: IntakeAnswers, texts: Sequence[str], rules: TriageRules) -> Triage:
    """Signals from the answers and from phrases in any text; urgency is the highest they raise."""
    if isinstance(texts, str):
        # A bare string is a Sequence[str] of characters, which no phrase would ever match.
        texts = (texts,)
    seed = _answered(answers) if answers != _NO_ANSWERS else ()
    candidates = [t for t in map(normalise, texts)
                  if rules.compiled.prefilter.may_match(t, t.replace(" ", ""))]
    if not candidates and not seed:
        return _NOTHING  # most messages: no answers, no phrase
    return _result(findings(candidates, rules.compiled.index, seed), rules)


_NO_ANSWERS = IntakeAnswers()
_NOTHING = Triage(Urgency.NORMAL)


def _answered(answers: IntakeAnswers) -> list[tuple[Signal, str]]:
    return [(signal, f"answer:{name}") for signal, answered, name in (
        (Signal.CONTENT_SPREADING, answers.spreading, "spreading"),
        (Signal.MINOR, answers.age_group in _MINOR_AGE_GROUPS, "age_group"),
        (Signal.UNSAFE_NOW, answers.safe_now is False, "safe_now")) if answered]


def escalate(current: Triage, new: Triage, *, rules: TriageRules | None = None) -> Triage:
    """The higher urgency of the two and every signal from both, a fired one replacing the
    same possible one; never lower than `current`.

    `rules` orders the merged reasons by its levels (the defaults when None).
    """
    levels = rules.levels if rules is not None else _DEFAULT_LEVELS
    fired = _ranked({*current.reasons, *new.reasons}, levels)
    maybe = _ranked({*current.possible, *new.possible} - set(fired), levels)
    kept: dict[Signal, Finding] = {}
    for f in (*current.findings, *new.findings):
        if (f.certainty is Certainty.FIRED) == (f.signal in fired):
            kept.setdefault(f.signal, f)
    return Triage(_top((current.urgency, new.urgency)), fired, maybe,
                  tuple(kept[s] for s in (*fired, *maybe) if s in kept))


def without(found: Triage, drop: Iterable[str], rules: TriageRules) -> Triage:
    """`found` less the signals whose codes are in `drop` (withdrawn by staff), its urgency
    what the remaining signals raise."""
    gone = {s for s in Signal if s.value in set(drop)}
    if not gone & {*found.reasons, *found.possible}:
        return found
    fired = tuple(s for s in found.reasons if s not in gone)
    maybe = tuple(s for s in found.possible if s not in gone)
    return Triage(_top((*(rules.levels[s] for s in fired),
                        *(rules.possible_urgency(s) for s in maybe))), fired, maybe,
                  tuple(f for f in found.findings if f.signal not in gone))


_UP = {Urgency.NORMAL: Urgency.HIGH, Urgency.HIGH: Urgency.CRITICAL}


def aged(urgency: Urgency, waited_seconds: float, rules: TriageRules) -> Urgency:
    """The level after waiting: each limit passed (strictly) moves the case up one level.

    `waited_seconds` is the whole wait; the limits add up, so with the defaults a normal case
    is high after 600 s and critical after 600 + 900 s.
    """
    spent = 0.0
    while urgency in _UP:
        limit = rules.age_up_seconds.get(urgency)
        if limit is None or waited_seconds <= spent + limit:
            break
        spent += limit
        urgency = _UP[urgency]
    return urgency
