"""hotline/domain/triage.py: signals from answers and phrases (Korean and English), urgency,
escalation that never lowers, ageing at its thresholds, and the [triage] config table."""

from __future__ import annotations

import itertools
import re
import unicodedata
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from hotline.config import ConfigError
from hotline.domain.conversation import Urgency
from hotline.domain.phrases import PhraseIndex, matcher, normalise, trie_pattern
from hotline.domain.triage import (
    AGE_GROUPS,
    IntakeAnswers,
    Signal,
    Triage,
    TriageRules,
    aged,
    default_rules,
    escalate,
    rules_from_mapping,
    triage,
)
from hotline.domain.triage_scan import findings

C, H, N = Urgency.CRITICAL, Urgency.HIGH, Urgency.NORMAL
S = Signal
NONE = IntakeAnswers()
RULES = default_rules()


def _wide(ascii_text: str) -> str:
    """The full-width letters and ideographic space that East Asian keyboards type."""
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) for c in ascii_text)


def _case(answers: IntakeAnswers, texts: list[str], urgency: Urgency,
          reasons: tuple[Signal, ...], id: str) -> Any:
    return pytest.param(answers, texts, urgency, reasons, id=id)


# --- triage: answers and phrases -> urgency and reasons ------------------------------------------

TRIAGE_CASES = [
    # No signal.
    _case(NONE, [], N, (), "nothing"),
    _case(NONE, ["안녕하세요, 상담 받고 싶어요"], N, (), "ko-greeting"),
    _case(NONE, ["Hi, I need some advice about a photo"], N, (), "en-greeting"),
    _case(IntakeAnswers(spreading=False, age_group="18_plus", safe_now=True, platform="x"),
          ["hello"], N, (), "answers-all-fine"),
    # Everyday speech that must not fire.
    _case(NONE, ["사이트 주소 알려드릴게요"], N, (), "ko-site-url-not-address"),
    _case(NONE, ["my email address is below"], N, (), "en-email-address"),
    _case(NONE, ["힘들어 죽겠어요"], N, (), "ko-exaggeration"),
    _case(NONE, ["집 앞 편의점에서 일해요"], N, (), "ko-shop-near-home"),
    _case(NONE, ["he needs to repay me"], N, (), "en-repay-not-pay-me"),
    _case(NONE, ["not repay me, pay me"], H, (S.SEXTORTION,), "en-second-occurrence"),
    _case(NONE, ["I was following him on instagram"], N, (), "en-following"),
    _case(NONE, ["he is spreading rumours about me"], N, (), "en-rumours"),
    _case(NONE, ["유포될까 봐 무서워요"], N, (), "ko-fear-not-spreading"),
    _case(NONE, ["what if it gets leaked?"], N, (), "en-fear-not-spreading"),
    # Answers.
    _case(IntakeAnswers(spreading=True), [], C, (S.CONTENT_SPREADING,), "answer-spreading"),
    _case(IntakeAnswers(safe_now=False), [], C, (S.UNSAFE_NOW,), "answer-unsafe"),
    _case(IntakeAnswers(safe_now=True), [], N, (), "answer-safe"),
    _case(IntakeAnswers(age_group="under_14"), [], H, (S.MINOR,), "answer-under-14"),
    _case(IntakeAnswers(age_group="14_17"), [], H, (S.MINOR,), "answer-14-17"),
    _case(IntakeAnswers(age_group="18_plus"), [], N, (), "answer-adult"),
    # Skipped answers fire nothing, but the texts still count.
    _case(IntakeAnswers(spreading=None, age_group=None, safe_now=None), ["죽고 싶어요"],
          C, (S.SELF_HARM,), "skipped-answers-text-counts"),
    # Self-harm.
    _case(NONE, ["그냥 죽고 싶어요"], C, (S.SELF_HARM,), "ko-self-harm"),
    _case(NONE, ["죽고싶어"], C, (S.SELF_HARM,), "ko-self-harm-no-space"),
    _case(NONE, ["자살 생각까지 했어요"], C, (S.SELF_HARM,), "ko-suicide"),
    _case(NONE, ["극단적인 선택을 할까 봐요"], C, (S.SELF_HARM,), "ko-euphemism"),
    _case(NONE, ["I just want to die"], C, (S.SELF_HARM,), "en-want-to-die"),
    _case(NONE, ["thinking about suicide"], C, (S.SELF_HARM,), "en-suicide"),
    # Spreading.
    _case(NONE, ["제 영상이 텔레그램에 돌아다니고 있어요"], C, (S.CONTENT_SPREADING,),
          "ko-spreading"),
    _case(NONE, ["트위터에 올라왔어요"], C, (S.CONTENT_SPREADING,), "ko-posted-past"),
    _case(NONE, ["my ex posted it on reddit"], C, (S.CONTENT_SPREADING,), "en-posted"),
    _case(NONE, ["the pictures are going around school"], C, (S.CONTENT_SPREADING,),
          "en-going-around"),
    # Physical threat.
    _case(NONE, ["집으로 찾아가겠대요"], C, (S.PHYSICAL_THREAT,), "ko-come-to-house"),
    _case(NONE, ["전 남친이 스토킹해요"], C, (S.PHYSICAL_THREAT,), "ko-stalking"),
    _case(NONE, ["he said he will come to my house"], C, (S.PHYSICAL_THREAT,),
          "en-come-to-house"),
    _case(NONE, ["he says he'll kill you"], C, (S.PHYSICAL_THREAT,), "en-kill-you"),
    # Address posted.
    _case(NONE, ["신상이 털렸어요"], C, (S.ADDRESS_POSTED,), "ko-doxxed"),
    _case(NONE, ["they put my home address under it"], C, (S.ADDRESS_POSTED,), "en-address"),
    _case(NONE, ["I got doxxed"], C, (S.ADDRESS_POSTED,), "en-doxxed"),
    # Minor from words.
    _case(NONE, ["저 중학생인데요"], H, (S.MINOR,), "ko-middle-schooler"),
    _case(NONE, ["16살이에요"], H, (S.MINOR,), "ko-age"),
    _case(NONE, ["im 15 and scared"], H, (S.MINOR,), "en-age"),
    _case(NONE, ["I'm 150% sure it's him"], N, (), "en-not-an-age"),
    # Sextortion with and without a deadline.
    _case(NONE, ["돈 안 보내면 영상 뿌리겠대요"], H, (S.SEXTORTION,), "ko-sextortion"),
    _case(NONE, ["몸캠 피싱 당했어요"], H, (S.SEXTORTION,), "ko-body-cam"),
    _case(NONE, ["bitcoin으로 보내래요"], H, (S.SEXTORTION,), "mixed-bitcoin"),
    _case(NONE, ["he wants $500 in gift cards or I'll post"], H, (S.SEXTORTION,),
          "en-sextortion"),
    _case(NONE, ["오늘 밤까지 돈 보내라고 협박해요"], H, (S.SEXTORTION_DEADLINE, S.SEXTORTION),
          "ko-deadline"),
    _case(NONE, ["24시간 안에 입금하래요"], H, (S.SEXTORTION_DEADLINE, S.SEXTORTION),
          "ko-deadline-hours"),
    _case(NONE, ["pay me by tonight or everyone sees"], H,
          (S.SEXTORTION_DEADLINE, S.SEXTORTION), "en-deadline"),
    _case(NONE, ["he's blackmailing me", "he gave me 24 hours"], H,
          (S.SEXTORTION_DEADLINE, S.SEXTORTION), "en-deadline-other-message"),
    _case(NONE, ["24시간 상담 되나요?"], N, (), "ko-deadline-alone"),
    _case(NONE, ["I have a deadline by tomorrow"], N, (), "en-deadline-alone"),
    # Several signals: most severe first, ties in declaration order.
    _case(IntakeAnswers(age_group="14_17"),
          ["돈 안 보내면 뿌리겠대요 오늘까지", "이미 단톡방에 올라왔어요", "죽고 싶어요"],
          C, (S.CONTENT_SPREADING, S.SELF_HARM, S.MINOR, S.SEXTORTION_DEADLINE, S.SEXTORTION),
          "ko-many"),
    _case(IntakeAnswers(spreading=True, safe_now=False),
          ["he's blackmailing me", "he knows where I live and posted my home address"],
          C, (S.CONTENT_SPREADING, S.PHYSICAL_THREAT, S.ADDRESS_POSTED, S.UNSAFE_NOW,
              S.SEXTORTION), "en-many"),
    # Normalisation: spacing, width, case, decomposed Hangul, curly apostrophes, line breaks.
    _case(NONE, ["죽고  싶어"], C, (S.SELF_HARM,), "extra-spaces"),
    _case(NONE, ["죽고\u3000싶어"], C, (S.SELF_HARM,), "ideographic-space"),
    _case(NONE, ["KILL   MYSELF"], C, (S.SELF_HARM,), "case-and-spaces"),
    _case(NONE, [_wide("KILL MYSELF")], C, (S.SELF_HARM,), "full-width"),
    _case(NONE, [unicodedata.normalize("NFD", "자살")], C, (S.SELF_HARM,), "nfd-hangul"),
    _case(NONE, ["I don\u2019t want to live"], C, (S.SELF_HARM,), "curly-apostrophe"),
    _case(NONE, ["kill\nmyself"], C, (S.SELF_HARM,), "line-break"),
    _case(NONE, ["ㅋㅋ 진짜 죽고싶다 ㅠㅠ"], C, (S.SELF_HARM,), "jamo-around"),
    # A phrase never spans two messages.
    _case(NONE, ["kill", "myself"], N, (), "not-across-texts"),
]


