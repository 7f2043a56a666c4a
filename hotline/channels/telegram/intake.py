"""The Telegram intake: a short state machine over inline-keyboard answers (diagram: intake.md).

Language, "is the content being shared right now?", age group, "are you safe right now?",
platform. Every question has a "talk to a person now" button that ends the intake at once, and
the answers so far feed triage (hotline.domain.triage.IntakeAnswers). Pure values only: the bot
keeps the state in Redis between updates and decides what to send.

A button press carries the step it answers ("i:<step>:<choice>"), so a press on an old
question (a stale or repeated update) is recognised and changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from enum import StrEnum

from hotline.domain.triage import AGE_GROUPS, IntakeAnswers


class Step(StrEnum):
    LANGUAGE = "language"
    SPREADING = "spreading"
    AGE = "age"
    SAFE = "safe"
    PLATFORM = "platform"
    DONE = "done"


ORDER = (Step.LANGUAGE, Step.SPREADING, Step.AGE, Step.SAFE, Step.PLATFORM, Step.DONE)
TALK_NOW = "now"
PREFIX = "i"

# The intake form's platform codes (hotline.domain.intake.PLATFORMS), minus the ones a victim
# would not pick from a phone ("search_engine", "messenger").
PLATFORMS = ("telegram", "x", "meta", "youtube", "tiktok", "kakao", "discord", "adult_site",
             "other", "unknown")
_CHOICES: dict[Step, tuple[str, ...]] = {
    Step.SPREADING: ("yes", "no", "unsure"),
    Step.AGE: AGE_GROUPS,
    Step.SAFE: ("yes", "no"),
    Step.PLATFORM: PLATFORMS,
}
# The prompt that asks each question.
QUESTION = {Step.LANGUAGE: "tg_q_language", Step.SPREADING: "tg_q_spreading",
            Step.AGE: "tg_q_age", Step.SAFE: "tg_q_safe", Step.PLATFORM: "tg_q_platform"}


class Stale(Exception):
    """The press answers a question that is no longer the current one."""


class Invalid(ValueError):
    """Not a choice of this question."""


@dataclass(frozen=True)
class IntakeState:
    step: Step
    language: str
    # The message that started the intake: a stable id for the summary it leaves behind.
    origin: int
    spreading: bool | None = None
    age_group: str | None = None
    safe_now: bool | None = None
    platform: str | None = None
    # Which questions were answered (a skipped one stays None but is not "unanswered").
    answered: tuple[str, ...] = ()

    def answers(self) -> IntakeAnswers:
        return IntakeAnswers(spreading=self.spreading, age_group=self.age_group,
                             safe_now=self.safe_now, platform=self.platform)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> IntakeState | None:
        """The stored state, or None if it is unreadable (the bot then starts afresh)."""
        try:
            raw = json.loads(text)
            raw["step"] = Step(raw["step"])
            raw["answered"] = tuple(raw.get("answered", ()))
            state = cls(**raw)
            state.answers()  # validates the age group
        except (ValueError, TypeError, KeyError):
            return None
        return state


def begin(language: str, origin: int, ask_language: bool = True) -> IntakeState:
    """A new intake; without the language question when the language is already known."""
    return IntakeState(Step.LANGUAGE if ask_language else Step.SPREADING, language, origin)


def choices(step: Step, languages: tuple[str, ...]) -> tuple[str, ...]:
    """The answers offered at `step` (talk-now is always offered as well)."""
    if step == Step.LANGUAGE:
        return languages
    return _CHOICES.get(step, ())


def _next(step: Step) -> Step:
    return ORDER[ORDER.index(step) + 1]


def apply(state: IntakeState, step: Step, choice: str,
          languages: tuple[str, ...]) -> IntakeState:
    """The state after answering `step` with `choice`; Stale if `step` is not the current one."""
    if state.step == Step.DONE or step != state.step:
        raise Stale(step)
    if choice == TALK_NOW:
        return replace(state, step=Step.DONE)
    if choice not in choices(step, languages):
        raise Invalid(choice)
    answered = (*state.answered, step.value)
    nxt = _next(step)
    if step == Step.LANGUAGE:
        return replace(state, language=choice, step=nxt, answered=answered)
    if step == Step.SPREADING:
        value = {"yes": True, "no": False}.get(choice)
        return replace(state, spreading=value, step=nxt, answered=answered)
    if step == Step.AGE:
        return replace(state, age_group=choice, step=nxt, answered=answered)
    if step == Step.SAFE:
        return replace(state, safe_now=choice == "yes", step=nxt, answered=answered)
    return replace(state, platform=choice, step=nxt, answered=answered)


def callback(step: Step, choice: str) -> str:
    """The callback data of a button (Telegram allows 64 bytes)."""
    return f"{PREFIX}:{step.value}:{choice}"


def parse_callback(data: str) -> tuple[Step, str] | None:
    prefix, _, rest = data.partition(":")
    step, _, choice = rest.partition(":")
    if prefix != PREFIX or not choice:
        return None
    try:
        return Step(step), choice
    except ValueError:
        return None


def button_code(step: Step, choice: str) -> str:
    """The tg_buttons label code of a choice ("talk_now", "lang_ko", "age_14_17", ...)."""
    if choice == TALK_NOW:
        return "talk_now"
    if step == Step.LANGUAGE:
        return f"lang_{choice}"
    return f"{step.value}_{choice}"


def keyboard(step: Step, languages: tuple[str, ...]) -> list[list[tuple[str, str]]]:
    """Rows of (label code, callback data): the choices two a row, then talk-now alone."""
    opts = [(button_code(step, c), callback(step, c)) for c in choices(step, languages)]
    rows = [opts[i:i + 2] for i in range(0, len(opts), 2)]
    return [*rows, [(button_code(step, TALK_NOW), callback(step, TALK_NOW))]]


def summary_codes(state: IntakeState) -> dict[str, str | None]:
    """Label codes of the answers for the summary the counselor reads (None: not answered)."""
    def code(step: Step, value: str | None) -> str | None:
        return None if value is None else button_code(step, value)

    spreading = None
    if Step.SPREADING.value in state.answered:
        spreading = {True: "yes", False: "no", None: "unsure"}[state.spreading]
    safe = None if state.safe_now is None else ("yes" if state.safe_now else "no")
    return {"shared": code(Step.SPREADING, spreading),
            "age": code(Step.AGE, state.age_group),
            "safe": code(Step.SAFE, safe),
            "where": code(Step.PLATFORM, state.platform)}
