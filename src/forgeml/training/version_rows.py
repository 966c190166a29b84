"""The rows a registered version was trained and tested on, rebuilt from its training run.

The same dataset version, split settings and seed give the same split, so a version's
training, validation and test rows can be found again long after it was trained.
"""

from __future__ import annotations

from dataclasses import dataclass

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

__all__ = ["VersionRows", "run_rows", "version_rows"]


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
        """Indices of the rows the version learnt from: its training and validation rows."""
        return np.concatenate([self.split.train, self.split.valid])


def version_rows(version: ModelVersion, project: Project) -> VersionRows:
    """Rebuild ``version``'s split; a clear error when it was not trained by forgeml."""
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
