"""A Telegram location's check: which addresses name a public post, and what its embed page
says (the page's own status is 200 whether or not the post exists)."""

from __future__ import annotations

import pytest

from hotline.domain.takedown import OnlineState
from hotline.domain.telegram_post import TelegramPost, embed_state, is_telegram, telegram_post

ON, OFF, UNK = OnlineState.ONLINE, OnlineState.OFFLINE, OnlineState.UNKNOWN
POST = TelegramPost("leakroom", 812)
SHOWN = ('<div class="tgme_widget_message text_not_supported_wrap js-widget_message" '
         'data-post="leakroom/812" data-view="x">')
GONE = '<div class="tgme_widget_message_error">Post not found</div>'
PRIVATE = '<div class="tgme_widget_message_error">Channel is private</div>'


@pytest.mark.parametrize(("host", "path", "query", "post"), [
    ("t.me", "/leakroom/812", "", POST),
    ("t.me", "/s/leakroom/812", "", POST),
    ("t.me", "/LeakRoom/812/", "", POST),
    ("t.me", "/leakroom/5/812", "", POST),       # in forum topic 5: the id is channel-wide
    ("t.me", "/leakroom/812", "comment=9", None),  # a comment: the post says nothing of it
    ("t.me", "/c/1234567/812", "", None),  # a private channel's post: not checkable
    ("t.me", "/leakroom", "", None),             # a channel's front page
    ("t.me", "/+AbCdEf123", "", None),           # an invite
    ("t.me", "/joinchat/AbCdEf", "", None),
    ("t.me", "/addstickers/Set", "", None),
    ("t.me", "/leakroom/812/5/6", "", None),
    ("leakroom.t.me", "/812", "", POST),
    ("localhost", "/s/leakroom/812", "", POST),   # a stand-in host
    ("t.me", "/1room/812", "", None),            # a username starts with a letter
    ("t.me", "/leakroom/abc", "", None),
])
def test_post_addresses(host: str, path: str, query: str, post: TelegramPost | None) -> None:
    assert telegram_post(host, path, query) == post


@pytest.mark.parametrize(("host", "also", "yes"), [
    ("t.me", (), True), ("T.ME", (), True), ("telegram.me", (), True),
    ("telegram.dog", (), True), ("leakroom.t.me", (), True), ("nott.me", (), False),
    ("example.org", (), False), ("localhost", ("localhost",), True),
])
def test_telegram_hosts(host: str, also: tuple[str, ...], yes: bool) -> None:
    assert is_telegram(host, also) is yes


@pytest.mark.parametrize(("status", "page", "state"), [
    (200, SHOWN, ON),
    (200, SHOWN.replace("leakroom", "LeakRoom"), ON),   # usernames ignore case
    (200, GONE, OFF),
    (200, PRIVATE, UNK),        # members still see it: not removed
    (200, SHOWN.replace("812", "813"), UNK),            # another post: says nothing
    (200, "<html>maintenance</html>", UNK),
    (404, "", OFF),
    (503, SHOWN, UNK),
    (None, "", UNK),
])
def test_embed_page_says(status: int | None, page: str, state: OnlineState) -> None:
    assert embed_state(status, page, POST) is state


def test_embed_path() -> None:
    assert POST.embed_path() == "/leakroom/812"
