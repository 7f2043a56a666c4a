"""Triage quality and cost: precision and recall per signal on the labelled corpus, per file
and per language, and the per-message cost of triage beside the phrase prefilter alone.

    .venv/bin/python bench/triage_bench.py [--rounds R] [--show-mistakes]

Quality, per corpus file (tests/corpus/) and per language, for each signal:
  - "any": the signal found at either certainty against it expected at either;
  - "fired": the signal fired against it expected fired (a fired content_spreading pages
    takedown, so its precision is the share of pages that were right).
The held-out files were each scored once before any tuning on them (see bench/README.md for
those figures); the tuning set is what the phrase lists were written against.

Cost, median of R rounds (default 7), in microseconds of this process's CPU time per message
(CPU time, not wall time: the machine is shared, and other load should count as little as
possible):
  - quiet: corpus messages with no phrase at all (the common case: most messages), through
    the prefilter alone (normalise, then "any phrase at all?": the baseline) and through
    triage (which must add next to nothing to it);
  - signal: corpus messages that pass the prefilter, through the prefilter alone and through
    triage (clauses, every phrase hit and the hedges around it);
  - all: the whole corpus (which is mostly messages with a signal, unlike a real line).
Figures only: nothing here asserts on timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotline.domain.phrases import normalise
from hotline.domain.triage import IntakeAnswers, Signal, TriageRules, default_rules, triage
from tests import triage_corpus as tc

NONE = IntakeAnswers()


def _predictor(rules: TriageRules) -> tc.Predict:
    def predict(text: str) -> tuple[frozenset[Signal], frozenset[Signal]]:
        t = triage(NONE, (text,), rules)
        return frozenset(t.reasons), frozenset(t.possible)
    return predict


def _pr(s: tc.Score) -> str:
    n = s.tp + s.fn
    return f"{s.precision:4.2f} {s.recall:4.2f} {n:3d}" if n or s.fp else "   -    -   0"


def quality(examples: Sequence[tc.Example], rules: TriageRules, label: str,
            show_mistakes: bool) -> None:
    outcomes = tc.run(examples, _predictor(rules))
    wrong = tc.mistakes(outcomes)
    print(f"\n{label}: {len(examples)} messages, {len(wrong)} not exactly right "
          f"({100 * (1 - len(wrong) / len(examples)):.1f}% exact)")
    print(f"  {'signal':20} {'lang':4} {'any P    R   n':>15} {'fired P    R   n':>17}")
    for language in ("all", "ko", "en"):
        subset = [o for o in outcomes if language in ("all", o.example.language)]
        for signal, (seen, fired) in tc.scores(subset).items():
            print(f"  {signal.value:20} {language:4} {_pr(seen):>15} {_pr(fired):>17}")
    if show_mistakes:
        for o in wrong:
            def show(fired: frozenset[Signal], possible: frozenset[Signal]) -> str:
                return " ".join([*sorted(fired), *sorted(f"{p}?" for p in possible)]) or "-"
            print(f"    {o.example.where}: want {show(o.example.fired, o.example.possible)}"
                  f", got {show(o.fired, o.possible)}: {o.example.text}")


def _per_message_us(fn: Callable[[str], object], texts: Sequence[str], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.process_time()
        for text in texts:
            fn(text)
        times.append((time.process_time() - t0) / len(texts))
    return statistics.median(times) * 1e6


def cost(examples: Sequence[tc.Example], rules: TriageRules, rounds: int) -> None:
    def prefilter(text: str) -> bool:
        t = normalise(text)
        return rules.compiled.prefilter.may_match(t, t.replace(" ", ""))

    def full(text: str) -> object:
        return triage(NONE, (text,), rules)

    texts = [e.text for e in examples]
    sets = {"quiet": [t for t in texts if not prefilter(t)],
            "signal": [t for t in texts if prefilter(t)], "all": texts}
    print(f"\ncost per message (median of {rounds} rounds), microseconds of CPU time:")
    print(f"  {'messages':8} {'n':>4} {'chars':>5} {'prefilter (baseline)':>21} {'triage':>8} "
          f"{'ratio':>6}")
    for name, subset in sets.items():
        # Enough work per round to time: each set repeated to at least 2000 messages.
        work = subset * max(1, 2000 // max(1, len(subset)))
        base = _per_message_us(prefilter, work, rounds)
        tri = _per_message_us(full, work, rounds)
        chars = statistics.mean(len(t) for t in subset)
        print(f"  {name:8} {len(subset):4d} {chars:5.0f} {base:21.1f} {tri:8.1f} "
              f"{tri / base:6.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--show-mistakes", action="store_true")
    args = parser.parse_args()
    rules = default_rules()
    files = sorted(tc.CORPUS_DIR.glob("*.tsv"))
    print(f"triage bench: {len(files)} corpus files, load {os.getloadavg()[0]:.2f}")
    everything: list[tc.Example] = []
    for path in files:
        examples = tc.load(path)
        everything += examples
        quality(examples, rules, path.name, args.show_mistakes)
    quality(everything, rules, "all files", show_mistakes=False)
    cost(everything, rules, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
