"""What every takedown service works with: the stores, the prompts, the directory and a clock
(tests hand in one they control), plus the desk's shared errors and its event.

Events carry ids, states and codes only; consoles fetch the rest from the access-checked API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hotline.deps import Deps
from hotline.domain.event_types import EventType
from hotline.domain.platforms import Directory, Platform, Route
from hotline.domain.policy import DeskNotFound
from hotline.domain.takedown import ImpossibleTransition, TakedownInputError
from hotline.prompts import Prompts
from hotline.takedown.config import TakedownConfig


def utcnow() -> datetime:
    return datetime.now(UTC)


class DeskConflict(ImpossibleTransition):
    """Not possible now (HTTP 409, nothing changed); `code` names the rule, e.g.
    consent_required, missing_fields, top_of_ladder, not_email_route, smtp_off, sending."""


@dataclass(frozen=True)
class Desk:
    deps: Deps
    prompts: Prompts
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def config(self) -> TakedownConfig:
        return self.deps.config.takedown

    @property
    def directory(self) -> Directory:
        return self.config.directory

    def route(self, platform: str, route: str) -> tuple[Platform, Route]:
        """The platform and route, or a 400 naming the field that has no match."""
        p = self.directory.get(platform)
        if p is None:
            raise TakedownInputError("platform", "expected one of " +
                                     ", ".join(self.directory.codes))
        r = p.route(route)
        if r is None:
            raise TakedownInputError("route", f"expected one of "
                                              f"{', '.join(x.code for x in p.routes)}")
        return p, r

    async def changed(self, item_id: int, request_id: int | None = None,
                      state: str | None = None) -> None:
        """Tell every console the desk changed (ids and the state only)."""
        await self.deps.publish({"type": EventType.TAKEDOWN, "item": item_id, "request": request_id,
                                 "state": state})


__all__ = ["Desk", "DeskConflict", "DeskNotFound", "utcnow"]
