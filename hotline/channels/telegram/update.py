"""Which Telegram updates can be handled, decided before python-telegram-bot parses them.

Telegram re-sends an update for as long as the webhook does not answer 2xx, so one that no
retry can make usable must be answered 200 (and counted), never 500: a body that is not UTF-8
JSON, nesting deeper than any real update, an id that is not a 64-bit integer (null, a list,
2**63 and more: a null chat id matched every staff member without a linked Telegram), a chat
or sender without an id, text that is not a string. Lone surrogates (a JSON escape no real
update carries, which no later encode accepts) become U+FFFD; the rest of the words are kept.

Times are ours: a message's `date` (and `edit_date`) is replaced by our clock before parsing.
The sender's `date: 0` queued a case as made in 1970, which aged to critical at once; one out
of range failed the parse. Pure functions; the webhook (channels/telegram.py) does the I/O.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Telegram's ids fit a signed 64-bit integer (they have at most 52 significant bits); so do
# our BIGINT columns.
ID_LIMIT = 2**63
# A real update nests a few levels (a reply's message, its entities, a keyboard's rows).
MAX_DEPTH = 24
# The message kinds whose time we set (the bots handle "message"; edits are parsed too).
_MESSAGES = ("message", "edited_message")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class Unusable(ValueError):
    """An update no retry can make usable; `reason` names the kind (a metric label)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse(raw: bytes, now: int) -> dict[str, Any]:
    """The update in `raw` as python-telegram-bot may parse it, its messages dated `now`
    (Unix seconds); Unusable if it can never be handled."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Unusable("not_utf8") from None
    except RecursionError:
        raise Unusable("too_deep") from None
    except ValueError:
        raise Unusable("not_json") from None
    if not isinstance(body, dict):
        raise Unusable("not_an_update")
    update: dict[str, Any] = _clean(body, 0)
    if not _is_id(update.get("update_id")):
        raise Unusable("bad_id")
    for kind in _MESSAGES:
        if kind in update:
            update[kind] = _message(update[kind], now)
    if "callback_query" in update:
        _callback(update["callback_query"])
    return update


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and \
        -ID_LIMIT <= value < ID_LIMIT


def _has_id(value: object) -> bool:
    """A chat or user object with an integer id."""
    return isinstance(value, dict) and _is_id(value.get("id"))


def _clean(value: Any, depth: int) -> Any:
    """A copy with lone surrogates replaced; Unusable past MAX_DEPTH or for an id ("id",
    "..._id") that is neither a string (file ids) nor a 64-bit integer."""
    if depth > MAX_DEPTH:
        raise Unusable("too_deep")
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            if (key == "id" or key.endswith("_id")) and not isinstance(v, str) \
                    and not _is_id(v):
                raise Unusable("bad_id")
            out[_text(key)] = _clean(v, depth + 1)
        return out
    return value


def _text(s: str) -> str:
    try:
        s.encode()
        return s
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", s)


def _message(msg: Any, now: int) -> dict[str, Any]:
    if not isinstance(msg, dict) or not _is_id(msg.get("message_id")):
        raise Unusable("bad_message")
    if not _has_id(msg.get("chat")):
        raise Unusable("no_chat")
    if "from" in msg and not _has_id(msg["from"]):
        raise Unusable("no_sender")
    for field in ("text", "caption"):
        if field in msg and not isinstance(msg[field], str):
            raise Unusable("bad_text")
    dated = {**msg, "date": now}
    if "edit_date" in msg:
        dated["edit_date"] = now
    return dated


def _callback(query: Any) -> None:
    if not isinstance(query, dict) or not isinstance(query.get("id"), str):
        raise Unusable("bad_callback")
    if not _has_id(query.get("from")):
        raise Unusable("no_sender")
    if "data" in query and not isinstance(query["data"], str):
        raise Unusable("bad_callback")
    message = query.get("message")
    if message is not None and not (isinstance(message, dict) and _has_id(message.get("chat"))
                                    and _is_id(message.get("message_id"))):
        raise Unusable("bad_callback")