@pytest.mark.parametrize("answers,texts,urgency,reasons", TRIAGE_CASES)
def test_triage(answers: IntakeAnswers, texts: list[str], urgency: Urgency,
                reasons: tuple[Signal, ...]) -> None:
    assert _signals(triage(answers, texts, RULES)) == (urgency, reasons, ())


def _signals(t: Triage) -> tuple[Urgency, tuple[Signal, ...], tuple[Signal, ...]]:
    return t.urgency, t.reasons, t.possible


def test_bare_string_is_one_text() -> None:
    assert _signals(triage(NONE, "죽고 싶어요", RULES)) == (C, (S.SELF_HARM,), ())


@pytest.mark.parametrize("signal", list(Signal))
def test_every_default_phrase_fires_its_signal(signal: Signal) -> None:
    # Deadlines only count next to a threat, so give them one.
    extra = ["협박"] if signal is S.SEXTORTION_DEADLINE else []
    silent = [p for p in RULES.keywords[signal]
              if signal not in triage(NONE, [*extra, f"음 {p} 네"], RULES).reasons]
    assert silent == []


@pytest.mark.parametrize("signal", [s for s in Signal if s is not S.UNSAFE_NOW])
def test_default_phrases_are_broad_and_bilingual(signal: Signal) -> None:
    phrases = RULES.keywords[signal]
    korean = [p for p in phrases if not p.isascii()]
    english = [p for p in phrases if p.isascii()]
    assert len(korean) >= 15 and len(english) >= 15
    # Nothing as short as a bare everyday word ("die", "집").
    assert all(len(p.replace(" ", "")) >= 2 for p in korean)
    assert all(len(p) >= 3 for p in english)
    # Written as they normalise (apostrophes aside: normalise drops them on both sides).
    assert all(p.replace("'", "") == normalise(p) for p in phrases)


