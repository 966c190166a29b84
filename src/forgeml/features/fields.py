"""Typed reading of a saved pipeline's fields: every bad field names its path.

A pipeline arrives as JSON from an artifact store, so each field is checked for presence
and type before it is used; a problem raises :class:`ConfigError` with the field's path.

>>> fields = Fields({"std": 2.0, "names": ["a"]}, "encoders[0]")
>>> fields.number("std"), fields.strings("names")
(2.0, ['a'])
>>> fields.text("kind")
Traceback (most recent call last):
...
forgeml.errors.ConfigError: feature pipeline field 'encoders[0].kind' is missing
  fix: load a pipeline saved by FeaturePipeline.to_dict(); saved pipelines must not be edited
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from forgeml.errors import ConfigError

__all__ = ["Fields", "invalid"]

_FIX = "load a pipeline saved by FeaturePipeline.to_dict(); saved pipelines must not be edited"


def invalid(message: str) -> ConfigError:
    """The error for a saved pipeline that cannot be loaded."""
    return ConfigError(message, fix=_FIX)


class Fields:
    """Checked access to the fields of one JSON object at ``path`` in a saved pipeline."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise invalid(f"feature pipeline field '{path}' must be an object, not {_name(data)}")
        self.data = data
        self.path = path

    def where(self, key: str) -> str:
        """The dotted path of ``key``, as error messages show it."""
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str) -> Any:
        """The raw value of ``key``; a missing key is an error."""
        if key not in self.data:
            raise invalid(f"feature pipeline field '{self.where(key)}' is missing")
        return self.data[key]

    def text(self, key: str) -> str:
        value = self.get(key)
        self._check(key, value, isinstance(value, str), "a string")
        return str(value)

    def optional_text(self, key: str) -> str | None:
        return None if self.get(key) is None else self.text(key)

    def flag(self, key: str) -> bool:
        value = self.get(key)
        self._check(key, value, isinstance(value, bool), "true or false")
        return bool(value)

    def integer(self, key: str) -> int:
        value = self.get(key)
        self._check(
            key, value, isinstance(value, int) and not isinstance(value, bool), "an integer"
        )
        return int(value)

    def number(self, key: str) -> float:
        value = self.get(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        self._check(key, value, ok and math.isfinite(value), "a finite number")
        return float(value)

    def strings(self, key: str) -> list[str]:
        value = self.get(key)
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        self._check(key, value, ok, "a list of strings")
        return list(value)

    def objects(self, key: str) -> list[Fields]:
        value = self.get(key)
        self._check(key, value, isinstance(value, list), "a list of objects")
        return [Fields(item, f"{self.where(key)}[{i}]") for i, item in enumerate(value)]

    def _check(self, key: str, value: Any, ok: bool, expected: str) -> None:
        if not ok:
            raise invalid(
                f"feature pipeline field '{self.where(key)}' must be {expected}, not {_name(value)}"
            )


def _name(value: Any) -> str:
    return "null" if value is None else repr(value)[:60]
