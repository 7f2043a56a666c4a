"""The Telegram channel: the victim bot, the staff alert bot, their webhook (docs/telegram.md)."""

# The channel's secrets come from the environment, never config.toml.
ENV_TOKEN = "HOTLINE_TELEGRAM_BOT_TOKEN"  # noqa: S105
ENV_SECRET = "HOTLINE_TELEGRAM_WEBHOOK_SECRET"  # noqa: S105
