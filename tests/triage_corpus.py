"""The labelled triage corpus (tests/corpus/) and its per-signal precision and recall, shared by
tests/test_triage_corpus.py and bench/triage_bench.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hotline.domain.triage import Signal

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
TUNING = CORPUS_DIR / "triage_corpus.tsv"
HOLDOUT = CORPUS_DIR / "triage_holdout.tsv"


@dataclass(frozen=True)
class Example:
    where: str  # file:line, for failure messages
    language: str
    text: str
    fired: frozenset[Signal]
    possible: frozenset[Signal]


def load(path: Path) -> list[Example]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        language, expected, text = line.split("\t")
        if language not in ("ko", "en") or not text.strip():
            raise ValueError(f"{path.name}:{n}: bad line")
        codes = [] if expected == "-" else expected.split()
        fired = frozenset(Signal(c) for c in codes if not c.endswith("?"))
        possible = frozenset(Signal(c[:-1]) for c in codes if c.endswith("?"))
        if fired & possible:
            raise ValueError(f"{path.name}:{n}: a signal both fired and possible")
        out.append(Example(f"{path.name}:{n}", language, text, fired, possible))
    return out


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


# What a classifier said of one text: the signals fired and the signals possible.
Predict = Callable[[str], tuple[frozenset[Signal], frozenset[Signal]]]


@dataclass(frozen=True)
class Outcome:
    example: Example
    fired: frozenset[Signal]
    possible: frozenset[Signal]


def run(examples: Iterable[Example], predict: Predict) -> list[Outcome]:
    return [Outcome(e, *predict(e.text)) for e in examples]


def _score(pairs: Iterable[tuple[bool, bool]]) -> Score:
    tp = fp = fn = 0
    for want, got in pairs:
        tp += want and got
        fp += got and not want
        fn += want and not got
    return Score(tp, fp, fn)


def scores(outcomes: Iterable[Outcome]) -> Mapping[Signal, tuple[Score, Score]]:
    """Per signal: (detected at either certainty, fired exactly as expected)."""
    rows = list(outcomes)
    out = {}
    for s in Signal:
        seen = _score((s in o.example.fired | o.example.possible, s in o.fired | o.possible)
                      for o in rows)
        fired = _score((s in o.example.fired, s in o.fired) for o in rows)
        out[s] = (seen, fired)
    return out


def mistakes(outcomes: Iterable[Outcome]) -> list[Outcome]:
    return [o for o in outcomes
            if (o.fired, o.possible) != (o.example.fired, o.example.possible)]
