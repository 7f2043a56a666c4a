"""Automatic triage: urgency from the intake answers and the words a victim writes.

Pure functions over frozen values. A signal is a reason for urgency (see notes/domain.md §6);
each raises the case to its configured level, and a waiting case also ages upward so none
starves. Automatic triage only ever raises urgency; lowering it is a counselor's decision.

Matching rules for keyword phrases (both sides pass through `normalise` first; the matching
itself is in hotline.domain.phrases):
- A phrase with any non-ASCII character (Korean) matches anywhere, ignoring spaces, because
  Korean attaches endings and particles to stems and people often drop spaces ("죽고싶어").
- An ASCII phrase (English) matches whole words only, so "pay me" does not fire on "repay me".
- SEXTORTION_DEADLINE phrases are deadlines ("by tonight", "오늘까지"); the signal fires only
  when one occurs together with a SEXTORTION phrase, in the same text or in different ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from hotline.config import ConfigError
from hotline.domain.conversation import Urgency
from hotline.domain.phrases import Matcher, Prefilter, matcher, normalise

AGE_GROUPS = ("under_14", "14_17", "18_plus")
_MINOR_AGE_GROUPS = frozenset({"under_14", "14_17"})


class Signal(StrEnum):
    CONTENT_SPREADING = "content_spreading"      # content being shared right now
    SELF_HARM = "self_harm"                      # suicidal thoughts / self-harm words
    PHYSICAL_THREAT = "physical_threat"          # violence, stalking, "I'll come to your house"
    ADDRESS_POSTED = "address_posted"            # home, school or workplace posted (doxxing)
    UNSAFE_NOW = "unsafe_now"                    # "not safe right now", answered or written
    MINOR = "minor"                              # victim under 18
    SEXTORTION_DEADLINE = "sextortion_deadline"  # sextortion with a deadline ("pay by tonight")
    SEXTORTION = "sextortion"                    # threats/demands using intimate content


# Ties between signals at one level break by this (declaration) order, so reasons are stable.
_ORDER = {s: i for i, s in enumerate(Signal)}


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
class TriageRules:
    """Which phrases fire which signal, the level each signal raises to, and ageing limits."""

    keywords: Mapping[Signal, tuple[str, ...]]
    levels: Mapping[Signal, Urgency]
    # A case waiting longer than this at the level moves up one; CRITICAL never appears.
    age_up_seconds: Mapping[Urgency, int]
    # Each signal's phrase matcher, built once: triage runs on every inbound message.
    matchers: tuple[tuple[Signal, Matcher], ...] = field(init=False, repr=False,
                                                           compare=False)
    # Whether any phrase of any signal occurs at all (one regex each for the normalised and
    # the squeezed text): most messages contain none and skip the per-phrase checks.
    prefilter: Prefilter = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing = [s.value for s in Signal if s not in self.levels]
        if missing:
            raise ValueError(f"levels: no level for {', '.join(missing)}")
        if Urgency.CRITICAL in self.age_up_seconds:
            raise ValueError("age_up_seconds: critical cannot move up")
        if any(v <= 0 for v in self.age_up_seconds.values()):
            raise ValueError("age_up_seconds: expected positive limits")
        # Rules are shared by every request: read-only views keep them frozen in practice.
        for name in ("keywords", "levels", "age_up_seconds"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        object.__setattr__(self, "matchers", tuple(
            (s, matcher(tuple(self.keywords.get(s, ())))) for s in Signal))
        object.__setattr__(self, "prefilter", Prefilter.of(m for _s, m in self.matchers))


@dataclass(frozen=True)
class Triage:
    urgency: Urgency
    # Every signal that fired, most severe first (ties in Signal declaration order).
    reasons: tuple[Signal, ...] = ()


_DEFAULT_LEVELS: Mapping[Signal, Urgency] = MappingProxyType({
    Signal.CONTENT_SPREADING: Urgency.CRITICAL,
    Signal.SELF_HARM: Urgency.CRITICAL,
    Signal.PHYSICAL_THREAT: Urgency.CRITICAL,
    Signal.ADDRESS_POSTED: Urgency.CRITICAL,
    Signal.UNSAFE_NOW: Urgency.CRITICAL,
    Signal.MINOR: Urgency.HIGH,
    Signal.SEXTORTION_DEADLINE: Urgency.HIGH,
    Signal.SEXTORTION: Urgency.HIGH,
})

_DEFAULT_AGE_UP: Mapping[Urgency, int] = MappingProxyType({Urgency.NORMAL: 600, Urgency.HIGH: 900})

# Phrases are deliberately longer than single common words: "주소" alone is every site's URL
# ("사이트 주소"), "죽겠어" is everyday exaggeration, "following me" is about Instagram.
_DEFAULT_KEYWORDS: Mapping[Signal, tuple[str, ...]] = MappingProxyType({
    # Present or past, never "might be": spreading needs a takedown now, fear of it does not.
    Signal.CONTENT_SPREADING: (
        "퍼지고", "퍼졌", "퍼지는 중", "유포되", "유포됐", "유포된", "유포 중", "올라와", "올라왔",
        "올라온", "올라갔", "돌아다니", "돌고 있", "공유되고", "공유됐", "뿌려졌", "박제", "퍼날",
        "업로드됐", "업로드 되", "게시됐", "단톡방에 올", "단톡방에 뿌",
        "being shared", "been shared", "shared it", "posted it", "posted them", "posted the video",
        "posted my nudes", "posted my photos", "posted my pics", "it's spreading",
        "it is spreading", "they're spreading", "spreading it", "spreading them",
        "spreading my", "going around", "circulating", "uploaded it", "uploaded them",
        "was uploaded", "were uploaded", "been uploaded", "got uploaded", "went viral",
        "going viral", "was leaked", "were leaked", "been leaked", "got leaked", "leaked it",
        "leaked them", "leaked my", "sent it to everyone", "posted in a group",
        "shared in a group", "on a porn site", "on pornhub",
    ),
    Signal.SELF_HARM: (
        "죽고 싶", "자살", "살기 싫", "살고 싶지 않", "사라지고 싶", "없어지고 싶", "목숨을 끊",
        "목숨 끊", "극단적 선택", "극단적인 선택", "극단적인 생각", "죽어버리", "뛰어내리",
        "자해", "손목을 긋", "손목 긋", "번개탄", "수면제를 모", "수면제 모아", "약을 다 먹",
        "유서를 쓰", "유서 써", "유서를 썼", "유서 썼", "살 이유가 없", "세상을 떠나고 싶",
        "다 끝내고 싶", "더 이상 못 살",
        "kill myself", "killing myself", "suicide", "suicidal", "want to die", "wanna die",
        "end my life", "ending my life", "end it all", "take my own life", "self harm",
        "self-harm", "selfharm", "cut myself", "cutting myself", "hurt myself", "hurting myself",
        "don't want to live", "dont want to live", "no reason to live", "better off dead",
        "better off without me", "overdose", "unalive",
    ),
    Signal.PHYSICAL_THREAT: (
        "찾아가겠", "찾아갈게", "찾아갈 거", "찾아간다", "찾아간대", "찾아오겠", "찾아올 거",
        "찾아온대", "집에 찾아", "집으로 찾아", "집까지 찾아", "집 앞까지", "집 앞에 찾아",
        "집 앞에서 기다", "집 앞에 와", "죽이겠", "죽여버리", "죽인다", "죽인대", "죽일 거",
        "때리겠", "때릴 거", "때린다", "때렸", "폭행", "스토킹", "따라다니", "미행", "위치 추적",
        "위치를 추적", "가만 안 두", "가만두지 않", "해치겠", "납치",
        "come to your house", "coming to your house", "come to my house", "coming to my house",
        "outside my house", "outside my home", "hurt you", "kill you", "beat you", "beat me up",
        "i'll find you", "i will find you", "know where you live", "knows where i live",
        "stalking", "stalker", "stalked", "followed me home", "following me home",
        "tracking me", "tracking my location", "threatened to kill", "threatened to hurt",
        "show up at my",
    ),
    Signal.ADDRESS_POSTED: (
        "집 주소", "주소가 올라", "주소까지", "주소도 같이", "주소를 올", "사는 곳까지",
        "사는 곳을 올", "사는 동네까지", "학교 이름", "학교까지", "직장까지", "직장 이름",
        "회사 이름", "회사까지", "신상 털", "신상이 털", "신상정보", "신상 공개", "신상까지",
        "개인정보가 유출", "개인정보까지", "전화번호까지", "실명까지", "실명이랑",
        "home address", "my address", "where i live", "my school's name", "name of my school",
        "posted my school", "tagged my school", "where i work", "my workplace", "my employer",
        "my real name", "my full name", "posted my name", "posted my number",
        "posted my phone number", "my personal details", "doxxed", "doxed", "doxxing", "doxing",
        "doxx", "dox", "tagged my family",
    ),
    Signal.UNSAFE_NOW: (
        "안전하지 않", "지금 위험", "위험한 상황", "문 앞에 있", "숨어 있", "살려주세요", "살려줘",
        "i'm not safe", "im not safe", "i am not safe", "don't feel safe", "dont feel safe",
        "not safe right now", "feel unsafe", "i'm in danger", "im in danger", "i am in danger",
        "outside my door", "he's here", "he is here", "i'm hiding", "locked myself in",
    ),
    Signal.MINOR: (
        "중학생", "고등학생", "초등학생", "중딩", "고딩", "초딩", "미성년", "청소년",
        "중학교 다니", "고등학교 다니",
        *(f"{n}살" for n in range(10, 18)),
        "열세 살", "열네 살", "열다섯 살", "열여섯 살", "열일곱 살",
        "underage", "under 18", "under eighteen", "i'm a minor", "im a minor", "i am a minor",
        "high schooler", "middle schooler", "in middle school", "in high school",
        *(f"{who} {n}" for who in ("i'm", "im", "i am") for n in range(12, 18)),
        *(f"{n} years old" for n in range(10, 18)),
        *(f"in year {n}" for n in range(7, 12)),
        *(f"in {n}th grade" for n in range(6, 12)),
    ),
    Signal.SEXTORTION_DEADLINE: (
        "오늘까지", "내일까지", "오늘 밤", "자정까지", "시간 안에", "시간 내에", "시간 내로",
        "분 안에", "24시간", "48시간", "12시간", "시까지", "지금 당장", "기한", "마감",
        "이번 주까지", "주말까지",
        "by tonight", "by tomorrow", "by midnight", "by the end of the day", "by end of day",
        "before midnight", "within 24 hours", "within 48 hours", "within an hour",
        "within the hour", "24 hours", "48 hours", "hours to pay", "minutes to pay", "deadline",
        "you have until", "time is running out", "countdown",
    ),
    Signal.SEXTORTION: (
        "돈 보내", "돈을 보내", "돈 안 보내면", "안 보내면", "돈을 요구", "돈 요구", "입금하",
        "입금 안", "송금하", "계좌로", "뿌리겠", "뿌린다", "뿌린대", "뿌릴 거", "유포하겠",
        "유포한다", "유포한대", "유포할 거", "퍼뜨리겠", "퍼뜨린다", "퍼뜨린대", "협박", "몸캠",
        "상품권", "문상으로", "문상 보내", "기프티콘", "지인들한테 보내", "지인한테 뿌",
        "pay me", "send money", "send me money", "or i will post", "or i'll post",
        "or i will send", "or i'll send", "or i will share", "or i'll share", "or i will leak",
        "or i'll leak", "bitcoin", "crypto", "gift card", "gift cards", "paypal", "cash app",
        "western union", "sextortion", "sextorted", "sextorting", "blackmail", "blackmailing",
        "blackmailed", "extortion", "extorting", "threatening to post", "threatening to share",
        "threatened to post", "threatened to share", "send it to your family",
        "send it to your friends", "send it to all your followers",
    ),
})


def default_rules() -> TriageRules:
    """The built-in phrases (Korean and English), levels and ageing limits."""
    return TriageRules(keywords=_DEFAULT_KEYWORDS, levels=_DEFAULT_LEVELS,
                       age_up_seconds=_DEFAULT_AGE_UP)


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


def rules_from_mapping(raw: Mapping[str, object]) -> TriageRules:
    """Rules from the [triage] table: levels and limits replace defaults, keywords add to them."""
    known = ("age_up_seconds", "keywords", "levels")
    for name in raw:
        if name not in known:
            raise ConfigError(f"triage.{name}: unknown key (known keys: {', '.join(known)})")

    levels = dict(_DEFAULT_LEVELS)
    for name, value in _table(raw, "levels").items():
        key = f"triage.levels.{name}"
        signal = _signal(key, name)
        if not isinstance(value, str) or value not in tuple(Urgency):
            choices = ", ".join(u.value for u in Urgency)
            raise ConfigError(f"{key}: unknown level {value!r} (known: {choices})")
        levels[signal] = Urgency(value)

    keywords = dict(_DEFAULT_KEYWORDS)
    for name, value in _table(raw, "keywords").items():
        key = f"triage.keywords.{name}"
        signal = _signal(key, name)
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            raise ConfigError(f"{key}: expected a list of phrases, got {value!r}")
        for phrase in value:
            # An empty phrase would match every message.
            if not normalise(phrase):
                raise ConfigError(f"{key}: expected non-empty phrases, got {phrase!r}")
        keywords[signal] = tuple(dict.fromkeys((*keywords.get(signal, ()), *value)))

    age_up = dict(_DEFAULT_AGE_UP)
    for name, value in _table(raw, "age_up_seconds").items():
        key = f"triage.age_up_seconds.{name}"
        if name not in (Urgency.NORMAL, Urgency.HIGH):
            raise ConfigError(f"{key}: unknown level (known: high, normal; critical cannot age)")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key}: expected a positive integer, got {value!r}")
        age_up[Urgency(name)] = value

    return TriageRules(keywords=keywords, levels=levels, age_up_seconds=age_up)


def _ranked(signals: Iterable[Signal], levels: Mapping[Signal, Urgency]) -> tuple[Signal, ...]:
    return tuple(sorted(set(signals), key=lambda s: (levels[s].rank, _ORDER[s])))


def _top(urgencies: Iterable[Urgency]) -> Urgency:
    return min(urgencies, key=lambda u: u.rank, default=Urgency.NORMAL)


def triage(answers: IntakeAnswers, texts: Sequence[str], rules: TriageRules) -> Triage:
    """Signals from the answers and from phrases in any text; urgency is the highest they raise."""
    if isinstance(texts, str):
        # A bare string is a Sequence[str] of characters, which no phrase would ever match.
        texts = (texts,)
    fired: set[Signal] = set()
    if answers.spreading:
        fired.add(Signal.CONTENT_SPREADING)
    if answers.age_group in _MINOR_AGE_GROUPS:
        fired.add(Signal.MINOR)
    if answers.safe_now is False:
        fired.add(Signal.UNSAFE_NOW)

    normalised = [normalise(t) for t in texts]
    forms = [(t, sq) for t in normalised
             if rules.prefilter.may_match(t, sq := t.replace(" ", ""))]
    for signal, phrases in rules.matchers if forms else ():
        if any(phrases.search(t, s) for t, s in forms):
            fired.add(signal)
    # Deadline phrases are everyday words on their own ("24시간 상담"): only with a threat.
    if Signal.SEXTORTION not in fired:
        fired.discard(Signal.SEXTORTION_DEADLINE)

    return Triage(urgency=_top(rules.levels[s] for s in fired),
                  reasons=_ranked(fired, rules.levels))


def escalate(current: Triage, new: Triage, *, rules: TriageRules | None = None) -> Triage:
    """The higher urgency of the two and every reason from both; never lower than `current`.

    `rules` orders the merged reasons by its levels (the defaults when None).
    """
    levels = _DEFAULT_LEVELS if rules is None else rules.levels
    return Triage(urgency=_top((current.urgency, new.urgency)),
                  reasons=_ranked((*current.reasons, *new.reasons), levels))


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
