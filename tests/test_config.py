"""hotline/config.py: the repo config.toml loads; every malformed key or environment override is
refused with a ConfigError naming it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from hotline.config import (
    ENV_OVERRIDES,
    LANG_CODES,
    Config,
    ConfigError,
    config_from_mapping,
    load_config,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
REPO_CONFIG = REPO_ROOT / "config.toml"


def _base() -> dict[str, dict[str, Any]]:
    return {
        "server": {"host": "127.0.0.1", "port": 8080, "public_url": "http://127.0.0.1:8080"},
        "storage": {"data_dir": "data", "database_url": "", "redis_url": "",
                    "redis_prefix": "hl"},
        "languages": {"supported": ["ko", "en"], "default": "ko"},
    }


def _with(section: str, key: str, value: Any) -> dict[str, dict[str, Any]]:
    raw = copy.deepcopy(_base())
    raw.setdefault(section, {})[key] = value
    return raw


# --- the repo's own config.toml ----------------------------------------------------------------


def test_repo_config_loads() -> None:
    cfg = load_config(REPO_CONFIG, env={})
    assert isinstance(cfg, Config)
    assert cfg.server.port == 8080
    assert cfg.server.host == "127.0.0.1"
    assert cfg.languages.supported == ("ko", "en")
    assert cfg.languages.default == "ko"
    assert cfg.storage.redis_prefix == "hl"
    assert cfg.retention.contact_days == 7
    assert cfg.retention.transcript_days == 90
    assert cfg.privacy.max_message_chars == 4000
    assert isinstance(cfg.server.shutdown_timeout, float)
    # Relative data_dir resolves against the config file's folder.
    assert Path(cfg.base_dir) == REPO_ROOT
    assert cfg.data_path == REPO_ROOT / "data"
    assert cfg.database_url == f"sqlite+aiosqlite:///{REPO_ROOT / 'data' / 'hotline.db'}"
    assert cfg.secure_cookies is False


def test_repo_config_has_every_section_and_key() -> None:
    """config.toml documents every key: nothing falls back to a hidden default."""
    import dataclasses
    import tomllib

    raw = tomllib.loads(REPO_CONFIG.read_text())
    cfg = Config()
    for section in ("server", "storage", "languages", "retention", "privacy", "console"):
        assert section in raw, section
    for section, body in raw.items():
        if section in ("roster", "triage", "takedown"):
            continue  # nested tables with their own parsers
        fields = {f.name for f in dataclasses.fields(getattr(cfg, section))}
        assert set(body) == fields, section


def test_empty_mapping_gives_defaults() -> None:
    cfg = config_from_mapping({})
    assert cfg == Config()


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_load_config_bad_toml(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text("[server\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p, env={})


def test_load_config_uses_hotline_config_env(tmp_path: Path) -> None:
    p = tmp_path / "elsewhere.toml"
    p.write_text("[server]\nport = 1234\n")
    cfg = load_config(None, env={"HOTLINE_CONFIG": str(p)})
    assert cfg.server.port == 1234
    assert cfg.data_path == tmp_path / "data"


# --- malformed values: each names its key ------------------------------------------------------

BAD = [
    # (id, raw mapping, the key the message must name)
    ("unknown-section", {**_base(), "bogus": {"x": 1}}, "bogus"),
    ("section-not-table", {**_base(), "retention": 5}, "retention"),
    ("unknown-key-server", _with("server", "bogus", 1), "server.bogus"),
    ("unknown-key-storage", _with("storage", "redis_host", "x"), "storage.redis_host"),
    ("unknown-key-privacy", _with("privacy", "max_chars", 1), "privacy.max_chars"),
    ("port-string", _with("server", "port", "x"), "server.port"),
    ("port-numeric-string", _with("server", "port", "8080"), "server.port"),
    ("port-float", _with("server", "port", 80.5), "server.port"),
    ("port-bool", _with("server", "port", True), "server.port"),
    ("port-negative", _with("server", "port", -1), "server.port"),
    ("port-too-big", _with("server", "port", 65536), "server.port"),
    ("host-int", _with("server", "host", 127), "server.host"),
    ("shutdown-timeout-string", _with("server", "shutdown_timeout", "5"),
     "server.shutdown_timeout"),
    ("supported-ints", _with("languages", "supported", [1]), "languages.supported"),
    ("supported-mixed", _with("languages", "supported", ["ko", 2]), "languages.supported"),
    ("supported-string", _with("languages", "supported", "ko"), "languages.supported"),
    ("supported-empty", _with("languages", "supported", []), "languages.supported"),
    ("supported-unknown-lang", _with("languages", "supported", ["ko", "fr"]),
     "languages.supported"),
    ("default-int", _with("languages", "default", 1), "languages.default"),
    ("default-not-supported", _with("languages", "default", "fr"), "languages.default"),
    ("default-outside-list", {**_base(), "languages": {"supported": ["ko"], "default": "en"}},
     "languages.default"),
    ("public-url-ftp", _with("server", "public_url", "ftp://example.org"), "server.public_url"),
    ("public-url-no-scheme", _with("server", "public_url", "example.org"), "server.public_url"),
    ("public-url-no-host", _with("server", "public_url", "https://"), "server.public_url"),
    ("public-url-path", _with("server", "public_url", "https://example.org/hotline"),
     "server.public_url"),
    ("public-url-empty", _with("server", "public_url", ""), "server.public_url"),
    ("database-url-mysql", _with("storage", "database_url", "mysql://u@h/db"),
     "storage.database_url"),
    ("database-url-sync-sqlite", _with("storage", "database_url", "sqlite:///x.db"),
     "storage.database_url"),
    ("database-url-sync-pg", _with("storage", "database_url", "postgresql://u@h/db"),
     "storage.database_url"),
    ("redis-url-http", _with("storage", "redis_url", "http://127.0.0.1:6379"),
     "storage.redis_url"),
    ("redis-url-hostport", _with("storage", "redis_url", "127.0.0.1:6379"), "storage.redis_url"),
    ("redis-prefix-empty", _with("storage", "redis_prefix", ""), "storage.redis_prefix"),
    ("redis-prefix-space", _with("storage", "redis_prefix", "h l"), "storage.redis_prefix"),
    ("redis-prefix-brace", _with("storage", "redis_prefix", "h{l}"), "storage.redis_prefix"),
    ("reconcile-string", _with("storage", "reconcile_seconds", "fast"),
     "storage.reconcile_seconds"),
    ("contact-days-zero", _with("retention", "contact_days", 0), "retention.contact_days"),
    ("transcript-days-negative", _with("retention", "transcript_days", -5),
     "retention.transcript_days"),
    ("session-hours-float", _with("retention", "session_hours", 1.5), "retention.session_hours"),
    ("max-chars-zero", _with("privacy", "max_message_chars", 0), "privacy.max_message_chars"),
    ("log-level-bad", _with("privacy", "log_level", "TRACE"), "privacy.log_level"),
    ("quick-exit-list", _with("privacy", "quick_exit_url", ["x"]), "privacy.quick_exit_url"),
    ("login-free-zero", _with("console", "login_free_failures", 0),
     "console.login_free_failures"),
    ("login-first-delay-string", _with("console", "login_first_delay_seconds", "1"),
     "console.login_first_delay_seconds"),
    ("login-first-delay-zero", _with("console", "login_first_delay_seconds", 0),
     "console.login_first_delay_seconds"),
    ("login-first-delay-over-max", {**_base(), "console": {
        "login_first_delay_seconds": 60, "login_max_delay_seconds": 30}},
     "console.login_first_delay_seconds"),
    ("login-max-delay-inf", _with("console", "login_max_delay_seconds", float("inf")),
     "console.login_max_delay_seconds"),
    ("login-forget-under-max", _with("console", "login_forget_seconds", 600),
     "console.login_forget_seconds"),
    ("login-old-key", _with("console", "login_max_failures", 5), "console.login_max_failures"),
    ("trusted-proxies-string", _with("server", "trusted_proxies", "127.0.0.1"),
     "server.trusted_proxies"),
    ("trusted-proxies-bad-address", _with("server", "trusted_proxies", ["127.0.0.300"]),
     "server.trusted_proxies"),
    ("trusted-proxies-host-bits", _with("server", "trusted_proxies", ["10.0.0.1/8"]),
     "server.trusted_proxies"),
    ("trusted-proxies-hostname", _with("server", "trusted_proxies", ["nginx"]),
     "server.trusted_proxies"),
    ("metrics-listen-no-port", _with("server", "metrics_listen", "127.0.0.1"),
     "server.metrics_listen"),
    ("metrics-listen-bad-port", _with("server", "metrics_listen", "127.0.0.1:99999"),
     "server.metrics_listen"),
    ("metrics-listen-no-host", _with("server", "metrics_listen", ":9464"),
     "server.metrics_listen"),
    ("routing-mode", _with("routing", "mode", "push"), "routing.mode"),
    ("routing-timeout-zero", _with("routing", "offer_timeout_seconds", 0),
     "routing.offer_timeout_seconds"),
    ("twilio-home-country-letters", _with("twilio", "home_country_code", "KR"),
     "twilio.home_country_code"),
    ("twilio-home-country-plus", _with("twilio", "home_country_code", "+82"),
     "twilio.home_country_code"),
    ("twilio-home-country-full-width", _with("twilio", "home_country_code", "\uff18\uff12"),
     "twilio.home_country_code"),
    ("routing-scan-limit-huge", _with("routing", "scan_limit", 5001), "routing.scan_limit"),
    ("routing-no-new-negative", _with("routing", "no_new_offers_minutes", -1),
     "routing.no_new_offers_minutes"),
    ("routing-unknown", _with("routing", "strategy", "x"), "routing.strategy"),
    ("alerts-ack-zero", _with("alerts", "ack_timeout_seconds", 0), "alerts.ack_timeout_seconds"),
    ("streams-unknown", _with("streams", "per_ip", 5), "streams.per_ip"),
    ("streams-total-zero", _with("streams", "chat_total", 0), "streams.chat_total"),
    ("streams-address-string", _with("streams", "chat_per_address", "100"),
     "streams.chat_per_address"),
    ("streams-replay-negative", _with("streams", "replay_max_events", -1),
     "streams.replay_max_events"),
    ("streams-heartbeat-long", _with("streams", "heartbeat_seconds", 120),
     "streams.heartbeat_seconds"),
    ("console-language", _with("console", "default_language", "fr"),
     "console.default_language"),
    ("roster-timezone", _with("roster", "timezone", "Mars/Olympus"), "roster.timezone"),
    ("roster-unknown", _with("roster", "zone", "UTC"), "roster.zone"),
    ("roster-shift-start", _with("roster", "shifts", [
        {"counselor": "mina", "days": ["mon"], "start": "25:00", "end": "17:00"}]),
     "roster.shifts[0].start"),
    ("roster-shift-days", _with("roster", "shifts", [
        {"counselor": "mina", "days": ["someday"], "start": "09:00", "end": "17:00"}]),
     "roster.shifts[0].days"),
    ("roster-shift-counselor", _with("roster", "shifts", [
        {"days": ["mon"], "start": "09:00", "end": "17:00"}]), "roster.shifts[0].counselor"),
    ("roster-shift-unknown", _with("roster", "shifts", [
        {"counselor": "mina", "days": ["mon"], "start": "09:00", "end": "17:00", "x": 1}]),
     "roster.shifts[0].x"),
]


@pytest.mark.parametrize(("raw", "key"), [(r, k) for _, r, k in BAD], ids=[i for i, _, _ in BAD])
def test_bad_value_names_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as e:
        config_from_mapping(raw)
    assert str(e.value).startswith(f"{key}:") or f"{key}:" in str(e.value), str(e.value)


@pytest.mark.parametrize(("raw", "key"), [(r, k) for _, r, k in BAD], ids=[i for i, _, _ in BAD])
def test_bad_value_in_file_names_key(tmp_path: Path, raw: dict[str, Any], key: str) -> None:
    """The same errors through load_config from a real TOML file."""
    p = tmp_path / "config.toml"
    p.write_text(_to_toml(raw))
    with pytest.raises(ConfigError) as e:
        load_config(p, env={})
    assert f"{key}:" in str(e.value), str(e.value)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return repr(v)


def _to_toml(raw: dict[str, Any]) -> str:
    lines: list[str] = []
    for k, v in raw.items():
        if not isinstance(v, dict):
            lines.insert(0, f"{k} = {_toml_value(v)}")
    for section, body in raw.items():
        if isinstance(body, dict):
            lines.append(f"[{section}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in body.items())
    return "\n".join(lines) + "\n"


def test_unknown_key_lists_known_keys() -> None:
    with pytest.raises(ConfigError) as e:
        config_from_mapping(_with("server", "prot", 1))
    assert "port" in str(e.value) and "public_url" in str(e.value)


GOOD = [
    ("port-zero", _with("server", "port", 0), lambda c: c.server.port == 0),
    ("port-max", _with("server", "port", 65535), lambda c: c.server.port == 65535),
    ("int-for-float", _with("server", "shutdown_timeout", 3),
     lambda c: c.server.shutdown_timeout == 3.0 and isinstance(c.server.shutdown_timeout, float)),
    ("https-public-url", _with("server", "public_url", "https://help.example.org"),
     lambda c: c.secure_cookies),
    ("public-url-slash", _with("server", "public_url", "https://help.example.org/"),
     lambda c: c.server.public_url == "https://help.example.org/"),
    ("public-url-port", _with("server", "public_url", "http://10.0.0.1:8443"),
     lambda c: not c.secure_cookies),
    ("postgres-url", _with("storage", "database_url", "postgresql+asyncpg://h@db/h"),
     lambda c: c.database_url == "postgresql+asyncpg://h@db/h"),
    ("sqlite-url", _with("storage", "database_url", "sqlite+aiosqlite:////tmp/x.db"),
     lambda c: c.database_url == "sqlite+aiosqlite:////tmp/x.db"),
    ("rediss-url", _with("storage", "redis_url", "rediss://r:6380/1"),
     lambda c: c.storage.redis_url == "rediss://r:6380/1"),
    ("unix-redis-url", _with("storage", "redis_url", "unix:///run/redis.sock"),
     lambda c: c.storage.redis_url == "unix:///run/redis.sock"),
    ("english-only", {**_base(), "languages": {"supported": ["en"], "default": "en"}},
     lambda c: c.languages.supported == ("en",) and c.languages.default == "en"),
    ("log-level-lower", _with("privacy", "log_level", "debug"),
     lambda c: c.privacy.log_level == "debug"),
    ("abs-data-dir", _with("storage", "data_dir", "/var/lib/hotline"),
     lambda c: c.data_path == Path("/var/lib/hotline")),
    ("trusted-proxies", _with("server", "trusted_proxies", ["127.0.0.1", "10.0.0.0/24", "::1"]),
     lambda c: c.server.trusted_proxies == ("127.0.0.1", "10.0.0.0/24", "::1")),
    ("login-delays", {**_base(), "console": {"login_first_delay_seconds": 2,
                                             "login_max_delay_seconds": 2,
                                             "login_forget_seconds": 2}},
     lambda c: c.console.login_policy().schedule_ms() == (0, 0, 0, 0, 2000)),
    ("streams-caps", _with("streams", "chat_per_address", 500),
     lambda c: c.streams.chat_per_address == 500 and c.streams.chat_per_session == 3),
]


@pytest.mark.parametrize(("raw", "check"), [(r, c) for _, r, c in GOOD],
                         ids=[i for i, _, _ in GOOD])
def test_good_values(raw: dict[str, Any], check: Any) -> None:
    assert check(config_from_mapping(raw))


def test_supported_becomes_tuple() -> None:
    cfg = config_from_mapping(_base())
    assert cfg.languages.supported == ("ko", "en")
    assert isinstance(cfg.languages.supported, tuple)


def test_config_is_frozen() -> None:
    cfg = config_from_mapping(_base())
    with pytest.raises(AttributeError):
        cfg.server.port = 1  # type: ignore[misc]


def test_lang_codes_match_prompt_folders() -> None:
    folders = {p.name for p in (REPO_ROOT / "prompts").iterdir() if p.is_dir()}
    assert set(LANG_CODES) <= folders


# --- environment overrides ---------------------------------------------------------------------

ENV_GOOD = [
    ("HOTLINE_PORT", "9090", lambda c: c.server.port == 9090),
    ("HOTLINE_PORT", "0", lambda c: c.server.port == 0),
    ("HOTLINE_HOST", "0.0.0.0", lambda c: c.server.host == "0.0.0.0"),
    ("HOTLINE_DATA_DIR", "/srv/hotline-data",
     lambda c: c.storage.data_dir == "/srv/hotline-data"
     and c.data_path == Path("/srv/hotline-data")
     and c.database_url == "sqlite+aiosqlite:////srv/hotline-data/hotline.db"),
    ("HOTLINE_DATABASE_URL", "postgresql+asyncpg://hotline@db.internal/hotline",
     lambda c: c.database_url == "postgresql+asyncpg://hotline@db.internal/hotline"),
    ("HOTLINE_DATABASE_URL", "", lambda c: c.database_url.startswith("sqlite+aiosqlite:///")),
    ("HOTLINE_REDIS_URL", "redis://redis:6379/2",
     lambda c: c.storage.redis_url == "redis://redis:6379/2"),
    ("HOTLINE_PUBLIC_URL", "https://help.example.org",
     lambda c: c.server.public_url == "https://help.example.org" and c.secure_cookies),
    ("HOTLINE_REDIS_PREFIX", "hx", lambda c: c.storage.redis_prefix == "hx"),
    ("HOTLINE_LOG_LEVEL", "WARNING", lambda c: c.privacy.log_level == "WARNING"),
    ("HOTLINE_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/24",
     lambda c: c.server.trusted_proxies == ("127.0.0.1", "10.0.0.0/24")),
]


@pytest.mark.parametrize(("var", "value", "check"), ENV_GOOD,
                         ids=[f"{v}={x}" for v, x, _ in ENV_GOOD])
def test_env_override_mapping(var: str, value: str, check: Any) -> None:
    cfg = config_from_mapping(_base(), env={var: value})
    assert check(cfg)


@pytest.mark.parametrize(("var", "value", "check"), ENV_GOOD,
                         ids=[f"{v}={x}" for v, x, _ in ENV_GOOD])
def test_env_override_load_config(tmp_path: Path, var: str, value: str, check: Any) -> None:
    """load_config(path, env=...) applies the same overrides on top of the file."""
    p = tmp_path / "config.toml"
    p.write_text(REPO_CONFIG.read_text())
    cfg = load_config(p, env={var: value})
    assert check(cfg)


def test_env_override_beats_file(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text('[server]\nport = 1111\n[storage]\ndata_dir = "d1"\n')
    cfg = load_config(p, env={"HOTLINE_PORT": "2222", "HOTLINE_DATA_DIR": "d2"})
    assert cfg.server.port == 2222
    # A relative override still resolves against the config file's folder.
    assert cfg.data_path == tmp_path / "d2"


def test_env_override_without_section_in_file(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text("")
    cfg = load_config(p, env={"HOTLINE_REDIS_URL": "redis://r:1/0"})
    assert cfg.storage.redis_url == "redis://r:1/0"


def test_unrelated_env_is_ignored() -> None:
    cfg = config_from_mapping(_base(), env={"HOTLINE_BOGUS": "x", "PORT": "x",
                                            "HOTLINE_SECRET_KEY": "not-config"})
    assert cfg == config_from_mapping(_base())


def test_env_not_read_from_process_by_config_from_mapping(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv("HOTLINE_PORT", "4321")
    assert config_from_mapping(_base()).server.port == 8080
    assert config_from_mapping(_base(), env={}).server.port == 8080


def test_load_config_reads_process_env_by_default(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "config.toml"
    p.write_text("")
    monkeypatch.setenv("HOTLINE_PORT", "4321")
    assert load_config(p).server.port == 4321


ENV_BAD = [
    ("HOTLINE_PORT", "x"),
    ("HOTLINE_PORT", ""),
    ("HOTLINE_PORT", "80.5"),
    ("HOTLINE_PORT", "true"),
    ("HOTLINE_PORT", '"8080"'),
    ("HOTLINE_PORT", "99999"),
    ("HOTLINE_PORT", "-1"),
    ("HOTLINE_PUBLIC_URL", "ftp://example.org"),
    ("HOTLINE_PUBLIC_URL", "https://example.org/path"),
    ("HOTLINE_DATABASE_URL", "mysql://u@h/db"),
    ("HOTLINE_REDIS_URL", "http://redis:6379"),
    ("HOTLINE_REDIS_PREFIX", "a b"),
    ("HOTLINE_LOG_LEVEL", "LOUD"),
    ("HOTLINE_TRUSTED_PROXIES", "nginx"),
]


@pytest.mark.parametrize(("var", "value"), ENV_BAD, ids=[f"{v}={x!r}" for v, x in ENV_BAD])
def test_bad_env_value_names_variable(var: str, value: str) -> None:
    section, key = ENV_OVERRIDES[var]
    with pytest.raises(ConfigError) as e:
        config_from_mapping(_base(), env={var: value})
    msg = str(e.value)
    assert var in msg, msg
    assert f"{section}.{key}" in msg, msg


@pytest.mark.parametrize(("var", "value"), ENV_BAD, ids=[f"{v}={x!r}" for v, x in ENV_BAD])
def test_bad_env_value_names_variable_load_config(tmp_path: Path, var: str, value: str) -> None:
    p = tmp_path / "config.toml"
    p.write_text(REPO_CONFIG.read_text())
    with pytest.raises(ConfigError) as e:
        load_config(p, env={var: value})
    assert var in str(e.value), str(e.value)


def test_bad_file_value_does_not_blame_env() -> None:
    """A bad value in the file, with an unrelated override set, names only the file key."""
    with pytest.raises(ConfigError) as e:
        config_from_mapping(_with("server", "public_url", "ftp://x"),
                            env={"HOTLINE_PORT": "9090"})
    assert str(e.value).startswith("server.public_url:")
    assert "HOTLINE_" not in str(e.value)


def test_every_env_override_targets_a_real_key() -> None:
    import dataclasses

    cfg = Config()
    for var, (section, key) in ENV_OVERRIDES.items():
        assert var.startswith("HOTLINE_")
        assert key in {f.name for f in dataclasses.fields(getattr(cfg, section))}, var
