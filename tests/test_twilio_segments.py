"""SMS segment rules (pure): GSM-7 vs UCS-2, single vs concatenated sizes, escape and surrogate
pairs never split, long replies split into messages that join back exactly; keywords."""

from __future__ import annotations

import pytest

from hotline.channels.twilio import sms_text as t


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), [
    ("", "GSM-7", 0, 1),
    ("hello", "GSM-7", 5, 1),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),          # extension characters take two septets
    ("€" * 81, "GSM-7", 162, 2),          # 76 escape pairs in 153 septets, then 5 more
    ("[x]" * 40, "GSM-7", 200, 2),
    ("가" * 70, "UCS-2", 70, 1),            # Korean: 70 in one segment
    ("가" * 71, "UCS-2", 71, 2),            # ... 67 per segment once split
    ("가" * 134, "UCS-2", 134, 2),
    ("가" * 135, "UCS-2", 135, 3),
    ("hello 가", "UCS-2", 7, 1),            # one Korean letter makes it all UCS-2
    ("😀" * 35, "UCS-2", 70, 1),            # outside the BMP: two code units each
    ("😀" * 36, "UCS-2", 72, 2),            # 33 per segment (66 units), pairs never split
    ("a" + "😀" * 34, "UCS-2", 69, 1),
    ("ab" + "😀" * 34, "UCS-2", 70, 1),
    ("abc" + "😀" * 34, "UCS-2", 71, 2),      # the pair at unit 67 moves whole
    ("é" * 160, "GSM-7", 160, 1),           # é is in the GSM basic set
    ("ê" * 10, "UCS-2", 10, 1),             # ê is not
])
def test_segment_table(text: str, encoding: str, units: int, segments: int) -> None:
    info = t.info(text)
    assert (info.encoding, info.units) == (encoding, units)
    segs = t.segments(text)
    assert "".join(segs) == text
    assert info.segments == len(segs) == segments
    size = t.MULTI[encoding] if len(segs) > 1 else t.SINGLE[encoding]
    assert all(sum(2 if (c in t.GSM_EXTENSION if encoding == "GSM-7" else ord(c) > 0xFFFF)
                   else 1 for c in s) <= size for s in segs)


@pytest.mark.parametrize(("text", "max_segments", "parts"), [
    ("짧은 답장", 10, 1),
    ("가" * 670, 10, 1),
    ("가" * 671, 10, 2),
    ("삭제 요청을 도와드릴게요. " * 100, 10, 3),
    ("word " * 400, 10, 2),
    ("x" * 3000, 10, 2),
    ("a b " * 100, 1, 3),
])
def test_split_for_sending(text: str, max_segments: int, parts: int) -> None:
    out = t.split_message(text, max_segments)
    assert "".join(out) == text
    assert len(out) == parts
    assert all(len(t.segments(p)) <= max_segments for p in out)
    # Cut after a space where one is near, so words stay whole.
    if " " in text:
        assert all(p.endswith(" ") for p in out[:-1])


def test_split_rejects_zero() -> None:
    with pytest.raises(ValueError):
        t.split_message("x", 0)


@pytest.mark.parametrize(("text", "stop", "start"), [
    ("STOP", True, False), (" stop. ", True, False), ("\uff33\uff54\uff4f\uff50", True, False),
    ("수신거부", True, False), ("수신 거부", True, False), ("unsubscribe", True, False),
    ("그만", False, False),  # everyday Korean, never an opt-out
    ("please stop him", False, False), ("START", False, True), ("수신허용", False, True),
    ("yes", False, True), ("hello", False, False),
])
def test_keywords(text: str, stop: bool, start: bool) -> None:
    assert (t.is_stop(text), t.is_start(text)) == (stop, start)


@pytest.mark.parametrize(("text", "digit"), [
    ("1", "1"), (" 2 ", "2"), ("\uff13", "3"), ("0", "0"), ("skip", "0"), ("건너뛰기", "0"),
    ("12", None), ("yes", None), ("1번", None),
])
def test_digit_answers(text: str, digit: str | None) -> None:
    assert t.digit_answer(text) == digit


def test_language_guess() -> None:
    assert t.language_of("도와주세요", "ko", ("ko", "en")) == "ko"
    assert t.language_of("help me", "ko", ("ko", "en")) == "en"
    assert t.language_of("112", "ko", ("ko", "en")) == "ko"
    assert t.language_of("도와주세요", "en", ("en",)) == "en"
