"""JSON-safe encodings shared by the profile types: float arrays, optional numbers."""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

__all__ = ["decode_floats", "encode_floats", "finite_or_none", "number_or_none"]


def encode_floats(values: np.ndarray) -> str:
    """Float64 values as base64 of their little-endian bytes: exact and compact.

    >>> decode_floats(encode_floats(np.array([0.1, -2.5]))).tolist()
    [0.1, -2.5]
    """
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


def decode_floats(text: str) -> np.ndarray:
    """The float64 array :func:`encode_floats` wrote."""
    return np.frombuffer(base64.b64decode(text), dtype="<f8").astype(np.float64)


def finite_or_none(value: float | None) -> float | None:
    """``value`` as a float, or None when it is missing or not finite (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def number_or_none(value: Any) -> float | None:
    """A stored optional number read back as a float."""
    return None if value is None else float(value)
