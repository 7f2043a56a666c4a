"""The labelled triage corpus (tests/corpus/, 690 Korean and English messages): what it holds,
and per-signal precision and recall floors the default rules must keep.

The floors sit just under what the rules achieve on the whole corpus, so a change that loses
a signal somewhere (or fires one where it should not) fails here with the messages it got
wrong. These are figures on text the rules were tuned on; the held-out figures, measured once
per held-out file before tuning on it, are in bench/README.md (bench/triage_bench.py prints
them per file and language).
"""

from __future__ import annotations

from collections import Counter
from functools import cache

import pytest

from hotline.domain.triage import IntakeAnswers, Signal, default_rules, triage
from tests import triage_corpus as tc

S = Signal
RULES = default_rules()
# Per signal: precision and recall of the signal found at either certainty, then of the
# signal fired (a fired content_spreading pages takedown: its precision counts false pages).
FLOORS: dict[Signal, tuple[float, float, float, float]] = {
    S.CONTENT_SPREADING: (0.99, 0.97, 0.99, 0.98),
    S.SELF_HARM: (0.99, 0.97, 0.99, 0.97),
    S.PHYSICAL_THREAT: (0.99, 0.91, 0.99, 0.91),
    S.ADDRESS_POSTED: (0.99, 0.99, 0.99, 0.99),
    S.UNSAFE_NOW: (0.99, 0.99, 0.99, 0.99),
    S.MINOR: (0.99, 0.97, 0.99, 0.99),
    S.SEXTORTION_DEADLINE: (0.99, 0.99, 0.99, 0.99),
    S.SEXTORTION: (0.96, 0.95, 0.96, 0.96),
    S.SYNTHETIC: (0.97, 0.99, 0.95, 0.99),
}


def _predict(text: str) -> tuple[frozenset[Signal], frozenset[Signal]]:
    t = triage(IntakeAnswers(), (text,), RULES)
    return frozenset(t.reasons), frozenset(t.possible)


@cache
def _examples() -> tuple[tc.Example, ...]:
    return tuple(e for path in sorted(tc.CORPUS_DIR.glob("*.tsv")) for e in tc.load(path))


@cache
def _outcomes() -> tuple[tc.Outcome, ...]:
    return tuple(tc.run(_examples(), _predict))


def test_the_corpus_is_large_bilingual_and_covers_every_signal() -> None:
    examples = _examples()
    assert len(examples) >= 300
    by_language = Counter(e.language for e in examples)
    assert min(by_language["ko"], by_language["en"]) >= 0.4 * len(examples)
    for language in ("ko", "en"):
        counts = Counter(s for e in examples if e.language == language
                         for s in e.fired | e.possible)
        assert all(counts[s] >= 10 for s in Signal), (language, counts)
        # Hard negatives: messages with no signal at all.
        assert sum(1 for e in examples if e.language == language
                   and not e.fired | e.possible) >= 50
        # And hedged ones.
        assert sum(1 for e in examples if e.language == language and e.possible) >= 30


@pytest.mark.parametrize("text,fired,possible", [
    ("I'm 15... he will send my nudes to my school by tonight unless I pay him 500,000 won",
     {S.MINOR, S.SEXTORTION, S.SEXTORTION_DEADLINE}, set()),
    ("딥페이크 영상이 만들어졌다는 얘기를 들었어요. 아직 퍼졌는지는 몰라요.",
     {S.SYNTHETIC}, {S.CONTENT_SPREADING}),
    ("Someone made a fake porn video with my face", {S.SYNTHETIC}, set()),
])
def test_the_reported_cases_are_in_the_corpus(text: str, fired: set[Signal],
                                              possible: set[Signal]) -> None:
    [e] = [e for e in _examples() if e.text == text]
    assert (set(e.fired), set(e.possible)) == (fired, possible)


@pytest.mark.parametrize("signal", list(Signal))
def test_floors(signal: Signal) -> None:
    seen, fired = tc.scores(_outcomes())[signal]
    got = (seen.precision, seen.recall, fired.precision, fired.recall)
    wrong = [f"{o.example.where}: {o.example.text}" for o in tc.mistakes(_outcomes())
             if signal in (o.fired | o.possible | o.example.fired | o.example.possible)]
    assert all(g >= f for g, f in zip(got, FLOORS[signal], strict=True)), (
        f"{signal.value}: {tuple(round(g, 3) for g in got)} under {FLOORS[signal]}; "
        f"messages with this signal wrong:\n" + "\n".join(wrong))
