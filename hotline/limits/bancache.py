"""This process's copy of the bans in force: every inbound message asks it, with no I/O, so
bans hold while Redis is down (hotline/limits/bans.py keeps it current). See docs/limits.md."""

from __future__ import annotations

from datetime import UTC, datetime

from hotline.domain.bans import BanList, Kind


class BanCache:
    """This process's copy of the bans in force."""

    def __init__(self) -> None:
        self.current = BanList()

    # Every inbound message asks: with no bans (the usual case) the answer costs no clock read.

    def sender(self, pseudonym: str | None) -> bool:
        return bool(self.current.ends) and self.current.banned(Kind.SENDER, pseudonym,
                                                               datetime.now(UTC))

    def address(self, tag: str | None) -> bool:
        return bool(self.current.ends) and self.current.banned(Kind.ADDRESS, tag,
                                                               datetime.now(UTC))
