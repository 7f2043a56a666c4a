"""The SMS intake dialogue as one pure function: from where a case's dialogue stands and what
the victim just wrote, the step it moves to and what we answer.

A new conversation starts at the first question. Three short numbered questions follow, each
skippable with 0; free text instead of a number ends them (the victim wants to talk) and the
answer is the wait. "CALL" ("전화") asks for a call-back when the phone channel is on: the
window, then whether a voice message may be left (only an explicit 1 allows one).

The step change is written in the message's own transaction (sms.inbound), except after the
last call-back answer: the request is recorded first, so a provider retry of a failed attempt
asks the same question again instead of losing the request. See docs/twilio.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hotline.callbacks.service import CHOICES
from hotline.channels.twilio import sms_text

# Intake steps in order, and how a digit answers each (0 or another digit skips).
QUESTIONS = ("spreading", "age", "safe")
ANSWERS: dict[str, dict[str, object]] = {
    "spreading": {"1": True, "2": False},
    "age": {"1": "under_14", "2": "14_17", "3": "18_plus"},
    "safe": {"1": True, "2": False},
}
FIELD = {"spreading": "spreading", "age": "age_group", "safe": "safe_now"}
DONE = "done"
CB_WINDOW = "cb_window"
CB_MESSAGE = "cb_message"


class Reply(StrEnum):
    NONE = "none"  # a counselor answers
    WELCOME = "welcome"  # the welcome, then the first question
    ASK = "ask"  # the question of Plan.ask
    WAIT = "wait"  # the wait status
    CALLBACK_CANCELLED = "callback_cancelled"
    CALLBACK_CONFIRMED = "callback_confirmed"


@dataclass(frozen=True)
class Plan:
    reply: Reply
    ask: str | None = None  # the step whose question is asked
    move_to: tuple[str, str | None] | None = None  # (step, pending), in the message's transaction
    answer: tuple[str, str] | None = None  # (question, digit), recorded after the commit
    callback: tuple[str, bool] | None = None  # (window choice, may leave a message)


def plan(step: str | None, pending: str | None, waiting: bool, folded: str, *,
         voice_on: bool, new_conversation: bool = False, duplicate: bool = False) -> Plan:
    """The next move of the dialogue for one stored message (`folded`: sms_text.keyword)."""
    if new_conversation:  # its intake began in the inbox's transaction
        return Plan(Reply.WELCOME)
    if not waiting:
        return Plan(Reply.NONE)
    step = step or DONE
    if duplicate:
        # A provider retry: the answer was taken the first time; repeat the same question.
        asked = step in QUESTIONS or step in (CB_WINDOW, CB_MESSAGE)
        return Plan(Reply.ASK, ask=step) if asked else Plan(Reply.NONE)
    digit = sms_text.digit_of(folded)
    if step == DONE or (step in QUESTIONS and digit is None):
        if voice_on and folded in sms_text.CALLBACK_WORDS:
            return Plan(Reply.ASK, ask=CB_WINDOW, move_to=(CB_WINDOW, None))
        if step == DONE:
            return Plan(Reply.NONE)
        return Plan(Reply.WAIT, move_to=(DONE, None))  # free text: the victim wants to talk
    if step in QUESTIONS:
        answer = (step, digit or "0")
        nxt = QUESTIONS.index(step) + 1
        if nxt < len(QUESTIONS):
            return Plan(Reply.ASK, ask=QUESTIONS[nxt], move_to=(QUESTIONS[nxt], None),
                        answer=answer)
        return Plan(Reply.WAIT, move_to=(DONE, None), answer=answer)
    if step == CB_WINDOW:
        if digit in CHOICES:
            return Plan(Reply.ASK, ask=CB_MESSAGE, move_to=(CB_MESSAGE, digit))
        return Plan(Reply.CALLBACK_CANCELLED, move_to=(DONE, None))
    # CB_MESSAGE: only an explicit 1 allows a voice message; anything else is the safe "no".
    # The step moves to done after the request is recorded (see the module's note).
    return Plan(Reply.CALLBACK_CONFIRMED, callback=(pending or "1", digit == "1"))
