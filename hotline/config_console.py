"""The [console] section of config.toml (login throttling) and the trusted proxies that name
the client address. See docs/configuration.md and docs/console.md.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from hotline.domain.errors import ConfigError
from hotline.domain.throttle import Policy as ThrottlePolicy


@dataclass(frozen=True)
class ConsoleConfig:
    # Failed logins per address, name or browser that pass before delays start.
    login_free_failures: int = 5
    # The first delay after those; each further failure doubles it, up to the maximum.
    login_first_delay_seconds: float = 1.0
    login_max_delay_seconds: float = 900.0
    # Counts are forgotten this long after the last attempt.
    login_forget_seconds: float = 86400.0
    # The console's language for staff who have not chosen one (prompts/<lang>/console/).
    default_language: str = "ko"
    # Roles that must log in with a second factor (TOTP); an empty list switches it off.
    two_factor_roles: tuple[str, ...] = ("admin", "lead", "takedown")
    # A password reset link or code made by an admin works once, for this long.
    password_reset_hours: int = 24
    # The shortest password accepted (set-up, change, reset).
    min_password_chars: int = 12

    def login_policy(self) -> ThrottlePolicy:
        return ThrottlePolicy(free=self.login_free_failures,
                              first_s=self.login_first_delay_seconds,
                              max_s=self.login_max_delay_seconds,
                              forget_s=self.login_forget_seconds)


def validate_console(c: ConsoleConfig, languages: frozenset[str]) -> None:
    """The login throttle's delays make sense together, the default language has console
    words, the second-factor roles exist and the password rules are sane (start-up fails
    naming the key)."""
    if c.default_language not in languages:
        raise ConfigError(f"console.default_language: {c.default_language!r} is not one of "
                          f"{', '.join(sorted(languages))}")
    roles = ("counselor", "lead", "takedown", "admin")
    for role in c.two_factor_roles:
        if role not in roles:
            raise ConfigError(f"console.two_factor_roles: {role!r} is not a role "
                              f"({', '.join(roles)})")
    if not 1 <= c.password_reset_hours <= 168:
        raise ConfigError("console.password_reset_hours: expected 1..168, "
                          f"got {c.password_reset_hours}")
    if not 8 <= c.min_password_chars <= 128:
        raise ConfigError("console.min_password_chars: expected 8..128, "
                          f"got {c.min_password_chars}")
    for name in ("login_first_delay_seconds", "login_max_delay_seconds", "login_forget_seconds"):
        if not math.isfinite(getattr(c, name)):
            raise ConfigError(f"console.{name}: expected a finite number of seconds")
    if not 0 < c.login_first_delay_seconds <= c.login_max_delay_seconds:
        raise ConfigError("console.login_first_delay_seconds: expected more than 0 and at most "
                          f"console.login_max_delay_seconds, got {c.login_first_delay_seconds}")
    if c.login_forget_seconds < c.login_max_delay_seconds:
        # Forgetting sooner than the longest delay would reset a guesser to free attempts.
        raise ConfigError("console.login_forget_seconds: expected at least "
                          f"console.login_max_delay_seconds, got {c.login_forget_seconds}")


def validate_trusted_proxies(proxies: tuple[str, ...]) -> None:
    """Each of server.trusted_proxies is an address or a network."""
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy)
        except ValueError:
            raise ConfigError(f"server.trusted_proxies: {proxy!r} is not an IP address or "
                              "network (e.g. \"127.0.0.1\" or \"10.0.0.0/24\")") from None


@dataclass(frozen=True)
class WellbeingConfig:
    """[wellbeing]: limits that protect counselors (hotline/domain/exposure.py)."""

    # Per person per shift; at any cap they get no new offers of critical cases.
    critical_cases_cap: int = 4
    critical_minutes_cap: int = 120
    evidence_reveals_cap: int = 20
    # A break is suggested after this long on the floor without one.
    break_after_minutes: int = 120
    # Someone with no roster entries: their "shift" for counting is this many hours back.
    unscheduled_shift_hours: int = 8


def validate_wellbeing(w: WellbeingConfig) -> None:
    for name in ("critical_cases_cap", "critical_minutes_cap", "evidence_reveals_cap",
                 "break_after_minutes", "unscheduled_shift_hours"):
        if getattr(w, name) < 1:
            raise ConfigError(f"wellbeing.{name}: expected a positive integer, "
                              f"got {getattr(w, name)}")
    if w.unscheduled_shift_hours > 24:
        raise ConfigError("wellbeing.unscheduled_shift_hours: expected at most 24")
