"""SMS commands of the victim's way back (docs/victim.md), and MMS pictures as evidence.

Commands, each the whole message (folded by sms_text.keyword), in Korean and English:
- "CASE" / "사건번호": a case number and a new PIN for the sender's latest conversation;
- "CASE HL-XXXX-XXXX 123456" / "사건 HL-XXXX-XXXX 123456": the case in plain words; the
  sender's next new conversation is then a return of it;
- "FORGET" / "기록삭제": asks for a confirmation, "ERASE" / "삭제확인" within 15 minutes
  erases everything of this number (forget.erase_sender); anything else keeps it.
`parse` is pure; `answer` does what a command asks and returns the reply.

MMS: a picture's bytes are fetched from Twilio's media URL with the account's credentials
(never from the URL as sent: only its media id is read, and the configured API base is
used), fingerprinted like a Telegram photo (SHA-256, PDQ), dropped, and deleted at Twilio.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from redis.exceptions import RedisError
from twilio.base.exceptions import TwilioException

from hotline.cases import conversations as convs
from hotline.channels.telegram import media as fingerprints
from hotline.channels.twilio.common import Runtime
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Inbound
from hotline.evidence import service as evidence
from hotline.prompts import Prompts
from hotline.victim import casecode, forget, victimcase

log = logging.getLogger(__name__)

# An SMS erasure keyword waits this long for its confirmation.
FORGET_CONFIRM_TTL_S = 15 * 60

ISSUE_WORDS = frozenset({"case", "case number", "사건번호", "사건 번호"})
LOOKUP_WORDS = ("case", "사건번호", "사건")
FORGET_WORDS = frozenset({"forget", "forget me", "erase me", "delete me", "기록삭제",
                          "기록 삭제", "내기록삭제", "내 기록 삭제"})
CONFIRM_WORDS = frozenset({"erase", "삭제확인", "삭제 확인"})
_LOOKUP = re.compile(r"^(case|사건번호|사건)\s+((?:hl)?[\s-]*[0-9a-z]{4}[\s-]*[0-9a-z]{4})\s+"
                     r"([0-9]{6})$")
_MEDIA_SID = re.compile(r"/Media/(ME[0-9a-f]{32})$")
_MB = 1024 * 1024


@dataclass(frozen=True)
class Command:
    # issue | lookup | forget | confirm
    kind: str
    number: str = ""
    pin: str = ""


def parse(folded: str) -> Command | None:
    """The command a whole (folded) message is, or None for words to a counselor."""
    if folded in ISSUE_WORDS:
        return Command("issue")
    if folded in FORGET_WORDS:
        return Command("forget")
    if folded in CONFIRM_WORDS:
        return Command("confirm")
    m = _LOOKUP.match(folded)
    if m:
        return Command("lookup", m.group(2), m.group(3))
    return None


def reply_language(body: str, fallback: str, supported: tuple[str, ...]) -> str:
    """Korean words are answered in Korean, English ones in English."""
    if "ko" in supported and re.search("[\uac00-\ud7a3]", body):
        return "ko"
    if "en" in supported and re.search("[A-Za-z]", body.replace("HL", "").replace("hl", "")):
        return "en"
    return fallback


async def pending_erasure(deps: Deps, pseudonym: str) -> bool:
    try:
        return bool(await deps.redis.exists(deps.keys.forget_pending(pseudonym)))
    except (RedisError, OSError):
        return False


async def answer(deps: Deps, prompts: Prompts, msg: Inbound, pseudonym: str, cmd: Command,
                 lang: str) -> str:
    """Do what the command asks; the reply to send."""
    if cmd.kind == "forget":
        try:
            await deps.redis.set(deps.keys.forget_pending(pseudonym), "1",
                                 ex=FORGET_CONFIRM_TTL_S)
        except (RedisError, OSError):
            pass  # the confirmation then finds nothing pending and is kept as a message
        return prompts.render(lang, "victim/sms_forget_confirm")
    if cmd.kind == "confirm":
        try:
            await deps.redis.delete(deps.keys.forget_pending(pseudonym))
        except (RedisError, OSError):
            pass
        await forget.erase_sender(deps, Channel.SMS, msg.address)
        return prompts.render(lang, "victim/sms_forget_done")
    if cmd.kind == "issue":
        async with deps.engine.connect() as conn:
            conv = await convs.latest_for(conn, Channel.SMS, pseudonym)
        if conv is None:
            return prompts.render(lang, "victim/case_none")
        issued = await casecode.issue(deps, conv.id)
        url = deps.config.server.public_url.rstrip("/") + "/chat/case"
        return prompts.render(lang, "victim/case_issued", number=issued.case_number,
                              pin=issued.pin, url=url)
    return await _lookup(deps, prompts, msg, pseudonym, cmd, lang)


async def _lookup(deps: Deps, prompts: Prompts, msg: Inbound, pseudonym: str, cmd: Command,
                  lang: str) -> str:
    try:
        view = await casecode.lookup(deps, cmd.number, cmd.pin, client=pseudonym,
                                     sender=pseudonym)
    except casecode.ClientLimited:
        return prompts.render(lang, "victim/case_lookup_limited")
    except casecode.Locked:
        return prompts.render(lang, "victim/case_lookup_locked")
    if view is None:
        return prompts.render(lang, "victim/case_lookup_wrong")
    summary = await victimcase.summary(deps, view)
    await victimcase.remember_return(deps, Channel.SMS, msg.address, view.conversation_id)
    lines = victimcase.describe(prompts, lang, summary)
    return "\n".join([*lines, prompts.render(lang, "victim/case_return_hint")])


def media_sid(url: str) -> str | None:
    """The media id at the end of a Twilio media URL, or None."""
    m = _MEDIA_SID.search(url)
    return m.group(1) if m else None


async def fingerprint_mms(deps: Deps, rt: Runtime, message_sid: str, media: str, mime: str,
                          conversation_id: str, seq: int) -> bool:
    """Fetch one MMS picture, record its fingerprints, delete it at Twilio. False if it
    could not be fetched or is not a picture we take."""
    if mime not in fingerprints.IMAGE_TYPES:
        return False
    base = deps.config.twilio.api_base_url.rstrip("/")
    sid = rt.creds.account_sid
    url = f"{base}/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media/{media}"
    limit = deps.config.telegram.max_file_mb * _MB
    try:
        async with asyncio.timeout(rt.config.rest_timeout_seconds):
            auth = aiohttp.encode_basic_auth(sid, rt.creds.auth_token)
            async with rt.http.session.get(url, headers={"Authorization": auth}) as resp:
                if resp.status != 200:
                    log.warning("mms fetch refused", extra={"status": resp.status})
                    return False
                data = await resp.content.read(limit + 1)
    except (TimeoutError, aiohttp.ClientError, OSError) as e:
        log.warning("mms fetch failed", extra={"error": type(e).__name__})
        return False
    if not data or len(data) > limit:
        return False
    fp = await asyncio.get_running_loop().run_in_executor(None, fingerprints.fingerprint,
                                                          data, mime)
    eid = await evidence.record(deps, conversation_id=conversation_id, message_seq=seq,
                                kind="photo", mime=mime, size_bytes=len(data),
                                sha256=fp.sha256, pdq=fp.pdq, pdq_quality=fp.pdq_quality)
    # Fingerprints only: no consent was asked on SMS, so the picture is never kept.
    await evidence.decline(deps, eid)
    try:
        await rt.rest(rt.client.api.v2010.accounts(sid).messages(message_sid)
                      .media(media).delete_async())
    except (TimeoutError, TwilioException, aiohttp.ClientError, OSError) as e:
        log.warning("mms media not deleted at twilio", extra={"error": type(e).__name__})
    log.info("mms fingerprinted", extra={"conversation": conversation_id, "evidence": eid})
    return True


def pictures(form: Mapping[str, str]) -> list[tuple[str, str]]:
    """(media id, content type) of the MMS pictures in a webhook's form (at most 3)."""
    found = []
    for i in range(3):
        sid = media_sid(str(form.get(f"MediaUrl{i}", "")))
        mime = str(form.get(f"MediaContentType{i}", "")).lower()
        if sid is not None:
            found.append((sid, mime))
    return found
