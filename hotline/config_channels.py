"""The [telegram] and [twilio] sections of config.toml (non-secrets only).

Tokens come from the environment (HOTLINE_TELEGRAM_BOT_TOKEN, HOTLINE_TELEGRAM_WEBHOOK_SECRET,
HOTLINE_TWILIO_ACCOUNT_SID, HOTLINE_TWILIO_AUTH_TOKEN); without them a channel is off.
"""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True)
class TwilioConfig:
    # Another REST base URL (a test stand-in). Env HOTLINE_TWILIO_API_BASE_URL.
    api_base_url: str = "https://api.twilio.com"
    # Our number, as Twilio shows it in From/To ("+82...").
    phone_number: str = ""
    # Voice messages (voicemail) are off unless a centre chooses them: a victim's safety.
    voicemail: bool = False
