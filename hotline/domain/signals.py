"""Triage signals, how certain each is, and the reason codes cases store them under."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Signal(StrEnum):
    CONTENT_SPREADING = "content_spreading"      # content being shared right now
    SELF_HARM = "self_harm"                      # suicidal thoughts / self-harm words
    PHYSICAL_THREAT = "physical_threat"          # violence, stalking, "I'll come to your house"
    ADDRESS_POSTED = "address_posted"            # home, school or workplace posted (doxxing)
    UNSAFE_NOW = "unsafe_now"                    # "not safe right now", answered or written
    MINOR = "minor"                              # victim under 18
    SEXTORTION_DEADLINE = "sextortion_deadline"  # sextortion with a deadline ("pay by tonight")
    SEXTORTION = "sextortion"                    # threats/demands using intimate content
    SYNTHETIC = "synthetic"                      # deepfake, AI-made or composited content


class Certainty(StrEnum):
    FIRED = "fired"        # stated: raises to the signal's level; spreading pages takedown
    POSSIBLE = "possible"  # hedged: raises at most to possible_level, pages nobody


POSSIBLE_PREFIX = "possible:"


@dataclass(frozen=True)
class Finding:
    """Why a signal was raised: the intake answers ("answer:spreading") or the phrases found
    ("words"), and for a possible one the hedge words that lowered it ("아직", "don't know
    if"). Kept so staff can see what raised a signal and withdraw it."""

    signal: Signal
    certainty: Certainty
    words: tuple[str, ...]
    hedges: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        return reason_code(self.signal, self.certainty)


def reason_code(signal: Signal, certainty: Certainty) -> str:
    """The reason code stored with a case: "minor", "possible:content_spreading"."""
    return signal.value if certainty is Certainty.FIRED else POSSIBLE_PREFIX + signal.value


def parse_reason(code: str) -> tuple[Signal, Certainty] | None:
    """The signal and certainty of a reason code; None for codes that are not signals."""
    certainty = Certainty.FIRED
    if code.startswith(POSSIBLE_PREFIX):
        code, certainty = code[len(POSSIBLE_PREFIX):], Certainty.POSSIBLE
    try:
        return Signal(code), certainty
    except ValueError:
        return None
