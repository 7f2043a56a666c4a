"""A victim's case, seen and used with its number and PIN from any channel (docs/victim.md).

A case is the conversation its number was issued for plus every conversation opened as a
return of it. What a victim may do with the number and PIN: see the case's state and that of
its takedown requests in plain words (platform names only if they did not hide them), add a
link (a location on the case's content item when the desk has one, else a note kept sealed for
takedown staff), open a new conversation that counselors see as a return of the case, and
withdraw consent (requests not yet sent stop). Every one of these is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.exceptions import RedisError

from hotline.audit import log as audit
from hotline.cases import case_rows, casework, inbox
from hotline.cases.conversations import intake_answers_json
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Inbound, Status
from hotline.domain.event_types import EventType
from hotline.domain.locations import parse_location
from hotline.domain.referrals import Referral, for_case
from hotline.domain.staff import Staff
from hotline.prompts import Prompts
from hotline.stores.live.keys import CASE_RETURN_TTL_S
from hotline.victim import case_takedown, casecode, casefile
from hotline.victim.casecode import CaseView

log = logging.getLogger(__name__)

RETURN = EventType.CASE_RETURN
REQUEST = EventType.CASE_REQUEST


@dataclass(frozen=True)
class Summary:
    case_number: str
    root_id: str
    # Of the case's latest conversation: waiting | active | closed.
    state: str
    language: str
    opened_at: datetime
    last_activity_at: datetime
    contacts: int
    items: tuple[case_takedown.ItemState, ...]
    links_sent: int
    consent_withdrawn: bool
    hide_platforms: bool
    # The directory entries that fit the case's situation (config [[referrals.entries]]).
    referrals: tuple[Referral, ...] = ()

    @property
    def may_return(self) -> bool:
        """A new conversation may be opened (none of the case's is open)."""
        return self.state == Status.CLOSED.value


async def summary(deps: Deps, view: CaseView) -> Summary:
    async with deps.engine.connect() as conn:
        convs = await case_rows.case_conversations(conn, view.conversation_id)
        reqs = await casefile.requests(conn, view.conversation_id)
        hide = await casefile.hide_platforms(conn, view.conversation_id)
    items = await case_takedown.desk().items_for_case(deps, [c.id for c in convs])
    first, last = convs[0], convs[-1]
    return Summary(
        case_number=view.case_number, root_id=view.conversation_id, state=last.status,
        language=last.language, opened_at=first.created_at,
        last_activity_at=max(c.last_activity_at for c in convs), contacts=len(convs),
        items=items, links_sent=sum(1 for r in reqs if r.kind == casefile.LINK),
        consent_withdrawn=any(r.kind == casefile.CONSENT_WITHDRAWN for r in reqs),
        hide_platforms=hide, referrals=for_case(
            deps.config.referrals.entries, first.intake_answers,
            [r for c in convs for r in c.urgency_reasons.split(",")]))


def describe(prompts: Prompts, lang: str, s: Summary) -> list[str]:
    """The case in plain words, one line each (the web page lists them, SMS and Telegram
    join them)."""
    day = s.opened_at.date().isoformat()
    lines = [prompts.render(lang, "victim/case_heading", number=s.case_number, date=day,
                            contacts=s.contacts),
             prompts.render(lang, f"victim/case_state_{s.state}")]
    if not s.items:
        lines.append(prompts.render(lang, "victim/case_td_none"))
    for n, item in enumerate(s.items, 1):
        status = prompts.render(lang, f"victim/case_item_{item.status}")
        lines.append(prompts.render(lang, "victim/case_td_item", n=n, status=status))
        for req in item.requests:
            where = (prompts.render(lang, "victim/case_platform_hidden") if s.hide_platforms
                     else prompts.render(lang, "victim/case_platform", code=req.platform))
            state = prompts.render(lang, f"victim/case_req_{req.state}")
            lines.append(prompts.render(lang, "victim/case_td_request", platform=where,
                                        state=state))
    if s.links_sent:
        lines.append(prompts.render(lang, "victim/case_links_sent", count=s.links_sent))
    if s.consent_withdrawn:
        lines.append(prompts.render(lang, "victim/case_consent_withdrawn"))
    return lines


class BadLink(ValueError):
    """Not a link we can act on; `field` names the form field."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field}: expected a web address or a t.me link")
        self.field = field


async def add_link(deps: Deps, root_id: str, text: str, field: str = "link") -> str:
    """A link the victim found: a location on the case's (first) content item, or a sealed
    note for takedown staff when the desk has no item yet. "location" or "note"."""
    try:
        location = parse_location(text, field)
    except ValueError:
        raise BadLink(field) from None
    now = datetime.now(UTC)
    async with deps.engine.connect() as conn:
        ids = [c.id for c in await case_rows.case_conversations(conn, root_id)]
    items = await case_takedown.desk().items_for_case(deps, ids)
    if items and await case_takedown.desk().add_location(deps, items[0].id, location.url):
        how = "location"
        async with deps.engine.begin() as conn:
            await audit.record(conn, at=now, actor_id=None, action="case.link_added",
                               target_kind="conversation", target_id=root_id,
                               item=items[0].id, platform=location.platform)
    else:
        how = "note"
        sealed = deps.keyring.seal_text(location.url, f"case-request:{root_id}")
        async with deps.engine.begin() as conn:
            rid = await casefile.add_request(conn, root_id, casefile.LINK, sealed, now)
            await audit.record(conn, at=now, actor_id=None, action="case.link_sent",
                               target_kind="conversation", target_id=root_id, request=rid,
                               platform=location.platform)
    await deps.publish({"type": REQUEST, "conversation": root_id, "kind": casefile.LINK})
    log.info("victim sent a link", extra={"conversation": root_id, "as": how})
    return how


async def withdraw_consent(deps: Deps, root_id: str) -> int:
    """The victim withdraws consent: recorded (once) and requests not yet sent stop; how
    many were stopped."""
    now = datetime.now(UTC)
    async with deps.engine.connect() as conn:
        ids = [c.id for c in await case_rows.case_conversations(conn, root_id)]
        already = await casefile.consent_withdrawn(conn, root_id)
    stopped = await case_takedown.desk().withdraw_consent(deps, ids)
    if not already:
        async with deps.engine.begin() as conn:
            await casefile.add_request(conn, root_id, casefile.CONSENT_WITHDRAWN, None, now)
            await audit.record(conn, at=now, actor_id=None, action="case.consent_withdrawn",
                               target_kind="conversation", target_id=root_id,
                               drafts_stopped=stopped)
        await deps.publish({"type": REQUEST, "conversation": root_id,
                            "kind": casefile.CONSENT_WITHDRAWN})
    return stopped


async def set_hide_platforms(deps: Deps, root_id: str, hide: bool) -> None:
    async with deps.engine.begin() as conn:
        await casefile.set_hide_platforms(conn, root_id, hide)


async def mark_return(deps: Deps, conversation_id: str, root_id: str) -> bool:
    """Make a new conversation a return of the case (once); the counselor sees it as such."""
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        if not await case_rows.set_return_of(conn, conversation_id, root_id):
            return False
        await audit.record(conn, at=now, actor_id=None, action="case.returned",
                           target_kind="conversation", target_id=conversation_id,
                           return_of=root_id)
    await deps.publish({"type": RETURN, "conversation": conversation_id,
                        "return_of": root_id})
    log.info("victim returned", extra={"conversation": conversation_id,
                                       "return_of": root_id})
    return True


async def add_marker(deps: Deps, msg: Inbound, marker: str) -> None:
    """The note a counselor reads at the top of a return (a system message)."""
    await inbox.receive(deps, Inbound(
        channel=msg.channel, address=msg.address, text=marker,
        provider_id=f"{msg.provider_id}:return", language=msg.language,
        received_at=msg.received_at, system=True))


async def remember_return(deps: Deps, channel: Channel, address: str, root_id: str) -> None:
    """After a look-up on SMS or Telegram: the sender's next new conversation (or the open
    one, now) is a return of the case."""
    pseudonym = deps.keyring.pseudonymize(channel.value, address)
    try:
        await deps.redis.set(deps.keys.case_return(pseudonym), root_id, ex=CASE_RETURN_TTL_S)
    except (RedisError, OSError) as e:
        log.warning("case return not remembered", extra={"error": type(e).__name__})


async def claim_return(deps: Deps, msg: Inbound, conversation_id: str,
                       marker: Callable[[str], str]) -> bool:
    """A new conversation from a sender who looked their case up: it becomes the return,
    with `marker(case number)` for the counselor."""
    pseudonym = deps.keyring.pseudonymize(msg.channel.value, msg.address)
    try:
        root = await deps.redis.getdel(deps.keys.case_return(pseudonym))
    except (RedisError, OSError):
        return False
    if root is None:
        return False
    # A case erased since the look-up has no number any more: nothing links to it.
    number = await casecode.number_for(deps, str(root))
    if number is None or not await mark_return(deps, conversation_id, str(root)):
        return False
    await add_marker(deps, msg, marker(number))
    return True


def referral_text(prompts: Prompts, lang: str, entries: Sequence[Referral], fallback: str
                  ) -> str:
    """The referrals as a short text (SMS, Telegram, the end of a chat): one line each."""
    lines = [prompts.render(lang, "victim/referrals_intro")]
    for e in entries:
        lines.append(referral_line(prompts, lang, e, fallback))
    return "\n".join(lines)


def referral_line(prompts: Prompts, lang: str, e: Referral, fallback: str) -> str:
    place, hours = e.text(lang, fallback)
    return prompts.render(lang, "victim/referral_line", place=place, phone=e.phone,
                          hours=hours, web=e.web)


@dataclass(frozen=True)
class ReferralOption:
    """A directory entry as the counselor sees it on a case: fits the case's situation, was
    already given."""

    entry: Referral
    fits: bool
    given: bool


async def referral_options(deps: Deps, staff: Staff, conversation_id: str
                           ) -> list[ReferralOption]:
    """The whole directory for a case the staff member may read (CaseNotFound otherwise),
    the entries that fit its situation first."""
    async with deps.engine.connect() as conn:
        conv = await casework.load_case(conn, staff, conversation_id)
        answers = await intake_answers_json(conn, conv.id)
        given = set(await casefile.referrals_of(conn, conv.id))
    fitting = for_case(deps.config.referrals.entries, answers, conv.reasons)
    rest = [e for e in deps.config.referrals.entries if e not in fitting]
    return [ReferralOption(e, e in fitting, e.code in given) for e in (*fitting, *rest)]


async def give_referral(deps: Deps, staff: Staff, conversation_id: str, entry: Referral,
                        text: Callable[[str], str]) -> int:
    """The counselor gives the victim a referral: `text(case language)` goes out as their
    reply (once per entry and case), and the referral is counted. The reply's seq."""
    async with deps.engine.connect() as conn:
        conv = await casework.load_case(conn, staff, conversation_id)
    seq = await casework.reply(deps, staff, conversation_id, text(conv.language),
                               f"referral:{entry.code}")
    now = datetime.now(UTC)
    async with deps.engine.begin() as conn:
        await casefile.add_referrals(conn, conversation_id, [entry.code], "counselor", now)
        await audit.record(conn, at=now, actor_id=staff.id, action="case.referral_given",
                           target_kind="conversation", target_id=conversation_id,
                           referral=entry.code)
    return seq
