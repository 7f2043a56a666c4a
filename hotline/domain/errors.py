"""Exceptions shared across layers."""


class ConfigError(Exception):
    """A configuration key is missing, unknown or malformed; the message names it."""
