"""Timestamp columns as numeric parts: year, month, day, day of week, hour.

Parts are read from the wall-clock time in the column's timezone (values without a
timezone are taken as they are). tree: NaN where missing. linear: each part is imputed
with its fit median and standardised like a number, and ``<column>__missing`` flags the
imputed rows when the fit data had missing values.

>>> enc = TimestampEncoder.fit("at", ["2024-03-01T09:30:00", None], strategy="tree")
>>> enc.feature_names
['at__year', 'at__month', 'at__day', 'at__dayofweek', 'at__hour']
>>> out = np.empty((2, 5))
>>> enc.encode(["2024-03-01T09:30:00", None], out)
>>> out.tolist()
[[2024.0, 3.0, 1.0, 4.0, 9.0], [nan, nan, nan, nan, nan]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from forgeml.features.columns import as_timestamps, zone
from forgeml.features.encoders import MISSING_SUFFIX, Encoder, Strategy
from forgeml.features.fields import Fields, invalid
from forgeml.features.scaling import Standardizer

__all__ = ["PARTS", "TimestampEncoder", "timestamp_parts"]

PARTS = ("year", "month", "day", "dayofweek", "hour")
_HOUR = 3_600_000_000  # microseconds


def timestamp_parts(micros: np.ndarray) -> np.ndarray:
    """(rows, 5) float64 parts of wall-clock microseconds since 1970; Monday is day 0.

    >>> timestamp_parts(np.array([0, -1])).tolist()
    [[1970.0, 1.0, 1.0, 3.0, 0.0], [1969.0, 12.0, 31.0, 2.0, 23.0]]
    """
    stamps = micros.astype(np.int64).view("datetime64[us]")
    days = stamps.astype("datetime64[D]")
    months = stamps.astype("datetime64[M]")
    parts = np.empty((len(micros), len(PARTS)), dtype=np.float64)
    parts[:, 0] = stamps.astype("datetime64[Y]").astype(np.int64) + 1970
    parts[:, 1] = months.astype(np.int64) % 12 + 1
    parts[:, 2] = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    parts[:, 3] = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    parts[:, 4] = micros // _HOUR % 24
    return parts


@dataclass(frozen=True)
class TimestampEncoder(Encoder):
    """A timestamp column, as five numeric parts (and a missing flag for linear models)."""

    tag: ClassVar[str] = "timestamp"
    column: str
    timezone: str | None = None
    scales: tuple[Standardizer, ...] | None = None
    indicator: bool = False

    def __post_init__(self) -> None:
        zone(self.timezone)  # an unknown timezone fails here, not on the first request

    @classmethod
    def fit(
        cls, column: str, values: Any, *, strategy: Strategy, timezone: str | None = None
    ) -> TimestampEncoder | None:
        """Fit on the column's values; None when it has no values to learn from."""
        micros, missing = as_timestamps(column, values, timezone)
        if missing.all():
            return None
        if strategy == "tree":
            return cls(column, timezone)
        parts = timestamp_parts(micros)
        parts[missing] = np.nan
        scales = []
        for part in parts.T:
            scale = Standardizer.fit(part, column=column)
            if scale is None:  # unreachable: some row has a timestamp, so every part a value
                return None
            scales.append(scale)
        return cls(column, timezone, tuple(scales), bool(missing.any()))

    @property
    def feature_names(self) -> list[str]:
        names = [f"{self.column}__{part}" for part in PARTS]
        return names + ([self.column + MISSING_SUFFIX] if self.indicator else [])

    def encode(self, values: Any, out: np.ndarray) -> None:
        micros, missing = as_timestamps(self.column, values, self.timezone)
        parts = timestamp_parts(micros)
        parts[missing] = np.nan
        if self.scales is None:
            out[:, : len(PARTS)] = parts
        else:
            for i, scale in enumerate(self.scales):
                out[:, i] = scale.apply(parts[:, i])
        if self.indicator:
            out[:, len(PARTS)] = missing

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.tag,
            "column": self.column,
            "timezone": self.timezone,
            "scales": None if self.scales is None else [s.to_dict() for s in self.scales],
            "indicator": self.indicator,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> TimestampEncoder:
        scales = None
        if fields.get("scales") is not None:
            items = fields.objects("scales")
            if len(items) != len(PARTS):
                raise invalid(
                    f"feature pipeline field '{fields.where('scales')}' must hold "
                    f"{len(PARTS)} objects, one per part ({', '.join(PARTS)})"
                )
            scales = tuple(Standardizer.from_fields(item) for item in items)
        return cls(
            fields.text("column"),
            fields.optional_text("timezone"),
            scales,
            fields.flag("indicator"),
        )
