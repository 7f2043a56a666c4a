"""The victim bot end to end: a full intake by inline keyboard, the queue and its waiting
message, a counselor's reply reaching the chat, text before any intake, stale buttons, and
the commands /status, /stop, /case (with a later lookup) and /forget."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hotline.victim import casecode
from tests import telegram_standin
from tests.conftest import wait_for
from tests.helpers import Counselor, add_staff
from tests.service_deps import open_deps
from tests.telegram_standin import (
    CHAT,
    TgEnv,
    stored_anywhere,
    table,
)

# The Telegram fixtures (a module-level name is how pytest finds them).
log_guard = telegram_standin.log_guard
standin = telegram_standin.standin
tg = telegram_standin.tg

# Every test's logs are scanned for the victim's id, name, text and our secrets.
pytestmark = pytest.mark.usefixtures("log_guard")

VICTIM_TEXT = "Wombat-5512 my stepbrother posted my photos in a group"
REPLY = "Pangolin-9043 we can ask Telegram to remove it together"


async def _press(tg: TgEnv, question: str, data: str) -> None:
    mid, buttons = tg.markup_of(question)
    assert data in buttons, (data, buttons)
    await tg.send(tg.victim.press(data, mid))


async def _one_conversation(tg: TgEnv) -> dict[str, Any]:
    rows = await table(tg.config, "conversations")
    assert len(rows) == 1, rows
    return rows[0]


async def _counselor(tg: TgEnv) -> Counselor:
    await add_staff(tg.config, "mina")
    c = Counselor(await tg.runner.client())
    assert await c.login("mina") == 303
    return c


async def test_full_intake_queue_and_counselor_reply(tg: TgEnv,
                                                     log_guard: dict[str, str]) -> None:
    log_guard.update(reply=REPLY, reply_part="Pangolin-9043")
    await tg.send(tg.victim.text("/start"))
    await _press(tg, "Which language", "i:language:en")
    await _press(tg, "being shared or posted", "i:spreading:yes")
    await _press(tg, "How old are you", "i:age:18_plus")
    await _press(tg, "Are you safe", "i:safe:yes")
    await _press(tg, "Where did it appear", "i:platform:telegram")

    # Each question shows the chosen answer once pressed (editMessageText).
    edits = [str(p["text"]) for p in tg.api.of("editMessageText")]
    assert any(e.endswith("✓ English") for e in edits)
    assert any(e.endswith("✓ Telegram") for e in edits)
    assert len(tg.api.of("answerCallbackQuery")) == 5

    # The conversation joined the queue, critical (content spreading), answers recorded.
    conv = await _one_conversation(tg)
    assert conv["status"] == "waiting" and conv["urgency"] == "critical"
    assert "content_spreading" in conv["urgency_reasons"]
    assert json.loads(conv["intake_answers"]) == {
        "spreading": True, "age_group": "18_plus", "safe_now": True, "platform": "telegram"}
    # Spreading content alerts the takedown staff at once.
    assert "takedown" in [a["kind"] for a in await table(tg.config, "alerts")]
    # The victim is told their place with the wait_status words every channel uses.
    said = tg.api.texts_to(CHAT)
    assert any("A counselor will answer you here" in t for t in said)
    assert any("in line" in t and "1" in t for t in said)

    counselor = await _counselor(tg)
    cid = await counselor.take_next()
    assert cid == conv["id"]
    first = (await counselor.case(cid))["messages"][0]
    assert first["direction"] == "in"
    assert "Yes, it is being shared" in first["text"] and "18 or older" in first["text"]

    assert (await counselor.reply(cid, REPLY)).status == 201

    async def delivered() -> bool:
        msgs = (await counselor.case(cid))["messages"]
        return bool(msgs[-1]["delivery"] == "sent")

    await wait_for(delivered, timeout=10)
    assert REPLY in tg.api.texts_to(CHAT)

    # /status while a counselor holds the case.
    await tg.send(tg.victim.text("/status"))
    assert tg.api.texts_to(CHAT)[-1] == "A counselor is with you in this chat."


async def test_text_first_is_stored_then_questions_are_asked(tg: TgEnv,
                                                             log_guard: dict[str, str]) -> None:
    log_guard.update(text=VICTIM_TEXT, part="Wombat-5512")
    await tg.send(tg.victim.text(VICTIM_TEXT))
    conv = await _one_conversation(tg)
    assert conv["status"] == "waiting"
    assert conv["urgency"] == "critical"  # "posted my photos": triage of the text itself
    said = tg.api.texts_to(CHAT)
    assert any("A counselor will answer you here" in t for t in said)
    assert "being shared or posted" in said[-1], "the intake starts after the message"

    # "Talk to a person now" ends the intake; the answers so far are recorded.
    await _press(tg, "being shared or posted", "i:spreading:now")
    rows = [m for m in await table(tg.config, "messages") if m["direction"] == "in"]
    assert len(rows) == 2 and len(await table(tg.config, "conversations")) == 1
    assert (await _one_conversation(tg))["status"] == "waiting"


async def test_stale_and_foreign_buttons_change_nothing(tg: TgEnv) -> None:
    await tg.send(tg.victim.text("/start"))
    lang_mid, _ = tg.markup_of("Which language")
    await tg.send(tg.victim.press("i:language:ko", lang_mid))
    before = await table(tg.config, "conversations")
    # The language question again (a late or repeated press), and a made-up answer.
    await tg.send(tg.victim.press("i:language:en", lang_mid))
    await tg.send(tg.victim.press("i:spreading:maybe", lang_mid))
    answers = [p.get("text") for p in tg.api.of("answerCallbackQuery")]
    assert answers[-2:] == ["이미 답한 질문입니다."] * 2
    assert await table(tg.config, "conversations") == before
    # The intake goes on in Korean at the spreading question.
    assert "공유되거나 올라가 있나요" in tg.api.texts_to(CHAT)[-1]


async def test_status_stop_and_help(tg: TgEnv) -> None:
    await tg.send(tg.victim.text("/status"))
    assert "no open conversation" in tg.api.texts_to(CHAT)[-1]
    await tg.send(tg.victim.text("I need help"))
    await tg.send(tg.victim.text("/status"))
    assert "in line" in tg.api.texts_to(CHAT)[-1]
    await tg.send(tg.victim.text("/help"))
    assert "/forget" in tg.api.texts_to(CHAT)[-1]
    await tg.send(tg.victim.sticker())
    assert "text, photos and documents" in tg.api.texts_to(CHAT)[-1]

    await tg.send(tg.victim.text("/stop"))
    assert "Your conversation has ended" in tg.api.texts_to(CHAT)[-1]
    conv = await _one_conversation(tg)
    assert conv["status"] == "closed"
    [record] = await table(tg.config, "intake_records")
    assert record["outcome"] == "disconnected" and record["conversation_id"] == conv["id"]
    await tg.send(tg.victim.text("/stop"))
    assert "no open conversation to end" in tg.api.texts_to(CHAT)[-1]


async def test_case_number_and_pin_work_later(tg: TgEnv) -> None:
    await tg.send(tg.victim.text("/case"))
    assert "There is no case yet" in tg.api.texts_to(CHAT)[-1]
    await tg.send(tg.victim.text("please help"))
    await tg.send(tg.victim.text("/case"))
    said = tg.api.texts_to(CHAT)[-1]
    number = said.split("Your case number: ")[1].split("\n")[0]
    pin = said.split("Your PIN: ")[1].split("\n")[0]
    assert number.startswith("HL-") and len(pin) == 6
    [row] = await table(tg.config, "case_codes")
    assert pin not in row["pin_hash"] and row["pin_hash"].startswith("$argon2")
    conv = await _one_conversation(tg)

    async with open_deps(tg.config) as deps:
        # Typed later on another channel, sloppily: lower case, spaces, O for 0.
        typed = number.lower().replace("-", " ").replace("0", "o")
        found = await casecode.lookup(deps, typed, pin)
        assert found is not None and found.conversation_id == conv["id"]
        wrong = f"{(int(pin) + 1) % 10**6:06d}"
        assert await casecode.lookup(deps, number, wrong) is None
        assert await casecode.lookup(deps, "HL-0000-0000", pin) is None


async def test_forget_erases_and_deletes_chat_messages(tg: TgEnv) -> None:
    await tg.send(tg.victim.text(VICTIM_TEXT))
    await tg.send(tg.victim.text("/case"))
    await tg.send(tg.victim.text("/forget"))
    mid, buttons = tg.markup_of("Erase everything")
    assert buttons == ["fg:yes", "fg:no"]
    await tg.send(tg.victim.press("fg:yes", mid))

    assert "We have erased" in tg.api.texts_to(CHAT)[-1]
    deleted = {int(p["message_id"]) for p in tg.api.of("deleteMessage")}
    bot_ids = [int(c.result["message_id"]) for c in tg.api.calls
               if c.method == "sendMessage" and isinstance(c.result, dict)]
    # Everything in the chat goes (Telegram allows it within 48 hours): the bot's messages
    # (the case number and PIN among them) and the victim's own, but not the final "done".
    assert set(bot_ids[:-1]) <= deleted
    assert set(tg.victim.message_ids) <= deleted
    assert bot_ids[-1] not in deleted

    conv = await _one_conversation(tg)
    assert conv["status"] == "closed" and conv["contact_sealed"] is None
    assert conv["pseudonym"].startswith("erased:")
    assert all(m["body_sealed"] is None and m["provider_key"] is None
               for m in await table(tg.config, "messages"))
    assert await table(tg.config, "case_codes") == []
    # The contact still counts: its anonymized record stays, linked to nobody.
    [record] = await table(tg.config, "intake_records")
    assert record["outcome"] == "disconnected" and record["pseudonym"].startswith("erased:")
    actions = [a["action"] for a in await table(tg.config, "audit_events")]
    assert "privacy.erased" in actions
    assert await stored_anywhere(tg.config, "Wombat-5512") == []

    # Writing again starts a new conversation that nothing links to the old one.
    await tg.send(tg.victim.text("hello again"))
    rows = await table(tg.config, "conversations")
    assert len(rows) == 2 and len({r["pseudonym"] for r in rows}) == 2


async def test_no_chat_id_name_or_text_stored_in_the_clear(tg: TgEnv,
                                                          log_guard: dict[str, str]) -> None:
    """The intake records (and every other table) hold no Telegram id, name or text."""
    log_guard.update(text=VICTIM_TEXT, part="Wombat-5512")
    await tg.send(tg.victim.text("/start"))
    await _press(tg, "Which language", "i:language:en")
    await tg.send(tg.victim.text(VICTIM_TEXT))
    await _press(tg, "being shared or posted", "i:spreading:yes")
    await _press(tg, "How old are you", "i:age:14_17")
    counselor = await _counselor(tg)
    cid = await counselor.take_next()
    assert (await counselor.close(cid)).status == 200
    [record] = await table(tg.config, "intake_records")
    flat = json.dumps(record, default=str)
    for needle in (str(CHAT), "Haneul-Quokka", "quokka_7731", "Wombat-5512"):
        assert needle not in flat
        assert await stored_anywhere(tg.config, needle) == [], needle


async def test_a_language_chosen_after_writing_moves_the_waiting_case(
        tg: TgEnv, log_guard: dict[str, str]) -> None:
    """/start asks the language first; a victim who writes before choosing opened their case
    in their Telegram app's language. Choosing another one moves the case (routing follows)."""
    log_guard.update(text=VICTIM_TEXT, part="Wombat-5512")
    await tg.send(tg.victim.text("/start"))
    await tg.send(tg.victim.text(VICTIM_TEXT))
    before = await _one_conversation(tg)
    await _press(tg, "Which language", "i:language:ko")
    after = await _one_conversation(tg)
    assert before["language"] != "ko" and after["language"] == "ko"
    async with open_deps(tg.config) as deps:
        [waiting] = [w for w in await deps.live.waiting() if w.conversation_id == after["id"]]
    assert waiting.language == "ko"
    assert "case.language_changed" in [a["action"] for a in await table(tg.config,
                                                                         "audit_events")]
