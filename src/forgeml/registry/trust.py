"""Which objects a stored scikit-learn part may create: exact types, never code.

A skops file is a tree of nodes; loading it creates each node's object. forgeml reads the
tree itself, before skops parses it, and loads the file only when

* every node is of a kind in :data:`ALLOWED_NODE_KINDS` (containers, arrays, objects
  restored from their attributes): never a function, a bound method, an ``operator``
  getter or a ``functools.partial``, which would hand code to the object that calls it;
* every type a node creates, restores or reduces is named exactly in
  :data:`ALLOWED_TYPES`: the types forgeml's own models, calibrators and the documented
  scikit-learn forests hold, enumerated from the files forgeml writes. No prefix, no
  module: a type that reads, writes or deletes files on construction (``numpy.savetxt``,
  ``numpy.lib._datasource.DataSource``, ...) is simply not on the list.

skops' own audit then runs with exactly those types trusted, so a file passes two checks.

>>> from sklearn.linear_model import LogisticRegression
>>> import skops.io
>>> data = skops.io.dumps(LogisticRegression().fit([[0.0], [1.0]], [0, 1]))
>>> refused_types(data)
[]
>>> load_checked(data, "model part").predict([[1.0]]).tolist()
[1]
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from forgeml.errors import UntrustedModel

__all__ = [
    "ALLOWED_NODE_KINDS",
    "ALLOWED_TYPES",
    "load_checked",
    "refused_types",
]

ALLOWED_NODE_KINDS = frozenset(
    {
        "DictNode",
        "ListNode",
        "TupleNode",
        "SetNode",
        "JsonNode",  # a JSON literal
        "TypeNode",  # a type as a value (an estimator's ``dtype`` parameter, ...)
        "NdArrayNode",  # numpy's own format, read without pickle
        "DTypeNode",
        "RandomGeneratorNode",
        "ObjectNode",  # an instance restored from its attributes, no constructor call
        "TreeNode",  # scikit-learn's tree arrays
        "LossNode",  # scikit-learn's compiled loss objects
        "CachedNode",  # a second reference to a node above
        "SliceNode",  # a ColumnTransformer's column slice: three integers
    }
)
"""Node kinds a stored part may hold. Absent on purpose: FunctionNode, MethodNode,
OperatorFuncNode, PartialNode (code as data), ReduceNode and ConstructorFromReduceNode
(a call of whatever the file names), RandomStateNode (a constructor call; it is what
GradientBoosting* models hold, so those are not listed), BytesNode, BytearrayNode,
DefaultDictNode, MaskedArrayNode and SparseMatrixNode (nothing forgeml writes)."""

_SKLEARN = (
    # the built-in candidates: logistic, hist_gradient_boosting, extra_trees
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    # calibration: isotonic, or logistic on the logit (LogisticRegression above)
    "sklearn.isotonic.IsotonicRegression",
    # the scikit-learn forests the training guide shows as user candidates
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    # what users' own pipelines are made of (forgeml.log_model): containers of steps,
    # numeric preprocessing and the common linear and boosted models; no step that holds
    # a function (FunctionTransformer, custom scorers) is listed, and functions are
    # refused as node kinds anyway
    "sklearn.pipeline.Pipeline",
    # "passthrough" columns; a FunctionTransformer given a function is still refused,
    # since a function is a FunctionNode
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.MaxAbsScaler",
    "sklearn.preprocessing._data.RobustScaler",
    "sklearn.preprocessing._polynomial.PolynomialFeatures",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.decomposition._pca.PCA",
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._coordinate_descent.ElasticNet",
)
_NUMPY = (
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.bool_",
    "numpy.float32",
    "numpy.float64",
    "numpy.int32",
    "numpy.int64",
    "numpy.uint8",
    "numpy.uint32",
    "numpy.uint64",
    "numpy.random._generator.Generator",
    "numpy.random.PCG64",  # the bit generator a Generator is rebuilt with
)
_PLAIN_SLICE = ("builtins.slice",)
_PLAIN = ("builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.str")

ALLOWED_TYPES = frozenset(_SKLEARN + _NUMPY + _PLAIN + _PLAIN_SLICE)
"""Every type a stored scikit-learn part may create, by its exact module and name."""


def refused_types(data: bytes, what: str = "model part") -> list[str]:
    """What in a skops file is outside the allow-list, as readable names; [] when it loads.

    Raises UntrustedModel when ``data`` is not a skops file at all.
    """
    refused = set()
    for kind, name in _nodes(_schema(data, what)):
        if kind not in ALLOWED_NODE_KINDS:
            refused.add(f"{name} (a {kind})")
        elif name not in ALLOWED_TYPES:
            refused.add(name)
    return sorted(refused)


def load_checked(data: bytes, what: str) -> Any:
    """The object in a skops file, created only after every node passed the allow-list."""
    from forgeml.registry.skops_module import skops_io

    sio = skops_io()
    refused = refused_types(data, what)
    untrusted: list[str] = []
    if not refused:
        try:
            untrusted = sio.get_untrusted_types(data=data)
        except Exception as e:  # a tree skops itself refuses to read
            raise _unreadable(what, e) from None
        refused = sorted(set(untrusted) - ALLOWED_TYPES)  # skops' view, checked again
    if refused:
        raise UntrustedModel(
            f"{what} would create types outside the allow-list: {', '.join(refused)}; "
            "it was not loaded (forgeml loads only the exact types it stores itself)",
            fix="train the model with forgeml, or store a LightGBM or XGBoost model with "
            "its own flavor; never load a model file from a source you do not trust",
        )
    try:
        loaded = sio.loads(data, trusted=untrusted)
    except Exception as e:  # a malformed but harmless tree
        raise _unreadable(what, e) from None
    from forgeml.registry.tree_check import check_trees  # numpy: only once a model loads

    check_trees(loaded, what)  # allowed types, but do their arrays point inside themselves?
    return loaded


def _schema(data: bytes, what: str) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, ValueError) as e:
        raise _unreadable(what, e) from None


def _unreadable(what: str, error: Exception) -> UntrustedModel:
    return UntrustedModel(
        f"{what} is not a readable skops file ({type(error).__name__}: {error})",
        fix="store scikit-learn objects with save_bundle()",
    )


def _nodes(schema: Any) -> list[tuple[str, str]]:
    """(kind, type name) of every node in a skops tree, including the types nodes build."""
    found: list[tuple[str, str]] = []
    stack = [schema]
    while stack:  # no recursion: a hostile file may nest deeper than Python's stack
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            if "__loader__" in value:
                kind = str(value["__loader__"])
                name = f"{value.get('__module__')}.{value.get('__class__')}"
                found.append((kind, name))
                if kind == "RandomGeneratorNode":
                    found.append((kind, f"numpy.random.{_bit_generator(value)}"))
            stack.extend(value.values())
    return found


def _bit_generator(state: dict[str, Any]) -> str:
    try:
        named = state["content"]["bit_generator"]["content"]["bit_generator"]["content"]
        return str(json.loads(named))
    except (KeyError, TypeError, ValueError):
        return "<unnamed bit generator>"
