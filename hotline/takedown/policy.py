"""Who may do what on the takedown desk: the one place these questions are answered.

Takedown staff and leads act on the desk. A counselor may create an item from a case they
hold and see the state of that case's items. Nobody else sees anything: missing and
forbidden look the same (404). Pure.
"""

from __future__ import annotations

from hotline.domain.staff import Role, Staff

DESK_ROLES = frozenset({Role.TAKEDOWN, Role.LEAD})


class DeskNotFound(LookupError):
    """No such record, or not one this person may see (HTTP 404 either way)."""


def acts_on_desk(staff: Staff) -> bool:
    """Takedown staff and leads: every item, request, consent, export and desk alert."""
    return staff.role in DESK_ROLES


def may_create_item(staff: Staff, case_holder: int | None, from_case: bool) -> bool:
    """Desk staff always (a case, if named, must be one they may read); a counselor only
    from a case they hold."""
    if acts_on_desk(staff):
        return True
    return staff.role is Role.COUNSELOR and from_case and case_holder == staff.id


def may_view_item(staff: Staff, case_holder: int | None, from_case: bool) -> bool:
    """Desk staff see every item; a counselor the items of a case they hold (state only)."""
    return may_create_item(staff, case_holder, from_case)


def sees_request_text(staff: Staff) -> bool:
    """Request texts, steps and consent records are the desk's: counselors see states."""
    return acts_on_desk(staff)
