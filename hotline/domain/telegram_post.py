"""What a Telegram location's page says about its post, as pure functions.

A `t.me/<channel>/<post>` page answers 200 whether or not the post still exists, so its HTTP
status says nothing. The post's embed page (`t.me/<channel>/<post>?embed=1&mode=tme`, what
Telegram's own widget loads) does: a post that is gone shows `tgme_widget_message_error`
with "Post not found"; one that is there carries `data-post="<channel>/<post>"`. Other
Telegram links (a private channel's `t.me/c/...`, a comment, an invite, a channel's front
page) cannot be checked from outside: their result is unknown, which never verifies nor
reopens anything. Links are read by hotline.domain.telegram_links. See docs/takedown.md,
"Monitoring".
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.domain.monitoring import classify
from hotline.domain.takedown import OnlineState
from hotline.domain.telegram_links import TelegramKind, is_telegram_host, parse_telegram
from hotline.domain.urls import LocationError

_GONE = "tgme_widget_message_error"
_NOT_FOUND = "post not found"
# Enough of the embed page to hold the widget's first element either way (the page is ~10 KB).
PAGE_BYTES = 256 * 1024
EMBED_QUERY = {"embed": "1", "mode": "tme"}


@dataclass(frozen=True)
class TelegramPost:
    channel: str
    post: int

    def embed_path(self) -> str:
        """The embed page's path (a post in a forum topic has one number channel-wide)."""
        return f"/{self.channel}/{self.post}"


def is_telegram(host: str, also: tuple[str, ...] = ()) -> bool:
    """Whether a location on `host` is Telegram's (`also`: more hosts read as Telegram)."""
    host = host.lower()
    return is_telegram_host(host) or host in also


def telegram_post(host: str, path: str, query: str = "") -> TelegramPost | None:
    """The public post a Telegram address names, or None when it names anything else (a
    private channel's post, a comment under a post, a channel, an invite, a sticker set).
    A host read as Telegram's that is not one of its own (a stand-in) is read as t.me."""
    host = host.lower() if is_telegram_host(host.lower()) else "t.me"
    try:
        ref = parse_telegram(f"https://{host}{path}" + (f"?{query}" if query else ""))
    except LocationError:
        return None
    if (ref.kind is not TelegramKind.MESSAGE or ref.channel is None or ref.message_id is None
            or ref.comment_id is not None):
        return None
    return TelegramPost(ref.channel, ref.message_id)


def embed_state(status: int | None, page: str, post: TelegramPost) -> OnlineState:
    """Online, offline or unknown from the embed page's status and (the start of) its text.
    Only "Post not found" is offline; a channel made private shows another error, and
    content still seen by its members is not removed: unknown."""
    if status != 200:
        return classify(status)
    lower = page.lower()
    if _GONE in lower:
        return OnlineState.OFFLINE if _NOT_FOUND in lower else OnlineState.UNKNOWN
    if f'data-post="{post.channel}/{post.post}"' in lower:
        return OnlineState.ONLINE
    return OnlineState.UNKNOWN
