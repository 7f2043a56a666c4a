"""Flood limits and the ban check: what one client or sender may cost others (docs/limits.md).

Limits are Redis token buckets (stores/live/buckets.py), sized by [limits]; Redis being down
lets everything through. Address limits apply on the web chat, where the client's own address
is known (request.remote: the real client behind a trusted proxy); sender limits on every
channel. What a limit holds back is what a message would cost others: a new case in the queue,
a move up the queue, a takedown alert, an automatic reply. A victim's words are still stored;
only a web chat's new case past its address limit is refused (429) before anything is stored,
its text still in the browser.

Bans are checked against this instance's copy of the list (BanCache; services/bans.py keeps it
current): no I/O, and they hold while Redis is down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hotline import metrics
from hotline.domain.bans import client_network
from hotline.limits.buckets import ALLOWED, Verdict

if TYPE_CHECKING:
    from hotline.deps import Deps

__all__ = ["ALLOWED", "Verdict"]


def address_tag(deps: Deps, remote: str | None) -> str | None:
    """The keyed tag a client address is counted and banned by (its IPv6 /64); None when the
    request came over no IP. The address itself is never stored or logged."""
    network = client_network(remote)
    return None if network is None else deps.keyring.pseudonymize("address", network)


def banned(deps: Deps, *, sender: str | None = None, address: str | None = None) -> bool:
    """Whether the sender (pseudonym) or the client address (tag) is banned now."""
    hit = deps.bans.sender(sender) or deps.bans.address(address)
    if hit:
        metrics.FLOOD_REFUSED.labels("banned").inc()
    return hit


async def ban_notice(deps: Deps, sender: str) -> bool:
    """Whether a banned sender is due the calm answer (once in a while, not per message)."""
    return await deps.flood.first_notice(sender)


def _counted(limit: str, verdict: Verdict) -> Verdict:
    if not verdict.allowed:
        metrics.FLOOD_REFUSED.labels(limit).inc()
    return verdict


async def new_session(deps: Deps, address: str | None) -> Verdict:
    """A web chat session issued to a client address."""
    if address is None:
        return ALLOWED
    return _counted("address_sessions",
                    await deps.flood.take([("address_sessions", address)]))


async def new_case_from(deps: Deps, address: str | None) -> Verdict:
    """A new web chat case (or call-back request) from a client address."""
    if address is None:
        return ALLOWED
    return _counted("address_cases", await deps.flood.take([("address_cases", address)]))


async def escalation(deps: Deps, sender: str, address: str | None) -> Verdict:
    """A sender's case moving up the queue (and paging takedown staff when content is
    spreading) on what the sender wrote or answered. Asked only when it would change the
    case: a victim repeating the same words costs nothing."""
    buckets = [("sender_escalations", sender)]
    if address is not None:
        buckets.append(("address_escalations", address))
    return _counted("escalations", await deps.flood.take(buckets))


async def reply(deps: Deps, sender: str) -> Verdict:
    """An automatic reply to a sender (the calm answer goes with the first refusal)."""
    return _counted("sender_replies",
                    await deps.flood.take([("sender_replies", sender)], notice=sender))