# --- normalise ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("죽고  싶어", "죽고 싶어"),
    ("  죽고\t\n싶어 ", "죽고 싶어"),
    (_wide("KILL MYSELF"), "kill myself"),
    ("Straße", "strasse"),
    (unicodedata.normalize("NFD", "협박"), "협박"),
    ("ㅋㅋ ㅠㅠ", "ㅋㅋ ㅠㅠ"),
    ("I\u2019LL POST", "ill post"),
    ("don't DONT don\u2019t", "dont dont dont"),
    ("유포됬어요", "유포됐어요"),
    ("", ""),
])
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


# --- escalate -------------------------------------------------------------------------------------

@pytest.mark.parametrize("current,new,expected", [
    (Triage(C, (S.SELF_HARM,)), Triage(N), Triage(C, (S.SELF_HARM,))),
    (Triage(H, (S.MINOR,)), Triage(C, (S.CONTENT_SPREADING,)),
     Triage(C, (S.CONTENT_SPREADING, S.MINOR))),
    (Triage(C, (S.CONTENT_SPREADING, S.MINOR)), Triage(C, (S.SELF_HARM,)),
     Triage(C, (S.CONTENT_SPREADING, S.SELF_HARM, S.MINOR))),
    (Triage(H, (S.SEXTORTION,)), Triage(H, (S.SEXTORTION_DEADLINE, S.SEXTORTION)),
     Triage(H, (S.SEXTORTION_DEADLINE, S.SEXTORTION))),
    (Triage(N), Triage(N), Triage(N)),
    # Urgency raised by hand or by ageing, without a signal, is kept too.
    (Triage(C), Triage(H, (S.MINOR,)), Triage(C, (S.MINOR,))),
], ids=["never-lowers", "raises", "merges-order", "dedupes", "nothing", "keeps-bare-urgency"])
def test_escalate(current: Triage, new: Triage, expected: Triage) -> None:
    assert escalate(current, new) == expected


