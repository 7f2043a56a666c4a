"""Pure SMS text rules: encodings and segments, splitting long replies, keywords, short answers.

Segments (3GPP TS 23.038 / 23.040, as Twilio bills them):
- GSM-7 when every character is in the GSM basic set or its extension table (the extension
  characters, e.g. `€ [ ] { } ~ ^ | \\`, take two septets): 160 septets in one segment, 153 per
  segment once split (the rest carries the concatenation header). An escape pair is never split.
- Otherwise UCS-2 (any Korean text): 70 UTF-16 code units in one segment, 67 per segment once
  split. Characters outside the BMP (most emoji) are two code units and are never split.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE = {"GSM-7": 160, "UCS-2": 70}
MULTI = {"GSM-7": 153, "UCS-2": 67}


def encoding(text: str) -> str:
    """"GSM-7" if every character fits the GSM alphabet, else "UCS-2"."""
    return "GSM-7" if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text) else "UCS-2"


def _cost(c: str, enc: str) -> int:
    if enc == "GSM-7":
        return 2 if c in GSM_EXTENSION else 1
    return 2 if ord(c) > 0xFFFF else 1


def _units(text: str, enc: str) -> int:
    return sum(_cost(c, enc) for c in text)


def segments(text: str) -> list[str]:
    """The segments a phone receives `text` in (one, or several of 153/67 units)."""
    enc = encoding(text)
    if _units(text, enc) <= SINGLE[enc]:
        return [text]
    size, used = MULTI[enc], 0
    out: list[str] = []
    cur: list[str] = []
    for c in text:
        cost = _cost(c, enc)
        if used + cost > size:  # an escape pair or a surrogate pair moves whole
            out.append("".join(cur))
            cur, used = [], 0
        cur.append(c)
        used += cost
    if cur:
        out.append("".join(cur))
    return out


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str
    units: int
    segments: int


def info(text: str) -> SegmentInfo:
    enc = encoding(text)
    return SegmentInfo(enc, _units(text, enc), len(segments(text)))


def split_message(text: str, max_segments: int) -> list[str]:
    """`text` as messages of at most `max_segments` segments each, cut at a space or line end
    where one is near; the parts joined give back `text` exactly."""
    if max_segments < 1:
        raise ValueError("max_segments: expected at least 1")
    if len(segments(text)) <= max_segments:
        return [text]
    enc = encoding(text)
    budget = max_segments * MULTI[enc]
    parts: list[str] = []
    rest = text
    while rest:
        if len(segments(rest)) <= max_segments:
            parts.append(rest)
            break
        used, end = 0, 0
        for i, c in enumerate(rest):
            used += _cost(c, enc)
            if used > budget:
                break
            end = i + 1
        # Prefer to cut after whitespace in the last fifth of the part, so words stay whole.
        cut = end
        for j in range(end, max(0, end - end // 5), -1):
            if rest[j - 1].isspace():
                cut = j
                break
        # A part's own encoding may be GSM-7 while the whole was UCS-2: it fits either way.
        while len(segments(rest[:cut])) > max_segments:  # pragma: no cover - defensive
            cut -= 1
        parts.append(rest[:cut])
        rest = rest[cut:]
    return parts


# Opt-out and opt-in words, matched against the whole message (Twilio's standard English set,
# and the Korean words used for SMS opt-out). Everyday words such as "그만" ("enough") are left
# out on purpose: a victim writing them mid-conversation must not lose our replies.
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit",
                        "revoke", "optout", "수신거부", "수신 거부", "수신중지", "수신 중지"})
START_WORDS = frozenset({"start", "unstop", "yes", "수신허용", "수신 허용", "수신동의",
                         "수신 동의"})
# Asking for a call-back by SMS.
CALLBACK_WORDS = frozenset({"call", "callback", "call back", "call me", "전화", "전화요청",
                            "전화 요청", "콜백"})
SKIP_WORDS = frozenset({"skip", "건너뛰기", "패스", "pass"})


def keyword(text: str) -> str:
    """The message folded for keyword matching (width, case, surrounding space, punctuation)."""
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    return " ".join(folded.strip(".!?。 ").split())


def is_stop(text: str) -> bool:
    return keyword(text) in STOP_WORDS


def is_start(text: str) -> bool:
    return keyword(text) in START_WORDS


def digit_answer(text: str) -> str | None:
    """A numbered reply: "0".."9" (full-width digits too; "skip" is "0"); None for other text."""
    return digit_of(keyword(text))


def digit_of(k: str) -> str | None:
    """digit_answer of a message already folded by `keyword`."""
    if k in SKIP_WORDS:
        return "0"
    if len(k) == 1 and k.isascii() and k.isdigit():
        return k
    return None


def language_of(text: str, default: str, supported: tuple[str, ...]) -> str:
    """Korean if the text has Hangul, English if it has Latin letters, else the default."""
    if "ko" in supported and _HANGUL.search(text):
        return "ko"
    if "en" in supported and _LATIN.search(text):
        return "en"
    return default


_HANGUL = re.compile("[\uac00-\ud7a3\u3131-\u318e]")
_LATIN = re.compile("[A-Za-z]")
