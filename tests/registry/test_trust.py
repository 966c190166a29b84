"""Loading a stored scikit-learn part creates only allow-listed types and never runs code."""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io
from skops.io._audit import NODE_TYPE_MAPPING

from forgeml.artifacts import LocalArtifactStore
from forgeml.errors import UntrustedModel
from forgeml.registry import ModelBundle, load_bundle, save_bundle
from forgeml.registry.bundle import read_manifest
from forgeml.registry.trust import ALLOWED_NODE_KINDS, ALLOWED_TYPES, load_checked, refused_types
from registry.gadgets import Scratch, gadget_of, gadgets

SKOPS_KINDS = sorted(
    {kind for kind, _protocol in NODE_TYPE_MAPPING} - {"_DictWithDeprecatedKeysNode"}
)


def test_every_skops_node_kind_has_a_gadget(tmp_path: Path) -> None:
    covered = {g.kind for g in gadgets(Scratch(tmp_path), "unused")}
    assert set(SKOPS_KINDS) <= covered  # a new skops node kind needs its own case here


@pytest.mark.parametrize("kind", SKOPS_KINDS)
def test_a_gadget_in_any_node_kind_is_refused_and_nothing_happens(
    kind: str, scratch: Scratch
) -> None:
    gadget = gadget_of(scratch, kind)
    imported = set(sys.modules)
    with pytest.raises(UntrustedModel) as refused:
        load_checked(gadget.data, "model part")
    assert "model part" in refused.value.message
    assert refused.value.fix
    assert not gadget.happened()
    assert not [m for m in set(sys.modules) - imported if m.startswith("forgeml_gadget_")]


LIVE = [
    k
    for k in SKOPS_KINDS
    if k
    not in {
        "JsonNode",  # a literal: nothing to call
        "QuantileForestNode",  # quantile_forest is not installed: skops cannot read it
        "SparseMatrixNode",
        "BytesNode",
        "BytearrayNode",
        "SliceNode",
    }
]


@pytest.mark.parametrize("kind", LIVE)
def test_the_gadgets_are_real_when_the_file_is_trusted(kind: str, scratch: Scratch) -> None:
    """Without forgeml's check, skops trusting what the file declares runs the gadget."""
    gadget = gadget_of(scratch, kind)
    try:
        with warnings.catch_warnings():  # os.mkdir deprecates array paths, yet obeys them
            warnings.simplefilter("ignore", DeprecationWarning)
            declared = skops.io.get_untrusted_types(data=gadget.data)
            skops.io.loads(gadget.data, trusted=declared)
    except Exception:
        pass  # most gadgets break the object they hide in, after their effect
    assert gadget.happened()


def _calibrated_bundle() -> ModelBundle:
    from sklearn.linear_model import LogisticRegression

    x = np.arange(40, dtype=float).reshape(-1, 1)
    y = (x[:, 0] > 20).astype(int)
    return ModelBundle(
        "sklearn",
        LogisticRegression().fit(x, y),
        {},
        {"task": "binary"},
        calibrator=LogisticRegression().fit(x, y),
    )


def test_a_gadget_hidden_as_the_calibrator_of_a_valid_model_is_refused(
    tmp_path: Path, scratch: Scratch
) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    valid = read_manifest(save_bundle(_calibrated_bundle(), store), store)
    gadget = gadget_of(scratch, "ConstructorFromReduceNode")
    parts = {**valid["parts"], "calibrator": store.put_bytes(gadget.data)}
    bundle_id = store.put_bytes(json.dumps({**valid, "parts": parts}).encode())
    with pytest.raises(UntrustedModel, match=r"calibrator part .*numpy\.lib\._npyio_impl\.savetxt"):
        load_bundle(bundle_id, store)
    assert not gadget.happened()


def _resolve(name: str) -> object:
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


@pytest.mark.parametrize("name", sorted(ALLOWED_TYPES))
def test_every_allowed_type_is_a_class_without_a_finaliser(name: str) -> None:
    found = _resolve(name)
    assert inspect.isclass(found), f"{name} is not a class"
    assert getattr(found, "__del__", None) is None, f"{name} runs code when collected"


def test_no_node_kind_that_calls_or_names_code_is_allowed() -> None:
    code = {"FunctionNode", "MethodNode", "OperatorFuncNode", "PartialNode"}
    calls = {"ConstructorFromReduceNode", "ReduceNode", "RandomStateNode"}
    assert not ALLOWED_NODE_KINDS & (code | calls)
    assert set(SKOPS_KINDS) >= ALLOWED_NODE_KINDS


def _crafted_forest() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    x = np.random.default_rng(0).normal(size=(60, 3))
    model = RandomForestClassifier(n_estimators=2, max_depth=3, random_state=0)
    model.fit(x, x[:, 0] > 0)
    tree = model.estimators_[1].tree_
    state = tree.__getstate__()
    state["nodes"]["right_child"][0] = 10_000  # past the last node
    tree.__setstate__(state)
    return model


def _crafted_boosting() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.random.default_rng(0).normal(size=(200, 3))
    model = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(x, x[:, 1] > 0)
    nodes = model._predictors[2][0].nodes
    inner = np.flatnonzero(nodes["is_leaf"] == 0)[0]
    nodes["feature_idx"][inner] = 50  # a column the model was not fitted with
    return model


@pytest.mark.parametrize("craft", [_crafted_forest, _crafted_boosting])
def test_trees_pointing_outside_themselves_are_refused(craft: Any) -> None:
    data = skops.io.dumps(craft())
    assert refused_types(data) == []  # every type is allowed: only the arrays are wrong
    with pytest.raises(UntrustedModel, match="read memory outside the model"):
        load_checked(data, "model part")
