"""FeaturePipeline: the fitted preprocessing saved with a model, as JSON.

Fitting reads the dataset's schema and data once and keeps only numbers (medians, means,
standard deviations, modes) and category lists. Applying it needs NumPy alone for lists and
records, so a server can answer one request without building a data frame.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from forgeml.errors import ConfigError, DataError
from forgeml.features.categories import CategoryEncoder
from forgeml.features.columns import column_names, read_column, records_to_columns, row_count
from forgeml.features.encoders import STRATEGIES, BooleanEncoder, Encoder, NumberEncoder, Strategy
from forgeml.features.fields import Fields, invalid
from forgeml.features.fitting import check_names, check_options, fit_column, schema_columns
from forgeml.features.timestamps import TimestampEncoder

__all__ = ["FORMAT", "VERSION", "FeaturePipeline"]

FORMAT = "forgeml.features"
VERSION = 1
ENCODERS: dict[str, type[Encoder]] = {
    cls.tag: cls for cls in (NumberEncoder, BooleanEncoder, CategoryEncoder, TimestampEncoder)
}


class FeaturePipeline:
    """Preprocessing fitted on a dataset, applied identically in training and serving.

    >>> import pyarrow as pa
    >>> from forgeml.data.normalize import normalize
    >>> from forgeml.data.profile import profile_table
    >>> from forgeml.data.schema import infer_schema
    >>> table = normalize(pa.table({"age": [30, None, 50, 40], "plan": ["a", "b", "a", "a"],
    ...                             "churned": [False, True, False, False]}))
    >>> schema = infer_schema(table, profile_table(table))
    >>> pipe = FeaturePipeline.fit(table, schema, target="churned", strategy="tree")
    >>> pipe.feature_names, pipe.input_columns
    (['age', 'plan'], ['age', 'plan'])
    >>> pipe.transform_records([{"age": 35, "plan": "b"}, {"age": None, "plan": "z"}]).tolist()
    [[35.0, 1.0], [nan, nan]]
    """

    def __init__(
        self,
        encoders: Sequence[Encoder],
        *,
        strategy: Strategy,
        max_categories: int = 50,
        target: str | None = None,
        dropped: Mapping[str, str] | None = None,
    ) -> None:
        self.strategy = strategy
        self.max_categories = max_categories
        self.target = target
        self.dropped = dict(dropped or {})
        self._encoders = tuple(encoders)
        self._feature_names = [name for e in self._encoders for name in e.feature_names]
        self._input_columns = [e.column for e in self._encoders]
        ends = np.cumsum([0, *(len(e.feature_names) for e in self._encoders)]).tolist()
        self._slices = [slice(a, b) for a, b in pairwise(ends)]

    @property
    def feature_names(self) -> list[str]:
        """The output columns of :meth:`transform`, in order."""
        return list(self._feature_names)

    @property
    def steps(self) -> list[tuple[Encoder, slice]]:
        """Each encoder with the output columns it writes, in order."""
        return list(zip(self._encoders, self._slices, strict=True))

    @property
    def input_columns(self) -> list[str]:
        """The raw columns the pipeline reads, in schema order."""
        return list(self._input_columns)

    @classmethod
    def fit(
        cls,
        data: Any,
        schema: Mapping[str, Any],
        *,
        target: str | None,
        strategy: Strategy,
        exclude: Sequence[str] = (),
        max_categories: int = 50,
    ) -> FeaturePipeline:
        """Fit on ``data`` (a pyarrow Table, or a mapping of column to array or list).

        ``schema`` is a dataset version's schema; its kinds decide each column's encoding.
        The target, excluded columns, empty columns, columns without values and text with
        more than ``max_categories`` distinct values are dropped, with the reason kept in
        :attr:`dropped`.

        >>> schema = {"columns": [{"name": "x", "kind": "float"}, {"name": "y", "kind": "float"},
        ...                       {"name": "note", "kind": "text"}]}
        >>> data = {"x": [1.0, None, 3.0], "y": [0.0, 1.0, 0.0], "note": ["p", "q", "r"]}
        >>> pipe = FeaturePipeline.fit(data, schema, target="y", strategy="linear",
        ...                            max_categories=2)
        >>> pipe.feature_names
        ['x', 'x__missing']
        >>> pipe.dropped["note"]
        'text with 3 distinct values (more than max_categories=2)'
        """
        check_options(strategy, max_categories, exclude)
        columns = schema_columns(schema)
        check_names(columns, target, exclude)
        rules = {target: "target"} if target is not None else {}
        rules |= {name: "excluded" for name in exclude if name != target}
        wanted = [c for c in columns if c.name not in rules and c.kind != "empty"]
        _require_columns(data, [c.name for c in wanted])
        row_count(data, [c.name for c in wanted])
        encoders: list[Encoder] = []
        dropped: dict[str, str] = {}
        for column in columns:
            if column.name in rules or column.kind == "empty":
                dropped[column.name] = rules.get(column.name, "empty: every value is missing")
                continue
            fitted = fit_column(column, data, strategy, max_categories)
            if isinstance(fitted, str):
                dropped[column.name] = fitted
            else:
                encoders.append(fitted)
        pipeline = cls(
            encoders,
            strategy=strategy,
            max_categories=max_categories,
            target=target,
            dropped=dropped,
        )
        repeated = _repeated(pipeline.feature_names)
        if repeated:
            raise DataError(
                f"feature names would repeat: {', '.join(map(repr, repeated[:5]))}",
                fix="rename the columns whose names clash with a generated feature name "
                "(such as '<column>__missing'), or exclude one of them",
            )
        return pipeline

    def transform(self, data: Any) -> np.ndarray:
        """The float64 feature matrix (rows, features; C-contiguous) of ``data``.

        >>> schema = {"columns": [{"name": "n", "kind": "integer"}]}
        >>> pipe = FeaturePipeline.fit({"n": [1, 2, 3]}, schema, target=None, strategy="linear")
        >>> pipe.transform({"n": [2, None]}).round(4).tolist()
        [[0.0], [0.0]]
        """
        rows = self._check(data, self._input_columns)
        out = np.empty((rows, len(self._feature_names)), dtype=np.float64)
        for encoder, where in zip(self._encoders, self._slices, strict=True):
            encoder.encode(read_column(data, encoder.column), out[:, where])
        return out

    def transform_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The feature matrix of decoded JSON records, one mapping per row.

        Each record must hold every input column (null for a missing value); other fields
        are ignored.

        >>> schema = {"columns": [{"name": "n", "kind": "float"}]}
        >>> pipe = FeaturePipeline.fit({"n": [1.0, 3.0]}, schema, target=None, strategy="tree")
        >>> pipe.transform_records([{"n": 2, "id": "r1"}])
        array([[2.]])
        """
        columns = records_to_columns(records, self._input_columns)
        if not self._input_columns:
            return np.empty((len(records), 0), dtype=np.float64)
        return self.transform(columns)

    def unknown_categories(self, data: Any) -> dict[str, int]:
        """Per categorical column, how many values of ``data`` were never seen at fit time.

        >>> schema = {"columns": [{"name": "plan", "kind": "category"}]}
        >>> pipe = FeaturePipeline.fit({"plan": ["a", "b"]}, schema, target=None, strategy="tree")
        >>> pipe.unknown_categories({"plan": ["a", "gold", "gold", None]})
        {'plan': 2}
        """
        categorical = [e for e in self._encoders if isinstance(e, CategoryEncoder)]
        self._check(data, [e.column for e in categorical])
        return {e.column: e.unknown(read_column(data, e.column)) for e in categorical}

    def to_dict(self) -> dict[str, Any]:
        """The fitted pipeline as a JSON-safe object, for :meth:`from_dict`.

        >>> schema = {"columns": [{"name": "n", "kind": "float"}]}
        >>> pipe = FeaturePipeline.fit({"n": [1.0]}, schema, target=None, strategy="tree")
        >>> pipe.to_dict()["encoders"]
        [{'type': 'number', 'column': 'n', 'scale': None, 'indicator': False}]
        """
        return {
            "format": FORMAT,
            "version": VERSION,
            "strategy": self.strategy,
            "max_categories": self.max_categories,
            "target": self.target,
            "input_columns": self.input_columns,
            "feature_names": self.feature_names,
            "encoders": [e.to_dict() for e in self._encoders],
            "dropped": dict(self.dropped),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeaturePipeline:
        """The pipeline saved by :meth:`to_dict`; every field is checked before use.

        >>> FeaturePipeline.from_dict({"format": "forgeml.features", "version": 99})
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        forgeml.errors.ConfigError: feature pipeline format version 99 is not supported ...
        """
        if not isinstance(data, Mapping):
            raise invalid(f"a feature pipeline must be an object, not {type(data).__name__}")
        fields = Fields(data, "")
        if fields.text("format") != FORMAT:
            raise invalid(f"this object is not a feature pipeline (format {data['format']!r})")
        version = fields.integer("version")
        if version != VERSION:
            raise ConfigError(
                f"feature pipeline format version {version} is not supported "
                f"(this forgeml reads version {VERSION})",
                fix="load it with the forgeml release that saved it, or fit the pipeline again",
            )
        strategy = fields.text("strategy")
        if strategy not in STRATEGIES:
            raise invalid(
                f"feature pipeline field 'strategy' must be 'tree' or 'linear', not {strategy!r}"
            )
        max_categories = fields.integer("max_categories")
        if max_categories < 1:
            raise invalid("feature pipeline field 'max_categories' must be at least 1")
        dropped = fields.get("dropped")
        if not isinstance(dropped, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in dropped.items()
        ):
            raise invalid("feature pipeline field 'dropped' must map column names to reasons")
        pipeline = cls(
            [_load_encoder(item) for item in fields.objects("encoders")],
            strategy=strategy,
            max_categories=max_categories,
            target=fields.optional_text("target"),
            dropped=dropped,
        )
        for key, derived in (
            ("input_columns", pipeline.input_columns),
            ("feature_names", pipeline.feature_names),
        ):
            if fields.strings(key) != derived:
                raise invalid(f"feature pipeline field '{key}' does not match its encoders")
            if _repeated(derived):
                raise invalid(f"feature pipeline field '{key}' repeats {_repeated(derived)[0]!r}")
        return pipeline

    def __repr__(self) -> str:
        return (
            f"FeaturePipeline(strategy={self.strategy!r}, {len(self._input_columns)} columns → "
            f"{len(self._feature_names)} features, {len(self.dropped)} dropped)"
        )

    def _check(self, data: Any, names: Sequence[str]) -> int:
        _require_columns(data, names)
        return row_count(data, names)


def _load_encoder(fields: Fields) -> Encoder:
    tag = fields.text("type")
    if tag not in ENCODERS:
        raise invalid(
            f"feature pipeline field '{fields.where('type')}' must be one of "
            f"{', '.join(ENCODERS)}, not {tag!r}"
        )
    return ENCODERS[tag].from_fields(fields)


def _require_columns(data: Any, names: Sequence[str]) -> None:
    present = column_names(data)
    missing = [name for name in names if name not in present]
    if missing:
        shown = ", ".join(map(repr, missing[:10]))
        raise DataError(
            f"{len(missing)} input column{'s are' if len(missing) > 1 else ' is'} missing: {shown}",
            fix=f"pass every input column; the pipeline reads: {', '.join(names)}",
        )


def _repeated(names: Sequence[str]) -> list[str]:
    return [name for name, count in Counter(names).items() if count > 1]
