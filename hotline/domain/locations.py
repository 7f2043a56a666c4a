"""Where a content item is: a normalized URL, the platform it is on, and for Telegram links the
channel and message.

Pure. `parse_location` is what the desk calls on a location a person typed; it raises only
`LocationError` (hotline.domain.urls), naming the form field. Platform codes are the intake
form's (hotline.domain.intake.PLATFORMS); hosts we cannot place are "other", and the person
filing says whether an "other" site is an adult site. See docs/takedown.md, "Locations".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from hotline.domain.telegram_links import (
    TelegramRef,
    is_telegram_host,
    is_tg_link,
    parse_telegram,
)
from hotline.domain.urls import LocationError, check_text, normalize_url

# Hosts of each platform; a host matches its entry or any subdomain of it (m.facebook.com).
PLATFORM_HOSTS: dict[str, tuple[str, ...]] = {
    "x": ("x.com", "twitter.com"),
    "meta": ("facebook.com", "fb.com", "fb.watch", "instagram.com", "instagr.am",
             "threads.net", "threads.com"),
    "youtube": ("youtube.com", "youtu.be", "youtube-nocookie.com"),
    "search_engine": ("bing.com", "duckduckgo.com", "search.naver.com", "search.daum.net"),
}
# Google's search front page at any country domain (google.com, google.co.kr, google.de);
# drive.google.com and the like are file hosts, so only these subdomains count.
_GOOGLE_SEARCH = re.compile(
    r"(?:www\.|images\.)?google\.(?:com|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})")
# The platforms detection can return; the rest (adult_site, ...) only a person can tell.
DETECTED = ("telegram", "x", "meta", "youtube", "search_engine", "other")


def _on(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def detect_platform(host: str) -> str:
    """The platform code of a (lower-case, punycode) host; "other" when unknown."""
    if is_telegram_host(host):
        return "telegram"
    if _GOOGLE_SEARCH.fullmatch(host):
        return "search_engine"
    for code, domains in PLATFORM_HOSTS.items():
        if any(_on(host, d) for d in domains):
            return code
    return "other"


@dataclass(frozen=True)
class Location:
    """A place content is at. `url` is its one spelling (for Telegram, the canonical t.me
    link), the key that tells two locations apart."""

    url: str
    platform: str
    host: str
    telegram: TelegramRef | None = None


def parse_location(text: object, field: str = "location") -> Location:
    """A URL or Telegram link (https or tg://) as typed, normalized and placed on a platform.

    Raises LocationError naming `field` for anything else: another scheme, a user name before
    the host, an empty or invalid host, control characters, a link longer than the limit, a
    Telegram link to no content or to a phone number."""
    raw = check_text(text, field)
    if is_tg_link(raw):
        ref = parse_telegram(raw, field)
        return Location(url=ref.url, platform="telegram", host="t.me", telegram=ref)
    url = normalize_url(raw, field)
    host = urlsplit(url).hostname or ""
    platform = detect_platform(host)
    if platform == "telegram":
        ref = parse_telegram(url, field)
        return Location(url=ref.url, platform=platform, host="t.me", telegram=ref)
    return Location(url=url, platform=platform, host=host)


def check_platform(location: Location, platform: str, field: str = "platform") -> None:
    """Refuse a platform that contradicts the link: a t.me link is on Telegram whatever the
    form says. A host we cannot place ("other") may be on any platform the person names."""
    if location.platform not in ("other", platform):
        raise LocationError(field, "platform_mismatch",
                            f"the location is on {location.platform}, not {platform}")

