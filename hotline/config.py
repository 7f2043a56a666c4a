"""Configuration: config.toml for non-secrets, the environment for overrides and secrets.

Loaded once into frozen dataclasses. Any unknown or malformed key stops start-up with a
`ConfigError` naming the key and the expected form. See docs/configuration.md.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hotline.config_channels import TelegramConfig, TwilioConfig
from hotline.config_console import (
    ConsoleConfig,
    WellbeingConfig,
    validate_console,
    validate_trusted_proxies,
    validate_wellbeing,
)
from hotline.config_limits import LimitsConfig
from hotline.config_read import build_section
from hotline.config_referrals import ReferralsConfig, parse_referrals
from hotline.config_roster import RosterConfig, ShiftSeed, parse_roster
from hotline.config_streams import StreamsConfig
from hotline.domain.abandon import AbandonConfig
from hotline.domain.errors import ConfigError
from hotline.domain.routing import RoutingMode, RoutingRules
from hotline.domain.triage import rules_from_mapping
from hotline.reports.config import ReportsConfig
from hotline.takedown.config import TakedownConfig, parse_takedown

if typing.TYPE_CHECKING:
    from hotline.domain.triage import TriageRules

LANG_CODES = frozenset({"ko", "en"})


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # The URL victims and providers reach us at; Twilio signatures and Secure cookies use it.
    public_url: str = "http://127.0.0.1:8080"
    shutdown_timeout: float = 5.0
    # "HOST:PORT" of a listener of its own for /metrics, which only operators reach (never
    # proxied). Empty: none; /metrics on the public port then needs HOTLINE_METRICS_TOKEN.
    metrics_listen: str = ""
    # Proxies (addresses or networks) whose X-Forwarded-For names the client; empty: the
    # connection's peer is the client.
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class StorageConfig:
    data_dir: str = "data"
    # Empty: an SQLite file in data_dir.
    database_url: str = ""
    # Empty: a private redis-server started in data_dir.
    redis_url: str = ""
    redis_prefix: str = "hl"
    # How often the live state is checked against SQL (a lost Redis is rebuilt within this).
    reconcile_seconds: float = 5.0
    # PostgreSQL connections this process keeps open; a request beyond them waits for one.
    sql_pool_size: int = 30


@dataclass(frozen=True)
class LanguageConfig:
    supported: tuple[str, ...] = ("ko", "en")
    default: str = "ko"


@dataclass(frozen=True)
class RetentionConfig:
    # Contact addresses (phone numbers, chat ids) are kept only this long after a close.
    contact_days: int = 7
    # Message text of closed conversations.
    transcript_days: int = 90
    # Console sessions idle longer than this are ended.
    session_hours: int = 12
    sweep_seconds: float = 300.0


@dataclass(frozen=True)
class PrivacyConfig:
    # Where the web chat's quick-exit button sends the victim.
    quick_exit_url: str = "https://www.google.com/"
    # The longest single message accepted from any channel (characters).
    max_message_chars: int = 4000
    log_level: str = "INFO"


@dataclass(frozen=True)
class RoutingConfig:
    # "offer": the router offers each case to the best counselor; "pull": take-next only.
    mode: str = "offer"
    offer_timeout_seconds: int = 30
    no_new_offers_minutes: int = 10
    presence_timeout_seconds: int = 60
    miss_alert_after: int = 2
    scan_limit: int = 200

    def rules(self) -> RoutingRules:
        return RoutingRules(
            mode=RoutingMode(self.mode), offer_timeout_s=self.offer_timeout_seconds,
            no_new_before_end_s=self.no_new_offers_minutes * 60,
            presence_ttl_s=self.presence_timeout_seconds,
            miss_alert_after=self.miss_alert_after, scan_limit=self.scan_limit)


@dataclass(frozen=True)
class AlertsConfig:
    # An urgent alert not acknowledged within this goes to the next person, then the lead.
    ack_timeout_seconds: int = 300
    # Where to look for newly due escalations and lost consoles.
    check_seconds: float = 5.0


@dataclass(frozen=True)
class Config:
    server: ServerConfig = ServerConfig()
    storage: StorageConfig = StorageConfig()
    languages: LanguageConfig = LanguageConfig()
    retention: RetentionConfig = RetentionConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    twilio: TwilioConfig = field(default_factory=TwilioConfig)
    routing: RoutingConfig = RoutingConfig()
    alerts: AlertsConfig = AlertsConfig()
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    streams: StreamsConfig = field(default_factory=StreamsConfig)
    abandoned: AbandonConfig = field(default_factory=AbandonConfig)
    roster: RosterConfig = field(default_factory=RosterConfig)
    wellbeing: WellbeingConfig = field(default_factory=WellbeingConfig)
    triage: TriageRules = field(default_factory=lambda: _triage_rules({}))
    takedown: TakedownConfig = field(default_factory=TakedownConfig)
    referrals: ReferralsConfig = field(default_factory=ReferralsConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    # The folder config.toml was read from; relative paths resolve against it.
    base_dir: str = "."

    @property
    def data_path(self) -> Path:
        p = Path(self.storage.data_dir)
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def database_url(self) -> str:
        if self.storage.database_url:
            return self.storage.database_url
        return f"sqlite+aiosqlite:///{self.data_path / 'hotline.db'}"

    @property
    def secure_cookies(self) -> bool:
        return self.server.public_url.startswith("https://")


_SECTIONS: dict[str, type[Any]] = {
    "server": ServerConfig,
    "storage": StorageConfig,
    "languages": LanguageConfig,
    "retention": RetentionConfig,
    "privacy": PrivacyConfig,
    "console": ConsoleConfig,
    "routing": RoutingConfig,
    "alerts": AlertsConfig,
    "streams": StreamsConfig,
    "telegram": TelegramConfig,
    "twilio": TwilioConfig,
    "limits": LimitsConfig,
    "wellbeing": WellbeingConfig,
    "abandoned": AbandonConfig,
    "reports": ReportsConfig,
}
# Sections with nested tables, parsed by their own functions.
_SPECIAL = ("roster", "triage", "takedown", "referrals")

# Environment variable -> (section, key). Values are parsed like TOML scalars of the key's type.
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "HOTLINE_HOST": ("server", "host"),
    "HOTLINE_PORT": ("server", "port"),
    "HOTLINE_PUBLIC_URL": ("server", "public_url"),
    "HOTLINE_METRICS_LISTEN": ("server", "metrics_listen"),
    "HOTLINE_TRUSTED_PROXIES": ("server", "trusted_proxies"),
    "HOTLINE_DATA_DIR": ("storage", "data_dir"),
    "HOTLINE_DATABASE_URL": ("storage", "database_url"),
    "HOTLINE_REDIS_URL": ("storage", "redis_url"),
    "HOTLINE_REDIS_PREFIX": ("storage", "redis_prefix"),
    "HOTLINE_LOG_LEVEL": ("privacy", "log_level"),
    "HOTLINE_TELEGRAM_API_BASE_URL": ("telegram", "api_base_url"),
    "HOTLINE_TWILIO_API_BASE_URL": ("twilio", "api_base_url"),
}


def _triage_rules(raw: Any) -> TriageRules:
    if not isinstance(raw, dict):
        raise ConfigError("triage: expected a table [triage]")
    return rules_from_mapping(raw)


def _validate(cfg: Config) -> None:
    s = cfg.server
    if not 0 <= s.port <= 65535:
        raise ConfigError(f"server.port: expected 0..65535, got {s.port}")
    host, _, port = s.metrics_listen.rpartition(":")
    if s.metrics_listen and not (host and port.isascii() and port.isdigit()
                                 and 1 <= int(port) <= 65535):
        raise ConfigError("server.metrics_listen: expected HOST:PORT (e.g. 127.0.0.1:9464) "
                          f"or empty, got {s.metrics_listen!r}")
    url = urlsplit(s.public_url)
    if url.scheme not in ("http", "https") or not url.netloc or url.path not in ("", "/"):
        raise ConfigError(
            f"server.public_url: expected http(s)://host[:port] with no path, got {s.public_url!r}"
        )
    langs = cfg.languages
    if not langs.supported:
        raise ConfigError("languages.supported: expected at least one language")
    for lang in langs.supported:
        if lang not in LANG_CODES:
            raise ConfigError(
                f"languages.supported: {lang!r} has no prompts (available: "
                f"{', '.join(sorted(LANG_CODES))})"
            )
    if langs.default not in langs.supported:
        raise ConfigError(f"languages.default: {langs.default!r} is not in languages.supported")
    db = cfg.storage.database_url
    if db and not db.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "storage.database_url: expected sqlite+aiosqlite:///PATH or "
            "postgresql+asyncpg://USER@HOST/DB"
        )
    redis = cfg.storage.redis_url
    if redis and not redis.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("storage.redis_url: expected redis://HOST:PORT/DB or unix:///PATH")
    if not cfg.storage.redis_prefix or any(c in cfg.storage.redis_prefix for c in " {}"):
        raise ConfigError(
            "storage.redis_prefix: expected a non-empty word without spaces or braces")
    for name, value in (
        ("retention.contact_days", cfg.retention.contact_days),
        ("retention.transcript_days", cfg.retention.transcript_days),
        ("retention.session_hours", cfg.retention.session_hours),
        ("privacy.max_message_chars", cfg.privacy.max_message_chars),
        ("console.login_free_failures", cfg.console.login_free_failures),
        ("storage.sql_pool_size", cfg.storage.sql_pool_size),
    ):
        if value < 1:
            raise ConfigError(f"{name}: expected a positive integer, got {value}")
    validate_console(cfg.console, LANG_CODES)
    validate_wellbeing(cfg.wellbeing)
    validate_trusted_proxies(s.trusted_proxies)
    if cfg.routing.mode not in [m.value for m in RoutingMode]:
        raise ConfigError("routing.mode: expected \"offer\" or \"pull\"")
    for name, value in (
        ("routing.offer_timeout_seconds", cfg.routing.offer_timeout_seconds),
        ("routing.presence_timeout_seconds", cfg.routing.presence_timeout_seconds),
        ("routing.miss_alert_after", cfg.routing.miss_alert_after),
        ("routing.scan_limit", cfg.routing.scan_limit),
        ("alerts.ack_timeout_seconds", cfg.alerts.ack_timeout_seconds),
    ):
        if value < 1:
            raise ConfigError(f"{name}: expected a positive integer, got {value}")
    if cfg.routing.scan_limit > 5000:
        # take_next reads the scanned cases in one HMGET (Lua unpack's stack bounds it) and
        # holds Redis for the scan: keep it short.
        raise ConfigError("routing.scan_limit: expected at most 5000, "
                          f"got {cfg.routing.scan_limit}")
    if cfg.routing.no_new_offers_minutes < 0:
        raise ConfigError("routing.no_new_offers_minutes: expected 0 or more")
    if cfg.telegram.mode not in ("webhook", "polling"):
        raise ConfigError('telegram.mode: expected "webhook" or "polling"')
    for name, base in (("telegram.api_base_url", cfg.telegram.api_base_url),
                       ("twilio.api_base_url", cfg.twilio.api_base_url)):
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"{name}: expected an http(s) URL, got {base!r}")
    if not 1 <= cfg.telegram.max_file_mb <= 2000:
        raise ConfigError("telegram.max_file_mb: expected 1..2000")
    if cfg.privacy.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("privacy.log_level: expected DEBUG, INFO, WARNING or ERROR")


def load_config(path: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Read config.toml (or the packaged default) and the environment; validate everything."""
    env = os.environ if env is None else env
    if path is None:
        path = env.get("HOTLINE_CONFIG") or _default_config_path()
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {p}: not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {p}: not valid TOML ({e})") from None
    # The packaged default lives in site-packages: resolve its data_dir against the cwd.
    base = Path.cwd() if p.name == "_default_config.toml" else p.resolve().parent
    return config_from_mapping(raw, env, base_dir=str(base))