@pytest.mark.parametrize("a,b", list(itertools.product(Urgency, repeat=2)))
def test_escalate_takes_the_higher(a: Urgency, b: Urgency) -> None:
    got = escalate(Triage(a), Triage(b)).urgency
    assert got.rank == min(a.rank, b.rank)
    assert got == escalate(Triage(b), Triage(a)).urgency


@pytest.mark.parametrize("u", list(Urgency))
def test_nothing_found_leaves_a_case_without_reasons_as_it_is(u: Urgency) -> None:
    # cases/urgency.raised answers "no change" for this without calling escalate.
    assert escalate(Triage(u), Triage(N)) == Triage(u)


def test_escalate_orders_by_given_rules() -> None:
    rules = rules_from_mapping({"levels": {"minor": "critical", "content_spreading": "high"}})
    got = escalate(Triage(H, (S.CONTENT_SPREADING,)), Triage(C, (S.MINOR,)), rules=rules)
    assert got == Triage(C, (S.MINOR, S.CONTENT_SPREADING))


# --- aged -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("urgency,waited,expected", [
    (N, 0, N), (N, -5, N), (N, 599.9, N), (N, 600, N), (N, 600.001, H), (N, 1500, H),
    (N, 1500.001, C), (N, 10**9, C),
    (H, 0, H), (H, 900, H), (H, 900.001, C),
    (C, 0, C), (C, 10**9, C),
])
def test_aged_default_thresholds(urgency: Urgency, waited: float, expected: Urgency) -> None:
    assert aged(urgency, waited, RULES) == expected


@pytest.mark.parametrize("age_up,urgency,waited,expected", [
    ({"normal": 60, "high": 30}, N, 60, N),
    ({"normal": 60, "high": 30}, N, 61, H),
    ({"normal": 60, "high": 30}, N, 90, H),
    ({"normal": 60, "high": 30}, N, 91, C),
    ({"high": 30}, H, 31, C),
])
def test_aged_configured(age_up: dict[str, int], urgency: Urgency, waited: float,
                         expected: Urgency) -> None:
    rules = rules_from_mapping({"age_up_seconds": age_up})
    assert aged(urgency, waited, rules) == expected


def test_aged_without_a_limit_stays() -> None:
    rules = TriageRules(keywords={}, levels=RULES.levels, age_up_seconds={N: 60})
    assert aged(N, 10**6, rules) == H


