"""Reading one config.toml section into its frozen dataclass: unknown keys and values of the
wrong type fail naming the key (`ConfigError`), environment overrides parse as TOML values.
See docs/configuration.md."""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from typing import Any

from hotline.domain.errors import ConfigError


def type_name(tp: Any) -> str:
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    return "a list of strings"


def coerce(key: str, tp: Any, value: Any, from_env: bool) -> Any:
    origin = typing.get_origin(tp)
    if origin is tuple:
        if from_env and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected {type_name(tp)}, got {value!r}")
        return tuple(value)
    if from_env and isinstance(value, str) and tp is not str:
        try:
            value = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            raise ConfigError(f"{key}: expected {type_name(tp)}, got {value!r}") from None
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"{key}: expected {type_name(tp)}, got {value!r}")
    if not isinstance(value, tp):
        raise ConfigError(f"{key}: expected {type_name(tp)}, got {value!r}")
    return value


def build_section(name: str, cls: type[Any], raw: Mapping[str, Any], env: Mapping[str, str],
                  env_overrides: Mapping[str, tuple[str, str]]) -> Any:
    """One [section] as its frozen dataclass: unknown keys refused by name, values checked
    against the field types, environment overrides applied."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"{name}.{key}: unknown key (known keys: {', '.join(sorted(known))})"
            )
    values: dict[str, Any] = {}
    for key in known:
        if key in raw:
            values[key] = coerce(f"{name}.{key}", hints[key], raw[key], from_env=False)
    for var, (section, key) in env_overrides.items():
        if section == name and var in env:
            values[key] = coerce(f"{var} ({name}.{key})", hints[key], env[var], from_env=True)
    return cls(**values)
