"""Model names, aliases and the references that point at a model version."""

from __future__ import annotations

from forgeml.errors import ConfigError
from forgeml.names import ALIAS_PATTERN, check_model_name, parse_model_ref

__all__ = ["RESERVED_ALIASES", "check_alias", "check_model_name", "parse_model_ref"]

RESERVED_ALIASES = frozenset({"latest"})
"""Words that already mean a version, so no alias may take them."""


def check_alias(alias: str) -> str:
    """An alias is 1-100 lowercase letters, digits, '-' or '_', not a version reference.

    >>> check_alias("champion")
    'champion'
    >>> check_alias("42")
    Traceback (most recent call last):
    ...
    forgeml.errors.ConfigError: '42' is not a valid alias: all digits would read as a version number
      fix: use 1-100 lowercase letters, digits, '-' or '_', starting with a letter or digit, e.g. 'champion'
    """  # noqa: E501
    why = None
    if not isinstance(alias, str) or not ALIAS_PATTERN.match(alias):
        why = "it breaks the naming rule"
    elif alias.isdigit():
        why = "all digits would read as a version number"
    elif alias in RESERVED_ALIASES:
        why = f"'{alias}' already means the newest version"
    if why:
        raise ConfigError(
            f"{alias!r} is not a valid alias: {why}",
            fix="use 1-100 lowercase letters, digits, '-' or '_', starting with a letter or "
            "digit, e.g. 'champion'",
        )
    return alias
