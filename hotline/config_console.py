"""The [console] section of config.toml (login throttling) and the trusted proxies that name
the client address. See docs/configuration.md and docs/console.md.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from hotline.domain.throttle import Policy as ThrottlePolicy
from hotline.errors import ConfigError


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

    def login_policy(self) -> ThrottlePolicy:
        return ThrottlePolicy(free=self.login_free_failures,
                              first_s=self.login_first_delay_seconds,
                              max_s=self.login_max_delay_seconds,
                              forget_s=self.login_forget_seconds)


def validate_console(c: ConsoleConfig, languages: frozenset[str]) -> None:
    """The login throttle's delays make sense together and the default language has console
    words (start-up fails naming the key)."""
    if c.default_language not in languages:
        raise ConfigError(f"console.default_language: {c.default_language!r} is not one of "
                          f"{', '.join(sorted(languages))}")
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