# --- rules_from_mapping ---------------------------------------------------------------------------

@pytest.mark.parametrize("raw,prefix", [
    ({"level": {}}, "triage.level: unknown key"),
    ({"levels": "critical"}, "triage.levels: expected a table"),
    ({"levels": {"selfharm": "critical"}}, "triage.levels.selfharm: unknown signal (known: "),
    ({"levels": {"self_harm": "urgent"}}, "triage.levels.self_harm: unknown level 'urgent'"),
    ({"levels": {"self_harm": 1}}, "triage.levels.self_harm: unknown level 1"),
    ({"levels": {"self_harm": "CRITICAL"}}, "triage.levels.self_harm: unknown level"),
    ({"keywords": ["x"]}, "triage.keywords: expected a table"),
    ({"keywords": {"suicide": ["x"]}}, "triage.keywords.suicide: unknown signal"),
    ({"keywords": {"self_harm": "살려줘"}}, "triage.keywords.self_harm: expected a list"),
    ({"keywords": {"self_harm": ["ok", 3]}}, "triage.keywords.self_harm: expected a list"),
    ({"keywords": {"self_harm": ["  "]}}, "triage.keywords.self_harm: expected non-empty"),
    ({"age_up_seconds": {"critical": 60}}, "triage.age_up_seconds.critical: unknown level"),
    ({"age_up_seconds": {"low": 60}}, "triage.age_up_seconds.low: unknown level"),
    ({"age_up_seconds": {"normal": 0}}, "triage.age_up_seconds.normal: expected a positive"),
    ({"age_up_seconds": {"normal": -1}}, "triage.age_up_seconds.normal: expected a positive"),
    ({"age_up_seconds": {"high": True}}, "triage.age_up_seconds.high: expected a positive"),
    ({"age_up_seconds": {"high": 1.5}}, "triage.age_up_seconds.high: expected a positive"),
    ({"age_up_seconds": {"high": "900"}}, "triage.age_up_seconds.high: expected a positive"),
])
def test_rules_from_mapping_errors_name_the_key(raw: dict[str, Any], prefix: str) -> None:
    with pytest.raises(ConfigError) as e:
        rules_from_mapping(raw)
    assert str(e.value).startswith(prefix)


def test_unknown_signal_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="selfharm") as e:
        rules_from_mapping({"levels": {"selfharm": "high"}})
    assert all(s.value in str(e.value) for s in Signal)


def test_empty_table_is_the_defaults() -> None:
    assert rules_from_mapping({}) == default_rules()


def test_level_override_takes_effect() -> None:
    rules = rules_from_mapping({"levels": {"sextortion": "critical", "self_harm": "normal"}})
    assert _signals(triage(NONE, ["he is blackmailing me"], rules)) == (C, (S.SEXTORTION,), ())
    # A signal at NORMAL still shows as a reason; it just raises nothing.
    assert _signals(triage(NONE, ["I want to die"], rules)) == (N, (S.SELF_HARM,), ())
    both = triage(NONE, ["I want to die", "he is blackmailing me"], rules)
    assert both.reasons == (S.SEXTORTION, S.SELF_HARM)


def test_keywords_are_added_to_the_defaults() -> None:
    rules = rules_from_mapping({"keywords": {"self_harm": ["Sewer Slide"],
                                             "sextortion_deadline": ["월급날까지"]}})
    assert triage(NONE, ["thinking about sewer  slide"], rules).reasons == (S.SELF_HARM,)
    assert triage(NONE, ["I want to die"], rules).reasons == (S.SELF_HARM,)
    assert triage(NONE, ["주말까지 돈 보내래요"], rules).reasons == (
        S.SEXTORTION_DEADLINE, S.SEXTORTION)
    assert triage(NONE, ["sewer slide"], RULES).reasons == ()


def test_age_up_override_keeps_the_other_default() -> None:
    rules = rules_from_mapping({"age_up_seconds": {"normal": 60}})
    assert rules.age_up_seconds == {N: 60, H: 900}


