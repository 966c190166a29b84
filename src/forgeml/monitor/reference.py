"""Reference profiles: the bins, profile and samples a model version is monitored against.

:func:`fit_reference` reads each column once (one at a time from a dataset) and keeps:

- the bins (quantile edges of numeric columns, taken from the sample below, and top
  categories of categorical ones);
- the reference data's own :class:`~forgeml.monitor.profile.WindowProfile` over them;
- per numeric column, a sorted sample of its finite values: all of them when there are at
  most ``sample_size``, else a uniform random sample of that many (seeded, so refitting
  the same data gives the same reference). Drift tests use it for exact KS tests on small
  windows.

Optionally the model's scores on reference rows (``scores``) give a reference for
prediction drift. Timestamps are profiled as seconds since 1970. The profile's ``id``
fingerprints the bins; windows record it, and only matching profiles merge or compare.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads

from forgeml.errors import DataError
from forgeml.monitor._codec import decode_floats, encode_floats
from forgeml.monitor._columns import NUMERIC_KINDS, Source, column_specs, numbers, strings
from forgeml.monitor.categorical import MAX_KNOWN, TOP_K, CategoryBins, CategoryProfile
from forgeml.monitor.numeric import KEEP_VALUES, NumericBins, NumericProfile
from forgeml.monitor.profile import ColumnProfile, WindowProfile, parallel_map

__all__ = ["FORMAT", "SAMPLE_SIZE", "ColumnReference", "ReferenceProfile", "fit_reference"]

FORMAT = 1
SAMPLE_SIZE = 10_000


@dataclass(frozen=True)
class ColumnReference:
    """One reference column: its kind, its bins and (numeric) its sorted sample."""

    name: str
    kind: str
    bins: NumericBins | CategoryBins
    sample: np.ndarray | None = None

    @property
    def numeric(self) -> bool:
        """Whether the column is binned as numbers (integer, float, timestamp)."""
        return isinstance(self.bins, NumericBins)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "bins": self.bins.to_dict(),
            "sample": None if self.sample is None else encode_floats(self.sample),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnReference:
        kind = str(data["kind"])
        bins: NumericBins | CategoryBins
        if kind in NUMERIC_KINDS or kind == "score":
            bins = NumericBins.from_dict(data["bins"])
        else:
            bins = CategoryBins.from_dict(data["bins"])
        sample = data.get("sample")
        return cls(str(data["name"]), kind, bins, None if sample is None else decode_floats(sample))


@dataclass(frozen=True)
class ReferenceProfile:
    """Everything drift and quality checks compare a window with (see the module doc)."""

    columns: tuple[ColumnReference, ...]
    profile: WindowProfile
    prediction: ColumnReference | None = None
    keep_values: int = KEEP_VALUES

    @property
    def id(self) -> str:
        """Fingerprint of the bins: windows profiled against them carry the same id."""
        return self.profile.reference

    def column(self, name: str) -> ColumnReference:
        """The reference column called ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise DataError(
            f"the reference profile has no column '{name}'",
            fix=f"choose from: {', '.join(c.name for c in self.columns)}",
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; :meth:`from_dict` reads it back (and checks the id)."""
        return {
            "format": FORMAT,
            "id": self.id,
            "keep_values": self.keep_values,
            "columns": [c.to_dict() for c in self.columns],
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "profile": self.profile.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceProfile:
        if data.get("format") != FORMAT:
            raise DataError(
                f"reference profile format {data.get('format')!r} is not {FORMAT}",
                fix="fit the reference profile again with this version of forgeml",
            )
        columns = tuple(ColumnReference.from_dict(c) for c in data["columns"])
        prediction = data.get("prediction")
        score = None if prediction is None else ColumnReference.from_dict(prediction)
        profile = WindowProfile.from_dict(data["profile"])
        if _fingerprint(columns, score) != profile.reference or data.get("id") != profile.reference:
            raise DataError(
                "the reference profile's bins do not match its id (the document was changed)",
                fix="fit the reference profile again from the model version's training data",
            )
        return cls(columns, profile, score, int(data["keep_values"]))


def fit_reference(
    data: pa.Table | pads.Dataset | pa.RecordBatch,
    columns: Sequence[Mapping[str, Any] | str] | None = None,
    *,
    scores: Sequence[float] | np.ndarray | pa.Array | pa.ChunkedArray | None = None,
    bins: int = 20,
    top_k: int = TOP_K,
    sample_size: int = SAMPLE_SIZE,
    keep_values: int = KEEP_VALUES,
    max_known: int = MAX_KNOWN,
    seed: int = 0,
    threads: int | None = None,
) -> ReferenceProfile:
    """Fit the reference profile of ``columns`` (signature inputs; default: every column).

    ``bins`` quantile bins per numeric column, ``top_k`` cells (plus "other") per
    categorical one; ``scores`` are the model's scores on reference rows, for prediction
    drift; windows keep exact values up to ``keep_values`` rows.

    >>> table = pa.table({"age": [30, 41, 52, None], "plan": ["a", "b", "a", "a"]})
    >>> ref = fit_reference(table, [{"name": "age", "kind": "integer"}, {"name": "plan"}])
    >>> [(c.name, c.kind) for c in ref.columns], ref.profile.columns["age"].nulls
    ([('age', 'integer'), ('plan', 'category')], 1)
    >>> ReferenceProfile.from_dict(ref.to_dict()).id == ref.id
    True
    """
    for name, value, low in (
        ("bins", bins, 2),
        ("top_k", top_k, 1),
        ("sample_size", sample_size, 2),
    ):
        if not isinstance(value, int) or value < low:
            raise DataError(
                f"{name} must be an integer >= {low}, not {value!r}",
                fix=f"pass {name}={low} or more",
            )
    source = Source(data)
    specs = column_specs(source, columns)

    def one(job: tuple[int, str, str]) -> tuple[ColumnReference, ColumnProfile]:
        position, name, kind = job
        rng = np.random.default_rng([seed, position])
        found = _fit_column(
            name, kind, source.column(name), bins, top_k, max_known, sample_size, keep_values, rng
        )
        pa.default_memory_pool().release_unused()  # a column at a time, in memory too
        return found

    fitted = parallel_map(one, [(i, n, k) for i, (n, k) in enumerate(specs)], threads)
    prediction: ColumnReference | None = None
    score_profile: NumericProfile | None = None
    if scores is not None:
        values = _score_values(scores)
        sample = _sample(values, sample_size, np.random.default_rng([seed, len(specs)]))
        score_bins = NumericBins.fit(values, bins=bins, sample=sample)
        prediction = ColumnReference("score", "score", score_bins, sample)
        score_profile = NumericProfile.of(values, score_bins, keep_values=keep_values)
    references = tuple(column for column, _ in fitted)
    profile = WindowProfile(
        _fingerprint(references, prediction),
        source.rows,
        {column.name: p for column, p in fitted},
        score_profile,
        {},
        keep_values,
    )
    return ReferenceProfile(references, profile, prediction, keep_values)


def _fit_column(
    name: str,
    kind: str,
    column: pa.ChunkedArray,
    bins: int,
    top_k: int,
    max_known: int,
    sample_size: int,
    keep_values: int,
    rng: np.random.Generator,
) -> tuple[ColumnReference, ColumnProfile]:
    if kind in NUMERIC_KINDS:
        values = numbers(column)
        if values is None:
            raise DataError(
                f"reference column '{name}' is declared {kind} but holds {column.type}",
                fix="correct the column's kind in the signature, or cast the column",
            )
        sample = _sample(values, sample_size, rng)
        fitted = NumericBins.fit(values, bins=bins, sample=sample)
        profile = NumericProfile.of(values, fitted, keep_values=keep_values)
        return ColumnReference(name, kind, fitted, sample), profile
    text = strings(column)
    if text is None:
        raise DataError(
            f"reference column '{name}' ({column.type}) cannot be read as {kind} values",
            fix="correct the column's kind in the signature, or cast the column to strings",
        )
    categories = CategoryBins.fit(text, top_k=top_k, max_known=max_known)
    return ColumnReference(name, kind, categories), CategoryProfile.of(text, categories)


def _sample(values: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    mask = np.isfinite(values)
    finite = values if mask.all() else values[mask]
    if len(finite) > size:
        finite = finite[rng.choice(len(finite), size, replace=False)]
    return np.sort(finite)


def _score_values(scores: Any) -> np.ndarray:
    if isinstance(scores, pa.Array | pa.ChunkedArray):
        found = numbers(pa.chunked_array([scores]) if isinstance(scores, pa.Array) else scores)
        if found is None:
            raise DataError(
                f"scores must be numbers, not {scores.type}", fix="pass the model's scores"
            )
        return found
    try:
        return np.asarray(scores, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as error:
        raise DataError(
            f"scores must be numbers: {error}", fix="pass the model's scores as a list or array"
        ) from error


def _fingerprint(columns: Sequence[ColumnReference], prediction: ColumnReference | None) -> str:
    document = {
        "columns": [[c.name, c.kind, c.bins.to_dict()] for c in columns],
        "prediction": None if prediction is None else prediction.bins.to_dict(),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
