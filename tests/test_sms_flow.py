"""The SMS intake dialogue (hotline.channels.twilio.sms_flow.plan) as a table: step, message, phone
channel on or off -> the step it moves to (in the message's transaction), the answer recorded,
the call-back requested and the reply."""

from __future__ import annotations

import pytest
from twilio.twiml.messaging_response import MessagingResponse

from hotline.channels.twilio import sms_text
from hotline.channels.twilio.sms import reply_twiml
from hotline.channels.twilio.sms_flow import Plan, Reply, plan

R = Reply


@pytest.mark.parametrize("step,pending,text,voice,expected", [
    # Questions: a digit answers and moves on; 0 or "skip" skips; free text ends them.
    ("spreading", None, "1", True,
     Plan(R.ASK, ask="age", move_to=("age", None), answer=("spreading", "1"))),
    ("spreading", None, "\uff11", True,  # full-width digit
     Plan(R.ASK, ask="age", move_to=("age", None), answer=("spreading", "1"))),
    ("age", None, "skip", True,
     Plan(R.ASK, ask="safe", move_to=("safe", None), answer=("age", "0"))),
    ("safe", None, "2", True, Plan(R.WAIT, move_to=("done", None), answer=("safe", "2"))),
    ("spreading", None, "someone posted my photos", True, Plan(R.WAIT, move_to=("done", None))),
    # Asking for a call-back, at a question or after them; only with the phone channel on.
    ("age", None, "CALL", True, Plan(R.ASK, ask="cb_window", move_to=("cb_window", None))),
    ("done", None, "전화", True, Plan(R.ASK, ask="cb_window", move_to=("cb_window", None))),
    ("done", None, "call", False, Plan(R.NONE)),
    ("age", None, "call me", False, Plan(R.WAIT, move_to=("done", None))),
    (None, None, "hello?", True, Plan(R.NONE)),  # no dialogue row: a counselor answers
    ("done", None, "3", True, Plan(R.NONE)),
    # The window, then the message question; anything but a window cancels.
    ("cb_window", None, "2", True, Plan(R.ASK, ask="cb_message", move_to=("cb_message", "2"))),
    ("cb_window", None, "later", True, Plan(R.CALLBACK_CANCELLED, move_to=("done", None))),
    ("cb_window", None, "9", True, Plan(R.CALLBACK_CANCELLED, move_to=("done", None))),
    # Only an explicit 1 allows a voice message; the step moves after the request is stored.
    ("cb_message", "2", "1", True, Plan(R.CALLBACK_CONFIRMED, callback=("2", True))),
    ("cb_message", "3", "yes", True, Plan(R.CALLBACK_CONFIRMED, callback=("3", False))),
    ("cb_message", None, "2", True, Plan(R.CALLBACK_CONFIRMED, callback=("1", False))),
])
def test_dialogue(step: str | None, pending: str | None, text: str, voice: bool,
                  expected: Plan) -> None:
    assert plan(step, pending, True, sms_text.keyword(text), voice_on=voice) == expected


@pytest.mark.parametrize("step,expected", [
    ("age", Plan(R.ASK, ask="age")),
    ("cb_message", Plan(R.ASK, ask="cb_message")),
    ("done", Plan(R.NONE)),
    (None, Plan(R.NONE)),
])
def test_a_provider_retry_repeats_the_question_and_moves_nothing(
        step: str | None, expected: Plan) -> None:
    assert plan(step, None, True, "1", voice_on=True, duplicate=True) == expected


def test_new_conversation_is_welcomed_and_a_handled_case_gets_no_automatic_reply() -> None:
    assert plan("spreading", None, True, "hi", voice_on=True, new_conversation=True) \
        == Plan(R.WELCOME)
    assert plan("spreading", None, False, "1", voice_on=True) == Plan(R.NONE)


@pytest.mark.parametrize("text", [None, "", "plain", "a < b & c > d", '"quoted" \'too\'',
                                  "줄\n바꿈 한국어 ☺"])
def test_reply_is_the_document_twilio_writes(text: str | None) -> None:
    expected = MessagingResponse()
    if text:
        expected.message(text)
    response = reply_twiml(text)
    assert response.text == str(expected)
    assert response.content_type == "application/xml"
