"""Pure parts of the Telegram channel: the intake state machine, the intake summary's triage,
case numbers, fingerprints, and the per-chat ordered, deduplicating update processor."""

from __future__ import annotations

import asyncio
import io
import itertools
import random
from datetime import UTC, datetime

import pytest
from PIL import Image
from telegram import Chat, Message, Update

from hotline.channels.telegram import intake, media
from hotline.channels.telegram.intake import Step
from hotline.channels.telegram.processor import DONE, DUPLICATE, ChatOrderedProcessor
from hotline.channels.telegram.runtime import labels_from
from hotline.domain.triage import IntakeAnswers, default_rules, triage
from hotline.evidence.pdq_scan import pdq_distance
from hotline.prompts import Prompts
from hotline.victim import casecode
from tests.test_telegram_media import picture

LANGS = ("ko", "en")


def _walk(*choices: str) -> intake.IntakeState:
    state = intake.begin("ko", origin=1)
    for choice in choices:
        state = intake.apply(state, state.step, choice, LANGS)
    return state


def test_intake_full_path_feeds_triage_answers() -> None:
    state = _walk("en", "yes", "14_17", "no", "telegram")
    assert state.step == Step.DONE and state.language == "en"
    assert state.answers() == IntakeAnswers(spreading=True, age_group="14_17", safe_now=False,
                                            platform="telegram")
    found = triage(state.answers(), (), default_rules())
    assert {s.value for s in found.reasons} == {"content_spreading", "minor", "unsafe_now"}


@pytest.mark.parametrize("answered", range(5))
def test_talk_now_ends_the_intake_at_every_step(answered: int) -> None:
    state = _walk(*["en", "unsure", "18_plus", "yes", "x"][:answered])
    assert state.step == intake.ORDER[answered]
    done = intake.apply(state, state.step, intake.TALK_NOW, LANGS)
    assert done.step == Step.DONE
    assert done.answers() == state.answers()


def test_stale_and_invalid_presses() -> None:
    state = _walk("en")
    with pytest.raises(intake.Stale):
        intake.apply(state, Step.LANGUAGE, "ko", LANGS)
    with pytest.raises(intake.Invalid):
        intake.apply(state, Step.SPREADING, "perhaps", LANGS)
    done = _walk("en", intake.TALK_NOW)
    with pytest.raises(intake.Stale):
        intake.apply(done, Step.SPREADING, "yes", LANGS)


def test_state_survives_json_and_bad_json_starts_afresh() -> None:
    state = _walk("en", "no", "under_14")
    assert intake.IntakeState.from_json(state.to_json()) == state
    assert intake.IntakeState.from_json("{") is None
    assert intake.IntakeState.from_json('{"step": "nope"}') is None
    assert intake.IntakeState.from_json(state.to_json().replace("under_14", "old")) is None


def test_keyboards_fit_telegram_and_have_labels_in_every_language() -> None:
    prompts = Prompts()
    for lang in LANGS:
        labels = labels_from(prompts.render(lang, "tg_buttons"))
        for step in intake.ORDER[:-1]:
            rows = intake.keyboard(step, LANGS)
            assert rows[-1] == [("talk_now", intake.callback(step, intake.TALK_NOW))]
            for code, data in itertools.chain.from_iterable(rows):
                assert len(data.encode()) <= 64
                assert code in labels, (lang, code)
                assert intake.parse_callback(data) is not None
    assert intake.parse_callback("ack:3") is None
    assert intake.parse_callback("i:nope:yes") is None