# --- construction guards --------------------------------------------------------------------------

@pytest.mark.parametrize("age_group", AGE_GROUPS)
def test_age_groups_accepted(age_group: str) -> None:
    assert IntakeAnswers(age_group=age_group).age_group == age_group


def test_unknown_age_group_refused() -> None:
    with pytest.raises(ValueError, match="age_group"):
        IntakeAnswers(age_group="under14")


@pytest.mark.parametrize("levels,age_up,match", [
    ({S.MINOR: H}, {N: 600}, "no level for"),
    (dict(RULES.levels), {C: 60}, "critical"),
    (dict(RULES.levels), {N: 0}, "positive"),
])
def test_rules_refuse_gaps(levels: dict[Signal, Urgency], age_up: dict[Urgency, int],
                           match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TriageRules(keywords={}, levels=levels, age_up_seconds=age_up)


def test_rules_are_read_only() -> None:
    with pytest.raises(TypeError):
        RULES.levels[S.MINOR] = N  # type: ignore[index]


# A small alphabet makes shared prefixes, phrases inside phrases and near misses common.
_PHRASES = st.sets(st.text(alphabet="ab 사진", min_size=1, max_size=5), max_size=12)


@settings(max_examples=400, deadline=None)
@given(_PHRASES, st.text(alphabet="ab 사진x", max_size=30))
def test_phrase_prefilter_finds_exactly_the_texts_holding_a_phrase(
        phrases: set[str], text: str) -> None:
    found = re.search(trie_pattern(phrases), text) is not None
    assert found == any(p in text for p in phrases)


def _naive_hits(phrases: set[str], text: str) -> set[tuple[str, int, bool]]:
    m = matcher(tuple(phrases))
    t = normalise(text)
    sq = t.replace(" ", "")
    out = {(p, i, True) for p in m.squeezed for i in range(len(sq))
           if not sq.isascii() and sq.startswith(p, i)}
    for p, left, right in m.words:
        for i in range(len(t)):
            end = i + len(p)
            if t.startswith(p, i) and not (left and i > 0 and t[i - 1].isalnum()
                                           and t[i - 1].isascii()) \
                    and not (right and end < len(t) and t[end].isalnum() and t[end].isascii()):
                out.add((p, i, False))
    return out


@settings(max_examples=400, deadline=None)
@given(_PHRASES, st.text(alphabet="ab 사진x", max_size=30))
def test_phrase_index_finds_every_occurrence(phrases: set[str], text: str) -> None:
    idx = PhraseIndex.of([("k", matcher(tuple(phrases)))])
    t = normalise(text)
    got = {(h.phrase, h.start, h.squeezed)
           for h in idx.hits(t, t.replace(" ", "")).get("k", [])}
    assert got == _naive_hits(phrases, text)


_PIECES = [
    *(p for ps in RULES.keywords.values() for p in ps[::7]), "아직", "몰라요", "don't know if",
    "not yet", "hello", "상담", "50만원", "pay $300", "by 9pm", ".", "?", ",", "있어요", "im 15"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=6), st.sampled_from(["", " "]))
def test_the_prefilter_never_changes_the_result(pieces: list[str], sep: str) -> None:
    text = sep.join(pieces)
    quick = triage(IntakeAnswers(), (text,), RULES)
    slow = findings([normalise(text)], RULES.compiled.index)
    assert {(f.signal, f.certainty) for f in quick.findings} == {
        (f.signal, f.certainty) for f in slow}


@pytest.mark.parametrize("text,fires", [
    ("he posted them and wants me to send money by tonight", True),
    ("the school shared it... im not safe", True),
    ("he wants 500,000 won", True),
    ("hello, can someone help me understand my options?", False),
    ("사진이 유포됐어요 돈 보내라고 해요", True),
    ("안녕하세요 상담 받고 싶어요", False),
])
def test_prefilter(text: str, fires: bool) -> None:
    t = normalise(text)
    assert RULES.compiled.prefilter.may_match(t, t.replace(" ", "")) == fires
