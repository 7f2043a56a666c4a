"""Triage certainty (hotline.domain.triage, .hedges, .triage_scan): synthetic content, sextortion
with money and deadlines, hedges that make a signal only possible or drop it, what each finding
records, and how possible signals merge and are stored. The corpus figures are in
test_triage_corpus.py."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.config import ConfigError
from hotline.domain.conversation import Urgency
from hotline.domain.phrases import matcher
from hotline.domain.routing import needs_for
from hotline.domain.triage import (
    Certainty,
    Finding,
    IntakeAnswers,
    Signal,
    Triage,
    default_rules,
    escalate,
    parse_reason,
    reason_code,
    rules_from_mapping,
    triage,
)

C, H, N = Urgency.CRITICAL, Urgency.HIGH, Urgency.NORMAL
S = Signal
FIRED, POSSIBLE = Certainty.FIRED, Certainty.POSSIBLE
NONE = IntakeAnswers()
RULES = default_rules()


def _run(*texts: str, rules: Any = RULES) -> Triage:
    return triage(NONE, texts, rules)


def _finding(t: Triage, signal: Signal) -> Finding:
    [f] = [f for f in t.findings if f.signal is signal]
    return f


# --- the cases reported in issue 13 -------------------------------------------------------------

def test_minor_sextortion_with_money_and_deadline() -> None:
    t = _run("I'm 15... he will send my nudes to my school by tonight unless I pay him "
             "500,000 won")
    assert (t.urgency, t.reasons, t.possible) == (
        H, (S.MINOR, S.SEXTORTION_DEADLINE, S.SEXTORTION), ())
    assert _finding(t, S.MINOR).words == ("im 15",)
    assert {"he will send", "unless i pay", "pay him 500,000 won"} <= set(
        _finding(t, S.SEXTORTION).words)
    assert _finding(t, S.SEXTORTION_DEADLINE).words == ("by tonight",)
    assert all(f.certainty is FIRED and f.hedges == () for f in t.findings)


def test_deepfake_heard_of_and_not_known_to_spread_is_not_a_page() -> None:
    t = _run("딥페이크 영상이 만들어졌다는 얘기를 들었어요. 아직 퍼졌는지는 몰라요.")
    assert (t.urgency, t.reasons, t.possible) == (H, (S.SYNTHETIC,), (S.CONTENT_SPREADING,))
    assert t.codes() == ("synthetic", "possible:content_spreading")
    spreading = _finding(t, S.CONTENT_SPREADING)
    assert (spreading.certainty, spreading.words) == (POSSIBLE, ("퍼졌",))
    assert spreading.hedges and all("는지" in h for h in spreading.hedges)
    assert _finding(t, S.SYNTHETIC) == Finding(S.SYNTHETIC, FIRED, ("딥페이크",))


def test_fake_porn_with_my_face_is_synthetic() -> None:
    t = _run("Someone made a fake porn video with my face")
    assert (t.urgency, t.reasons, t.possible) == (H, (S.SYNTHETIC,), ())
    assert _finding(t, S.SYNTHETIC).words == ("fake porn",)


# --- hedges, by kind and language ---------------------------------------------------------------

CS, SYN, MIN, SEX = S.CONTENT_SPREADING, S.SYNTHETIC, S.MINOR, S.SEXTORTION


@pytest.mark.parametrize("text,fired,possible", [
    # Statements.
    ("영상이 유포됐어요", (CS,), ()),
    ("my ex posted my nudes on reddit", (CS,), ()),
    ("유포됬어요", (CS,), ()),  # the common misspelling
    # Unsure: possible.
    ("올라갔는지 모르겠어요", (), (CS,)),
    ("퍼졌을지도 몰라요", (), (CS,)),
    ("혹시 유포됐는지 확인해 주실 수 있나요?", (), (CS,)),
    ("I don't know if it's been shared", (), (CS,)),
    ("dont know if its been shared", (), (CS,)),  # no apostrophes
    ("it might have been leaked", (), (CS,)),
    ("was my video leaked?", (), (CS,)),
    ("합성인지 아닌지 모르겠어요", (), (SYN,)),
    ("she's 15 or not", (), (MIN,)),
    ("I'm not sure what to do, I'm 15", (MIN,), ()),  # the doubt is in another clause
    # Negated: possible for spreading, dropped for a minor or a deepfake.
    ("아직 안 올라왔어요", (), (CS,)),
    ("아직 유포되지는 않았어요", (), (CS,)),
    ("he hasn't posted anything yet", (), (CS,)),
    ("nothing has been posted yet", (), (CS,)),
    ("저 미성년자 아니에요", (), ()),
    ("I'm not underage, I'm 22", (), ()),
    ("합성이 아니라 진짜 제 영상이에요", (), ()),
    ("it's not a deepfake, it's a real video", (), ()),
    # A negation in a condition does not negate the threat after it.
    ("if I don't pay by 9pm he'll send my nudes", (S.SEXTORTION_DEADLINE, SEX), ()),
    # Feared, not happened: no signal (distribution anxiety).
    ("유포될까 봐 무서워요", (), ()),
    ("만약에 유포되면 바로 삭제 가능한가요?", (), ()),
    ("what if it gets leaked online?", (), ()),
    ("how do I stop it from being shared in the future?", (), ()),
    ("I'm terrified he'll share the photos one day", (), ()),
    # Past and over, or taken down: possible.
    ("예전에 유포됐었는데 지금은 다 삭제됐어요", (), (CS,)),
    ("it was posted a few years ago but it got removed", (), (CS,)),
    ("someone blackmailed me last year but it stopped", (), (SEX,)),
    ("고등학생 때 찍힌 사진이에요", (), (MIN,)),
    ("the photos are from when I was 17", (), (MIN,)),
    # ... unless it is back.
    ("예전에 올라왔던 게 다시 올라왔어요", (CS,), ()),
    # Threatened only: not spreading (that is sextortion).
    ("he says he'll post my address next", (SEX,), (S.ADDRESS_POSTED,)),
    # The writer did it.
    ("I posted a photo on instagram", (), ()),
    ("제가 단톡방에 올렸어요", (), ()),
    # News and general questions are not the writer's case; the writer's own case is.
    ("뉴스에서 딥페이크 얘기 나오던데 무섭네요", (), ()),
    ("I read an article about deepfakes, is it a crime?", (), ()),
    ("I read an article about deepfakes and found one of me", (SYN,), ()),
    ("불법촬영물이 웹하드에 올라와 있어요", (CS,), ()),
])
def test_hedges(text: str, fired: tuple[Signal, ...], possible: tuple[Signal, ...]) -> None:
    t = _run(text)
    assert (set(t.reasons), set(t.possible)) == (set(fired), set(possible))


@pytest.mark.parametrize("text", [
    "I don't know if I want to live anymore", "살고 싶은지 모르겠어요",
    "I'm scared I'll kill myself", "혹시 뛰어내릴까 봐 무서워요",
    "I tried to kill myself last year",
])
def test_self_harm_is_never_doubted_away(text: str) -> None:
    t = _run(text)
    assert (t.urgency, t.reasons) == (C, (S.SELF_HARM,))


@pytest.mark.parametrize("text", ["I'm not going to kill myself but I'm really not ok",
                                  "죽고 싶은 건 아닌데 너무 힘들어요"])
def test_negated_self_harm_is_possible(text: str) -> None:
    t = _run(text)
    assert (t.urgency, t.reasons, t.possible) == (H, (), (S.SELF_HARM,))


# --- phrases, patterns and what they need -------------------------------------------------------

@pytest.mark.parametrize("text,fired", [
    # A sum demanded is extortion on its own; a sum alone or repaid is not.
    ("50만원 보내래요", (SEX,)),
    ("he wants $500", (SEX,)),
    ("send 200 dollars within an hour", (S.SEXTORTION_DEADLINE, SEX)),
    ("오늘 저녁 8시까지 30만원 안보내면 뿌린대요", (S.SEXTORTION_DEADLINE, SEX)),
    ("상담 비용 5만원인가요?", ()),
    ("he needs to repay me 50,000 won", ()),
    # Deadlines need a threat.
    ("24시간 상담 되나요?", ()),
    ("I have an exam by 9pm", ()),
    # Korean stems ending in an open syllable match with the ending merged into it...
    ("뛰어내릴까 봐요", (S.SELF_HARM,)),
    ("영상 뿌릴 거래요", (SEX,)),
    ("찾아간대요", (S.PHYSICAL_THREAT,)),
    # ... but not the future of spreading, which has not happened.
    ("유포될 수도 있나요", ()),
    # A phrase inside another that means something else.
    ("옥상에 올라와 있어요", ()),
    ("he knows where I live", (S.PHYSICAL_THREAT,)),
    # Content and what happened to it, in one clause.
    ("someone is sharing my nudes on telegram channels", (CS,)),
    ("my pics ended up on a forum", (CS,)),
    ("sharing is caring", ()),
    ("I shared nudes with my boyfriend", ()),
    # Apostrophes typed or not.
    ("theyll post my pics", (SEX,)),
    ("they\u2019ll post my pics", (SEX,)),
])
def test_phrases_and_patterns(text: str, fired: tuple[Signal, ...]) -> None:
    t = _run(text)
    assert (set(t.reasons), t.possible) == (set(fired), ())


@pytest.mark.parametrize("signal", list(Signal))
def test_every_possible_phrase_is_possible(signal: Signal) -> None:
    extra = ["협박"] if signal is S.SEXTORTION_DEADLINE else []
    for phrase in RULES.possible_keywords.get(signal, ()):
        t = _run(*extra, f"음 {phrase} 네")
        assert signal in t.possible and signal not in t.reasons, phrase


def test_a_fired_phrase_beats_a_possible_one_across_texts() -> None:
    t = _run("아직 퍼졌는지는 몰라요", "트위터에 올라왔어요")
    assert (t.urgency, t.reasons, t.possible) == (C, (CS,), ())
    assert _finding(t, CS) == Finding(CS, FIRED, ("올라왔",))


def test_answers_fire_with_their_name_as_the_word() -> None:
    t = triage(IntakeAnswers(spreading=True, age_group="14_17", safe_now=False),
               ("아직 퍼졌는지는 몰라요",), RULES)
    assert t.reasons == (CS, S.UNSAFE_NOW, MIN) and t.possible == ()
    assert [f.words for f in t.findings] == [
        ("answer:spreading",), ("answer:safe_now",), ("answer:age_group",)]


def test_matcher_closed_forms_only_for_open_syllables() -> None:
    m = matcher(("뿌리", "협박"), "ㄴㄹ")
    assert m.squeezed == ("뿌리", "협박", "뿌린", "뿌릴")


# --- urgency, merging and stored codes ----------------------------------------------------------

def test_possible_raises_at_most_to_possible_level() -> None:
    assert _run("아직 안 올라왔어요").urgency == H
    lower = rules_from_mapping({"possible_level": "normal"})
    assert _run("아직 안 올라왔어요", rules=lower).urgency == N
    # A possible signal never raises above its own level.
    quiet = rules_from_mapping({"levels": {"content_spreading": "normal"}})
    assert _run("아직 안 올라왔어요", rules=quiet).urgency == N


@pytest.mark.parametrize("current,new,expected", [
    (Triage(H, (), (CS,)), Triage(C, (CS,)), Triage(C, (CS,))),
    (Triage(C, (CS,)), Triage(H, (), (CS,)), Triage(C, (CS,))),
    (Triage(H, (SYN,), (CS,)), Triage(H, (MIN,), (SEX,)),
     Triage(H, (MIN, SYN), (CS, SEX))),
    (Triage(N), Triage(H, (), (S.SELF_HARM,)), Triage(H, (), (S.SELF_HARM,))),
], ids=["fired-replaces-possible", "possible-never-lowers", "merges", "possible-raises"])
def test_escalate_with_possible(current: Triage, new: Triage, expected: Triage) -> None:
    assert escalate(current, new) == expected


def test_escalate_keeps_the_finding_that_stands() -> None:
    maybe = _run("아직 퍼졌는지는 몰라요")
    sure = _run("트위터에 올라왔어요")
    assert escalate(maybe, sure).findings == sure.findings
    assert escalate(sure, maybe).findings == sure.findings


def test_codes_round_trip() -> None:
    t = _run("딥페이크 영상이 만들어졌대요. 아직 퍼졌는지는 몰라요. 저 16살이에요")
    assert t.codes() == ("minor", "synthetic", "possible:content_spreading")
    back = Triage.from_codes(t.urgency, (*t.codes(), "aged", "lead"))
    assert (back.urgency, back.reasons, back.possible) == (t.urgency, t.reasons, t.possible)
    assert back.findings == ()


@pytest.mark.parametrize("code,parsed", [
    ("minor", (MIN, FIRED)), ("possible:minor", (MIN, POSSIBLE)), ("aged", None),
    ("possible:aged", None), ("", None),
])
def test_parse_reason(code: str, parsed: object) -> None:
    assert parse_reason(code) == parsed
    if parsed is not None:
        assert reason_code(*parse_reason(code)) == code  # type: ignore[misc]


def test_possible_signals_still_prefer_specialists() -> None:
    assert needs_for(("possible:minor", "possible:sextortion", "aged")) == {
        "minors", "sextortion"}


# --- config -------------------------------------------------------------------------------------

def test_possible_keywords_from_config() -> None:
    rules = rules_from_mapping({"possible_keywords": {"content_spreading": ["링크가 있대"]}})
    assert _run("링크가 있대요", rules=rules).possible == (CS,)
    assert _run("링크가 있대요").possible == ()


@pytest.mark.parametrize("raw,prefix", [
    ({"possible_level": "urgent"}, "triage.possible_level: unknown level 'urgent'"),
    ({"possible_level": 2}, "triage.possible_level: unknown level 2"),
    ({"possible_keywords": ["x"]}, "triage.possible_keywords: expected a table"),
    ({"possible_keywords": {"spreading": ["x"]}}, "triage.possible_keywords.spreading: unknown"),
    ({"possible_keywords": {"minor": "x"}}, "triage.possible_keywords.minor: expected a list"),
    ({"possible_keywords": {"minor": [" "]}}, "triage.possible_keywords.minor: expected non-"),
    ({"levels": {"synthetic": "urgent"}}, "triage.levels.synthetic: unknown level"),
])
def test_config_errors_name_the_key(raw: dict[str, Any], prefix: str) -> None:
    with pytest.raises(ConfigError) as e:
        rules_from_mapping(raw)
    assert str(e.value).startswith(prefix)


def test_synthetic_level_is_configurable() -> None:
    rules = rules_from_mapping({"levels": {"synthetic": "critical"}})
    assert _run("누가 제 얼굴로 딥페이크를 만들었어요", rules=rules).urgency == C
