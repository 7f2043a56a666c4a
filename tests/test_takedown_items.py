"""Content items (hotline.domain.takedown): the status machine over every (status, event)
pair, the recheck job's event, fingerprints and the new-item body, table-tested."""

from __future__ import annotations

import itertools

import pytest

from hotline.domain.takedown import (
    Fingerprint,
    ImpossibleTransition,
    ItemEvent,
    ItemKind,
    ItemStatus,
    OnlineState,
    Reporter,
    TakedownInputError,
    item_event_for_checks,
    next_item_status,
    parse_fingerprint,
    parse_new_item,
)

S, E = ItemStatus, ItemEvent
# Written out by hand (not copied from the module): every allowed pair and its result.
ALLOWED = {
    (S.OPEN, E.ALL_OFFLINE): S.ALL_REMOVED,
    (S.OPEN, E.CLOSE): S.CLOSED,
    (S.OPEN, E.REAPPEARED): S.OPEN,
    (S.ALL_REMOVED, E.MONITOR): S.MONITORING,
    (S.ALL_REMOVED, E.CLOSE): S.CLOSED,
    (S.ALL_REMOVED, E.REAPPEARED): S.OPEN,
    (S.MONITORING, E.CLOSE): S.CLOSED,
    (S.MONITORING, E.REAPPEARED): S.OPEN,
    (S.CLOSED, E.REAPPEARED): S.OPEN,
}


@pytest.mark.parametrize(("status", "event"), list(itertools.product(S, E)))
def test_every_status_and_event(status: ItemStatus, event: ItemEvent) -> None:
    expected = ALLOWED.get((status, event))
    if expected is None:
        with pytest.raises(ImpossibleTransition) as e:
            next_item_status(status, event)
        assert e.value.code == "item_event"
    else:
        assert next_item_status(status, event) is expected


ON, OFF, UNK = OnlineState.ONLINE, OnlineState.OFFLINE, OnlineState.UNKNOWN


@pytest.mark.parametrize(("status", "states", "event"), [
    (S.OPEN, [OFF, OFF], E.ALL_OFFLINE),
    (S.OPEN, [OFF], E.ALL_OFFLINE),
    (S.OPEN, [OFF, ON], None),
    (S.OPEN, [OFF, UNK], None),        # a failed check never closes anything
    (S.OPEN, [], None),                # no locations: nothing was checked
    (S.OPEN, [ON], None),
    (S.ALL_REMOVED, [OFF, OFF], None),
    (S.ALL_REMOVED, [OFF, ON], E.REAPPEARED),
    (S.MONITORING, [ON], E.REAPPEARED),
    (S.MONITORING, [UNK, OFF], None),
    (S.CLOSED, [OFF, ON], E.REAPPEARED),
    (S.CLOSED, [OFF], None),
])
def test_item_event_for_checks(status: ItemStatus, states: list[OnlineState],
                               event: ItemEvent | None) -> None:
    assert item_event_for_checks(status, states) is event
    if event is not None:
        next_item_status(status, event)  # what it proposes is always allowed


SHA = "a" * 64
PDQ = "0f" * 32


@pytest.mark.parametrize(("raw", "expected"), [
    ({"sha256": SHA}, Fingerprint(sha256=SHA)),
    ({"pdq": PDQ, "pdq_quality": 90}, Fingerprint(pdq=PDQ, pdq_quality=90)),
    ({"sha256": SHA, "pdq": PDQ, "pdq_quality": 0},
     Fingerprint(sha256=SHA, pdq=PDQ, pdq_quality=0)),
])
def test_parse_fingerprint(raw: dict[str, object], expected: Fingerprint) -> None:
    assert parse_fingerprint(raw) == expected


@pytest.mark.parametrize(("raw", "field"), [
    ("abc", "fingerprint"),
    ({}, "fingerprint"),
    ({"sha256": SHA.upper()}, "fingerprint.sha256"),
    ({"sha256": SHA[:-1]}, "fingerprint.sha256"),
    ({"sha256": 5}, "fingerprint.sha256"),
    ({"pdq": PDQ + "0", "pdq_quality": 50}, "fingerprint.pdq"),
    ({"pdq": PDQ}, "fingerprint.pdq_quality"),
    ({"pdq": PDQ, "pdq_quality": 101}, "fingerprint.pdq_quality"),
    ({"pdq": PDQ, "pdq_quality": True}, "fingerprint.pdq_quality"),
    ({"pdq": PDQ, "pdq_quality": "90"}, "fingerprint.pdq_quality"),
    ({"sha256": SHA, "pdq_quality": 50}, "fingerprint.pdq_quality"),
    ({"sha256": SHA, "md5": "x"}, "fingerprint.md5"),
])
def test_parse_fingerprint_rejects(raw: object, field: str) -> None:
    with pytest.raises(TakedownInputError) as e:
        parse_fingerprint(raw)
    assert e.value.field == field
    assert str(e.value).startswith(f"{field}: ")


CODES = ("telegram", "x", "meta", "youtube", "search_engine", "adult_site", "other")


def test_parse_new_item() -> None:
    item = parse_new_item({"case_id": "3f2a9c1b" * 4, "kind": "synthetic", "minor": True,
                           "platform": "telegram", "location": "t.me/SomeChannel/12"}, CODES)
    assert (item.kind, item.minor, item.platform, item.case_id, item.reporter) == (
        ItemKind.SYNTHETIC, True, "telegram", "3f2a9c1b" * 4, Reporter.VICTIM)
    assert item.location.telegram is not None
    assert (item.location.telegram.channel, item.location.telegram.message_id) == (
        "somechannel", 12)


def test_new_item_without_case_is_found_by_staff() -> None:
    item = parse_new_item({"kind": "intimate", "platform": "adult_site",
                           "location": "https://adult.example/v/1?utm_source=a"}, CODES)
    assert (item.reporter, item.minor, item.case_id) == (Reporter.STAFF, False, None)
    assert item.location.url == "https://adult.example/v/1"
    assert parse_new_item({"kind": "threat", "platform": "other", "reporter": "partner",
                           "location": "https://e.example/"}, CODES).reporter is Reporter.PARTNER


GOOD = {"kind": "intimate", "platform": "x", "location": "https://x.com/a/status/1"}


@pytest.mark.parametrize(("change", "field"), [
    ({"kind": "minor"}, "kind"),
    ({"kind": None}, "kind"),
    ({"kind": ["intimate"]}, "kind"),
    ({"minor": "yes"}, "minor"),
    ({"minor": 1}, "minor"),
    ({"platform": "tiktok"}, "platform"),          # not in the directory given
    ({"platform": None}, "platform"),
    ({"platform": "telegram"}, "platform"),        # an x.com link is on X
    ({"location": "ftp://x.com/a"}, "location"),
    ({"location": ""}, "location"),
    ({"location": None}, "location"),
    ({"location": 7}, "location"),
    ({"location": "https://x.com@evil.example/"}, "location"),
    ({"case_id": "../../etc"}, "case_id"),
    ({"case_id": 12}, "case_id"),
    ({"case_id": ""}, "case_id"),
    ({"reporter": "police"}, "reporter"),
    ({"extra": 1}, "extra"),
])
def test_parse_new_item_rejects(change: dict[str, object], field: str) -> None:
    body = {**GOOD, **change}
    with pytest.raises(TakedownInputError) as e:
        parse_new_item(body, CODES)
    assert e.value.field == field
    assert str(e.value).startswith(f"{field}: ")
