"""Content locations (hotline.domain.urls, telegram_links, locations): URL normalization,
platform detection and Telegram link parsing, table-tested with ordinary and hostile input,
and with hypothesis for idempotence and for never raising anything but LocationError."""

from __future__ import annotations

import string

import hypothesis.strategies as st
import pytest
from hypothesis import example, given, settings

from hotline.domain.locations import Location, check_platform, detect_platform, parse_location
from hotline.domain.telegram_links import TelegramKind, parse_telegram
from hotline.domain.urls import MAX_URL_CHARS, LocationError, normalize_url

NORMALIZED = [
    # scheme and host lower-cased, default port and fragment dropped
    ("HTTPS://Example.COM:443/Path?b=1#frag", "https://example.com/Path?b=1"),
    ("http://example.com:80/", "http://example.com/"),
    ("http://example.com:8080/x", "http://example.com:8080/x"),
    ("https://example.com:80/x", "https://example.com:80/x"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com.", "https://example.com/"),
    ("https://example.com?", "https://example.com/"),
    # no scheme given: https
    ("example.com/video/1", "https://example.com/video/1"),
    ("//example.com/video/1", "https://example.com/video/1"),
    ("example.com:8443/v", "https://example.com:8443/v"),
    ("  https://example.com/a  ", "https://example.com/a"),
    ("\ufeff\u200bhttps://example.com/a\u200b\u00a0", "https://example.com/a"),  # pasted
    ("\u202ehttps://example.com/a", "https://example.com/a"),
    # tracking parameters dropped, others kept in order
    ("https://e.com/v?utm_source=x&id=7&UTM_Medium=y&fbclid=1&gclid=2&p=3",
     "https://e.com/v?id=7&p=3"),
    ("https://e.com/v?a=1&&b=2&igshid=z&msclkid=q&mc_eid=e", "https://e.com/v?a=1&b=2"),
    ("https://e.com/v?s=20&t=5&si=k", "https://e.com/v?s=20&t=5&si=k"),  # not tracking here
    ("https://x.com/u/status/1790?s=20&t=AbC", "https://x.com/u/status/1790"),
    ("https://mobile.twitter.com/u/status/1?ref_src=twsrc", "https://mobile.twitter.com/u/status/1"),
    ("https://youtu.be/abc123?si=Xyz&t=42", "https://youtu.be/abc123?t=42"),
    ("https://www.youtube.com/watch?v=abc&feature=share&si=q", "https://www.youtube.com/watch?v=abc"),
    ("https://www.instagram.com/p/Cx1/?igsh=MWQ&img_index=2",
     "https://www.instagram.com/p/Cx1/?img_index=2"),
    ("https://m.facebook.com/story.php?story_fbid=9&id=4&mibextid=Nif5oz&__cft__[0]=AZ&__tn__=R",
     "https://m.facebook.com/story.php?story_fbid=9&id=4"),
    # percent-encoding: upper-cased, unreserved decoded, raw non-ASCII escaped
    ("https://e.com/%7euser/%e2%82%ac?q=%41%2b", "https://e.com/~user/%E2%82%AC?q=A%2B"),
    ("https://e.com/영상/1", "https://e.com/%EC%98%81%EC%83%81/1"),
    ("https://e.com/a%", "https://e.com/a%25"),
    ("https://e.com/a%2", "https://e.com/a%252"),
    ("https://e.com/a%zz", "https://e.com/a%25zz"),
    # dot segments
    ("https://e.com/a/./b/../c", "https://e.com/a/c"),
    ("https://e.com/../../x", "https://e.com/x"),
    ("https://e.com/a/%2E%2E/b", "https://e.com/b"),
    ("https://e.com/a/..", "https://e.com/"),
    # international hosts to punycode; full-width letters fold as browsers fold them
    ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
    ("https://한국.kr/", "https://xn--3e0b707e.kr/"),
    ("https://" + "".join(chr(ord(c) + 0xFEE0) for c in "example") + ".com/",  # full-width
     "https://example.com/"),
    # a look-alike Cyrillic e (U+0435) is another host, never t.me
    ("https://t.m\u0435/x", "https://t.xn--m-jtb/x"),
    # addresses
    ("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/a"),
    ("https://[2001:DB8:0:0:0:0:0:1]:8443/", "https://[2001:db8::1]:8443/"),
    # one-page-site routes keep their fragment
    ("https://e.com/#!/video/9", "https://e.com/#!/video/9"),
    ("https://e.com/app#/watch/9", "https://e.com/app#/watch/9"),
    ("https://e.com/p#comments", "https://e.com/p"),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZED)
def test_normalize_url(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected
    assert normalize_url(expected) == expected


REJECTED = [
    ("", "empty"),
    ("   ", "empty"),
    (None, "not_text"),
    (42, "not_text"),
    (["https://e.com"], "not_text"),
    ("ftp://e.com/x", "bad_scheme"),
    ("javascript:alert(1)", "bad_scheme"),
    ("JAVASCRIPT://%0Aalert(1)", "bad_scheme"),
    ("data:text/html,<b>x</b>", "bad_scheme"),
    ("file:///etc/passwd", "bad_scheme"),
    ("mailto:a@b.example", "bad_scheme"),
    ("https://t.me@evil.example/x", "userinfo"),
    ("https://user:pw@e.com/", "userinfo"),
    ("https://evil.example\\@t.me/", "userinfo"),
    ("https://", "empty_host"),
    ("https:///path", "empty_host"),
    ("https://:443/", "empty_host"),
    ("https://a..com/", "bad_host"),
    ("https://-" + "a" * 64 + ".com/", "bad_host"),
    ("https://e%41.com/", "bad_host"),
    ("https://e.com:0/", "bad_port"),
    ("https://e.com:99999/", "bad_url"),
    ("https://e.com:8o/", "bad_url"),
    ("https://[::1/", "bad_url"),
    ("https://[fe80::1%25eth0]/", "bad_host"),
    ("https://[not-v6]/", "bad_url"),
    ("https://[v1.fe]/", "bad_host"),
    ("https://straße.de/", "ambiguous_host"),
    ("https://a\u200db.com/", "bad_characters"),
    ("https://e.com/a b", "bad_characters"),
    ("https://e.com/\x00", "bad_characters"),
    ("https://e.com/\r\nSet-Cookie:x", "bad_characters"),
    ("https://e.com/\u202egpj.exe", "bad_characters"),
    ("https://e.com/\ud800", "bad_characters"),
    ("https://e.com/" + "a" * MAX_URL_CHARS, "too_long"),
    ("https://e.com/" + "영" * 700, "too_long"),  # short as typed, too long escaped
]


@pytest.mark.parametrize(("raw", "code"), REJECTED)
def test_normalize_url_rejects(raw: object, code: str) -> None:
    with pytest.raises(LocationError) as e:
        normalize_url(raw, "location")
    assert e.value.code == code
    assert e.value.field == "location"
    assert str(e.value).startswith("location: ")


def test_error_names_the_callers_field() -> None:
    with pytest.raises(LocationError, match=r"^locations\[2\]: ") as e:
        parse_location("ftp://x.example", "locations[2]")
    assert e.value.field == "locations[2]"


PLATFORMS = [
    ("t.me", "telegram"), ("telegram.me", "telegram"), ("telegram.dog", "telegram"),
    ("somechan.t.me", "telegram"), ("x.com", "x"), ("twitter.com", "x"),
    ("mobile.twitter.com", "x"), ("facebook.com", "meta"), ("m.facebook.com", "meta"),
    ("fb.watch", "meta"), ("www.instagram.com", "meta"), ("instagr.am", "meta"),
    ("threads.net", "meta"), ("www.youtube.com", "youtube"), ("m.youtube.com", "youtube"),
    ("youtu.be", "youtube"), ("www.google.com", "search_engine"),
    ("www.google.co.kr", "search_engine"), ("images.google.de", "search_engine"),
    ("google.com", "search_engine"), ("www.bing.com", "search_engine"),
    ("search.naver.com", "search_engine"), ("drive.google.com", "other"),
    ("notgoogle.com", "other"), ("google.com.evil.example", "other"),
    ("t.me.evil.example", "other"), ("evilt.me", "other"), ("x.com.evil.example", "other"),
    ("notx.com", "other"), ("youtube.com.evil.example", "other"), ("t.co", "other"),
    ("example.com", "other"), ("t.xn--m-jtb", "other"),
]


@pytest.mark.parametrize(("host", "platform"), PLATFORMS)
def test_detect_platform(host: str, platform: str) -> None:
    assert detect_platform(host) == platform


def _ref(url: str) -> tuple[object, ...]:
    r = parse_telegram(url)
    return (r.kind.value, r.channel, r.channel_id, r.message_id, r.thread_id, r.comment_id,
            r.invite, r.sticker_set, r.is_bot, r.url)


M, C, INV, S = "message", "channel", "invite", "stickers"
TELEGRAM = [
    ("https://t.me/durov/123", (M, "durov", None, 123, None, None, None, None, False,
                                "https://t.me/durov/123")),
    ("t.me/Durov/123", (M, "durov", None, 123, None, None, None, None, False,
                        "https://t.me/durov/123")),
    ("https://telegram.me/durov/123?single", (M, "durov", None, 123, None, None, None, None,
                                              False, "https://t.me/durov/123")),
    ("https://telegram.dog/durov/5", (M, "durov", None, 5, None, None, None, None, False,
                                      "https://t.me/durov/5")),
    ("t.me/somechannel", (C, "somechannel", None, None, None, None, None, None, False,
                          "https://t.me/somechannel")),
    ("t.me/somechannel/", (C, "somechannel", None, None, None, None, None, None, False,
                           "https://t.me/somechannel")),
    ("t.me/abcd", (C, "abcd", None, None, None, None, None, None, False, "https://t.me/abcd")),
    ("t.me/" + "a" * 32, (C, "a" * 32, None, None, None, None, None, None, False,
                          "https://t.me/" + "a" * 32)),
    ("t.me/Deep_Fake_Bot", (C, "deep_fake_bot", None, None, None, None, None, None, True,
                            "https://t.me/deep_fake_bot")),
    ("t.me/nudifybot?start=ref123", (C, "nudifybot", None, None, None, None, None, None, True,
                                     "https://t.me/nudifybot")),
    ("t.me/s/somechannel/55", (M, "somechannel", None, 55, None, None, None, None, False,
                               "https://t.me/somechannel/55")),
    ("t.me/s/somechannel", (C, "somechannel", None, None, None, None, None, None, False,
                            "https://t.me/somechannel")),
    ("t.me/somegroup/7/1234", (M, "somegroup", None, 1234, 7, None, None, None, False,
                               "https://t.me/somegroup/7/1234")),
    ("t.me/somechannel/55?comment=9", (M, "somechannel", None, 55, None, 9, None, None, False,
                                       "https://t.me/somechannel/55?comment=9")),
    ("https://t.me/c/1234567890/7", (M, None, 1234567890, 7, None, None, None, None, False,
                                     "https://t.me/c/1234567890/7")),
    ("https://t.me/c/1234567890/3/7", (M, None, 1234567890, 7, 3, None, None, None, False,
                                       "https://t.me/c/1234567890/3/7")),
    ("https://t.me/c/1234567890", (C, None, 1234567890, None, None, None, None, None, False,
                                   "https://t.me/c/1234567890")),
    ("https://t.me/+AbCdEf_-12345678", (INV, None, None, None, None, None, "AbCdEf_-12345678",
                                        None, False, "https://t.me/+AbCdEf_-12345678")),
    ("https://t.me/joinchat/AAAAAEkK3o8zBbB", (INV, None, None, None, None, None,
                                               "AAAAAEkK3o8zBbB", None, False,
                                               "https://t.me/+AAAAAEkK3o8zBbB")),
    ("https://t.me/addstickers/Some_Set", (S, None, None, None, None, None, None, "Some_Set",
                                           False, "https://t.me/addstickers/Some_Set")),
    ("https://somechannel.t.me/12", (M, "somechannel", None, 12, None, None, None, None, False,
                                     "https://t.me/somechannel/12")),
    ("https://www.t.me/somechannel/12", (M, "somechannel", None, 12, None, None, None, None,
                                         False, "https://t.me/somechannel/12")),
    ("tg://resolve?domain=SomeChannel&post=9", (M, "somechannel", None, 9, None, None, None,
                                                None, False, "https://t.me/somechannel/9")),
    ("TG://resolve?domain=somechannel", (C, "somechannel", None, None, None, None, None, None,
                                         False, "https://t.me/somechannel")),
    ("tg://resolve?domain=somegroup&thread=4&post=9", (M, "somegroup", None, 9, 4, None, None,
                                                       None, False,
                                                       "https://t.me/somegroup/4/9")),
    ("tg://privatepost?channel=123456&post=4", (M, None, 123456, 4, None, None, None, None,
                                                False, "https://t.me/c/123456/4")),
    ("tg://join?invite=AbcDef_-12", (INV, None, None, None, None, None, "AbcDef_-12", None,
                                     False, "https://t.me/+AbcDef_-12")),
]


@pytest.mark.parametrize(("raw", "expected"), TELEGRAM)
def test_parse_telegram(raw: str, expected: tuple[object, ...]) -> None:
    assert _ref(raw) == expected
    assert _ref(str(expected[-1])) == expected  # the canonical link parses to the same


TELEGRAM_REJECTED = [
    ("https://t.me/", "bad_telegram_link"),
    ("https://t.me/abc", "bad_telegram_link"),                 # too short
    ("https://t.me/" + "a" * 33, "bad_telegram_link"),          # too long
    ("https://t.me/1channel", "bad_telegram_link"),             # must start with a letter
    ("https://t.me/_channel", "bad_telegram_link"),
    ("https://t.me/channel_", "bad_telegram_link"),
    ("https://t.me/chan-nel", "bad_telegram_link"),
    ("https://t.me/채널이름입니다", "bad_telegram_link"),
    ("https://t.me/durov/0", "bad_telegram_link"),
    ("https://t.me/durov/-1", "bad_telegram_link"),
    ("https://t.me/durov/abc", "bad_telegram_link"),
    ("https://t.me/durov/99999999999", "bad_telegram_link"),
    ("https://t.me/durov/1/2/3", "bad_telegram_link"),
    ("https://t.me/durov?comment=5", "bad_telegram_link"),      # a comment needs a message
    ("https://t.me/durov/5?comment=x", "bad_telegram_link"),
    ("https://t.me/c/", "bad_telegram_link"),
    ("https://t.me/c/abc/7", "bad_telegram_link"),
    ("https://t.me/c/0/7", "bad_telegram_link"),
    ("https://t.me/s/", "bad_telegram_link"),
    ("https://t.me/joinchat/", "bad_telegram_link"),
    ("https://t.me/joinchat/a/b", "bad_telegram_link"),
    ("https://t.me/+abc", "bad_telegram_link"),                 # too short for an invite
    ("https://t.me/+Abc%2Fdef12", "bad_telegram_link"),
    ("https://t.me/+AbcDef123/x", "bad_telegram_link"),
    ("https://t.me/+821012345678", "phone_link"),
    ("tg://resolve?phone=821012345678", "phone_link"),
    ("https://t.me/share/url?url=https://e.com", "bad_telegram_link"),
    ("https://t.me/proxy?server=1.2.3.4", "bad_telegram_link"),
    ("https://t.me/login/12345", "bad_telegram_link"),
    ("https://t.me/addstickers/", "bad_telegram_link"),
    ("https://t.me/addstickers/a/b", "bad_telegram_link"),
    ("tg://resolve", "bad_telegram_link"),
    ("tg://resolve?post=5", "bad_telegram_link"),
    ("tg://resolve?domain=abc", "bad_telegram_link"),
    ("tg://privatepost?channel=12", "bad_telegram_link"),
    ("tg://settings", "bad_telegram_link"),
    ("tg://msg_url?url=https://e.com", "bad_telegram_link"),
    ("tg://resolve?domain=durov&" + "&".join(f"k{i}=v" for i in range(30)), "bad_telegram_link"),
    ("tg://[resolve", "bad_telegram_link"),
    ("https://x.com/durov/1", "bad_telegram_link"),
    ("https://t.me.evil.example/durov/1", "bad_telegram_link"),
]


@pytest.mark.parametrize(("raw", "code"), TELEGRAM_REJECTED)
def test_parse_telegram_rejects(raw: str, code: str) -> None:
    with pytest.raises(LocationError) as e:
        parse_telegram(raw)
    assert e.value.code == code
    assert e.value.field == "location"


LOCATIONS = [
    ("https://x.com/someone/status/1790000000000000001?s=20",
     Location("https://x.com/someone/status/1790000000000000001", "x", "x.com")),
    ("www.youtube.com/watch?v=dQw4w9WgXcQ&si=a",
     Location("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "youtube", "www.youtube.com")),
    ("https://adult.example/video/99?utm_campaign=x",
     Location("https://adult.example/video/99", "other", "adult.example")),
    ("https://www.google.co.kr/search?q=name",
     Location("https://www.google.co.kr/search?q=name", "search_engine", "www.google.co.kr")),
    # tricks that only look like Telegram stay "other"
    ("https://evil.example/t.me/durov/1",
     Location("https://evil.example/t.me/durov/1", "other", "evil.example")),
    ("https://t.me.evil.example/durov/1",
     Location("https://t.me.evil.example/durov/1", "other", "t.me.evil.example")),
]


@pytest.mark.parametrize(("raw", "expected"), LOCATIONS)
def test_parse_location(raw: str, expected: Location) -> None:
    assert parse_location(raw) == expected


@pytest.mark.parametrize("raw", ["https://t.me/Durov/1", "t.me/s/durov/1", "telegram.me/durov/1",
                                 "tg://resolve?domain=DUROV&post=1", "durov.t.me/1"])
def test_telegram_spellings_are_one_location(raw: str) -> None:
    loc = parse_location(raw)
    assert loc.url == "https://t.me/durov/1"
    assert loc.platform == "telegram" and loc.host == "t.me"
    assert loc.telegram is not None and loc.telegram.kind is TelegramKind.MESSAGE
    assert (loc.telegram.channel, loc.telegram.message_id) == ("durov", 1)


@pytest.mark.parametrize(("raw", "platform", "ok"), [
    ("https://t.me/durov/1", "telegram", True),
    ("https://t.me/durov/1", "x", False),
    ("https://x.com/a/status/1", "meta", False),
    ("https://adult.example/v/1", "adult_site", True),
    ("https://adult.example/v/1", "other", True),
    ("https://adult.example/v/1", "telegram", True),  # an unknown host may be anyone's
])
def test_check_platform(raw: str, platform: str, ok: bool) -> None:
    loc = parse_location(raw)
    if ok:
        check_platform(loc, platform)
    else:
        with pytest.raises(LocationError, match=r"^platform: ") as e:
            check_platform(loc, platform)
        assert e.value.code == "platform_mismatch"


# --- properties -------------------------------------------------------------------------

_LABEL = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1,
                 max_size=12)
_UNI_LABEL = st.text(alphabet="abcxyzüé한국語Ω", min_size=1, max_size=8)
_HOST_ST = st.lists(st.one_of(_LABEL, _UNI_LABEL), min_size=1, max_size=4).map(".".join)
_PIECE = st.text(alphabet=string.ascii_letters + string.digits + "%~._-!$'()*+,;=:@/?영é",
                 max_size=20)
_KEYS = st.sampled_from(["utm_source", "UTM_x", "fbclid", "id", "v", "s", "t", "si", "q",
                         "igsh", "__cft__[0]", "a+b", "%75tm_x"])
_QUERY = st.lists(st.tuples(_KEYS, _PIECE).map(lambda kv: f"{kv[0]}={kv[1]}"),
                  max_size=5).map("&".join)
_URLS = st.builds(
    lambda scheme, host, port, path, query, frag: (
        f"{scheme}{host}{port}/{path}" + (f"?{query}" if query else "") + frag),
    st.sampled_from(["http://", "https://", "HTTPS://", "", "//"]),
    st.one_of(_HOST_ST, st.sampled_from(["x.com", "www.youtube.com", "m.facebook.com",
                                         "t.me", "127.0.0.1", "[::1]"])),
    st.sampled_from(["", ":80", ":443", ":8080", ":0"]),
    _PIECE, _QUERY,
    st.sampled_from(["", "#x", "#!/v/1", "#/a", "#%2F"]))


@settings(max_examples=400)
@given(_URLS)
@example("https://e.com/%2e%2E/a%2F%2e./")
@example("https://e.com/a/.%2e/b")
@example("https://e.com/?a=%26&b=%3D")
def test_normalize_is_idempotent(raw: str) -> None:
    try:
        once = normalize_url(raw)
    except LocationError:
        return
    assert normalize_url(once) == once
    assert len(once) <= MAX_URL_CHARS
    assert once.startswith(("http://", "https://"))


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=300), _URLS,
                 st.builds(lambda p, s: p + s,
                           st.sampled_from(["t.me/", "https://t.me/c/", "t.me/+", "t.me/s/",
                                            "tg://resolve?", "tg://privatepost?",
                                            "tg://join?", "x.tg://", "https://a.t.me/"]),
                           st.text(max_size=60))))
def test_parse_location_raises_only_location_error(raw: str) -> None:
    try:
        loc = parse_location(raw)
    except LocationError as e:
        assert e.field == "location"
        return
    assert parse_location(loc.url) == loc  # the one spelling is a fixed point
