"""Staff roles and what each may do. Pure; the console's access checks call these."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    COUNSELOR = "counselor"
    LEAD = "lead"
    TAKEDOWN = "takedown"
    ADMIN = "admin"


_SEE_ALL = frozenset({Role.LEAD, Role.ADMIN})


@dataclass(frozen=True)
class Staff:
    """A logged-in staff member as the console sees them."""

    id: int
    name: str
    role: Role
    languages: tuple[str, ...]
    # The console language this person chose (None: the centre's console.default_language).
    ui_language: str | None = None

    @property
    def status_at_login(self) -> str:
        """Counselors come on the floor available; leads, takedown staff and admins start
        busy (their own work) and choose "available" to take chats."""
        return "available" if self.role == Role.COUNSELOR else "busy"

    @property
    def sees_all_cases(self) -> bool:
        """Leads and admins supervise the whole floor; others see their own cases only."""
        return self.role in _SEE_ALL
