"""The one model every server scores: a LightGBM binary classifier on 30 float features.

:func:`train` draws seeded data and fits exactly ``TREES`` trees (no early stopping);
:func:`register` stores the same booster, with forgeml's fitted feature pipeline and the
inputs' signature, as a model version promoted to ``champion``; :func:`payload_record`
is the single row every request carries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

FEATURES = [f"f{i:02d}" for i in range(30)]
TREES = 100
TARGET = "y"
MODEL_NAME = "bench"


def table(rows: int, *, seed: int = 0) -> pa.Table:
    """``rows`` rows of 30 float features and a boolean target from a noisy logistic model."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES)))
    weights = rng.normal(size=len(FEATURES))
    logit = x @ weights / np.sqrt(len(FEATURES)) + 0.5 * np.sin(3.0 * x[:, 0])
    y = rng.random(rows) < 1.0 / (1.0 + np.exp(-2.0 * logit))
    columns: dict[str, Any] = {name: x[:, j] for j, name in enumerate(FEATURES)}
    columns[TARGET] = y
    return pa.table(columns)


def train(data: pa.Table) -> tuple[Any, Any, dict[str, Any]]:
    """(booster, fitted FeaturePipeline, signature): ``TREES`` trees on the pipeline's matrix."""
    import lightgbm

    from forgeml.data.profile import profile_table
    from forgeml.data.schema import infer_schema
    from forgeml.features import FeaturePipeline

    schema = infer_schema(data, profile_table(data))
    pipeline = FeaturePipeline.fit(data, schema, target=TARGET, strategy="tree")
    if pipeline.feature_names != FEATURES:  # the bare app and MLflow feed raw columns
        raise RuntimeError(f"unexpected features: {pipeline.feature_names}")
    x = pipeline.transform(data)
    y = np.asarray(data.column(TARGET).to_numpy(zero_copy_only=False), dtype=np.float64)
    params = {"objective": "binary", "verbose": -1, "num_threads": 2, "seed": 0}
    booster = lightgbm.train(
        params, lightgbm.Dataset(x, y, feature_name=FEATURES), num_boost_round=TREES
    )
    if booster.num_trees() != TREES:
        raise RuntimeError(f"expected {TREES} trees, got {booster.num_trees()}")
    inputs = [c for c in schema["columns"] if c["name"] in pipeline.input_columns]
    signature = {"inputs": inputs, "target": TARGET, "task": "binary", "classes": [False, True]}
    return booster, pipeline, signature


def register(folder: Path, booster: Any, pipeline: Any, signature: dict[str, Any]) -> str:
    """A new forgeml project in ``folder`` whose model ``bench`` has the booster as champion."""
    from forgeml import Project
    from forgeml.registry import ModelBundle, promote, register_model

    extras = {"task": "binary", "classes": [False, True], "threshold": 0.5, "target": TARGET}
    bundle = ModelBundle("lightgbm", booster, pipeline.to_dict(), extras)
    with Project.init(folder, name="serving-bench") as project:
        version = register_model(
            MODEL_NAME, bundle, signature=signature, metrics={}, lineage={}, project=project
        )
        promote(version.ref, reason="serving benchmark", project=project)
    return version.ref


def payload_record(data: pa.Table, row: int = 0) -> dict[str, float]:
    """Row ``row``'s features as one JSON record: ``{"f00": ..., ..., "f29": ...}``."""
    return {name: float(data.column(name)[row].as_py()) for name in FEATURES}
