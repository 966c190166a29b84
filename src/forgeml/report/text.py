"""How the offline pages write values: numbers, shares and the intervals of bins.

>>> number(0.87654), number(12345.6), number(None), percent(0.0123)
('0.8765', '12,346', '–', '1.23%')
>>> interval_labels([10.0, 20.0])
['< 10', '[10, 20)', '≥ 20']
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

__all__ = ["DASH", "duration", "interval_labels", "number", "percent", "probability"]

DASH = "–"


def number(value: Any) -> str:
    """A value as a page shows it: "–" for missing or NaN, four significant digits.

    >>> [number(v) for v in (float("nan"), 1.2e-9, 1200, True, datetime(2025, 3, 1, 6))]
    ['–', '1.2e-09', '1,200', 'yes', '2025-03-01 06:00']
    """
    if value is None:
        return DASH
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        value = float(value)
        if not math.isfinite(value):
            return DASH
        return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def probability(value: Any) -> str:
    """A probability such as a decision threshold: four significant digits, more when four
    would round it to 0 or 1 (a threshold of 0.99996 is not a threshold of 1).

    >>> [probability(v) for v in (0.5, 0.31234567, 0.99996, 0.0000123, 1.0, None)]
    ['0.5', '0.3123', '0.99996', '1.23e-05', '1', '–']
    """
    try:
        share = float(value)
    except (TypeError, ValueError):
        return DASH
    if not math.isfinite(share):
        return DASH
    for digits in range(4, 18):
        text = f"{share:.{digits}g}"
        if share in (0.0, 1.0) or float(text) not in (0.0, 1.0):
            return text
    return repr(share)


def duration(seconds: float) -> str:
    """A duration as a person reads it on a progress line.

    >>> duration(4.2), duration(65), duration(3725)
    ('4s', '1m 05s', '1h 02m')
    """
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def percent(value: Any) -> str:
    """A share as a percentage with two decimals; "–" when it is missing."""
    try:
        share = float(value)
    except (TypeError, ValueError):
        return DASH
    return f"{share:.2%}" if math.isfinite(share) else DASH


def interval_labels(edges: Sequence[float], *, timestamp: bool = False) -> list[str]:
    """The bins that ``edges`` cut the line into, open at both ends: ``< a``, ``[a, b)``,
    …, ``≥ z``. Edges get as many digits as it takes to tell neighbours apart;
    ``timestamp`` edges (seconds since 1970) are UTC dates, with the time if it takes that.

    >>> interval_labels([1.00001, 1.00002, 25_000.5])
    ['< 1.00001', '[1.00001, 1.00002)', '[1.00002, 25,000.5)', '≥ 25,000.5']
    >>> interval_labels([1_740_787_200, 1_740_808_800], timestamp=True)
    ['< 2025-03-01 00:00', '[2025-03-01 00:00, 2025-03-01 06:00)', '≥ 2025-03-01 06:00']
    """
    values = [float(v) for v in edges]
    if not values:
        return ["all values"]
    texts: list[str] = []
    if timestamp:
        times = [datetime.fromtimestamp(v, UTC) for v in values]
        for pattern in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
            texts = [t.strftime(pattern) for t in times]
            if len(set(texts)) == len(texts):
                break
    else:
        for digits in range(3, 16):
            texts = [_significant(v, digits) for v in values]
            if len(set(texts)) == len(texts):
                break
    middle = [f"[{a}, {b})" for a, b in itertools.pairwise(texts)]
    return [f"< {texts[0]}", *middle, f"≥ {texts[-1]}"]


def _significant(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits, with thousands separators, never 1e+04."""
    whole = len(str(int(abs(value)))) if abs(value) >= 1 else 0
    if not whole:
        return f"{value:.{digits}g}"
    text = f"{value:,.{max(digits - whole, 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
