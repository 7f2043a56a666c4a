"""Clusters: one Telegram channel or bot, one account, or one site named by several victims'
items. Pure key extraction from a stored location, and the priority a cluster lends.

Keys (lower-case, stable): `telegram:channel:NAME`, `telegram:bot:NAME`, `telegram:c:ID`
(a private channel), `telegram:invite:HASH` (case kept), `telegram:stickers:SET`,
`x:ACCOUNT`, `instagram:ACCOUNT`, `facebook:ACCOUNT`, `threads:ACCOUNT`, `youtube:HANDLE`,
`site:HOST` (any other site, `www.` dropped). A big platform's link that names no account
(a YouTube watch link, a search result) has no key: "youtube.com" shared by two victims says
nothing. See docs/takedown.md, "Clusters".
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

# Victims a cluster must have before its items' requests go up the worklist.
CLUSTER_MIN_VICTIMS = 2

_ACCOUNT = re.compile(r"[a-z0-9_.][a-z0-9_.-]{0,63}")
# First path segments that are the platform's own pages, never an account.
_X_PAGES = frozenset({"i", "home", "search", "explore", "hashtag", "intent", "share",
                      "settings", "messages", "notifications", "login", "signup", "tos"})
_IG_PAGES = frozenset({"p", "reel", "reels", "tv", "explore", "accounts", "direct", "about",
                       "legal", "developer", "web"})
_FB_PAGES = frozenset({"watch", "photo", "photo.php", "video.php", "permalink.php", "story.php",
                       "share", "sharer", "sharer.php", "login", "help", "reel", "events",
                       "marketplace", "gaming", "hashtag", "search", "plugins", "dialog"})
_BIG = {"x.com": "x", "twitter.com": "x", "instagram.com": "instagram",
        "instagr.am": "instagram", "facebook.com": "facebook", "fb.com": "facebook",
        "fb.watch": "facebook", "threads.net": "threads", "threads.com": "threads",
        "youtube.com": "youtube", "youtu.be": "youtube", "youtube-nocookie.com": "youtube"}
_SEARCH = re.compile(r"(?:.+\.)?(?:google\.[a-z.]+|bing\.com|duckduckgo\.com|naver\.com|"
                     r"daum\.net)")


def _site(host: str) -> str | None:
    for domain, code in _BIG.items():
        if host == domain or host.endswith("." + domain):
            return code
    return None


def _account(segment: str, pages: frozenset[str]) -> str | None:
    name = segment.lower().lstrip("@")
    return name if name and name not in pages and _ACCOUNT.fullmatch(name) else None


def _telegram(url: str, kind: str | None, channel: str | None) -> str | None:
    if channel:
        if channel.isdigit():
            return f"telegram:c:{channel}"
        return f"telegram:{'bot' if channel.endswith('bot') else 'channel'}:{channel}"
    path = urlsplit(url).path
    if kind == "invite" and path.startswith("/+"):
        return f"telegram:invite:{path[2:]}"
    if kind == "stickers":
        return f"telegram:stickers:{path.rsplit('/', 1)[-1].lower()}"
    return None


def _big(code: str, url: str) -> str | None:
    parts = urlsplit(url)
    seg = [s for s in parts.path.split("/") if s]
    if code == "x":
        name = _account(seg[0], _X_PAGES) if seg else None
    elif code == "instagram":
        if seg[:1] == ["stories"] and len(seg) > 1:
            seg = seg[1:]
        name = _account(seg[0], _IG_PAGES) if seg else None
    elif code == "facebook":
        query = dict(parse_qsl(parts.query))
        if seg[:1] == ["profile.php"] and query.get("id", "").isdigit():
            name = query["id"]
        elif seg[:1] == ["groups"] and len(seg) > 1:
            name = _account("groups." + seg[1], _FB_PAGES)
        else:
            name = _account(seg[0], _FB_PAGES) if seg else None
    elif code == "threads":
        name = _account(seg[0], frozenset()) if seg and seg[0].startswith("@") else None
    else:  # youtube: @handle, channel/ID, c/NAME, user/NAME
        if seg and seg[0].startswith("@"):
            name = _account(seg[0], frozenset())
        elif len(seg) > 1 and seg[0] in ("channel", "c", "user"):
            name = _account(seg[1], frozenset())
        else:
            name = None
    return f"{code}:{name}" if name else None


def cluster_key(url: str, host: str, telegram_kind: str | None = None,
                channel: str | None = None) -> str | None:
    """The cluster a stored location belongs to (module doc), or None."""
    if host == "t.me":
        return _telegram(url, telegram_kind, channel)
    code = _site(host)
    if code is not None:
        return _big(code, url)
    if _SEARCH.fullmatch(host):
        return None
    return f"site:{host.removeprefix('www.')}"


def raises_priority(victims: int) -> bool:
    """Whether a cluster's victims push its items' requests up the worklist."""
    return victims >= CLUSTER_MIN_VICTIMS


def worklist_rank(overdue: bool, critical: bool, cluster_victims: int, due_at: str | None
                  ) -> tuple[bool, bool, bool, int, str]:
    """The worklist's order: overdue first, then critical cases, then requests of clusters
    with two or more victims (more victims first), then by due time (ISO, none last)."""
    return (not overdue, not critical, not raises_priority(cluster_victims),
            -cluster_victims, due_at or "9999-12-31T23:59:59+00:00")
