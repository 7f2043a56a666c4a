"""The platform directory (hotline.domain.platforms): the seed platforms.toml parses into what
the notes say, and every bad entry raises ConfigError naming its exact key."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from hotline.domain.errors import ConfigError
from hotline.domain.legal import LegalBasis, RequestField
from hotline.domain.platforms import (
    PLATFORM_CODES,
    Directory,
    PlatformType,
    RouteKind,
    parse_directory,
)
from hotline.domain.takedown import ItemKind

SEED = Path(__file__).resolve().parent.parent / "platforms.toml"


def _seed_table() -> dict[str, Any]:
    with SEED.open("rb") as f:
        doc = tomllib.load(f)
    assert set(doc) == {"platforms"}
    table: dict[str, Any] = doc["platforms"]
    return table


def _seed() -> Directory:
    return parse_directory(_seed_table())


def test_seed_holds_the_platforms_the_issue_names() -> None:
    d = _seed()
    assert d.codes == ("telegram", "x", "meta", "youtube", "search_engine", "adult_site",
                       "other")
    assert set(d.codes) <= set(PLATFORM_CODES)


def test_seed_routes_follow_the_notes() -> None:
    d = _seed()
    tg, x, google = d.get("telegram"), d.get("x"), d.get("search_engine")
    assert tg is not None and x is not None and google is not None
    assert tg.type is PlatformType.MESSENGER
    abuse = tg.route("abuse_email")
    assert abuse is not None and (abuse.kind, abuse.email) == (RouteKind.EMAIL,
                                                               "abuse@telegram.org")
    child = tg.route("child_abuse_email")
    assert child is not None and child.minor_only and child.email == "stopCA@telegram.org"
    assert [r.code for r in tg.ladder("in_app")] == ["in_app", "abuse_email", "kcsc"]
    kcsc = tg.route("kcsc")
    assert kcsc is not None
    assert (kcsc.kind, kcsc.legal_basis, kcsc.due_hours) == (
        RouteKind.REGULATOR, LegalBasis.KR_REGULATOR, 24)
    tida = x.route("take_it_down")
    assert tida is not None
    assert (tida.kind, tida.legal_basis, tida.due_hours, tida.url) == (
        RouteKind.WEB_FORM, LegalBasis.TAKE_IT_DOWN_US, 48,
        "https://help.x.com/forms/safety-and-sensitive-content/take-it-down")
    assert [r.code for r in x.ladder("take_it_down")] == ["take_it_down", "copyright", "kcsc"]
    assert {r.code for r in google.routes_for(ItemKind.SYNTHETIC, minor=False)} == {
        "explicit_fake_form", "kcsc"}
    assert {r.code for r in google.routes_for(ItemKind.INTIMATE, minor=False)} == {
        "ncii_form", "kcsc"}
    assert "child_abuse_email" not in {r.code for r in tg.routes_for(ItemKind.INTIMATE, False)}
    assert "child_abuse_email" in {r.code for r in tg.routes_for(ItemKind.INTIMATE, True)}
    for code in ("adult_site", "other"):
        p = d.get(code)
        assert p is not None
        assert [r.code for r in p.ladder("host_abuse")] == ["host_abuse", "registrar", "kcsc"]
        assert all(r.address_per_request for r in p.ladder("host_abuse")[:2])


def test_seed_lists_the_addresses_the_operator_must_fill() -> None:
    unfilled = _seed().unfilled()
    assert "platforms.x.routes.copyright" in unfilled
    assert "platforms.telegram.routes.kcsc" in unfilled
    assert "platforms.x.routes.take_it_down" not in unfilled        # has its URL
    assert "platforms.telegram.routes.in_app" not in unfilled       # needs none
    assert "platforms.other.routes.host_abuse" not in unfilled      # given per request


def test_public_view() -> None:
    view = _seed().public()
    x = next(p for p in view if p["code"] == "x")
    assert set(x) == {"code", "name", "names", "type", "country", "routes"}
    assert x["name"] == "X" and x["names"] == {}
    tida = next(r for r in x["routes"] if r["code"] == "take_it_down")
    assert tida == {"code": "take_it_down", "kind": "web_form",
                    "legal_basis": "take_it_down_us", "deadline_hours": 48,
                    "required_fields": ["signature", "content_identification", "urls",
                                        "good_faith_statement", "explanation", "contact"]}


def test_names_are_a_brand_or_words_in_each_language() -> None:
    d = _seed()
    x, other = d.get("x"), d.get("other")
    assert x is not None and other is not None
    assert (x.name_in("ko"), x.name_in("en")) == ("X", "X")  # a brand reads the same
    assert (other.name, other.name_in("ko"), other.name_in("ja")) == (
        "Other website", "기타 웹사이트", "Other website")  # English is the default
    assert d.names("ko")["other"] == "기타 웹사이트" and d.names("ko")["telegram"] == "Telegram"
    only_ko = parse_directory(_with("other.name", {"ko": "기타"})).get("other")
    assert only_ko is not None and only_ko.name == "기타"  # no English: the first is default


def test_route_fields_add_to_the_basis() -> None:
    d = parse_directory({"other": {"name": "O", "type": "website", "routes": {"r": {
        "kind": "email", "legal_basis": "platform_policy", "deadline_hours": 5,
        "address_per_request": True, "required_fields": ["contact", "urls"]}}}})
    p = d.get("other")
    assert p is not None and p.routes[0].required_fields == (
        RequestField.CONTENT_IDENTIFICATION, RequestField.URLS, RequestField.POLICY_BROKEN,
        RequestField.EXPLANATION, RequestField.CONTACT)


def test_email_keeps_its_local_part_and_lower_cases_the_domain() -> None:
    d = parse_directory({"x": {"name": "X", "type": "social", "routes": {"r": {
        "kind": "email", "legal_basis": "copyright", "deadline_hours": 5,
        "email": "DMCA@Example.COM"}}}})
    p = d.get("x")
    assert p is not None and p.routes[0].email == "DMCA@example.com"


def _with(path: str, value: object) -> dict[str, Any]:
    """The seed table with the value at the dotted `path` replaced (None deletes it)."""
    table = copy.deepcopy(_seed_table())
    *parents, last = path.split(".")
    node: Any = table
    for p in parents:
        node = node[p]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return table


TIDA = "x.routes.take_it_down"
BAD = [
    ("x.routes.take_it_down.deadline_hours", 72, "platforms.x.routes.take_it_down."
     "deadline_hours: 72 h is longer than the 48 h"),
    ("telegram.routes.kcsc.deadline_hours", 25, "platforms.telegram.routes.kcsc."
     "deadline_hours: 25 h is longer than the 24 h"),
    (f"{TIDA}.deadline_hours", 0, f"platforms.{TIDA}.deadline_hours: expected whole hours"),
    (f"{TIDA}.deadline_hours", 4.5, f"platforms.{TIDA}.deadline_hours: expected whole hours"),
    (f"{TIDA}.deadline_hours", True, f"platforms.{TIDA}.deadline_hours: expected whole hours"),
    (f"{TIDA}.deadline_hours", "48", f"platforms.{TIDA}.deadline_hours: expected whole hours"),
    (f"{TIDA}.deadline_hours", None, f"platforms.{TIDA}.deadline_hours: missing"),
    (f"{TIDA}.kind", "fax", f"platforms.{TIDA}.kind: expected one of web_form"),
    (f"{TIDA}.kind", None, f"platforms.{TIDA}.kind: expected one of"),
    (f"{TIDA}.legal_basis", "dmca", f"platforms.{TIDA}.legal_basis: expected one of"),
    (f"{TIDA}.url", "http://help.x.com/form", f"platforms.{TIDA}.url: expected an https://"),
    (f"{TIDA}.url", "javascript:alert(1)", f"platforms.{TIDA}.url: only http and https"),
    (f"{TIDA}.url", "https://u@help.x.com/", f"platforms.{TIDA}.url: a user name"),
    (f"{TIDA}.url", 5, f"platforms.{TIDA}.url: expected a URL"),
    (f"{TIDA}.email", "not an address", f"platforms.{TIDA}.email: expected an e-mail"),
    (f"{TIDA}.email", "a@b", f"platforms.{TIDA}.email: expected an e-mail"),
    (f"{TIDA}.required_fields", ["signature", "shoe_size"],
     f"platforms.{TIDA}.required_fields[1]: expected one of"),
    (f"{TIDA}.required_fields", "signature", f"platforms.{TIDA}.required_fields: expected a"),
    (f"{TIDA}.kinds", [], f"platforms.{TIDA}.kinds: expected at least one"),
    (f"{TIDA}.kinds", ["minor"], f"platforms.{TIDA}.kinds[0]: expected one of"),
    (f"{TIDA}.minor_only", "yes", f"platforms.{TIDA}.minor_only: expected true or false"),
    (f"{TIDA}.address_per_request", 1,
     f"platforms.{TIDA}.address_per_request: expected true or false"),
    (f"{TIDA}.escalate_to", "nowhere",
     f"platforms.{TIDA}.escalate_to: no route 'nowhere' on this platform"),
    (f"{TIDA}.escalate_to", "take_it_down",
     f"platforms.{TIDA}.escalate_to: the ladder goes round in a circle"),
    ("x.routes.kcsc.escalate_to", "take_it_down",
     "platforms.x.routes.kcsc.escalate_to: the ladder goes round in a circle (take_it_down "
     "-> copyright -> kcsc -> take_it_down)"),
    (f"{TIDA}.escalate_to", 3, f"platforms.{TIDA}.escalate_to: expected a route code"),
    (f"{TIDA}.deadline", 48, f"platforms.{TIDA}.deadline: unknown key"),
    ("x.routes.Bad-Code", {"kind": "in_app", "legal_basis": "platform_policy",
                           "deadline_hours": 5}, "platforms.x.routes.Bad-Code: expected a route"),
    ("x.routes.take_it_down", "web_form", f"platforms.{TIDA}: expected a table"),
    ("x.routes", {}, "platforms.x.routes: expected at least one route"),
    ("x.routes", None, "platforms.x.routes: expected"),
    ("x.name", "", "platforms.x.name: expected a non-empty string"),
    ("x.name", None, "platforms.x.name: expected a non-empty string"),
    ("x.name", {}, "platforms.x.name: expected a name or a table of names by language"),
    ("x.name", {"korean": "엑스"}, "platforms.x.name: 'korean' is not a language code"),
    ("x.name", {"ko": ""}, "platforms.x.name.ko: expected a non-empty string"),
    ("x.name", {"ko": 5}, "platforms.x.name.ko: expected a non-empty string"),
    ("x.type", "forum", "platforms.x.type: expected one of social"),
    ("x.country", "usa", "platforms.x.country: expected a two-letter country code"),
    ("x.owner", "Musk", "platforms.x.owner: unknown key"),
    ("tiktok", {"name": "TikTok", "type": "social", "routes": {}}, "platforms.tiktok.routes"),
    ("myspace", {"name": "M", "type": "social"}, "platforms.myspace: unknown platform code"),
    ("unknown", {"name": "M", "type": "social"}, "platforms.unknown: unknown platform code"),
    ("x", ["not", "a", "table"], "platforms.x: expected a table"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD)
def test_bad_entries_name_the_key(path: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_directory(_with(path, value))
    assert str(e.value).startswith(message), str(e.value)


@pytest.mark.parametrize("raw", [None, [], {}, "platforms"])
def test_directory_must_be_a_table_of_platforms(raw: object) -> None:
    with pytest.raises(ConfigError, match=r"^takedown\.platforms: expected"):
        parse_directory(raw, where="takedown.platforms")


def test_where_prefixes_every_key() -> None:
    with pytest.raises(ConfigError, match=r"^takedown\.platforms\.x\.routes\.take_it_down\."
                                          r"deadline_hours: "):
        parse_directory(_with(f"{TIDA}.deadline_hours", 49), where="takedown.platforms")
