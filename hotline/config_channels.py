"""The [telegram] and [twilio] sections of config.toml (non-secrets only).

Tokens come from the environment (HOTLINE_TELEGRAM_BOT_TOKEN, HOTLINE_TELEGRAM_WEBHOOK_SECRET,
HOTLINE_TWILIO_ACCOUNT_SID, HOTLINE_TWILIO_AUTH_TOKEN); without them a channel is off.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.domain.errors import ConfigError
from hotline.domain.phone import E164


@dataclass(frozen=True)
class TelegramConfig:
    # "webhook": updates arrive at POST /webhooks/telegram; "polling": development without a
    # public URL.
    mode: str = "webhook"
    # Another Bot API server (self-hosted, or a test stand-in). Env HOTLINE_TELEGRAM_API_BASE_URL.
    api_base_url: str = "https://api.telegram.org"
    # Where staff alerts go (a staff group chat id); 0: to each on-shift takedown person's chat.
    staff_chat_id: int = 0
    # Largest photo or document accepted from a victim (Telegram's download limit is 20 MB).
    max_file_mb: int = 20
    # Document types accepted as evidence (photos are always images); others get a clear reply.
    document_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp",
                                       "application/pdf", "video/mp4")
    # PDQ matching (Meta's guidance): distance <= this is a match; hashes of lower quality than
    # pdq_min_quality are kept but never matched. Both are logged with every match.
    pdq_match_distance: int = 31
    pdq_min_quality: int = 50
    # A file kept with the victim's consent (encrypted) is deleted after this many days.
    evidence_days: int = 30
    # Updates processed at once (different chats); one chat's updates always run in order.
    concurrent_updates: int = 32

    def __post_init__(self) -> None:
        # Checked here because these keys belong to the Telegram channel alone.
        if not 0 <= self.pdq_match_distance <= 256:
            raise ConfigError("telegram.pdq_match_distance: expected 0..256")
        if not 0 <= self.pdq_min_quality <= 100:
            raise ConfigError("telegram.pdq_min_quality: expected 0..100")
        if self.evidence_days < 1:
            raise ConfigError("telegram.evidence_days: expected a positive integer")
        if not 1 <= self.concurrent_updates <= 256:
            raise ConfigError("telegram.concurrent_updates: expected 1..256")
        if any("/" not in t for t in self.document_types):
            raise ConfigError("telegram.document_types: expected MIME types like image/png")


@dataclass(frozen=True)
class TwilioConfig:
    # Another REST base URL (a test stand-in). Env HOTLINE_TWILIO_API_BASE_URL.
    api_base_url: str = "https://api.twilio.com"
    # Our number, as Twilio shows it in From/To ("+82...").
    phone_number: str = ""
    # The country a number typed with its trunk "0" belongs to (web-chat call-back forms):
    # "010-1234-5678" becomes +82 10 1234 5678.
    home_country_code: str = "82"
    # Voices for <Say> (Amazon Polly through Twilio), one per language in prompts/.
    voice_ko: str = "Polly.Seoyeon"
    voice_en: str = "Polly.Joanna"
    # The Twilio queue callers wait in. One for everyone: our own queue decides the order.
    queue_name: str = "hotline"
    # Seconds between spoken hold updates (place in line and estimated wait).
    hold_repeat_seconds: int = 30
    # How long a counselor's phone rings before the caller goes back to the queue.
    dial_timeout_seconds: int = 20
    # Every REST call to Twilio is cut off after this (the client's own timeout is ignored).
    rest_timeout_seconds: float = 10.0
    # A counselor's reply goes out as SMS messages of at most this many segments each
    # (Korean: 67 characters a segment; Twilio refuses bodies over 1600 characters).
    sms_max_segments: int = 10

    def __post_init__(self) -> None:
        if self.phone_number and not E164.match(self.phone_number):
            raise ConfigError("twilio.phone_number: expected an E.164 number like +8215661366")
        for name, value, low, high in (
                ("hold_repeat_seconds", self.hold_repeat_seconds, 5, 600),
                ("dial_timeout_seconds", self.dial_timeout_seconds, 5, 120),
                ("sms_max_segments", self.sms_max_segments, 1, 10)):
            if not low <= value <= high:
                raise ConfigError(f"twilio.{name}: expected {low}..{high}, got {value}")
        if not 0.5 <= self.rest_timeout_seconds <= 60:
            raise ConfigError("twilio.rest_timeout_seconds: expected 0.5..60")
        if not (self.home_country_code.isascii() and self.home_country_code.isdigit()
                and 1 <= len(self.home_country_code) <= 3
                and not self.home_country_code.startswith("0")):
            raise ConfigError("twilio.home_country_code: expected 1-3 digits like 82")
        if not self.queue_name or len(self.queue_name) > 64:
            raise ConfigError("twilio.queue_name: expected 1-64 characters")

    def voice_for(self, language: str) -> str:
        """The <Say> voice for a language (the English one for any other)."""
        return self.voice_ko if language == "ko" else self.voice_en
