"""MLflow's scoring protocol: the body of ``POST /invocations`` read into a payload.

JSON bodies carry exactly one of ``dataframe_split`` (``{"columns": [...], "data": [[...]]}``),
``dataframe_records`` (a list of records), ``instances`` or ``inputs`` (records, one array per
column, or rows in the model's column order); ``text/csv`` bodies have a header row. The
reply is ``{"predictions": [...]}``: the label per row for classifiers, the value for
regression, as MLflow's own server answers.

>>> read_invocation(b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}',
...                 b"application/json", ["a", "b"], {"a": "float", "b": "float"})
({'a': [1], 'b': [2]}, True)
>>> read_invocation(b"b,a\\n2,1\\n", b"text/csv", ["a", "b"], {"a": "integer", "b": "float"})
({'b': [2], 'a': [1]}, True)
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from forgeml.serve.protocols.errors import ProtocolError
from forgeml.serve.scoring import Scored

__all__ = [
    "FORMATS",
    "named_tensor",
    "predictions",
    "read_invocation",
    "read_tensor_invocation",
    "rows_to_columns",
]

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_FORMAT_FIX = (
    'send one of {"dataframe_split": {"columns": [...], "data": [[...]]}}, '
    '{"dataframe_records": [...]}, {"instances": [...]} or {"inputs": ...}'
)
_TRUE = frozenset({"true", "True", "TRUE", "1"})
_FALSE = frozenset({"false", "False", "FALSE", "0"})


def read_invocation(
    body: bytes, content_type: bytes | None, names: Sequence[str], kinds: Mapping[str, str]
) -> tuple[Any, bool]:
    """The payload of an invocation and whether it is columnar (see ``InputSchema.read``)."""
    kind = _media_type(content_type)
    if kind == b"text/csv":
        return read_csv(body, kinds), True
    if kind != b"application/json":
        raise ProtocolError(
            "this content type is not supported",
            "send Content-Type: application/json or text/csv",
            status=415,
        )
    return read_json(_load(body), names)


def read_tensor_invocation(body: bytes, content_type: bytes | None, name: str) -> Any:
    """The payload of an invocation to a model that takes one tensor ``name``: MLflow's
    tensor formats, ``{"inputs": ...}`` or ``{"instances": ...}`` holding the batch itself
    or an object naming the input (``TensorSchema.read`` checks its shape and values).

    >>> read_tensor_invocation(b'{"instances": [[1, 2]]}', None, "x")
    {'x': [[1, 2]]}
    """
    fix = f'send {{"inputs": {{"{name}": [[...], ...]}}}} or {{"instances": [[...], ...]}}'
    if _media_type(content_type) != b"application/json":
        raise ProtocolError("a model that takes a tensor reads JSON only", fix, status=415)
    document = _load(body)
    given = (
        [key for key in ("inputs", "instances") if key in document]
        if isinstance(document, dict)
        else []
    )
    if len(given) != 1 or len(document) != 1:
        raise ProtocolError('the body must be {"inputs": ...} or {"instances": ...}', fix)
    return named_tensor(document[given[0]], name)


def named_tensor(value: Any, name: str) -> Any:
    """A protocol's tensor value as ``TensorSchema.read`` takes it: an object naming the
    input as it is, a bare batch under the input's name."""
    return value if isinstance(value, dict) else {name: value}


def _media_type(content_type: bytes | None) -> bytes:
    return (content_type or b"application/json").split(b";")[0].strip().lower()


def _load(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ProtocolError(
            "malformed JSON", f"send a valid JSON document (line {error.lineno})"
        ) from None


def read_json(document: Any, names: Sequence[str]) -> tuple[Any, bool]:
    """The payload of a decoded JSON invocation."""
    if not isinstance(document, dict):
        raise ProtocolError("the body must be a JSON object", _FORMAT_FIX)
    given = [key for key in FORMATS if key in document]
    others = [key for key in document if key not in FORMATS and key != "params"]
    if len(given) != 1 or others:
        problem = "holds none" if not given else f"holds {', '.join(given + others)}"
        raise ProtocolError(
            f"the body must hold exactly one input format; it {problem}", _FORMAT_FIX
        )
    if document.get("params"):
        raise ProtocolError("this model takes no params", "leave 'params' out of the request")
    key = given[0]
    value = document[key]
    if key == "dataframe_split":
        return _split(value, names), True
    if key == "dataframe_records":
        if not isinstance(value, list):
            raise ProtocolError("dataframe_records must be an array of records", _FORMAT_FIX)
        return _one(value), False
    return _instances(value, key, names)


def _split(value: Any, names: Sequence[str]) -> dict[str, list[Any]]:
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise ProtocolError(
            'dataframe_split must be {"columns": [...], "data": [[...], ...]}', _FORMAT_FIX
        )
    columns = value.get("columns", list(names))
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ProtocolError("dataframe_split.columns must be an array of names", _FORMAT_FIX)
    return rows_to_columns(value["data"], columns, "dataframe_split.data")


def _instances(value: Any, key: str, names: Sequence[str]) -> tuple[Any, bool]:
    if isinstance(value, dict):
        if value and all(isinstance(v, list) for v in value.values()):
            return value, True  # one array per column
        return value, False  # one record
    if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
        return rows_to_columns(value, list(names), key), True
    if isinstance(value, list):
        return _one(value), False  # records
    raise ProtocolError(f"{key} must be records, one array per column, or rows", _FORMAT_FIX)


def _one(records: list[Any]) -> Any:
    """A single record on its own (the input checks' quickest path), else the list."""
    return records[0] if len(records) == 1 and isinstance(records[0], dict) else records


def rows_to_columns(rows: Any, columns: Sequence[str], where: str) -> dict[str, list[Any]]:
    """Rows of values (in ``columns`` order) as one list per column."""
    if not isinstance(rows, list):
        raise ProtocolError(f"{where} must be an array of rows", _FORMAT_FIX)
    width = len(columns)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise ProtocolError(
                f"{where}[{i}] must be an array of {width} values, one per column",
                "send every row with one value per column, in the columns' order",
            )
    if len(set(columns)) != width:
        raise ProtocolError("the column names repeat", "name each column once")
    return {name: [row[j] for row in rows] for j, name in enumerate(columns)}


def read_csv(body: bytes, kinds: Mapping[str, str]) -> dict[str, list[Any]]:
    """A CSV body with a header row, values typed by each column's kind; empty is null."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProtocolError("the CSV body is not UTF-8", "send UTF-8 text") from None
    try:
        lines = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as error:
        raise ProtocolError(f"malformed CSV: {error}", "send RFC 4180 CSV") from None
    lines = [line for line in lines if line]
    if len(lines) < 2:
        raise ProtocolError(
            "the CSV body needs a header row and at least one row",
            "send the column names on the first line",
        )
    header, rows = lines[0], lines[1:]
    columns = rows_to_columns(rows, header, "the CSV's rows")
    return {name: _typed(values, kinds.get(name)) for name, values in columns.items()}


def _typed(values: list[str], kind: str | None) -> list[Any]:
    return [_value(v, kind) for v in values]


def _value(text: str, kind: str | None) -> Any:
    if text == "":
        return None
    if kind in ("integer", "float"):
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return text  # the input checks name the column and the type expected
        return number if math.isfinite(number) else text
    if kind == "boolean":
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return text


def predictions(scored: Scored) -> dict[str, Any]:
    """The reply MLflow's server gives: one prediction per row."""
    return {"predictions": scored.scores if scored.labels is None else scored.labels}