@pytest.mark.parametrize("lang", LANGS)
def test_intake_summary_adds_no_signal_of_its_own(lang: str) -> None:
    """The summary the counselor reads is triaged as text too: it must not raise anything the
    answers did not (e.g. "shared" words when the answer was no)."""
    prompts = Prompts()
    labels = labels_from(prompts.render(lang, "tg_buttons"))
    for spreading, age, safe in itertools.product(("no", "unsure", None),
                                                  ("18_plus", None), ("yes", None)):
        choices = [lang, spreading or intake.TALK_NOW]
        if spreading:
            choices += [age or intake.TALK_NOW]
            if age:
                choices += [safe or intake.TALK_NOW]
                if safe:
                    choices += ["adult_site"]
        state = _walk(*choices)
        codes = intake.summary_codes(state)
        text = prompts.render(lang, "tg_intake_record", **{
            k: labels[v] if v else labels["not_answered"] for k, v in codes.items()})
        assert triage(IntakeAnswers(), (text,), default_rules()).reasons == (), text


def test_case_numbers_are_short_and_forgiving() -> None:
    assert casecode.display("7K3M9QX2") == "HL-7K3M-9QX2"
    assert casecode.normalise("hl-7k3m-9qx2") == "7K3M9QX2"
    assert casecode.normalise(" 7K3M 9QX2 ") == "7K3M9QX2"
    assert casecode.normalise("HL-OI3M-9QXL") == "013M9QX1"  # O->0, I/L->1
    assert casecode.normalise("HL-7K3M-9QU2") is None  # U is not in the alphabet
    assert casecode.normalise("HL-7K3M") is None


def test_fingerprints() -> None:
    png = picture()
    fp = media.fingerprint(png, "image/png")
    again = media.fingerprint(picture(180, "JPEG", 70), "image/jpeg")
    assert fp.pdq and again.pdq and fp.pdq_quality == 100
    assert pdq_distance(fp.pdq, again.pdq) <= 31  # resized and recompressed: same picture
    flat = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(flat, "PNG")
    assert (media.fingerprint(flat.getvalue(), "image/png").pdq_quality or 0) < 50
    assert media.fingerprint(b"not an image", "image/png").pdq is None
    assert media.fingerprint(png, "application/pdf").pdq is None  # no PDQ for documents
    assert media.pack_bits([1] + [0] * 255) == "8" + "0" * 63


def _update(uid: int, chat: int) -> Update:
    when = datetime.now(UTC)
    return Update(uid, message=Message(uid, when, Chat(chat, "private"), text="x"))


async def test_processor_keeps_chat_order_runs_chats_concurrently_and_dedupes() -> None:
    seen: set[int] = set()

    async def claim(uid: int) -> bool:
        if uid in seen:
            return False
        seen.add(uid)
        return True

    async def release(uid: int) -> None:
        seen.discard(uid)

    proc = ChatOrderedProcessor(64, claim, release)
    log: list[tuple[int, int]] = []
    running = 0
    most = 0
    rng = random.Random(7)

    async def handle(chat: int, uid: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        for _ in range(rng.randint(0, 3)):
            await asyncio.sleep(0)
        log.append((chat, uid))
        running -= 1

    updates = [_update(100 + i * 3 + c, chat=c + 1) for i in range(6) for c in range(3)]
    updates.append(updates[4])  # a duplicate delivery
    waiters = [proc.expect(u.update_id) for u in updates]
    await asyncio.gather(*(proc.process_update(u, handle(u.effective_chat.id, u.update_id))
                           for u in updates if u.effective_chat is not None))
    for chat in (1, 2, 3):
        mine = [uid for c, uid in log if c == chat]
        assert mine == sorted(mine) and len(mine) == 6
    assert most > 1, "different chats never ran at the same time"
    assert len(log) == 18
    outcomes = [w.result() for w in waiters]
    assert outcomes.count(DONE) == 19  # both waiters of the duplicated id saw it done once
    assert DUPLICATE not in outcomes

    # A failed update releases its claim, so Telegram's re-send is handled.
    failing = _update(999, chat=1)
    proc.mark_failed(failing)

    async def boom() -> None:
        proc.mark_failed(failing)

    await proc.process_update(failing, boom())
    assert 999 not in seen
