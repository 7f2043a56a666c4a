"""What a victim can do about their own conversation from any channel: ask how it stands, and
end it. Channels identify the victim only by their channel address (pseudonymized here).

Ending a conversation closes it at once, waiting or active, and writes the anonymized intake
record with the outcome "disconnected" (harm type "other": the form has no "unknown", and the
victim left before a counselor could say): statistics still count the contact. A counselor who
held it sees it close. See docs/telegram.md.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.audit import log as audit
from hotline.cases import case_rows, intake_store, livesync, waitinfo
from hotline.cases import conversations as convs
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Status
from hotline.domain.event_types import EventType
from hotline.domain.intake import PLATFORMS
from hotline.victim import casefile

log = logging.getLogger(__name__)

# The intake age groups a channel asks, as the intake form's age bands.
_AGE_BANDS = {"under_14": "under_14", "14_17": "14_17"}


@dataclass(frozen=True)
class VictimStatus:
    # none | waiting | active | closed
    state: str
    conversation_id: str | None = None
    language: str | None = None
    wait: waitinfo.WaitInfo | None = None
    # The latest counselor reply: none | sending | sent | failed
    reply: str = "none"


async def status(deps: Deps, channel: Channel, address: str) -> VictimStatus:
    """The sender's latest conversation on the channel: queue place or reply state."""
    pseudonym = deps.keyring.pseudonymize(channel.value, address)
    async with deps.engine.connect() as conn:
        conv = await convs.latest_for(conn, channel, pseudonym)
        if conv is None:
            return VictimStatus("none")
        last = await case_rows.last_reply_delivery(conn, conv.id)
    reply = {None: "none", "pending": "sending", "retrying": "sending",
             "failed": "failed"}.get(last, "sent")
    wait = await waitinfo.wait_info(deps, conv.id) if conv.status == Status.WAITING else None
    return VictimStatus(conv.status.value, conv.id, conv.language, wait, reply)


async def stop(deps: Deps, channel: Channel, address: str) -> str | None:
    """End the sender's open conversation; its id, or None if none was open."""
    pseudonym = deps.keyring.pseudonymize(channel.value, address)
    now = datetime.now(UTC)
    retention = deps.config.retention
    async with deps.engine.begin() as conn:
        conv = await convs.find_open(conn, channel, pseudonym)
        if conv is None:
            return None
        raw = await convs.intake_answers_json(conn, conv.id)
        if not await convs.close(conn, conv.id, now,
                                 purge_contact_at=now + timedelta(days=retention.contact_days),
                                 purge_transcript_at=now + timedelta(
                                     days=retention.transcript_days)):
            return None
        await write_left_record(conn, conv, raw, now)
        await audit.record(conn, at=now, actor_id=None, action="case.ended_by_victim",
                           target_kind="conversation", target_id=conv.id,
                           was=conv.status.value)
    await livesync.release_closed(deps, conv.id, "victim_stop")
    await deps.publish({"type": EventType.CLOSED, "conversation": conv.id,
                        "counselor": conv.counselor_id})
    log.info("conversation ended by victim", extra={"conversation": conv.id,
                                                    "channel": channel.value})
    return conv.id


async def set_language(deps: Deps, channel: Channel, address: str, language: str) -> bool:
    """The victim chose another language for their open conversation: it is routed (and
    answered) in that one from now on. False if nothing open or nothing changed."""
    if language not in deps.config.languages.supported:
        raise ValueError(f"language: {language!r} is not offered")
    pseudonym = deps.keyring.pseudonymize(channel.value, address)
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        conv = await convs.find_open(conn, channel, pseudonym)
        if conv is None or conv.language == language:
            return False
        await case_rows.set_language(conn, conv.id, language)
        await audit.record(conn, at=now, actor_id=None, action="case.language_changed",
                           target_kind="conversation", target_id=conv.id, language=language)
    try:
        # The queue's copy of the case follows; its place is kept.
        await deps.live.refresh_item(livesync.as_waiting(replace(conv, language=language)))
    except (RedisError, OSError) as e:
        log.warning("live language not updated; reconciler will fix it",
                    extra={"conversation": conv.id, "error": type(e).__name__})
    await deps.publish({"type": EventType.LANGUAGE, "conversation": conv.id, "language": language})
    return True


async def write_left_record(conn: AsyncConnection, conv: convs.ConversationRow, raw_answers: str,
                            now: datetime) -> None:
    """The anonymized intake record of a contact that ended without a counselor's form (the
    victim stopped, or asked to be forgotten): outcome "disconnected", harm type "other", the
    age band and platform the victim gave; the referrals they were given."""
    answers = _answers(raw_answers)
    started = conv.assigned_at or now
    await intake_store.write(conn, intake_store.record_of(
        conv, closed_at=now, wait_seconds=int((started - conv.enqueued_at).total_seconds()),
        handling_seconds=int((now - started).total_seconds()) if conv.assigned_at else 0,
        harm_type="other", platforms=_platform(answers),
        age_band=_AGE_BANDS.get(str(answers.get("age_group")), "unknown"),
        outcome="disconnected", counselor_id=conv.counselor_id,
        referred_to=",".join(await casefile.referrals_of(conn, conv.id))))


def _answers(raw: str) -> dict[str, object]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _platform(answers: dict[str, object]) -> str:
    p = answers.get("platform")
    return p if isinstance(p, str) and p in PLATFORMS else ""
