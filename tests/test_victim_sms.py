"""The victim's way back by SMS, through the real app and twilio's own client against the
stand-in (SQLite and PostgreSQL): case number and look-up commands and erasure in Korean and
English, a look-up making the next conversation a return, MMS pictures fingerprinted from
Twilio's media, and a call that ends with its case number read out (docs/victim.md)."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from hotline.channels.telegram.media import fingerprint
from hotline.domain.conversation import Channel
from hotline.victim import casecode, selfservice
from tests.conftest import Database, RedisProcess, wait_for
from tests.floor import presence, staff
from tests.telegram_standin import stored_anywhere
from tests.twilio_support import (
    ACCOUNT_SID,
    Env,
    Hooks,
    StandIn,
    call_params,
    new_sid,
    says,
    set_counselor_phone,
    sms_params,
    standin,
    twilio_app,
)
from tests.victim_support import REFERRALS, rows

__all__ = ["standin"]  # fixtures

VICTIM = "+821012340077"
V = "/webhooks/twilio/voice"
STRANGER = "+821099990000"
_NUMBER = re.compile(r"HL-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture
async def env(tmp_path: Path, database: Database, redis_server: RedisProcess,
              standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    async with twilio_app(tmp_path, database, redis_server, standin, monkeypatch,
                          referrals=REFERRALS) as runner:
        yield Env(runner, standin, Hooks(await runner.client()))


def said(root: Any) -> str:
    return "\n".join(m.text or "" for m in root.iter("Message"))


WORDS = {
    "ko": {"hello": "도와주세요 사진이 퍼졌어요", "issue": "사건번호", "lookup": "사건",
           "number": "사건 번호", "forget": "기록삭제", "confirm": "삭제확인",
           "asked": "삭제확인", "done": "지웠습니다", "wrong": "맞지 않습니다",
           "state": "상담원 연결을 기다리고"},
    "en": {"hello": "please help my photo was shared", "issue": "CASE", "lookup": "CASE",
           "number": "Your case number", "forget": "FORGET", "confirm": "ERASE",
           "asked": "reply ERASE", "done": "Erased", "wrong": "do not match",
           "state": "waiting for a counselor"},
}


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_case_number_and_lookup_commands(env: Env, lang: str) -> None:
    w = WORDS[lang]
    await env.hooks.sms(VICTIM, w["hello"])
    reply = said(await env.hooks.sms(VICTIM, w["issue"]))
    assert w["number"] in reply
    number = _NUMBER.search(reply)
    pin = re.search(r"\b(\d{6})\b", reply)
    assert number and pin
    wrong = said(await env.hooks.sms(STRANGER, f"{w['lookup']} {number.group(0)} 000000"))
    assert w["wrong"] in wrong
    found = said(await env.hooks.sms(STRANGER,
                                     f"{w['lookup']} {number.group(0)} {pin.group(1)}"))
    assert number.group(0) in found and w["state"] in found
    # The commands are not words to a counselor: not in the transcript.
    messages = await rows(env.runner.config, "messages")
    assert len([m for m in messages if m["direction"] == "in"]) == 1


async def test_lookup_makes_the_next_conversation_a_return(env: Env) -> None:
    await env.hooks.sms(VICTIM, "도와주세요")
    reply = said(await env.hooks.sms(VICTIM, "사건번호"))
    number, pin = _NUMBER.search(reply), re.search(r"\b(\d{6})\b", reply)
    assert number and pin
    root = await selfservice.stop(env.deps, Channel.SMS, VICTIM)
    assert root is not None
    # From a new phone the victim looks the case up, then writes.
    new_phone = "+821055554444"
    await env.hooks.sms(new_phone, f"사건 {number.group(0)} {pin.group(1)}")
    await env.hooks.sms(new_phone, "다른 곳에도 올라왔어요")
    convs = await rows(env.runner.config, "conversations")
    [back] = [c for c in convs if c["id"] != root]
    assert back["return_of"] == root
    actions = [a["action"] for a in await rows(env.runner.config, "audit_events")]
    assert "case.returned" in actions


@pytest.mark.parametrize("lang", ["ko", "en"])
async def test_erasure_by_sms_with_a_confirmation(env: Env, lang: str) -> None:
    w = WORDS[lang]
    await env.hooks.sms(VICTIM, "Wombat-3311 " + w["hello"])
    # The confirmation word alone, with nothing asked: words to a counselor.
    await env.hooks.sms(VICTIM, w["confirm"])
    assert w["asked"] in said(await env.hooks.sms(VICTIM, w["forget"]))
    assert w["done"] in said(await env.hooks.sms(VICTIM, w["confirm"]))
    assert await stored_anywhere(env.runner.config, "Wombat-3311") == []
    [record] = await rows(env.runner.config, "intake_records")
    assert record["outcome"] == "disconnected" and record["pseudonym"].startswith("erased:")
    [conv] = await rows(env.runner.config, "conversations")
    assert conv["contact_sealed"] is None and conv["status"] == "closed"


def _picture() -> bytes:
    im = Image.new("RGB", (160, 120), (230, 230, 230))
    draw = ImageDraw.Draw(im)
    for i in range(0, 160, 16):
        draw.line((i, 0, 160 - i, 120), fill=(i, 20, 200 - i), width=4)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


async def test_mms_picture_is_fingerprinted_and_deleted_at_twilio(env: Env) -> None:
    data = _picture()
    sid, media = new_sid("MM"), "ME" + "ab" * 16
    env.standin.media[media] = (data, "image/png")
    params = sms_params(VICTIM, "", sid)
    # Whatever host the webhook names, only the media id is read: the picture comes from the
    # configured Twilio API with the account's credentials.
    params.update(NumMedia="1", MediaContentType0="image/png",
                  MediaUrl0=f"http://169.254.169.254/2010-04-01/Accounts/{ACCOUNT_SID}"
                            f"/Messages/{sid}/Media/{media}")
    reply = said(await env.hooks.twiml("/webhooks/twilio/sms", params))
    assert "지문" in reply or "fingerprint" in reply
    [row] = await rows(env.runner.config, "evidence")
    expected = fingerprint(data, "image/png")
    assert (row["sha256"], row["pdq"]) == (expected.sha256, expected.pdq)
    assert row["consent"] == "declined"
    assert await rows(env.runner.config, "evidence_files") == []
    assert env.standin.media_deleted == [media]
    # A provider retry records nothing twice.
    await env.hooks.twiml("/webhooks/twilio/sms", params)
    assert len(await rows(env.runner.config, "evidence")) == 1


async def test_call_ends_with_the_case_number_read_out(env: Env) -> None:
    mina = await staff(env.runner, "mina")
    await set_counselor_phone(env.deps, mina.id, "+821077347734")
    await presence(mina, "available")
    sid = new_sid("CA")
    for path, extra in ((V, {}), (f"{V}/language", {"Digits": "1"}),
                        (f"{V}/menu", {"Digits": "1"})):
        await env.hooks.twiml(path, call_params(sid, VICTIM, **extra))
    await mina.take_next()

    async def bridged() -> Any:
        return env.standin.of("call_update")
    await wait_for(bridged)
    end = await env.hooks.twiml(f"{V}/dial", call_params(sid, VICTIM,
                                                         DialCallStatus="completed"))
    spoken = " ".join(s.text or "" for s in says(end))
    assert "사건 번호는 H L, " in spoken
    pin = re.search(r"PIN은 ((?:\d ){5}\d)", spoken)
    assert pin is not None
    [code] = await rows(env.runner.config, "case_codes")
    typed = spoken.split("사건 번호는 ")[1].split(" 입니다")[0].replace(" ", "")
    view = await casecode.lookup(env.deps, typed.replace(",", "-"), pin.group(1).replace(" ", ""))
    assert view is not None and view.conversation_id == code["conversation_id"]
