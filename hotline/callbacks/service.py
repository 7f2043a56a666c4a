"""Call-back requests: a victim (by phone, SMS, or through a counselor on any channel) asks to be
called at a safe time, and says whether a voice message may be left.

A request waits in SQL until its window opens; then a job turns it into a voice conversation
of its own in the queue (reason "callback"), so it is routed like any other case. The counselor
who holds it places the call from the console, only inside the window (a call at another time
could put the victim in danger). A window that closes before anyone took the case ends it as
not reached and alerts the leads. Numbers are stored sealed; the conversation keeps its own
sealed copy and the request's is erased once the case is queued. See docs/twilio.md.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from hotline import metrics
from hotline.audit import log as audit
from hotline.callbacks import store
from hotline.cases import alerts, case_rows, inbox, intake_store, livesync
from hotline.cases import conversations as convs
from hotline.cases.casework import CaseConflict, load_case
from hotline.channels.twilio import store as calls
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Inbound, Status
from hotline.domain.event_types import EventType
from hotline.domain.phone import E164
from hotline.domain.staff import Staff
from hotline.jobs import run_leased
from hotline.prompts import Prompts
from hotline.staff import store as staff_store

log = logging.getLogger(__name__)

REASON = "callback"
# Choices offered by phone and SMS: 1 within the hour; 2 evening, 3 morning, 4 afternoon (the
# next such window in the centre's time zone, today if it has not ended yet).
WINDOWS: dict[str, tuple[int, int]] = {"2": (18, 21), "3": (9, 12), "4": (13, 18)}
CHOICES = ("1", *WINDOWS)
MAX_WINDOW = timedelta(hours=24)
TICK_S = 5.0
# Statuses from which the console may (re)try the call.
CALLABLE = ("queued", "unanswered")

Dialer = Callable[[str, str, store.Callback], Awaitable[str]]


def window_for(choice: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The (start, end) in UTC of a numbered window choice; None for an unknown choice."""
    if choice == "1":
        return now, now + timedelta(hours=1)
    hours = WINDOWS.get(choice)
    if hours is None:
        return None
    local = now.astimezone(tz)
    for day in (0, 1):
        d = (local + timedelta(days=day)).date()
        start = datetime(d.year, d.month, d.day, hours[0], tzinfo=tz)
        end = datetime(d.year, d.month, d.day, hours[1], tzinfo=tz)
        if end > local:
            return max(start, local).astimezone(UTC), end.astimezone(UTC)
    return None  # pragma: no cover - a window always recurs within two days


async def request(deps: Deps, *, number: str, language: str, start: datetime, end: datetime,
                  leave_message: bool, source_channel: Channel, source_key: str,
                  actor_id: int | None = None) -> store.Callback:
    """Record a call-back request (idempotent per `source_key`); ValueError if it is invalid."""
    now = datetime.now(UTC)
    if not E164.match(number):
        raise ValueError("number: expected an E.164 phone number")
    if not (start < end and end > now and end - start <= MAX_WINDOW):
        raise ValueError("window: expected a future window of at most 24 hours")
    cid = uuid.uuid4().hex
    try:
        async with deps.engine.begin() as conn:
            found = await store.callback_by_source(conn, source_key)
            if found is not None:
                return found
            await store.add_callback(
                conn, id=cid, source_key=source_key, source_channel=source_channel.value,
                pseudonym=deps.keyring.pseudonymize(Channel.VOICE.value, number),
                contact_sealed=deps.keyring.seal_text(number, f"callback:{cid}"),
                language=language, window_start=start, window_end=end,
                leave_message=leave_message, status="scheduled", created_at=now,
                updated_at=now)
            await audit.record(conn, at=now, actor_id=actor_id, action="callback.requested",
                               target_kind="callback", target_id=cid,
                               channel=source_channel.value, window_start=start.isoformat(),
                               window_end=end.isoformat(), leave_message=leave_message)
            made = await store.callback_get(conn, cid)
    except IntegrityError:
        # The same provider retry raced itself: the first request stands.
        async with deps.engine.connect() as conn:
            made = await store.callback_by_source(conn, source_key)
    assert made is not None
    await deps.publish({"type": EventType.CALLBACK, "callback": made.id, "state": made.status})
    log.info("callback requested", extra={"callback": made.id,
                                          "channel": source_channel.value})
    if made.window_start <= now:
        await open_due(deps, now)
    return made


async def by_source(deps: Deps, source_key: str) -> store.Callback | None:
    """The request a provider's message or call made (`source_key`), if it made one."""
    async with deps.engine.connect() as conn:
        return await store.callback_by_source(conn, source_key)


def confirmation(start: datetime, end: datetime, now: datetime, tz: ZoneInfo
                 ) -> dict[str, object]:
    """The window as every channel's *_callback_confirmed prompt says it: local start and end,
    and whether it is tomorrow."""
    local = start.astimezone(tz)
    return {"start": local.strftime("%H:%M"), "end": end.astimezone(tz).strftime("%H:%M"),
            "tomorrow": local.date() > now.astimezone(tz).date()}


