"""Event stream ids (Redis stream ids, "ms-seq"): read, ordered, checked. Pure: the Hub
(hotline/events.py) orders its log by them, and a console's Last-Event-ID is one
(hotline/web/sse.py)."""

from __future__ import annotations


def id_tuple(eid: str) -> tuple[int, int]:
    """A valid id as (milliseconds, sequence), which orders ids as the log does."""
    ms, _, seq = eid.partition("-")
    return int(ms), int(seq or 0)


def id_after(eid: str, other: str) -> bool:
    """Whether stream id `eid` comes after `other` (both valid ids)."""
    return id_tuple(eid) > id_tuple(other)


def valid_event_id(eid: str) -> bool:
    """Whether a client-supplied Last-Event-ID has the stream id form ms-seq."""
    ms, sep, seq = eid.partition("-")
    # isascii: str.isdigit() also accepts superscript and full-width digits.
    return (bool(sep) and eid.isascii() and ms.isdigit() and seq.isdigit()
            and len(eid) <= 40)
