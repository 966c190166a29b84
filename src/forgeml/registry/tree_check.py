"""Decision trees loaded from a file must point only inside themselves.

scikit-learn's compiled tree code trusts its arrays: a child index past the last node, or a
feature index past the last column, makes ``predict`` read memory it does not own (a wrong
answer, or a crash of the process that loaded the file). skops restores these arrays as
they are stored, so a crafted file passes the type allow-list and still carries such
indices. :func:`check_trees` walks a loaded object and refuses any tree whose nodes

* branch to a node outside the tree, or to a node that is not after them (a loop);
* split on a column the model was not fitted with;
* (histogram gradient boosting) name a category bitset that does not exist.

>>> import numpy as np
>>> from sklearn.tree import DecisionTreeClassifier
>>> model = DecisionTreeClassifier(max_depth=2).fit(np.eye(3), [0, 1, 1])
>>> check_trees(model, "model part")  # a tree fitted here passes
>>> state = model.tree_.__getstate__()
>>> state["nodes"]["left_child"][0] = 99
>>> model.tree_.__setstate__(state)
>>> try:
...     check_trees(model, "model part")
... except UntrustedModel as error:
...     print(error.message.split(";")[0])
model part holds a decision tree whose node 0 branches to node 99
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forgeml.errors import UntrustedModel

__all__ = ["check_trees"]

_MAX_DEPTH = 64  # how deep the walk goes through nested estimators and containers
_LEAF = -1  # scikit-learn's TREE_LEAF


def check_trees(obj: Any, what: str) -> None:
    """Raise :class:`UntrustedModel` when a tree inside ``obj`` points outside itself."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    seen: set[int] = set()

    def walk(value: Any, features: int | None, depth: int) -> None:
        if depth > _MAX_DEPTH or id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, Tree):
            _check_tree(value, what)
        elif isinstance(value, TreePredictor):
            _check_predictor(value, features, what)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item, features, depth + 1)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, features, depth + 1)
        elif isinstance(value, np.ndarray):
            if value.dtype == object:
                for item in value.ravel():
                    walk(item, features, depth + 1)
        elif hasattr(value, "__dict__"):
            fitted = getattr(value, "n_features_in_", None)
            inner = int(fitted) if isinstance(fitted, int | np.integer) else features
            for item in vars(value).values():
                walk(item, inner, depth + 1)

    walk(obj, None, 0)


def _check_tree(tree: Any, what: str) -> None:
    nodes = tree.__getstate__()["nodes"]
    count = len(nodes)
    left = nodes["left_child"].astype(np.int64)
    right = nodes["right_child"].astype(np.int64)
    feature = nodes["feature"].astype(np.int64)
    index = np.arange(count)
    leaf = (left == _LEAF) & (right == _LEAF)
    for children in (left, right):
        wrong = ~leaf & ((children <= index) | (children >= count))
        if wrong.any():
            node = int(np.flatnonzero(wrong)[0])
            raise _refuse(
                what, f"a decision tree whose node {node} branches to node {int(children[node])}"
            )
    wrong = ~leaf & ((feature < 0) | (feature >= int(tree.n_features)))
    if wrong.any():
        node = int(np.flatnonzero(wrong)[0])
        raise _refuse(
            what,
            f"a decision tree whose node {node} splits on column {int(feature[node])} "
            f"of {int(tree.n_features)}",
        )


def _check_predictor(predictor: Any, features: int | None, what: str) -> None:
    nodes = predictor.nodes
    count = len(nodes)
    index = np.arange(count)
    inner = nodes["is_leaf"] == 0
    for side in ("left", "right"):
        children = nodes[side].astype(np.int64)
        wrong = inner & ((children <= index) | (children >= count))
        if wrong.any():
            node = int(np.flatnonzero(wrong)[0])
            raise _refuse(
                what, f"a boosted tree whose node {node} branches to node {int(children[node])}"
            )
    feature = nodes["feature_idx"].astype(np.int64)
    if features is None:
        raise _refuse(what, "a boosted tree outside a fitted model (its columns are unknown)")
    wrong = inner & ((feature < 0) | (feature >= features))
    if wrong.any():
        node = int(np.flatnonzero(wrong)[0])
        raise _refuse(
            what, f"a boosted tree whose node {node} splits on column {int(feature[node])}"
        )
    categorical = inner & (nodes["is_categorical"] != 0)
    bitsets = min(len(predictor.raw_left_cat_bitsets), len(predictor.binned_left_cat_bitsets))
    wrong = categorical & (nodes["bitset_idx"].astype(np.int64) >= bitsets)
    if wrong.any():
        node = int(np.flatnonzero(wrong)[0])
        raise _refuse(what, f"a boosted tree whose node {node} names a missing category set")


def _refuse(what: str, found: str) -> UntrustedModel:
    return UntrustedModel(
        f"{what} holds {found}; it was not loaded (predicting with it would read memory "
        "outside the model)",
        fix="the file was changed after it was written: store the model again from its "
        "training code, and never load a model file from a source you do not trust",
    )