def _marker(prompts: Prompts, cb: store.Callback, tz: ZoneInfo) -> str:
    return prompts.render(cb.language, "marker_callback",
                          start=cb.window_start.astimezone(tz).strftime("%m-%d %H:%M"),
                          end=cb.window_end.astimezone(tz).strftime("%H:%M"),
                          leave_message=cb.leave_message)


async def open_due(deps: Deps, now: datetime | None = None) -> int:
    """Queue every request whose window has opened; expire those whose window has passed."""
    now = now or datetime.now(UTC)
    tz = ZoneInfo(deps.config.roster.timezone)
    prompts = Prompts()
    async with deps.engine.connect() as conn:
        due = await store.callbacks_in(conn, ("scheduled",), start_before=now)
    opened = 0
    for cb in due:
        if cb.window_end <= now or cb.contact_sealed is None:
            await _finish(deps, cb, "expired", now)
            continue
        number = deps.keyring.open_text_or_none(cb.contact_sealed, f"callback:{cb.id}")
        if number is None:
            # Damaged, or sealed under another key: nobody can call this number. Ending it
            # (audited) keeps it from stopping every later request at each pass.
            await _finish(deps, cb, "expired", now)
            continue
        stored = await inbox.receive(deps, Inbound(
            channel=Channel.VOICE, address=number, text=_marker(prompts, cb, tz),
            provider_id=f"callback:{cb.id}", language=cb.language, received_at=now,
            keep_contact=True, system=True),
            # The request was counted when it was made; its window opening is ours.
            limited=False)
        async with deps.engine.begin() as conn:
            conv = await convs.get(conn, stored.conversation_id)
            if conv is not None and REASON not in conv.reasons:
                await case_rows.add_reason(conn, conv.id, (*conv.reasons, REASON))
            moved = await store.update_callback(conn, cb.id, now, only_statuses=("scheduled",),
                                                status="queued", contact_sealed=None,
                                                conversation_id=stored.conversation_id)
        if moved:
            opened += 1
            await deps.publish({"type": EventType.CALLBACK, "callback": cb.id, "state": "queued",
                                "conversation": stored.conversation_id})
    async with deps.engine.connect() as conn:
        late = await store.callbacks_in(conn, ("queued", "scheduled"), end_before=now)
    for cb in late:
        await _finish(deps, cb, "expired", now)
    return opened


async def _finish(deps: Deps, cb: store.Callback, status: str, now: datetime) -> None:
    async with deps.engine.begin() as conn:
        if not await store.update_callback(conn, cb.id, now,
                                           only_statuses=("scheduled", "queued"),
                                           status=status, contact_sealed=None):
            return
        await audit.record(conn, at=now, actor_id=None, action=f"callback.{status}",
                           target_kind="callback", target_id=cb.id)
    await deps.publish({"type": EventType.CALLBACK, "callback": cb.id, "state": status,
                        "conversation": cb.conversation_id})
    if cb.conversation_id and await abandon(deps, cb.conversation_id, now, "callback.expired"):
        # Nobody took the case inside the safe window: the leads should know.
        await alerts.raise_lead_alert(deps, cb.conversation_id, "callback_missed")


# The abandonment figures count callers who hung up and call-backs nobody made in time (not
# a caller who chose a call-back over waiting: their contact goes on).
_ABANDONED_HOW = {"call.abandoned": "hung_up", "callback.expired": "callback_expired"}


async def abandon(deps: Deps, conversation_id: str, at: datetime, action: str) -> bool:
    """Close a still-waiting phone case nobody reached: the caller hung up, or a call-back
    window closed. Writes the intake record (outcome "disconnected", the wait so far, no
    counselor) and takes it out of the live queue. False if it was not waiting any more."""
    retention = deps.config.retention
    async with deps.engine.begin() as conn:
        conv = await convs.get(conn, conversation_id)
        if conv is None or conv.status != Status.WAITING:
            return False
        if not await convs.close(conn, conversation_id, at,
                                 purge_contact_at=at + timedelta(days=retention.contact_days),
                                 purge_transcript_at=at + timedelta(
                                     days=retention.transcript_days)):
            return False
        waited = max(0, int((at - conv.enqueued_at).total_seconds()))
        if not await intake_store.exists(conn, conversation_id):
            # Nothing is known of the harm: "unknown" keeps these out of the harm statistics.
            await intake_store.write(conn, intake_store.record_of(
                conv, closed_at=at, wait_seconds=waited, handling_seconds=0,
                harm_type="unknown", outcome="disconnected", counselor_id=None))
        await audit.record(conn, at=at, actor_id=None, action=action,
                           target_kind="conversation", target_id=conversation_id,
                           waited_s=waited)
    await livesync.release_closed(deps, conversation_id, "abandoned")
    await deps.publish({"type": EventType.CLOSED, "conversation": conversation_id,
                        "counselor": None,
                        "outcome": "disconnected"})
    how = _ABANDONED_HOW.get(action)
    if how is not None:
        metrics.ABANDONED.labels(conv.channel.value, how).inc()
    log.info("case abandoned", extra={"conversation": conversation_id, "waited_s": waited,
                                      "action": action})
    return True


