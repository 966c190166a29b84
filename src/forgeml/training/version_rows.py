"""The rows a registered version was trained and tested on, rebuilt from its training run.

The same dataset version, split settings and seed give the same split, so a version's
training, validation and test rows can be found again long after it was trained.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import TrainSpec
from forgeml.data import dataset
from forgeml.errors import ForgemlError
from forgeml.project import Project
from forgeml.registry import ModelVersion
from forgeml.training.evaluation import encode_target
from forgeml.training.splits import Split, make_split
from forgeml.training.task import TargetInfo, infer_task
from forgeml.training.tracking import get_run

__all__ = ["GIVEN", "VersionRows", "logged_rows", "run_rows", "version_rows"]

GIVEN = "given"
"""The split method of a logged version's rows: all held out, named by the user."""


@dataclass(frozen=True)
class VersionRows:
    """A version's labelled rows (its dataset version), their encoded target and its split."""

    table: pa.Table
    info: TargetInfo
    spec: TrainSpec
    y: np.ndarray
    split: Split

    def take(self, indices: np.ndarray) -> pa.Table:
        return self.table.take(pa.array(indices))

    @property
    def trained(self) -> np.ndarray:
        """Indices of the rows the version learnt from: its training and validation rows.

        None of a logged version's rows: the user named them as held out (``"given"``).
        """
        if self.split.method == GIVEN:
            return np.empty(0, dtype=np.int64)
        return np.concatenate([self.split.train, self.split.valid])


def version_rows(version: ModelVersion, project: Project) -> VersionRows:
    """Rebuild ``version``'s split; a clear error when it was not trained by forgeml."""
    if version.lineage.get("source") == "log_model":
        return logged_rows(version, project)
    if not version.run_id:
        raise ForgemlError(
            f"{version.ref} was registered without a training run, so the rows it was "
            "trained and tested on are unknown",
            fix="use a version trained by 'forgeml train'",
        )
    return run_rows(
        version.run_id,
        str(version.lineage["dataset"]),
        project,
        target=version.signature.get("target"),
        name=version.ref,
    )


def logged_rows(version: ModelVersion, project: Project) -> VersionRows:
    """A logged version's evaluation rows: every labelled row of the dataset it names.

    The user trained the model elsewhere and named held-out data with
    ``log_model(dataset=..., target=...)``, so all of it is test data; its class order is
    the model's own (``classes=``).
    """
    ref, target = version.lineage.get("dataset"), version.signature.get("target")
    if not ref or not target:
        raise ForgemlError(
            f"{version.ref} was logged without a dataset, so there are no rows to gate it on",
            fix="log it with forgeml.log_model(..., dataset='NAME@V', target='COLUMN') "
            "naming labelled rows it was not trained on",
        )
    spec = TrainSpec(target=str(target), task=version.signature.get("task", "auto"))
    table = dataset(str(ref), project=project).to_arrow()
    info = infer_task(table, spec.target, spec.task)
    table = table.filter(pc.is_valid(table.column(info.column)))
    own = version.signature.get("classes")
    if info.classes is not None and own and sorted(map(str, own)) == sorted(map(str, info.classes)):
        by_text = {str(c): c for c in info.classes}
        info = replace(info, classes=[by_text[str(c)] for c in own])
    every = np.arange(table.num_rows)
    # the baseline learns class shares from these rows too; the model never saw them
    split = Split(GIVEN, every, np.empty(0, dtype=every.dtype), every)
    return VersionRows(table, info, spec, encode_target(table, info), split)


def run_rows(
    run_id: str,
    dataset_ref: str,
    project: Project,
    *,
    target: str | None = None,
    name: str | None = None,
) -> VersionRows:
    """The split that training run ``run_id`` made of ``dataset_ref`` (registered or not)."""
    run = get_run(run_id, project=project)
    if "train" not in run.params:
        raise ForgemlError(
            f"{name or 'the model'} comes from run {run.id[:8]}, which was not a "
            "'forgeml train' run, so the rows it was trained and tested on are unknown",
            fix="use a version trained by 'forgeml train'",
        )
    spec = TrainSpec.model_validate(run.params["train"])
    table = dataset(dataset_ref, project=project).to_arrow()
    info = infer_task(table, target or spec.target, spec.task)
    table = table.filter(pc.is_valid(table.column(info.column)))
    split = make_split(table, spec.split, info, seed=spec.seed)
    return VersionRows(table, info, spec, encode_target(table, info), split)
