"""A model version ready for batch scoring: its input checks, predictor and output columns."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from forgeml.errors import ConfigError, NotFound
from forgeml.features.timestamps import TimestampEncoder
from forgeml.project import ProjectLike
from forgeml.registry import ModelBundle, load_model, versions
from forgeml.registry.refs import parse_model_ref
from forgeml.registry.versions import ModelVersion
from forgeml.serve.batch_check import REJECTS_SCHEMA, Checked
from forgeml.serve.finite import unscorable
from forgeml.serve.inputs import InputSchema, OutOfRange
from forgeml.training.predict import Predictor

__all__ = ["FLAGS", "PREDICTION", "PROBABILITY", "SCORE", "BatchScorer", "resolve_model"]

PREDICTION, SCORE, FLAGS, PROBABILITY = "prediction", "score", "flags", "probability_"


def resolve_model(
    ref: str, *, project: ProjectLike = None
) -> tuple[ModelVersion, ModelBundle, str]:
    """The version ``ref`` names (else the champion, else the newest), its bundle, and how."""
    name, selector = parse_model_ref(ref)
    chosen_by = "reference"
    if selector is None and "@" not in ref:  # NAME alone; NAME@latest means the newest
        every = versions(name, project=project)
        if not every:
            raise NotFound(
                f"model '{name}' has no versions",
                fix=f"register one: forgeml register RUN_ID --name {name}",
            )
        champion = [v for v in every if "champion" in v.aliases]
        chosen_by = "champion" if champion else "newest"
        ref = (champion or every)[-1].ref
    version, bundle = load_model(ref, project=project)
    return version, bundle, chosen_by


class BatchScorer:
    """A model version's checks and predictor, and the columns it adds to the output."""

    def __init__(self, version: ModelVersion, bundle: ModelBundle, out_of_range: OutOfRange):
        self.version = version
        self.predictor = Predictor(bundle)
        pipeline = self.predictor.pipeline
        by_name = {c["name"]: c for c in version.signature.get("inputs", [])}
        inputs, timezones = [], {}
        for encoder, _ in pipeline.steps:
            column = dict(by_name.get(encoder.column, {"name": encoder.column}))
            column.setdefault("kind", _KINDS.get(encoder.tag, ""))
            inputs.append(column)
            if isinstance(encoder, TimestampEncoder):
                timezones[encoder.column] = encoder.timezone
        self.schema = InputSchema(inputs, out_of_range=out_of_range)
        self.timezones = timezones
        classes = self.predictor.classes
        self.labels = pa.array(classes) if classes is not None else None
        self.fields = [pa.field(PREDICTION, self._label_type())]
        if self.predictor.task != "regression":
            self.fields.append(pa.field(SCORE, pa.float64()))
        if self.predictor.task == "multiclass":
            if classes is None:
                raise ConfigError(
                    f"{version.ref} is a multiclass model that records no class list",
                    fix="register the model again with extras['classes'] in its bundle",
                )
            self.fields += [pa.field(f"{PROBABILITY}{c}", pa.float64()) for c in classes]
        self.fields.append(pa.field(FLAGS, pa.string()))

    def score(self, checked: Checked, rows: np.ndarray) -> tuple[Checked, np.ndarray]:
        """The model's outputs for a checked chunk's kept rows (``rows``: their file row
        numbers), and the chunk without the rows whose output is not finite, which join its
        rejects naming the input farthest outside its training range."""
        with np.errstate(over="ignore", invalid="ignore"):
            scores = np.asarray(self.predictor.scores(checked.inputs))
        if np.isfinite(scores).all():
            return checked, scores
        names = self.schema.numeric
        numbers = (
            np.column_stack(
                [np.asarray(_floats(checked.inputs.column(n)), dtype=np.float64) for n in names]
            )
            if names
            else np.empty((checked.inputs.num_rows, 0))
        )
        problems = unscorable(self.schema, numbers, scores)
        kept = np.array([p["row"] for p in problems], dtype=np.intp)
        file_rows = rows[np.flatnonzero(checked.keep)[kept]]
        values = [
            "" if p["field"] == "(row)" else str(numbers[p["row"], names.index(p["field"])])
            for p in problems
        ]
        rejects = pa.table(
            {
                "row": pa.array(file_rows, pa.int64()),
                "column": [p["field"] for p in problems],
                "reason": [p["problem"] for p in problems],
                "value": values,
            },
            schema=REJECTS_SCHEMA,
        )
        still = np.ones(len(scores), dtype=bool)
        still[kept] = False
        return checked.refuse(kept, rejects), scores[still]

    def columns(self, checked: Checked, scores: np.ndarray) -> list[pa.Array]:
        """The prediction columns of a checked chunk's kept rows, in :attr:`fields` order."""
        task = self.predictor.task
        if task == "regression":
            return [pa.array(scores, pa.float64()), checked.flags]
        indices = pa.array(self.predictor.labels(scores))
        label = self.labels.take(indices) if self.labels is not None else indices
        if task == "binary":
            return [label, pa.array(scores, pa.float64()), checked.flags]
        probabilities = [pa.array(np.ascontiguousarray(p), pa.float64()) for p in scores.T]
        return [label, pa.array(scores.max(axis=1), pa.float64()), *probabilities, checked.flags]

    def _label_type(self) -> pa.DataType:
        if self.predictor.task == "regression":
            return pa.float64()
        return self.labels.type if self.labels is not None else pa.int64()


_KINDS = {"number": "float", "boolean": "boolean", "category": "category", "timestamp": "timestamp"}


def _floats(values: pa.ChunkedArray) -> np.ndarray:
    floats = values.cast(pa.float64(), safe=False).fill_null(float("nan"))
    return np.asarray(floats.to_numpy(), dtype=np.float64)
