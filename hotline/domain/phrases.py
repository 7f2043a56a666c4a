"""Phrase matching for triage: normalised text, whole-word checks for ASCII phrases, one
trie-shaped regex that tells whether any phrase occurs at all, and an index that finds every
place each phrase occurs. Pure functions; the rules that use them are in hotline.domain.triage.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Generic, NamedTuple, TypeVar

K = TypeVar("K")

# Apostrophes are dropped, typed or not ("dont", "theyll", "I\u2019m" all match "don't"...).
_APOSTROPHES = str.maketrans({"\u2018": None, "\u2019": None, "\u02bc": None, "'": None})
# Hangul compatibility jamo (ㅋㅋ, ㅠㅠ) would become conjoining jamo under NFKC; keep them.
_NOT_COMPAT_JAMO = re.compile(r"[^\u3131-\u318e]+")
# The commonest Korean misspelling: 됬 for 됐 ("유포됬어요"), as common as the right one in chat.
_KO_TYPOS = str.maketrans({"됬": "됐"})


def normalise(text: str) -> str:
    """NFKC, casefold, no apostrophes and single spaces, so spacing, width, case and
    apostrophes never decide a match."""
    if text.isascii():  # NFKC and the Korean table change nothing in ASCII
        return " ".join(text.lower().replace("'", "").split())
    text = _NOT_COMPAT_JAMO.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return " ".join(text.casefold().translate(_APOSTROPHES).translate(_KO_TYPOS).split())


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


class Hit(NamedTuple):
    """One occurrence of a phrase: in the normalised text, or (`squeezed`) in the text with
    spaces removed, where Korean phrases are looked for."""

    phrase: str
    start: int
    end: int
    squeezed: bool


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
class PhraseIndex(Generic[K]):
    """Every phrase of many matchers found in one pass per text form: a trie regex inside a
    lookahead finds the longest phrase starting at each position (overlapping ones too), and
    every phrase starting there is a prefix of it. `hits` gives each key its phrase hits."""

    words: re.Pattern[str]
    squeezed: re.Pattern[str]
    # Phrase -> the keys it belongs to (with, for ASCII phrases, the word-boundary checks).
    word_keys: Mapping[str, tuple[tuple[K, bool, bool], ...]]
    squeezed_keys: Mapping[str, tuple[K, ...]]

    @classmethod
    def of(cls, matchers: Iterable[tuple[K, Matcher]]) -> PhraseIndex[K]:
        words: dict[str, list[tuple[K, bool, bool]]] = {}
        squeezed: dict[str, list[K]] = {}
        for key, m in matchers:
            for p, left, right in m.words:
                words.setdefault(p, []).append((key, left, right))
            for p in m.squeezed:
                squeezed.setdefault(p, []).append(key)
        return cls(re.compile(f"(?=({trie_pattern(words)}))"),
                   re.compile(f"(?=({trie_pattern(squeezed)}))"),
                   MappingProxyType({p: tuple(v) for p, v in words.items()}),
                   MappingProxyType({p: tuple(v) for p, v in squeezed.items()}))

    def hits(self, text: str, squeezed: str) -> dict[K, list[Hit]]:
        out: dict[K, list[Hit]] = {}
        if not squeezed.isascii():
            for m in self.squeezed.finditer(squeezed):
                start, longest = m.start(), m.group(1)
                for end in range(1, len(longest) + 1):
                    for key in self.squeezed_keys.get(longest[:end], ()):
                        out.setdefault(key, []).append(
                            Hit(longest[:end], start, start + end, True))
        for m in self.words.finditer(text):
            start, longest = m.start(), m.group(1)
            glued_left = start > 0 and _is_word(text[start - 1])
            for end in range(1, len(longest) + 1):
                after = start + end
                glued_right = after < len(text) and _is_word(text[after])
                for key, left, right in self.word_keys.get(longest[:end], ()):
                    if not (left and glued_left) and not (right and glued_right):
                        out.setdefault(key, []).append(Hit(longest[:end], start, after, False))
        return out


@dataclass(frozen=True)
class Prefilter:
    words: re.Pattern[str]
    squeezed: re.Pattern[str]
    # Patterns that fire a signal without any phrase (a sum of money demanded), on the
    # normalised text; None when there are none.
    patterns: re.Pattern[str] | None = None

    @classmethod
    def of(cls, matchers: Iterable[Matcher], patterns: Iterable[str] = ()) -> Prefilter:
        ms = tuple(matchers)
        alts = tuple(patterns)
        return cls(re.compile(trie_pattern({p for m in ms for p, _l, _r in m.words})),
                   re.compile(trie_pattern({p for m in ms for p in m.squeezed})),
                   re.compile("|".join(f"(?:{p})" for p in alts)) if alts else None)

    def may_match(self, text: str, squeezed: str) -> bool:
        """False when no phrase or pattern of any signal occurs in the text."""
        return bool(self.words.search(text)) or (
            not squeezed.isascii() and bool(self.squeezed.search(squeezed))) or (
            self.patterns is not None and bool(self.patterns.search(text)))


_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
# Final consonants (index in a Hangul syllable) that verb endings merge into an open last
# syllable: ㄴ 4 (뿌린대), ㄹ 8 (뿌릴 거), ㅁ 16, ㅂ 17 (뿌립니다).
FINALS = {"ㄴ": 4, "ㄹ": 8, "ㅁ": 16, "ㅂ": 17}


def _closed_forms(phrase: str, finals: str) -> tuple[str, ...]:
    """A Korean phrase ending in an open syllable ("뛰어내리") with each of `finals` merged
    into it ("뛰어내린", "뛰어내릴"): endings join the stem's last syllable in writing."""
    code = ord(phrase[-1]) - _HANGUL_FIRST
    if not 0 <= code <= _HANGUL_LAST - _HANGUL_FIRST or code % 28:
        return ()
    return tuple(phrase[:-1] + chr(_HANGUL_FIRST + code + FINALS[f]) for f in finals)


@lru_cache(maxsize=64)
def matcher(phrases: tuple[str, ...], finals: str = "") -> Matcher:
    """Phrases to look for; `finals`: the merged endings (see FINALS) a Korean phrase ending
    in an open syllable also matches with."""
    normalised = [p for p in map(normalise, phrases) if p]
    words = dict.fromkeys(p for p in normalised if p.isascii())
    squeezed = [p.replace(" ", "") for p in normalised if not p.isascii()]
    return Matcher(
        words=tuple((p, _is_word(p[0]), _is_word(p[-1])) for p in words),
        squeezed=tuple(dict.fromkeys(
            (*squeezed, *(f for p in squeezed for f in _closed_forms(p, finals))))),
    )
