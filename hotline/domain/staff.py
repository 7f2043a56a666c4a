"""Staff roles and what each may do. Pure; the console's access checks call these."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    COUNSELOR = "counselor"
    LEAD = "lead"
    TAKEDOWN = "takedown"
    ADMIN = "admin"


@dataclass(frozen=True)
class Staff:
    """A logged-in staff member as the console sees them."""

    id: int
    name: str
    role: Role
    languages: tuple[str, ...]

    @property
    def status_at_login(self) -> str:
        """Counselors come on the floor available; leads, takedown staff and admins start
        busy (their own work) and choose "available" to take chats."""
        return "available" if self.role == Role.COUNSELOR else "busy"

    @property
    def sees_all_cases(self) -> bool:
        """Leads and admins supervise the whole floor; others see their own cases only."""
        return self.role in (Role.LEAD, Role.ADMIN)


def may_read_case(viewer: Staff, owner_id: int | None, takedown_alerted: bool = False) -> bool:
    """Whether `viewer` may read a case's transcript: its holder, a lead/admin, or takedown
    staff once the case raised a takedown alert (they need the platforms and links to file
    deletion requests). Reading is not acting: replies and closing stay with the holder."""
    return (viewer.sees_all_cases or (owner_id is not None and owner_id == viewer.id)
            or (viewer.role == Role.TAKEDOWN and takedown_alerted))


def may_act_on_case(viewer: Staff, owner_id: int | None) -> bool:
    """Whether `viewer` may change a case they can read (close it, record a call-back)."""
    return viewer.sees_all_cases or (owner_id is not None and owner_id == viewer.id)


def may_manage_bans(viewer: Staff) -> bool:
    """Whether `viewer` may ban and unban senders and addresses: leads and admins."""
    return viewer.sees_all_cases
