"""The columns of prediction-log segments, and the Arrow type each model input is stored as.

A predictions segment holds the fixed columns of :data:`PREDICTION_SCHEMA`, then one
column per input of the model's signature, typed from the signature's ``type`` (or its
``kind`` when the type is missing or unknown). An input whose name is taken by a fixed
column (a feature called ``score``, say) is stored as ``input.<name>``; every input
column carries its signature name in the field metadata key ``forgeml.input``.

>>> [(c.name, c.stored, str(c.type)) for c in input_columns([
...     {"name": "income", "type": "double", "kind": "float"},
...     {"name": "score", "type": "int64", "kind": "integer"},
...     {"name": "opened", "type": "timestamp[ns, tz=Europe/Oslo]", "kind": "timestamp"}])]
[('income', 'income', 'double'), ('score', 'input.score', 'int64'), ('opened', 'opened', 'timestamp[us, tz=Europe/Oslo]')]
"""  # noqa: E501

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from forgeml.errors import ConfigError
from forgeml.features.columns import zone

__all__ = [
    "FEEDBACK_SCHEMA",
    "INPUT_KEY",
    "INPUT_PREFIX",
    "LABELLED_COLUMNS",
    "PREDICTION_SCHEMA",
    "TIME_TYPE",
    "InputColumn",
    "arrow_type",
    "input_columns",
    "segment_schema",
]

TIME_TYPE = pa.timestamp("us", tz="UTC")
PREDICTION_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string()),
        pa.field("time", TIME_TYPE),
        pa.field("version", pa.int32()),
        pa.field("arm", pa.string()),
        pa.field("latency_ms", pa.float32()),
        pa.field("score", pa.float64()),
        pa.field("label", pa.string()),  # the predicted class as JSON text
        pa.field("flags", pa.list_(pa.string())),
    ]
)
FEEDBACK_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string()),
        pa.field("label", pa.string()),  # the true label as JSON text
        pa.field("time", TIME_TYPE),
    ]
)
LABELLED_COLUMNS = ("true_label", "label_time")
"""Columns :func:`~forgeml.serve.feedback.labelled_predictions` adds to the predictions."""

INPUT_PREFIX = "input."
INPUT_KEY = b"forgeml.input"

_TIMESTAMP = re.compile(r"^timestamp\[(?:s|ms|us|ns)(?:, tz=(.+))?\]$")
_BY_KIND = {
    "float": pa.float64(),
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "category": pa.large_string(),
    "text": pa.large_string(),
    "timestamp": pa.timestamp("us"),
    "empty": pa.null(),
}


@dataclass(frozen=True)
class InputColumn:
    """One model input: its name in requests, its column in segments, its Arrow type.

    ``type`` is None for an input the signature gives no type for; its values are then
    stored with the type Arrow infers, or as JSON text when they mix types.
    """

    name: str
    stored: str
    type: pa.DataType | None

    def field(self, inferred: pa.DataType) -> pa.Field:
        """The segment field of this input (``inferred`` is used when ``type`` is None)."""
        kind = self.type if self.type is not None else inferred
        return pa.field(self.stored, kind, metadata={INPUT_KEY: self.name.encode()})


def input_columns(inputs: Sequence[Mapping[str, Any] | str]) -> list[InputColumn]:
    """The stored columns for a signature's ``inputs`` (column dicts, or bare names)."""
    if isinstance(inputs, str | bytes | Mapping) or not isinstance(inputs, Sequence):
        raise ConfigError(
            f"inputs must be a list of column descriptions, not {type(inputs).__name__}",
            fix="pass the model version's signature['inputs']",
        )
    columns: list[InputColumn] = []
    seen: set[str] = set()
    for position, spec in enumerate(inputs):
        name = spec if isinstance(spec, str) else spec.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(
                f"input {position} of the signature has no name",
                fix="pass the model version's signature['inputs']: dicts with a 'name' key",
            )
        if name in seen:
            raise ConfigError(
                f"input '{name}' appears twice in the signature",
                fix="list each input column once",
            )
        seen.add(name)
        stored = INPUT_PREFIX + name if name in PREDICTION_SCHEMA.names else name
        kind = None if isinstance(spec, str) else arrow_type(spec)
        columns.append(InputColumn(name, stored, kind))
    return columns


def arrow_type(spec: Mapping[str, Any]) -> pa.DataType | None:
    """The Arrow type an input is stored as, normalised to forgeml's widths.

    >>> arrow_type({"type": "int8"}), arrow_type({"type": "string"}), arrow_type({"kind": "float"})
    (DataType(int64), DataType(large_string), DataType(double))
    >>> arrow_type({"type": "a mystery"}) is None
    True
    """
    text = spec.get("type")
    if isinstance(text, str):
        match = _TIMESTAMP.match(text)
        if match:
            zone(match.group(1))  # an unknown timezone is a ConfigError naming it
            return pa.timestamp("us", tz=match.group(1))
        try:
            found = _normalised(pa.type_for_alias(text))
        except (ValueError, KeyError):
            found = None
        if found is not None:
            return found
    kind = spec.get("kind")
    return _BY_KIND.get(kind) if isinstance(kind, str) else None


def segment_schema(fields: Sequence[pa.Field], *, model: str, kind: str) -> pa.Schema:
    """A segment's schema: ``fields`` plus metadata naming the model and log format."""
    meta = {b"forgeml.model": model.encode(), b"forgeml.kind": kind.encode(), b"forgeml.log": b"1"}
    return pa.schema(fields, metadata=meta)


def _normalised(kind: pa.DataType) -> pa.DataType | None:
    if pa.types.is_integer(kind):
        return pa.int64()
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return pa.float64()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pa.large_string()
    if pa.types.is_date(kind):
        return pa.timestamp("us")
    if pa.types.is_boolean(kind) or pa.types.is_null(kind):
        return kind
    return None
