"""On-demand features: one Python function of request data and other views' features.

The function is computed when it is asked for, never stored: over whole columns when a
training set is built, over the entities of a request at lookup time, so training and
serving run the same code on the same inputs. It takes one mapping of NumPy arrays (one per
declared input, all of one length) and returns one array per declared feature:

>>> import numpy as np
>>> @on_demand_view(
...     inputs={"amount": "float", "customer_spend:spend_mean_30d": "float"},
...     features={"amount_vs_mean": "float", "large": "bool"},
... )
... def payment_risk(inputs):
...     ratio = inputs["amount"] / inputs["spend_mean_30d"]
...     return {"amount_vs_mean": ratio, "large": ratio > 3}
>>> payment_risk.request_fields, payment_risk.view_inputs
(['amount'], [('customer_spend', 'spend_mean_30d')])
>>> payment_risk.compute({"amount": [90.0, 5.0], "spend_mean_30d": [20.0, None]}, 2)
{'amount_vs_mean': array([4.5, nan]), 'large': array([ True, False])}

An input named ``view:feature`` is that feature of another view (point in time offline,
from the online store online); any other input is request data: a column of the entity
rows offline, a field of the request online. The function sees each input under its own
name (``spend_mean_30d`` above). Numbers (``float``, ``int``) and ``bool`` inputs arrive as
float64 arrays with NaN where a value is missing, ``str`` inputs as object arrays with None,
whether one row or a million, offline or online.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from forgeml.errors import ConfigError, DataError

__all__ = ["FEATURE_TYPES", "OnDemandView", "Output", "on_demand_view"]

FEATURE_TYPES = ("float", "int", "bool", "str")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TARGET = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")

Transform = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class Output:
    """One feature an on-demand view computes, and its type."""

    name: str
    type: str


@dataclass(frozen=True)
class OnDemandView:
    """Features computed by ``function`` from declared, typed inputs."""

    name: str
    function: str | Transform  # pkg.module:function, or the function itself
    inputs: Mapping[str, str]  # request field or view:feature -> type
    features: Mapping[str, str]  # feature -> type
    description: str = ""
    parsed: tuple[Output, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"on-demand view {self.name!r}"
        if not self.inputs or not self.features:
            raise ConfigError(f"{where} needs inputs and features", fix="declare both, with types")
        if isinstance(self.function, str) and not _TARGET.match(self.function):
            raise ConfigError(
                f"{where}: {self.function!r} does not name a function",
                fix="write pkg.module:function",
            )
        for name, kind in [*self.inputs.items(), *self.features.items()]:
            if kind not in FEATURE_TYPES:
                raise ConfigError(
                    f"{where}: {name!r} has unknown type {kind!r}",
                    fix=f"use one of {', '.join(FEATURE_TYPES)}",
                )
        for name in [*self.features, *(self.argument(ref) for ref in self.inputs)]:
            if not _IDENTIFIER.match(name):
                raise ConfigError(
                    f"{where}: {name!r} is not a valid name",
                    fix="use letters, digits and '_', starting with a letter or '_'",
                )
        arguments = [self.argument(ref) for ref in self.inputs]
        if len(set(arguments)) != len(arguments):
            raise ConfigError(
                f"{where}: two inputs reach the function under one name",
                fix="take each name once: a request field and a view's feature may not share it",
            )
        parsed = tuple(Output(name, kind) for name, kind in self.features.items())
        object.__setattr__(self, "parsed", parsed)

    @staticmethod
    def argument(ref: str) -> str:
        """The name the function sees an input under: the feature, or the request field."""
        return ref.partition(":")[2] or ref

    @property
    def request_fields(self) -> list[str]:
        return [ref for ref in self.inputs if ":" not in ref]

    @property
    def view_inputs(self) -> list[tuple[str, str]]:
        return [(v, f) for v, _, f in (ref.partition(":") for ref in self.inputs) if f]

    def feature(self, name: str) -> Output:
        for output in self.parsed:
            if output.name == name:
                return output
        raise ConfigError(
            f"on-demand view {self.name!r} has no feature {name!r}",
            fix=f"use one of {', '.join(self.features)}",
        )

    def target(self) -> str:
        """``pkg.module:function`` as recorded with a model."""
        if isinstance(self.function, str):
            return self.function
        return f"{self.function.__module__}:{self.function.__qualname__}"

    def compute(self, columns: Mapping[str, Any], rows: int) -> dict[str, Any]:
        """The features for ``rows`` rows; ``columns`` holds each input by its argument name
        (a sequence, array or pandas Series). Every feature comes back as a NumPy array."""
        arrays = {}
        for ref, kind in self.inputs.items():
            name = self.argument(ref)
            if name not in columns:
                source = "request field" if ":" not in ref else "feature"
                raise DataError(
                    f"on-demand view {self.name!r} needs {source} {ref!r}, which is missing",
                    fix=f"send {name!r} with each row or request"
                    if ":" not in ref
                    else f"ask for feature view {ref.partition(':')[0]!r} too",
                )
            arrays[name] = _input(columns[name], kind, f"input {ref!r} of {self.name!r}")
        function = self.function if callable(self.function) else _import(self.function)
        try:
            result = function(arrays)
        except Exception as e:
            raise DataError(
                f"on-demand view {self.name!r} failed: {type(e).__name__}: {e}",
                fix=f"fix {self.target()} for these inputs",
            ) from e
        if not isinstance(result, Mapping):
            raise DataError(
                f"on-demand view {self.name!r} returned {type(result).__name__}",
                fix="return a mapping of feature name to array",
            )
        extra = sorted(set(result) - set(self.features))
        missing = [n for n in self.features if n not in result]
        if extra or missing:
            raise DataError(
                f"on-demand view {self.name!r} returned features "
                f"{', '.join(map(str, result)) or '(none)'}; declared: {', '.join(self.features)}",
                fix="return exactly the declared features",
            )
        return {
            output.name: _output(result[output.name], output, rows, self.name)
            for output in self.parsed
        }


def on_demand_view(
    *,
    inputs: Mapping[str, str],
    features: Mapping[str, str],
    name: str | None = None,
    description: str = "",
) -> Callable[[Transform], OnDemandView]:
    """Declare a function as an on-demand view (named after the function by default)."""

    def declare(function: Transform) -> OnDemandView:
        return OnDemandView(
            name or function.__name__,
            function,
            dict(inputs),
            dict(features),
            description or (function.__doc__ or "").strip().split("\n")[0],
        )

    return declare


_FUNCTIONS: dict[str, Transform] = {}


def _import(target: str) -> Transform:
    """The function ``pkg.module:function`` names (imported once)."""
    if target in _FUNCTIONS:
        return _FUNCTIONS[target]
    module_name, _, attribute = target.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except ImportError as e:
        raise ConfigError(
            f"on-demand function {target!r} cannot be imported: {e}",
            fix="check the module name, and that it is installed or on PYTHONPATH",
        ) from None
    except AttributeError:
        raise ConfigError(
            f"module {module_name!r} has no {attribute!r}", fix=f"define {attribute} there"
        ) from None
    if isinstance(found, OnDemandView):  # a decorated function
        found = found.function if callable(found.function) else _import(found.function)
    if not callable(found):
        raise ConfigError(f"{target!r} is not a function", fix="point it at a function")
    function: Transform = found
    _FUNCTIONS[target] = function
    return function


def _input(values: Any, kind: str, where: str) -> Any:
    """One input as the function receives it: float64 (NaN missing) or object (None)."""
    import numpy as np

    if kind == "str":
        if hasattr(values, "isna"):  # a pandas Series
            return np.where(values.isna().to_numpy(), None, values.to_numpy(dtype=object))
        return np.array([None if v is None else str(v) for v in values], dtype=object)
    try:
        if hasattr(values, "to_numpy") and hasattr(values, "isna"):
            return values.to_numpy(dtype="float64", na_value=np.nan)
        return np.array([np.nan if v is None else v for v in values], dtype="float64")
    except (TypeError, ValueError):
        raise DataError(
            f"{where} must be {kind}: it holds values that are not numbers",
            fix="send numbers for it, or declare it str",
        ) from None


def _output(values: Any, output: Output, rows: int, view: str) -> Any:
    import numpy as np

    where = f"on-demand view {view!r}: feature {output.name!r}"
    array = np.asarray(values)
    if array.shape != (rows,):
        raise DataError(
            f"{where} has shape {array.shape}, expected ({rows},): one value per row",
            fix="return arrays as long as the inputs (use numpy operations on them)",
        )
    if output.type == "str":
        return np.array([None if v is None else str(v) for v in array.tolist()], dtype=object)
    try:
        floats = array.astype("float64")
    except (TypeError, ValueError):
        raise DataError(
            f"{where} is declared {output.type} but holds values that are not numbers",
            fix="return numbers, or declare it str",
        ) from None
    if output.type == "float":
        return floats
    if np.isnan(floats).any():
        raise DataError(
            f"{where} is declared {output.type} but holds missing values",
            fix="fill them in the function, or declare the feature float",
        )
    return floats.astype("int64") if output.type == "int" else floats.astype(bool)
