"""Model names, aliases and the references that point at a model version."""

from __future__ import annotations

import re

from forgeml.errors import ConfigError
from forgeml.names import NAME_PATTERN, is_version_number, parse_version_number

__all__ = ["RESERVED_ALIASES", "check_alias", "check_model_name", "parse_model_ref"]

ALIAS_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,99}$")
RESERVED_ALIASES = frozenset({"latest"})
"""Words that already mean a version, so no alias may take them."""


def check_model_name(name: str) -> str:
    """A model name follows the dataset rules: 1-200 letters, digits, '_', '-' or '.'.

    >>> check_model_name("credit-risk")
    'credit-risk'
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError(
            f"{name!r} is not a valid model name",
            fix="use 1-200 letters, digits, '_', '-' or '.', starting with a letter or digit",
        )
    return name


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


def parse_model_ref(ref: str) -> tuple[str, int | str | None]:
    """Split ``name[@version|@alias]``: a number, an alias, or None for the newest version.

    >>> parse_model_ref("credit@3"), parse_model_ref("credit@champion")
    (('credit', 3), ('credit', 'champion'))
    >>> parse_model_ref("credit"), parse_model_ref("credit@latest")
    (('credit', None), ('credit', None))
    """
    if not isinstance(ref, str):
        raise ConfigError(
            f"a model reference must be a string, not a {type(ref).__name__}",
            fix="write NAME, NAME@N or NAME@ALIAS",
        )
    name, _, selector = ref.partition("@")
    check_model_name(name)
    if selector in ("", "latest"):
        return name, None
    if is_version_number(selector):
        return name, parse_version_number(selector, ref)
    if not ALIAS_PATTERN.match(selector):
        raise ConfigError(
            f"{ref!r} has neither a version number nor a valid alias after '@'",
            fix="write NAME@N (a version from 1), NAME@ALIAS (e.g. credit@champion) or NAME@latest",
        )
    return name, selector