async def for_case(deps: Deps, staff: Staff, conversation_id: str) -> store.Callback | None:
    """The call-back request behind a case, for someone allowed to read the case."""
    async with deps.engine.connect() as conn:
        await load_case(conn, staff, conversation_id)
        return await store.callback_for_conversation(conn, conversation_id)


async def place_call(deps: Deps, staff: Staff, conversation_id: str, dial: Dialer) -> str:
    """The holder of a call-back case calls the victim now: `dial(counselor phone, victim
    number, request)` rings the counselor and then the victim. Returns the call's id.

    CaseConflict says why not: not your case, outside the window, no phone number, ..."""
    now = datetime.now(UTC)
    async with deps.engine.connect() as conn:
        conv = await load_case(conn, staff, conversation_id)
        if conv.status != Status.ACTIVE or conv.counselor_id != staff.id:
            raise CaseConflict("only the counselor holding the case can call")
        cb = await store.callback_for_conversation(conn, conversation_id)
        if cb is None:
            raise CaseConflict("no call-back request for this case")
        if not cb.window_start <= now < cb.window_end:
            raise CaseConflict("outside the safe window the victim chose")
        if cb.status not in CALLABLE:
            raise CaseConflict(f"call-back is {cb.status}")
        phone = await staff_store.phone_sealed(conn, staff.id)
        contact = await case_rows.contact_sealed(conn, conversation_id)
    if phone is None:
        raise CaseConflict("no phone number on file for you (hotline counselor phone NAME)")
    if contact is None:
        raise CaseConflict("the number is no longer kept")
    async with deps.engine.begin() as conn:
        if not await store.update_callback(conn, cb.id, now, only_statuses=CALLABLE,
                                           status="calling", attempts=cb.attempts + 1):
            raise CaseConflict("a call is already being placed")
    try:
        sid = await dial(deps.keyring.open_text(phone, f"counselor_phone:{staff.id}"),
                         deps.keyring.open_text(bytes(contact), f"contact:{conversation_id}"),
                         cb)
    except Exception:
        async with deps.engine.begin() as conn:
            await store.update_callback(conn, cb.id, datetime.now(UTC), status=cb.status)
        raise
    async with deps.engine.begin() as conn:
        await calls.add_call(conn, call_sid=sid, direction="callback", state="callback",
                             at=now, conversation_id=conversation_id, language=cb.language,
                             counselor_id=staff.id)
        await audit.record(conn, at=now, actor_id=staff.id, action="callback.placed",
                           target_kind="conversation", target_id=conversation_id,
                           callback=cb.id, attempt=cb.attempts + 1)
    await deps.publish({"type": EventType.CALLBACK, "callback": cb.id, "state": "calling",
                        "conversation": conversation_id, "counselor": staff.id})
    return sid


async def may_leave_message(deps: Deps, call_sid: str) -> bool:
    """Whether the victim of the call-back placed as `call_sid` allowed a voice message
    (False when unknown: no voicemail unless chosen)."""
    async with deps.engine.connect() as conn:
        call = await calls.get_call(conn, call_sid)
        if call is None or call.direction != "callback" or call.conversation_id is None:
            return False
        cb = await store.callback_for_conversation(conn, call.conversation_id)
    return cb is not None and cb.leave_message


async def call_result(deps: Deps, call_sid: str, answered: bool) -> None:
    """The outcome of a placed call-back (from the dial action or the call's status)."""
    now = datetime.now(UTC)
    state = "done" if answered else "unanswered"
    async with deps.engine.begin() as conn:
        call = await calls.get_call(conn, call_sid)
        if call is None or call.direction != "callback" or call.conversation_id is None:
            return
        cb = await store.callback_for_conversation(conn, call.conversation_id)
        if cb is None or not await store.update_callback(conn, cb.id, now,
                                                         only_statuses=("calling",),
                                                         status=state):
            return
        await calls.update_call(conn, call_sid, now, state="ended")
        await audit.record(conn, at=now, actor_id=None, action=f"callback.{state}",
                           target_kind="conversation", target_id=call.conversation_id,
                           callback=cb.id)
    await deps.publish({"type": EventType.CALLBACK, "callback": cb.id, "state": state,
                        "conversation": call.conversation_id})


async def run_callbacks(deps: Deps, stop: asyncio.Event, every_s: float = TICK_S) -> None:
    """Until `stop`: open due call-back windows and expire passed ones (one instance at a
    time). Stopping between passes, not by cancel, never cuts a database call in half."""
    async def one_pass() -> None:
        try:
            await open_due(deps)
        except (RedisError, OSError):
            raise
        except Exception:  # a bad row must not stop the job for everyone else
            log.exception("callback job failed")

    await run_leased(deps.redis, deps.keys.job_lock("callbacks"), every_s, one_pass, stop)
