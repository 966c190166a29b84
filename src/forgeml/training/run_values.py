"""What a run may record: checked names, steps, metric values and JSON params and tags.

>>> import numpy as np
>>> json_value({"depth": np.int64(6), "rates": np.array([0.1, 0.2])}, "param 'model'")
{'depth': 6, 'rates': [0.1, 0.2]}
>>> metric_value("loss", float("nan")) is None
True
"""

from __future__ import annotations

import enum
import math
import operator
import os
import re
import traceback
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from forgeml.errors import ConfigError

__all__ = [
    "KIND_PATTERN",
    "MAX_ARTIFACT_NAME_CHARS",
    "MAX_ERROR_CHARS",
    "MAX_KEY_CHARS",
    "TRACEBACK_LINES",
    "check_key",
    "check_kind",
    "check_step",
    "clip",
    "describe_error",
    "json_mapping",
    "json_value",
    "metric_value",
]

MAX_KEY_CHARS = 200
MAX_ARTIFACT_NAME_CHARS = 300
MAX_ERROR_CHARS = 4000
TRACEBACK_LINES = 20
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_\-]{0,31}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_key(key: Any, what: str, limit: int = MAX_KEY_CHARS) -> str:
    """``key`` when it can name a ``what`` (param, metric, tag, artifact, experiment)."""
    if not isinstance(key, str):
        raise ConfigError(
            f"{what} name {key!r} is of type {type(key).__name__}, not a string",
            fix=f"name each {what} with a string",
        )
    if not 1 <= len(key) <= limit or _CONTROL.search(key):
        problem = (
            "is empty"
            if not key
            else f"is {len(key)} characters long"
            if len(key) > limit
            else "contains a control character"
        )
        raise ConfigError(
            f"{what} name {key[:60]!r} {problem}",
            fix=f"use 1-{limit} characters without control characters (tabs, newlines, ...)",
        )
    return key


def check_kind(kind: Any) -> str:
    if not isinstance(kind, str) or not KIND_PATTERN.match(kind):
        raise ConfigError(
            f"{kind!r} is not a valid run kind",
            fix="use up to 32 lowercase letters, digits, '_' or '-', such as "
            "'train', 'evaluate' or 'retrain'",
        )
    return kind


def check_step(key: str, step: Any) -> int:
    try:
        number = None if isinstance(step, bool) else operator.index(step)
    except TypeError:
        number = None
    if number is None or not 0 <= number < 2**63:
        raise ConfigError(
            f"step {step!r} of metric {key!r} is not a whole number from 0",
            fix="pass step as an int >= 0, or leave it out to count steps per metric",
        )
    return number


def metric_value(key: str, value: Any) -> float | None:
    """``value`` as a float; None for NaN, infinity and None."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    if value is None:
        return None
    try:
        number = float(value) if not isinstance(value, str | bytes) else None
    except (TypeError, ValueError, OverflowError):
        number = None
    if number is None:
        raise ConfigError(
            f"metric {key!r} got {value!r}, which is not a number",
            fix="log a float or int (use a tag or param for text)",
        )
    return number if math.isfinite(number) else None


def json_mapping(values: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    return {
        check_key(key, what): json_value(value, f"{what} {key!r}")
        for key, value in (values or {}).items()
    }


def json_value(value: Any, where: str) -> Any:
    """``value`` as plain JSON data; numpy scalars and arrays become Python numbers and lists.

    Non-finite floats are kept as the strings 'nan', 'inf' and '-inf' (JSON has no such
    numbers).
    """
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, enum.Enum):
        return json_value(value.value, where)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(float(value))
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return json_value(value.tolist(), where)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str | int):
                raise ConfigError(
                    f"{where} has a key {k!r} of type {type(k).__name__}",
                    fix="use strings (or ints) as keys of a dict param or tag",
                )
            out[str(k)] = json_value(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, list | tuple):
        return [json_value(v, where) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise ConfigError(
        f"{where} is a {type(value).__name__}, which cannot be stored as JSON",
        fix="log a number, string, bool, None, or a list or dict of them "
        "(str(value) for anything else)",
    )


def describe_error(error: BaseException) -> str:
    """``Type: message`` and the last lines of the traceback, short enough to store.

    >>> try:
    ...     int("x")
    ... except ValueError as e:
    ...     print(describe_error(e).splitlines()[0])
    ValueError: invalid literal for int() with base 10: 'x'
    """
    kind = type(error)
    name = kind.__qualname__
    if kind.__module__ not in ("builtins", "__main__"):
        name = f"{kind.__module__}.{name}"
    message = str(error)
    head = clip(f"{name}: {message}" if message else name, MAX_ERROR_CHARS // 4)
    lines = "".join(traceback.format_tb(error.__traceback__)).rstrip().splitlines()
    if not lines:
        return head
    tail = lines[-TRACEBACK_LINES:]
    if len(lines) > len(tail):
        tail.insert(0, f"  ... {len(lines) - len(tail)} earlier lines left out")
    body = "\n".join(["Traceback (most recent call last):", *tail])
    room = MAX_ERROR_CHARS - len(head) - 1
    if len(body) > room:
        body = "…" + body[len(body) - room + 1 :]
    return f"{head}\n{body}"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
