"""The encoder interface, and the encoders for numbers and booleans.

An encoder turns one input column into one or more float64 feature columns. It is fitted
once, saved as a JSON object, and applied to any number of rows with vectorised NumPy.

>>> enc = NumberEncoder.fit("age", [20, None, 40], strategy="linear")
>>> enc.feature_names
['age', 'age__missing']
>>> out = np.empty((2, 2))
>>> enc.encode([40, None], out)
>>> out.round(4)
array([[1.2247, 0.    ],
       [0.    , 1.    ]])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from forgeml.features.columns import as_booleans, as_numbers
from forgeml.features.fields import Fields, invalid
from forgeml.features.scaling import Standardizer

__all__ = ["STRATEGIES", "BooleanEncoder", "Encoder", "NumberEncoder", "Strategy"]

Strategy = Literal["tree", "linear"]
STRATEGIES: tuple[Strategy, ...] = ("tree", "linear")
MISSING_SUFFIX = "__missing"


class Encoder(ABC):
    """One input column's contribution to the feature matrix."""

    tag: ClassVar[str]
    column: str

    @property
    @abstractmethod
    def feature_names(self) -> list[str]:
        """The names of the features this encoder writes, in order."""

    @abstractmethod
    def encode(self, values: Any, out: np.ndarray) -> None:
        """Write the features of ``values`` into ``out`` (shape: rows, ``len(feature_names)``)."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The fitted parameters as a JSON-safe object, ``type`` and ``column`` included."""

    @classmethod
    @abstractmethod
    def from_fields(cls, fields: Fields) -> Encoder:
        """The encoder saved by :meth:`to_dict`; invalid fields raise ``ConfigError``."""


@dataclass(frozen=True)
class NumberEncoder(Encoder):
    """An integer or float column.

    tree: the value as float64, NaN where missing. linear: missing and infinite values
    take the fit median, then the value is standardised, and ``<column>__missing`` flags
    the imputed rows when the fit data had any.
    """

    tag: ClassVar[str] = "number"
    column: str
    scale: Standardizer | None = None
    indicator: bool = False

    @classmethod
    def fit(cls, column: str, values: Any, *, strategy: Strategy) -> NumberEncoder | None:
        """Fit on the column's values; None when it has no values to learn from."""
        numbers = as_numbers(column, values)
        if strategy == "tree":
            return cls(column) if not np.isnan(numbers).all() else None
        scale = Standardizer.fit(numbers, column=column)
        if scale is None:
            return None
        return cls(column, scale=scale, indicator=not np.isfinite(numbers).all())

    @property
    def feature_names(self) -> list[str]:
        return [self.column, *([self.column + MISSING_SUFFIX] if self.indicator else [])]

    def encode(self, values: Any, out: np.ndarray) -> None:
        numbers = as_numbers(self.column, values)
        out[:, 0] = numbers if self.scale is None else self.scale.apply(numbers)
        if self.indicator:
            out[:, 1] = ~np.isfinite(numbers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.tag,
            "column": self.column,
            "scale": None if self.scale is None else self.scale.to_dict(),
            "indicator": self.indicator,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> NumberEncoder:
        scale = fields.get("scale")
        return cls(
            fields.text("column"),
            scale=None
            if scale is None
            else Standardizer.from_fields(Fields(scale, fields.where("scale"))),
            indicator=fields.flag("indicator"),
        )


@dataclass(frozen=True)
class BooleanEncoder(Encoder):
    """A boolean column as 0/1.

    tree: NaN where missing. linear: a missing value takes the fit mode (false on a tie),
    and ``<column>__missing`` flags it when the fit data had missing values.

    >>> enc = BooleanEncoder.fit("paid", [True, None, True, False], strategy="linear")
    >>> enc.fill, enc.feature_names
    (1.0, ['paid', 'paid__missing'])
    """

    tag: ClassVar[str] = "boolean"
    column: str
    fill: float | None = None
    indicator: bool = False

    @classmethod
    def fit(cls, column: str, values: Any, *, strategy: Strategy) -> BooleanEncoder | None:
        """Fit on the column's values; None when it has no values to learn from."""
        flags = as_booleans(column, values)
        missing = np.isnan(flags)
        if missing.all():
            return None
        if strategy == "tree":
            return cls(column)
        mode = 1.0 if np.count_nonzero(flags == 1) > np.count_nonzero(flags == 0) else 0.0
        return cls(column, fill=mode, indicator=bool(missing.any()))

    @property
    def feature_names(self) -> list[str]:
        return [self.column, *([self.column + MISSING_SUFFIX] if self.indicator else [])]

    def encode(self, values: Any, out: np.ndarray) -> None:
        flags = as_booleans(self.column, values)
        missing = np.isnan(flags)
        out[:, 0] = flags if self.fill is None else np.where(missing, self.fill, flags)
        if self.indicator:
            out[:, 1] = missing

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.tag,
            "column": self.column,
            "fill": self.fill,
            "indicator": self.indicator,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> BooleanEncoder:
        fill = None if fields.get("fill") is None else fields.number("fill")
        if fill not in (None, 0.0, 1.0):
            raise invalid(f"feature pipeline field '{fields.where('fill')}' must be 0, 1 or null")
        return cls(fields.text("column"), fill=fill, indicator=fields.flag("indicator"))
