"""The seam between a victim's case and the takedown desk (issue 14, built alongside).

The case page needs three things of the desk: the state of the content items made from a
case and of their platform requests, adding a location (a link the victim found) to an item,
and withdrawing the victim's consent (which stops requests not yet sent). `Desk` is that
contract; `NoDesk` answers for a server without the desk: no items, so the case page keeps
what the victim sends in case_requests for takedown staff (services/victimcase.py). The desk
registers its own implementation on Deps-free module state at start-up (`use`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hotline.deps import Deps


@dataclass(frozen=True)
class RequestState:
    """One platform request, as a victim may see it: the platform code and its state
    (draft, sent, acknowledged, removed, partially_removed, refused, info_requested,
    overdue, escalated)."""

    platform: str
    state: str


@dataclass(frozen=True)
class ItemState:
    """One content item of the case: its status (open, all_removed, monitoring, closed)."""

    id: int
    status: str
    requests: tuple[RequestState, ...]


class Desk(Protocol):
    async def items_for_case(self, deps: Deps, conversation_ids: Sequence[str]
                             ) -> tuple[ItemState, ...]: ...

    async def add_location(self, deps: Deps, item_id: int, url: str) -> bool: ...

    async def withdraw_consent(self, deps: Deps, conversation_ids: Sequence[str]) -> int: ...


class NoDesk:
    """No takedown desk on this server: no items, nothing to attach or stop."""

    async def items_for_case(self, deps: Deps, conversation_ids: Sequence[str]
                             ) -> tuple[ItemState, ...]:
        return ()

    async def add_location(self, deps: Deps, item_id: int, url: str) -> bool:
        return False

    async def withdraw_consent(self, deps: Deps, conversation_ids: Sequence[str]) -> int:
        return 0


_desk: list[Desk] = [NoDesk()]


def desk() -> Desk:
    return _desk[0]


def use(implementation: Desk) -> None:
    """The takedown desk plugs itself in (once, at import of its service)."""
    _desk[0] = implementation
