"""Phrase matching for triage: normalised text, whole-word checks for ASCII phrases, and one
trie-shaped regex that tells whether any phrase occurs at all. Pure functions; the rules that
use them are in hotline.domain.triage.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# Phone keyboards type curly apostrophes; phrases are written with the ASCII one.
_APOSTROPHES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'"})
# Hangul compatibility jamo (ㅋㅋ, ㅠㅠ) would become conjoining jamo under NFKC; keep them.
_NOT_COMPAT_JAMO = re.compile(r"[^\u3131-\u318e]+")


def normalise(text: str) -> str:
    """NFKC, casefold and single spaces, so spacing, width and case never decide a match."""
    if text.isascii():  # NFKC and the apostrophe table change nothing in ASCII
        return " ".join(text.lower().split())
    text = _NOT_COMPAT_JAMO.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return " ".join(text.casefold().translate(_APOSTROPHES).split())


def _is_word(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _has_words(text: str, phrase: str, check_left: bool, check_right: bool) -> bool:
    """`phrase` in `text` with no ASCII letter or digit glued to a letter or digit at its ends
    (`check_left`/`check_right`: the phrase starts/ends with one)."""
    start = text.find(phrase)
    while start != -1:
        end = start + len(phrase)
        glued_left = check_left and start > 0 and _is_word(text[start - 1])
        glued_right = check_right and end < len(text) and _is_word(text[end])
        if not glued_left and not glued_right:
            return True
        start = text.find(phrase, start + 1)
    return False


@dataclass(frozen=True)
class Matcher:
    # ASCII phrases, whole words in the normalised text, with whether each starts/ends with a
    # letter or digit (then a glued neighbour means it is part of another word).
    words: tuple[tuple[str, bool, bool], ...]
    squeezed: tuple[str, ...]  # other phrases, spaces removed, in the text with spaces removed

    def search(self, text: str, squeezed: str) -> bool:
        # Substring tests over a few hundred phrases are far faster than one big regex
        # alternation with lookarounds, which Python's re cannot optimise; the word-boundary
        # check runs only for the rare phrase that occurs at all.
        if not squeezed.isascii():  # these phrases are not ASCII: never in an ASCII text
            for p in self.squeezed:
                if p in squeezed:
                    return True
        for p, left, right in self.words:
            if p in text and _has_words(text, p, left, right):
                return True
        return False


def trie_pattern(phrases: Iterable[str]) -> str:
    """A regex matching exactly where one of `phrases` starts, as a trie of alternatives:
    Python's re tries a flat alternation's branches one by one at every position (measured:
    54 us for our English phrases in a short message, 4.5 us as a trie)."""
    root: dict[str, Any] = {}
    for phrase in phrases:
        node = root
        for ch in phrase:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        ends = "" in node  # a phrase ends here and longer ones go on
        group = alts[0] if len(alts) == 1 and not ends else "(?:" + "|".join(alts) + ")"
        return group + "?" if ends else group

    return emit(root) if root else "(?!)"


@dataclass(frozen=True)
class Prefilter:
    words: re.Pattern[str]
    squeezed: re.Pattern[str]

    @classmethod
    def of(cls, matchers: Iterable[Matcher]) -> Prefilter:
        ms = tuple(matchers)
        return cls(re.compile(trie_pattern({p for m in ms for p, _l, _r in m.words})),
                   re.compile(trie_pattern({p for m in ms for p in m.squeezed})))

    def may_match(self, text: str, squeezed: str) -> bool:
        """False when no phrase of any signal occurs in the text."""
        return bool(self.words.search(text)) or (
            not squeezed.isascii() and bool(self.squeezed.search(squeezed)))


@lru_cache(maxsize=64)
def matcher(phrases: tuple[str, ...]) -> Matcher:
    normalised = [p for p in map(normalise, phrases) if p]
    words = dict.fromkeys(p for p in normalised if p.isascii())
    return Matcher(
        words=tuple((p, _is_word(p[0]), _is_word(p[-1])) for p in words),
        squeezed=tuple(dict.fromkeys(p.replace(" ", "") for p in normalised if not p.isascii())),
    )
