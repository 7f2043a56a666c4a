"""Erasure on the victim's request ("forget me"), the same for every channel.

What goes: the text of every message of this sender's conversations on the channel, the sealed
reply address, handover notes about them, evidence fingerprints and kept files, case numbers
and the links sent from the case page. Open conversations are closed at once with the same
anonymized intake record as a contact the victim ended (outcome "disconnected", no counselor's
form: it would describe a person who asked to be forgotten), so every contact is still
counted. Replies not yet delivered are cancelled.

What stays, and why: the conversation and message rows as bare timings (queue statistics and
the audit trail need them; they hold no text and no address), the anonymized intake records of
cases already closed (harm type, age band, platforms: no personal data), alerts and the audit
log (ids only). The sender's pseudonym is replaced by a random value on every row that kept
it, so nothing left can be linked back to the sender, nor to their next conversation. The
erasure itself is audited with ids and counts only. Channel-side clean-up (deleting messages
in the Telegram chat) is the channel's job. See docs/privacy.md and docs/telegram.md.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from hotline.audit import log as audit
from hotline.cases import case_rows, intake_store, livesync
from hotline.cases import conversations as convs
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Status
from hotline.domain.event_types import EventType
from hotline.evidence import service as evidence
from hotline.victim import casecode, casefile, selfservice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erased:
    conversations: tuple[str, ...]
    closed: tuple[str, ...]
    messages: int
    # The erased evidence ids (a channel may hold references to them, e.g. file ids).
    evidence_ids: tuple[int, ...] = ()


def _unlinkable() -> str:
    # Random, so the open-sender unique index never collides and nothing links rows together.
    return f"erased:{secrets.token_hex(16)}"


async def erase_sender(deps: Deps, channel: Channel, address: str,
                       actor_id: int | None = None) -> Erased:
    """Erase everything personal about the sender `address` on `channel` (idempotent)."""
    pseudonym = deps.keyring.pseudonymize(channel.value, address)
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        rows = await case_rows.of_sender(conn, channel, pseudonym)
        if not rows:
            return Erased((), (), 0)
        cids = [r.id for r in rows]
        opened = [(r.id, r.counselor_id) for r in rows if r.status is not Status.CLOSED]
        for cid, _holder in opened:
            # Every contact leaves its anonymized record, an erased one too (written before
            # the answers and the pseudonym go; the record's pseudonym is unlinked below).
            conv = await convs.get(conn, cid)
            raw = await convs.intake_answers_json(conn, cid)
            await case_rows.close_now(conn, cid, now)
            if conv is not None:
                await selfservice.write_left_record(conn, conv, raw, now)
        erased_messages = await case_rows.erase(conn, cids, _unlinkable)
        await intake_store.unlink(conn, cids, _unlinkable)
        erased_evidence = await evidence.erase(conn, cids)
        await casecode.drop(conn, cids)
        await casefile.erase_requests(conn, cids)
        closed = {cid for cid, _ in opened}
        for cid in cids:
            await audit.record(conn, at=now, actor_id=actor_id, action="privacy.erased",
                               target_kind="conversation", target_id=cid,
                               channel=channel.value, closed=cid in closed)
    for cid, holder in opened:
        await livesync.release_closed(deps, cid, "erasure")
        await deps.publish({"type": EventType.CLOSED, "conversation": cid, "counselor": holder})
    for cid in cids:
        await deps.publish({"type": EventType.ERASED, "conversation": cid})
    log.info("sender erased", extra={"channel": channel.value, "conversations": len(cids),
                                     "closed": len(opened), "messages": erased_messages,
                                     "evidence": len(erased_evidence)})
    return Erased(tuple(cids), tuple(c for c, _ in opened), erased_messages,
                  tuple(erased_evidence))
