"""Median imputation followed by standardisation: the linear treatment of one number.

>>> scale = Standardizer.fit(np.array([1.0, np.nan, 3.0, 4.0]))
>>> scale.fill, scale.mean
(3.0, 2.75)
>>> scale.apply(np.array([3.0, np.nan])).round(4)
array([0.2294, 0.2294])
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from forgeml.errors import DataError
from forgeml.features.fields import Fields, invalid

__all__ = ["Standardizer"]


@dataclass(frozen=True)
class Standardizer:
    """Fill a missing (or infinite) value with ``fill``, then compute ``(x - mean) / std``.

    ``mean`` and ``std`` are those of the imputed fit values (population std); a constant
    column gets ``std`` 1 so that it maps to zeros instead of dividing by zero.
    """

    fill: float
    mean: float
    std: float

    @classmethod
    def fit(cls, values: np.ndarray, *, column: str = "") -> Standardizer | None:
        """Fit on float64 ``values`` (NaN for missing); None when no value is finite."""
        present = np.isfinite(values)
        if not present.any():
            return None
        fill = float(np.median(values[present]))
        filled = np.where(present, values, fill)
        mean, std = float(filled.mean()), float(filled.std())
        if not (np.isfinite(mean) and np.isfinite(std)):
            raise DataError(
                f"column '{column}' has values too large to standardise (mean {mean}, std {std})",
                fix=f"rescale '{column}' (e.g. to other units), or use the 'tree' strategy",
            )
        return cls(fill=fill, mean=mean, std=std if std > 0 else 1.0)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Imputed, standardised float64 values."""
        return _standardize(values, self.fill, self.mean, self.std)

    @staticmethod
    def block(scales: list[Standardizer]) -> Callable[[np.ndarray], np.ndarray]:
        """:meth:`apply` of ``scales[j]`` to column ``j`` of a (rows, len(scales)) block,
        with the parameters stacked once (for a server, per model rather than per request).

        >>> block = np.array([[3.0, np.nan], [np.nan, 2.0]])
        >>> scale = Standardizer.block([Standardizer(3.0, 2.0, 1.0), Standardizer(0.0, 1.0, 2.0)])
        >>> scale(block).tolist()
        [[1.0, -0.5], [1.0, 0.5]]
        """
        fill, mean, std = (
            np.array([getattr(s, k) for s in scales]) for k in ("fill", "mean", "std")
        )
        return functools.partial(_standardize, fill=fill, mean=mean, std=std)

    def to_dict(self) -> dict[str, Any]:
        return {"fill": self.fill, "mean": self.mean, "std": self.std}

    @classmethod
    def from_fields(cls, fields: Fields) -> Standardizer:
        std = fields.number("std")
        if std <= 0:
            raise invalid(f"feature pipeline field '{fields.where('std')}' must be positive")
        return cls(fill=fields.number("fill"), mean=fields.number("mean"), std=std)


def _standardize(values: np.ndarray, fill: Any, mean: Any, std: Any) -> np.ndarray:
    filled = np.where(np.isfinite(values), values, fill)
    result: np.ndarray = (filled - mean) / std
    return result
