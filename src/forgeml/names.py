"""The rules every user-chosen name (dataset, model, alias) and version number follow,
shared without imports.

>>> bool(NAME_PATTERN.match("credit-v2.1")), bool(NAME_PATTERN.match("-credit"))
(True, False)
"""

from __future__ import annotations

import re

from forgeml.errors import ConfigError

__all__ = [
    "ALIAS_PATTERN",
    "MAX_VERSION",
    "NAME_PATTERN",
    "check_dataset_name",
    "check_model_name",
    "is_version_number",
    "parse_dataset_ref",
    "parse_model_ref",
    "parse_version_number",
]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
ALIAS_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,99}$")
MAX_VERSION = 2**31 - 1
"""The largest version number the store holds (a 32-bit integer column on every backend)."""


def is_version_number(text: str) -> bool:
    """Whether ``text`` is written as a version number (ASCII digits only).

    >>> is_version_number("3"), is_version_number("champion"), is_version_number("²")
    (True, False, False)
    """
    return text.isascii() and text.isdigit()


def parse_version_number(text: str, ref: str) -> int:
    """The version number ``text`` (digits) of reference ``ref``, within the store's range.

    >>> parse_version_number("12", "credit@12")
    12
    >>> parse_version_number("99999999999999999999", "credit@99999999999999999999")
    Traceback (most recent call last):
    ...
    forgeml.errors.ConfigError: 'credit@99999999999999999999' has a version number larger than any stored version (the largest is 2147483647)
      fix: write NAME@N with N from 1 to 2147483647, or NAME@latest
    """  # noqa: E501
    # Compare lengths first: int() of a huge digit string is slow and would overflow the store
    digits = text.lstrip("0")
    if not is_version_number(text) or not digits:
        raise ConfigError(
            f"{ref!r} has an invalid version {text!r}",
            fix="versions count from 1: write NAME@N with N from 1, or NAME@latest",
        )
    if len(digits) > len(str(MAX_VERSION)) or int(digits) > MAX_VERSION:
        raise ConfigError(
            f"{ref!r} has a version number larger than any stored version "
            f"(the largest is {MAX_VERSION})",
            fix=f"write NAME@N with N from 1 to {MAX_VERSION}, or NAME@latest",
        )
    return int(digits)


def check_dataset_name(name: str) -> str:
    """A dataset name is 1-200 letters, digits, '_', '-' or '.', starting alphanumeric."""
    if not NAME_PATTERN.match(name):
        raise ConfigError(
            f"{name!r} is not a valid dataset name",
            fix="use 1-200 letters, digits, '_', '-' or '.', starting with a letter or digit",
        )
    return name


def parse_dataset_ref(ref: str) -> tuple[str, int | None]:
    """Split ``name[@version]``; ``latest`` or no version means the newest.

    >>> parse_dataset_ref("credit@3"), parse_dataset_ref("credit@latest")
    (('credit', 3), ('credit', None))
    """
    name, _, version = ref.partition("@")
    check_dataset_name(name)
    if version in ("", "latest"):
        return name, None
    if not is_version_number(version):
        raise ConfigError(
            f"{ref!r} has an invalid version {version!r}",
            fix="write NAME@N with N a version number from 1, or NAME@latest",
        )
    return name, parse_version_number(version, ref)


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
