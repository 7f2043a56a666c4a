"""Pure parts of the victim's way back (docs/victim.md), table-tested: which referrals fit
which situation, the directory's validation, the case lock's growth, the SMS commands, the
spoken case number."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hotline.channels.twilio import sms_case
from hotline.channels.twilio.voice_bridge import spell
from hotline.config import config_from_mapping
from hotline.domain.errors import ConfigError
from hotline.domain.referrals import for_case, offer, situations_of
from hotline.victim import casecode
from tests.victim_support import REFERRALS

ENTRIES = config_from_mapping({"referrals": REFERRALS}).referrals.entries


@pytest.mark.parametrize(("answers", "signals", "expected"), [
    ({}, [], ("counseling",)),
    ({"age_group": "14_17"}, [], ("minor", "counseling")),
    ({"spreading": True}, [], ("takedown", "legal", "counseling")),
    ({"safe_now": False}, [], ("police", "counseling", "shelter")),
    ({}, ["sextortion_deadline"], ("legal", "police", "counseling")),
    ({}, ["minor", "content_spreading"], ("minor", "takedown", "legal", "counseling")),
    ({}, ["physical_threat", "unknown_signal"], ("police", "counseling", "shelter")),
])
def test_situations(answers: dict[str, Any], signals: list[str],
                    expected: tuple[str, ...]) -> None:
    assert situations_of(answers, signals) == expected


@pytest.mark.parametrize(("answers", "reasons", "first", "never"), [
    ('{"age_group": "under_14"}', [], ["youth1388", "report117"], []),
    ("{}", ["minor:words", "content_spreading"], ["youth1388", "report117"], []),
    ("{}", ["content_spreading"], ["dsc"], ["youth1388", "report117"]),
    ('{"safe_now": false}', [], ["women1366"], ["youth1388"]),
    ("not json", [], ["dsc"], ["youth1388"]),
])
def test_offer_puts_minors_lines_first_and_only_for_minors(
        answers: str, reasons: list[str], first: list[str], never: list[str]) -> None:
    codes = [e.code for e in for_case(ENTRIES, answers, reasons)]
    assert codes[:len(first)] == first
    assert not set(never) & set(codes)
    assert len(codes) <= 4


def test_offer_nothing_without_a_match() -> None:
    assert offer(ENTRIES, ()) == ()


@pytest.mark.parametrize(("change", "key"), [
    ({"situations": ["everything"]}, "referrals.entries[0].situations"),
    ({"code": "Bad Code"}, "referrals.entries[0].code"),
    ({"phone": "call me"}, "referrals.entries[0].phone"),
    ({"web": "http://plain.example"}, "referrals.entries[0].web"),
    ({"name": {"ko": "이름만"}}, "referrals.entries[0].name"),
    ({"hours": "24h"}, "referrals.entries[0].hours"),
    ({"languages": []}, "referrals.entries[0].languages"),
    ({"colour": "red"}, "referrals.entries[0].colour"),
])
def test_a_bad_directory_entry_names_its_key(change: dict[str, Any], key: str) -> None:
    entry = {**REFERRALS["entries"][0], **change}
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        config_from_mapping({"referrals": {"entries": [entry]}})


def test_a_code_used_twice_stops_start_up() -> None:
    entries = [REFERRALS["entries"][0], REFERRALS["entries"][0]]
    with pytest.raises(ConfigError, match=r"referrals.entries\[1\].code"):
        config_from_mapping({"referrals": {"entries": entries}})


@pytest.mark.parametrize(("locks", "minutes"), [
    (1, 15), (2, 30), (3, 60), (4, 120), (7, 960), (8, 1440), (9, 1440), (100, 1440),
])
def test_the_case_lock_doubles_up_to_a_day(locks: int, minutes: int) -> None:
    assert casecode.lock_for(locks) == timedelta(minutes=minutes)


@pytest.mark.parametrize(("text", "expected"), [
    ("case", sms_case.Command("issue")),
    ("사건번호", sms_case.Command("issue")),
    ("사건 번호", sms_case.Command("issue")),
    ("case hl-7k3m-9qx2 123456", sms_case.Command("lookup", "hl-7k3m-9qx2", "123456")),
    ("사건 HL 7K3M 9QX2 123456".lower(), sms_case.Command("lookup", "hl 7k3m 9qx2", "123456")),
    ("사건번호 7k3m9qx2 123456", sms_case.Command("lookup", "7k3m9qx2", "123456")),
    ("forget", sms_case.Command("forget")),
    ("기록삭제", sms_case.Command("forget")),
    ("erase", sms_case.Command("confirm")),
    ("삭제확인", sms_case.Command("confirm")),
    # Everyday words are never commands: a victim writing them wants a counselor.
    ("삭제", None), ("삭제해주세요", None), ("my case is urgent", None),
    ("case hl-7k3m-9qx2", None), ("case hl-7k3m-9qx2 12345", None),
])
def test_sms_commands(text: str, expected: sms_case.Command | None) -> None:
    assert sms_case.parse(text) == expected


def test_media_sid_reads_only_the_id() -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME" + "0a" * 16
    assert sms_case.media_sid(url) == "ME" + "0a" * 16
    assert sms_case.media_sid("https://evil.example/ME" + "0a" * 16) is None
    assert sms_case.media_sid(url + "/../x") is None


def test_spoken_case_number() -> None:
    assert spell("HL-7K3M-9QX2") == "H L, 7 K 3 M, 9 Q X 2"