def config_from_mapping(raw: Mapping[str, Any], env: Mapping[str, str] | None = None,
                        base_dir: str = ".") -> Config:
    """Build a Config from an already-parsed TOML mapping (used by tests and load_config)."""
    env = {} if env is None else env
    for section, body in raw.items():
        if section not in _SECTIONS and section not in _SPECIAL:
            raise ConfigError(
                f"{section}: unknown section (known: "
                f"{', '.join(sorted([*_SECTIONS, *_SPECIAL]))})"
            )
        if not isinstance(body, dict):
            raise ConfigError(f"{section}: expected a table [{section}]")
    parts = {
        name: build_section(name, cls, raw.get(name, {}), env, ENV_OVERRIDES)
        for name, cls in _SECTIONS.items()
    }
    cfg = Config(**parts, roster=parse_roster(raw.get("roster", {})),
                 triage=_triage_rules(raw.get("triage", {})),
                 takedown=parse_takedown(raw.get("takedown", {}), base_dir),
                 referrals=parse_referrals(raw.get("referrals", {}),
                                           parts["languages"].supported),
                 base_dir=base_dir)
    try:
        _validate(cfg)
    except ConfigError as e:
        # A bad value that came from the environment names the variable, not just the key.
        msg = str(e)
        for var, (section, key) in ENV_OVERRIDES.items():
            dotted = f"{section}.{key}"
            if var in env and msg.startswith(f"{dotted}:"):
                raise ConfigError(f"{var} ({dotted}){msg[len(dotted):]}") from None
        raise
    return cfg


def _default_config_path() -> Path:
    here = Path(__file__).resolve().parent
    packaged = here / "_default_config.toml"
    if packaged.exists():
        return packaged
    return here.parent / "config.toml"


def replace(cfg: Config, **sections: Any) -> Config:
    """A copy of cfg with whole sections or fields replaced (dataclasses.replace, typed)."""
    return dataclasses.replace(cfg, **sections)


__all__ = [
    "Config",
    "ConfigError",
    "ConsoleConfig",
    "LanguageConfig",
    "LimitsConfig",
    "PrivacyConfig",
    "ReferralsConfig",
    "RetentionConfig",
    "RosterConfig",
    "RoutingConfig",
    "ServerConfig",
    "ShiftSeed",
    "StorageConfig",
    "StreamsConfig",
    "TelegramConfig",
    "TwilioConfig",
    "WellbeingConfig",
    "config_from_mapping",
    "load_config",
    "replace",
]
