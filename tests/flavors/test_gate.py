"""forgeml gate on logged versions: scored on the named dataset, against the champion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import forgeml
from forgeml.errors import ForgemlError
from forgeml.flavors.nets import MLP, SmallCNN
from forgeml.project import Project
from forgeml.registry import promote
from forgeml.training.gate_version import gate

Table = tuple[pd.DataFrame, np.ndarray]


def test_a_logged_model_is_gated_on_its_dataset_and_against_the_champion(
    byo_project: Project, table: Table
) -> None:
    frame, y = table
    train, held = frame.iloc[:80], frame.iloc[80:]
    stored = forgeml.ingest(held.assign(label=y[80:]), name="held", project=byo_project).version
    good = LogisticRegression().fit(train, y[:80])
    first = forgeml.log_model(
        good,
        name="gated",
        signature_from=train,
        dataset=stored.ref,
        target="label",
        project=byo_project,
    )
    report = gate(first.ref, project=byo_project)
    expected = roc_auc_score(y[80:], good.predict_proba(held)[:, 1])
    assert report.metrics["roc_auc"] == pytest.approx(expected)
    assert report.champion is None
    promote(first.ref, reason="gated", project=byo_project)

    torch.manual_seed(0)
    net = MLP(inputs=3, outputs=1, hidden=[4])  # untrained: close to chance
    second = forgeml.log_model(
        net,
        name="gated",
        signature_from=train,
        task="binary",
        classes=[0, 1],
        dataset=stored.ref,
        target="label",
        project=byo_project,
    )
    challenger = gate(second.ref, project=byo_project)
    assert challenger.champion is not None
    assert challenger.champion["roc_auc"] == pytest.approx(expected)
    assert challenger.metrics["roc_auc"] < expected


def test_a_version_logged_without_a_dataset_cannot_be_gated(
    byo_project: Project, table: Table
) -> None:
    frame, y = table
    version = forgeml.log_model(
        LogisticRegression().fit(frame, y),
        name="ungated",
        signature_from=frame,
        project=byo_project,
    )
    with pytest.raises(ForgemlError, match="logged without a dataset"):
        gate(version.ref, project=byo_project)


def test_a_tensor_model_is_gated_on_a_table_of_flattened_inputs(byo_project: Project) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.random((40, 4)).astype(np.float32)
    labels = (pixels.sum(axis=1) > 2).astype(int)
    frame = pd.DataFrame(pixels, columns=[f"p{i}" for i in range(4)]).assign(label=labels)
    stored = forgeml.ingest(frame, name="pixels", project=byo_project).version
    torch.manual_seed(0)
    net = SmallCNN(channels=1, size=2, classes=2, width=2).eval()
    version = forgeml.log_model(
        net,
        name="tensor-gate",
        signature_from=pixels.reshape(-1, 1, 2, 2),
        task="binary",
        classes=[0, 1],
        dataset=stored.ref,
        target="label",
        project=byo_project,
    )
    report = gate(version.ref, project=byo_project)
    with torch.no_grad():
        logits = net(torch.from_numpy(pixels.reshape(-1, 1, 2, 2))).numpy()
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert report.metrics["roc_auc"] == pytest.approx(roc_auc_score(labels, probs[:, 1]))
