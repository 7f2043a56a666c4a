"""Telegram links parsed into what they point at: a public channel, group or bot, a message in
one, a private channel's message, an invite, or a sticker set.

Pure. Accepted forms (any of t.me, telegram.me, telegram.dog; `name.t.me` too):
- `t.me/name` (channel only), `t.me/name/123` (message), `t.me/name/5/123` (message 123 in
  forum topic 5), `t.me/s/name[/123]` (the web preview of the same);
- `t.me/c/123456/7` (a private channel's internal id and message; `t.me/c/123456/5/7` in a
  topic);
- `t.me/+HASH` and `t.me/joinchat/HASH` (invites; the hash is case-sensitive and kept as given);
- `t.me/addstickers/SET`, `t.me/addemoji/SET` (sticker and emoji sets);
- `tg://resolve?domain=name[&post=123][&thread=5]`, `tg://privatepost?channel=123456&post=7`,
  `tg://join?invite=HASH`.
A `?comment=N` (a comment under a channel post) is kept; other query parameters are not.
Usernames are case-insensitive and lower-cased: a letter first, then letters, digits and
underscores, 4 to 32 long (5 is the ordinary minimum; 4-character names are sold as
collectibles), not ending in "_". A name ending in "bot" is a bot. A phone-number link
(`t.me/+8210...`, `tg://resolve?phone=`) is refused: it names a person's account, not content,
and we do not store phone numbers. Every result has one canonical https URL, so two spellings
of one message are one location.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl, urlsplit

from hotline.domain.urls import LocationError, check_text, normalize_url

TELEGRAM_HOSTS = ("t.me", "telegram.me", "telegram.dog")
_USERNAME = re.compile(r"[a-z][a-z0-9_]{2,30}[a-z0-9]")
_INVITE = re.compile(r"[A-Za-z0-9_-]{6,64}")
_SET_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_NUMBER = re.compile(r"[0-9]{1,15}")
# First path segments that are Telegram's own pages, never a channel name.
_RESERVED = frozenset({
    "addlist", "addtheme", "bg", "boost", "confirmphone", "contact", "giftcode", "invoice",
    "iv", "login", "m", "nft", "proxy", "setlanguage", "share", "socks", "dl", "k", "a", "z",
})
_MAX_MESSAGE_ID = 2**31 - 1
_MAX_CHANNEL_ID = 10**15


class TelegramKind(StrEnum):
    CHANNEL = "channel"      # a public channel, group or bot, no message
    MESSAGE = "message"      # one message in a public or private channel or group
    INVITE = "invite"        # an invite link to a (usually private) group or channel
    STICKERS = "stickers"    # a sticker or emoji set


@dataclass(frozen=True)
class TelegramRef:
    """What a Telegram link points at. `channel` is the lower-cased public username;
    `channel_id` the internal id of a private channel (t.me/c/ID/...); one of them is set for
    channels and messages."""

    kind: TelegramKind
    channel: str | None = None
    channel_id: int | None = None
    message_id: int | None = None
    thread_id: int | None = None
    comment_id: int | None = None
    invite: str | None = None
    sticker_set: str | None = None

    @property
    def is_bot(self) -> bool:
        return self.channel is not None and self.channel.endswith("bot")

    @property
    def url(self) -> str:
        """The canonical link."""
        if self.kind is TelegramKind.INVITE:
            return f"https://t.me/+{self.invite}"
        if self.kind is TelegramKind.STICKERS:
            return f"https://t.me/addstickers/{self.sticker_set}"
        parts = [self.channel] if self.channel is not None else ["c", str(self.channel_id)]
        parts += [str(n) for n in (self.thread_id, self.message_id) if n is not None]
        query = f"?comment={self.comment_id}" if self.comment_id is not None else ""
        return "https://t.me/" + "/".join(p for p in parts if p) + query


def _bad(field: str, message: str) -> LocationError:
    return LocationError(field, "bad_telegram_link", message)


def username(text: str, field: str) -> str:
    """A public username, lower-cased, or LocationError."""
    name = text.lower()
    if not _USERNAME.fullmatch(name):
        raise _bad(field, "not a valid Telegram username (4-32 letters, digits or _, "
                          "starting with a letter)")
    return name


def _number(text: str, field: str, what: str, limit: int) -> int:
    if not _NUMBER.fullmatch(text) or not 0 < int(text) <= limit:
        raise _bad(field, f"the {what} is not a valid number")
    return int(text)


def _phone_link(field: str) -> LocationError:
    return LocationError(field, "phone_link", "a phone-number link names a person, not "
                                              "content; give the channel or message link")


def _invite(text: str, field: str) -> TelegramRef:
    if text.isdigit():
        raise _phone_link(field)
    if not _INVITE.fullmatch(text):
        raise _bad(field, "not a valid invite link")
    return TelegramRef(TelegramKind.INVITE, invite=text)


def _message(base: TelegramRef, rest: list[str], comment: int | None,
             field: str) -> TelegramRef:
    """`base` (a channel) with the message path after it: nothing, [msg] or [thread, msg]."""
    if not rest:
        if comment is not None:
            raise _bad(field, "a comment link needs a message")
        return base
    if len(rest) > 2:
        raise _bad(field, "too many parts after the channel")
    ids = [_number(r, field, "message id", _MAX_MESSAGE_ID) for r in rest]
    return TelegramRef(TelegramKind.MESSAGE, channel=base.channel, channel_id=base.channel_id,
                       message_id=ids[-1], thread_id=ids[0] if len(ids) == 2 else None,
                       comment_id=comment)


def _from_path(segments: list[str], comment: int | None, field: str) -> TelegramRef:
    if not segments:
        raise _bad(field, "the link names no channel, message or invite")
    first, rest = segments[0], segments[1:]
    if first == "s":
        if not rest:
            raise _bad(field, "the preview link names no channel")
        first, rest = rest[0], rest[1:]
    elif first == "c":
        if not rest:
            raise _bad(field, "the private channel link has no channel id")
        cid = _number(rest[0], field, "channel id", _MAX_CHANNEL_ID)
        return _message(TelegramRef(TelegramKind.CHANNEL, channel_id=cid), rest[1:], comment,
                        field)
    elif first == "joinchat" or first.startswith("+"):
        code = first[1:] if first.startswith("+") else (rest[0] if rest else "")
        if len(rest) > (0 if first.startswith("+") else 1):
            raise _bad(field, "too many parts after the invite")
        return _invite(code, field)
    elif first in ("addstickers", "addemoji"):
        if len(rest) != 1 or not _SET_NAME.fullmatch(rest[0]):
            raise _bad(field, "not a valid sticker set link")
        return TelegramRef(TelegramKind.STICKERS, sticker_set=rest[0])
    if first.lower() in _RESERVED:
        raise _bad(field, "a Telegram page, not a channel, message or invite")
    base = TelegramRef(TelegramKind.CHANNEL, channel=username(first, field))
    return _message(base, rest, comment, field)


def _comment(query: str, field: str) -> int | None:
    for key, value in _pairs(query, field):
        if key == "comment":
            return _number(value, field, "comment id", _MAX_MESSAGE_ID)
    return None


def _pairs(query: str, field: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(query, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        raise _bad(field, "too many parameters") from None


def is_telegram_host(host: str) -> bool:
    """t.me, telegram.me, telegram.dog or a name.t.me subdomain."""
    return host in TELEGRAM_HOSTS or host.endswith(".t.me")


def _from_https(url: str, field: str) -> TelegramRef:
    parts = urlsplit(url)
    host = parts.hostname or ""
    segments = [s for s in parts.path.split("/") if s]
    if host.endswith(".t.me") and host != "www.t.me":
        segments = [host.removesuffix(".t.me"), *segments]
    return _from_path(segments, _comment(parts.query, field), field)


def _from_tg(text: str, field: str) -> TelegramRef:
    try:
        parts = urlsplit(text)
    except ValueError:
        raise _bad(field, "not a valid tg:// link") from None
    action = parts.netloc.lower()
    args: dict[str, str] = {}
    for key, value in _pairs(parts.query, field):
        args.setdefault(key, value)
    comment = (_number(args["comment"], field, "comment id", _MAX_MESSAGE_ID)
               if "comment" in args else None)
    rest = [args[k] for k in ("thread", "post") if k in args]
    if action == "resolve" and "phone" in args:
        raise _phone_link(field)
    if action == "resolve" and "domain" in args:
        base = TelegramRef(TelegramKind.CHANNEL, channel=username(args["domain"], field))
        return _message(base, rest, comment, field)
    if action == "privatepost" and "channel" in args and "post" in args:
        cid = _number(args["channel"], field, "channel id", _MAX_CHANNEL_ID)
        return _message(TelegramRef(TelegramKind.CHANNEL, channel_id=cid), rest, comment,
                        field)
    if action == "join" and "invite" in args:
        return _invite(args["invite"], field)
    raise _bad(field, "not a tg:// link to a channel, message or invite")


def is_tg_link(text: str) -> bool:
    return text[:5].lower() == "tg://"


def parse_telegram(text: object, field: str = "location") -> TelegramRef:
    """A Telegram link (https or tg://) parsed, or LocationError naming `field`."""
    raw = check_text(text, field)
    if is_tg_link(raw):
        return _from_tg(raw, field)
    url = normalize_url(raw, field)
    if not is_telegram_host(urlsplit(url).hostname or ""):
        raise _bad(field, "not a Telegram link")
    return _from_https(url, field)
