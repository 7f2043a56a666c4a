"""The [takedown] section of config.toml: the platform directory's file, the desk's own
details that go into every request, the SMTP relay and the deadline job's beat.

The directory is read and checked at start-up (hotline.domain.platforms.parse_directory): a
bad entry stops it naming the key. The relay's password comes from the environment
(HOTLINE_SMTP_PASSWORD) when a message is sent, never from this file. See docs/takedown.md.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotline.domain.errors import ConfigError
from hotline.domain.platforms import Directory, parse_directory

DEFAULT_PLATFORMS_FILE = "platforms.toml"
SMTP_SECURITY = ("none", "starttls", "tls")
# Name of the environment variable, not a secret.
ENV_SMTP_PASSWORD = "HOTLINE_SMTP_PASSWORD"  # noqa: S105


def _bundled_platforms() -> Path:
    """platforms.toml of the source tree, or the copy packaged into the wheel."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_platforms.toml"
    return packaged if packaged.exists() else here.parent / DEFAULT_PLATFORMS_FILE


@functools.cache
def _read_directory(path: Path, key: str) -> Directory:
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{key}: {path} not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{key}: {path} is not valid TOML ({e})") from None
    unknown = sorted(set(raw) - {"platforms"})
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown table in {path} (expected [platforms.*])")
    return parse_directory(raw.get("platforms"), where="platforms")


def default_directory() -> Directory:
    return _read_directory(_bundled_platforms(), "takedown.platforms_file")


@dataclass(frozen=True)
class MonitorConfig:
    """[takedown.monitor]: the recheck job (docs/takedown.md, "Monitoring")."""

    enabled: bool = True
    # How often the job looks for locations due a check.
    check_seconds: float = 30.0
    # Between checks of one location: while its item is open, and once it is removed.
    active_minutes: int = 60
    monitoring_hours: int = 24
    # One check's whole time budget, and the user agent it announces.
    timeout_seconds: float = 10.0
    user_agent: str = "hotline-takedown-monitor/1 (+https://example.org/abuse)"
    # Checks in flight at once, in all; per host at once; and starts per host per second.
    concurrency: int = 32
    per_host: int = 2
    per_host_per_second: float = 2.0
    # Locations taken per pass (a pass checks them, then records them in one transaction).
    batch: int = 500
    # Whether addresses on private networks (loopback, 10/8, ...) may be fetched: never in
    # production (a typed link must not reach the centre's own network); tests turn it on.
    allow_private: bool = False
    # More hosts read as Telegram's, besides t.me, telegram.me, telegram.dog and *.t.me (a
    # test's stand-in): a post there is checked through its embed page. Lower case.
    telegram_hosts: tuple[str, ...] = ()


_MONITOR_RANGES: dict[str, tuple[float, float]] = {
    "check_seconds": (1, 3600), "active_minutes": (1, 24 * 60),
    "monitoring_hours": (1, 24 * 30), "timeout_seconds": (0.5, 120), "concurrency": (1, 1000),
    "per_host": (1, 100), "per_host_per_second": (0.01, 1000), "batch": (1, 20000)}


def _typed(where: str, fields: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        f = fields.get(key)
        if f is None:
            raise ConfigError(f"{where}.{key}: unknown key (known keys: "
                              f"{', '.join(sorted(fields))})")
        want = type(f.default)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or (want is not bool and isinstance(value, bool)):
            raise ConfigError(f"{where}.{key}: expected {want.__name__}, got {value!r}")
        values[key] = value
    return values


def parse_monitor(raw: object) -> MonitorConfig:
    """[takedown.monitor] checked key by key; a bad value names its key."""
    if not isinstance(raw, Mapping):
        raise ConfigError("takedown.monitor: expected a table [takedown.monitor]")
    fields = {f.name: f for f in dataclasses.fields(MonitorConfig)}
    raw = dict(raw)
    if "telegram_hosts" in raw:
        hosts = raw["telegram_hosts"]
        if not isinstance(hosts, list) or not all(
                isinstance(h, str) and h.strip() and h == h.strip().lower() for h in hosts):
            raise ConfigError("takedown.monitor.telegram_hosts: expected a list of host names "
                              f"in lower case, got {hosts!r}")
        raw["telegram_hosts"] = tuple(hosts)
    cfg = MonitorConfig(**_typed("takedown.monitor", fields, raw))
    for key, (low, high) in _MONITOR_RANGES.items():
        if not low <= getattr(cfg, key) <= high:
            raise ConfigError(f"takedown.monitor.{key}: expected {low:g}..{high:g}, "
                              f"got {getattr(cfg, key)!r}")
    if not cfg.user_agent.strip() or len(cfg.user_agent) > 200 or not cfg.user_agent.isprintable():
        raise ConfigError("takedown.monitor.user_agent: expected 1..200 printable characters")
    return cfg


@dataclass(frozen=True)
class TakedownConfig:
    # The platform directory (relative to config.toml's folder; the bundled one by default).
    platforms_file: str = DEFAULT_PLATFORMS_FILE
    # How often the deadline job looks for overdue requests and unanswered desk alerts.
    check_seconds: float = 30.0
    # The desk's details, filled into every request (staff may change them per request).
    requester: str = ""
    signature: str = ""
    contact: str = ""
    notifier_name: str = ""
    notifier_email: str = ""
    # The SMTP relay for e-mail routes; empty host: staff send e-mails by hand and mark them.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_from: str = ""
    smtp_timeout_seconds: float = 30.0
    directory: Directory = field(default_factory=default_directory, repr=False)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host)


_FIELDS = {f.name: f for f in dataclasses.fields(TakedownConfig)
           if f.name not in ("directory", "monitor")}


def parse_takedown(raw: object, base_dir: str) -> TakedownConfig:
    """The section from its table, every key checked; the directory read from its file."""
    if not isinstance(raw, Mapping):
        raise ConfigError("takedown: expected a table [takedown]")
    body = {k: v for k, v in raw.items() if k != "monitor"}
    values = _typed("takedown", _FIELDS, body)
    cfg = TakedownConfig(**values, directory=_directory(values, base_dir),
                         monitor=parse_monitor(raw.get("monitor", {})))
    if not 1 <= cfg.check_seconds <= 3600:
        raise ConfigError("takedown.check_seconds: expected 1..3600")
    if not 1 <= cfg.smtp_port <= 65535:
        raise ConfigError(f"takedown.smtp_port: expected 1..65535, got {cfg.smtp_port}")
    if cfg.smtp_security not in SMTP_SECURITY:
        raise ConfigError(f"takedown.smtp_security: expected one of {', '.join(SMTP_SECURITY)}")
    if cfg.smtp_host and "@" not in cfg.smtp_from:
        raise ConfigError("takedown.smtp_from: expected the sender's address when smtp_host "
                          "is set")
    if not 1 <= cfg.smtp_timeout_seconds <= 300:
        raise ConfigError("takedown.smtp_timeout_seconds: expected 1..300")
    return cfg


def _directory(values: Mapping[str, Any], base_dir: str) -> Directory:
    name = values.get("platforms_file", DEFAULT_PLATFORMS_FILE)
    path = Path(name)
    if not path.is_absolute():
        path = Path(base_dir) / path
    if name == DEFAULT_PLATFORMS_FILE and not path.exists():
        path = _bundled_platforms()
    return _read_directory(path.resolve(), "takedown.platforms_file")
