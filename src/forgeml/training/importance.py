"""Feature importance: permutation on validation data, per input column; native gain for trees.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(500, 2)); y = x[:, 0]
>>> score = lambda m: -float(np.mean((m[:, 0] - y) ** 2))
>>> imp = permutation_importance(x, score, {"a": [0], "b": [1]}, seed=0)
>>> imp["a"] > 0.5 > abs(imp["b"])
True

Permutation importance costs one prediction over the sampled rows per input column and
repeat, so its cost is rows x (columns x repeats + 1) x trees. :func:`plan_permutation`
keeps that within :data:`TREE_BUDGET` tree evaluations by using fewer rows and one repeat
for large models, and skips it (leaving native gain) when even :data:`MIN_ROWS` rows with
one repeat would cost more:

>>> plan_permutation(200_000, groups=30, trees=None).rows
5000
>>> plan = plan_permutation(200_000, groups=30, trees=2000)
>>> plan.rows, plan.repeats
(1612, 1)
>>> plan_permutation(200_000, groups=300, trees=2000).rows
0
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MAX_ROWS",
    "MIN_ROWS",
    "TREE_BUDGET",
    "PermutationPlan",
    "group_features",
    "native_gain",
    "permutation_importance",
    "plan_permutation",
    "tree_count",
    "within_time",
]

MAX_ROWS = 5_000  # ranks features reliably
MIN_ROWS = 1_000  # fewer rows rank all but the strongest features by chance
REPEATS = 2
# Rows x predictions x trees: about 3 s of LightGBM prediction on two cores.
TREE_BUDGET = 100_000_000


@dataclass(frozen=True)
class PermutationPlan:
    """How permutation importance is computed: on ``rows`` rows, ``repeats`` shuffles each.

    ``rows`` is 0 when it is skipped; ``note`` says why the plan differs from the default
    (``MAX_ROWS`` rows, 2 repeats), or is None.
    """

    rows: int
    repeats: int
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "repeats": self.repeats, "note": self.note}


def plan_permutation(available: int, *, groups: int, trees: int | None) -> PermutationPlan:
    """Rows and repeats for ``groups`` input columns and a model of ``trees`` trees."""
    rows = min(available, MAX_ROWS)
    if trees is None or groups == 0:
        return PermutationPlan(rows, REPEATS)
    for repeats in (REPEATS, 1):
        affordable = TREE_BUDGET // (trees * (groups * repeats + 1))
        if affordable >= min(rows, MIN_ROWS):
            used = min(rows, affordable)
            if (used, repeats) == (rows, REPEATS):
                return PermutationPlan(rows, REPEATS)
            return PermutationPlan(
                used,
                repeats,
                f"on {used:,} test rows with {repeats} shuffle(s) per column, not "
                f"{rows:,} rows with {REPEATS}: the model has {trees:,} trees and "
                f"{groups} input columns, and the estimate is kept within "
                f"{TREE_BUDGET:,} tree evaluations",
            )
    return PermutationPlan(
        0,
        0,
        f"skipped: with {trees:,} trees and {groups} input columns, even {MIN_ROWS:,} rows "
        f"with one shuffle per column would take more than {TREE_BUDGET:,} tree evaluations; "
        "native gain ranks the features instead",
    )


def within_time(
    plan: PermutationPlan, *, groups: int, seconds: float | None, row_seconds: float
) -> PermutationPlan:
    """``plan``, with fewer rows and shuffles, or skipped, so that it takes at most
    ``seconds`` (None: no limit), each row's prediction costing ``row_seconds``.

    >>> within_time(PermutationPlan(5_000, 2), groups=10, seconds=None, row_seconds=1e-5)
    PermutationPlan(rows=5000, repeats=2, note=None)
    >>> within_time(PermutationPlan(5_000, 2), groups=10, seconds=0.2, row_seconds=1e-5).rows
    1818
    >>> within_time(PermutationPlan(5_000, 2), groups=10, seconds=0.01, row_seconds=1e-5).rows
    0
    """
    if seconds is None or plan.rows == 0:
        return plan
    for repeats in range(plan.repeats, 0, -1):
        predictions = groups * repeats + 1
        affordable = int(max(0.0, seconds) / (max(row_seconds, 1e-9) * predictions))
        if repeats == plan.repeats and affordable >= plan.rows:
            return plan
        if affordable >= min(plan.rows, MIN_ROWS):
            used = min(plan.rows, affordable)
            return PermutationPlan(
                used,
                repeats,
                f"on {used:,} test rows with {repeats} shuffle(s) per column, to finish "
                "within the time budget",
            )
    return PermutationPlan(
        0, 0, "skipped: the time budget had too little left; native gain ranks the features"
    )


def permutation_importance(
    x: np.ndarray,
    score: Callable[[np.ndarray], float],
    groups: Mapping[str, Sequence[int]],
    *,
    seed: int,
    repeats: int = REPEATS,
) -> dict[str, float]:
    """Mean drop in ``score`` when each group of feature columns is shuffled together.

    ``score`` is higher-is-better; a group is the derived features of one input column, so
    its importance is the input column's. ``x`` holds the rows to use (at most
    :data:`MAX_ROWS` of them are sampled).
    """
    rng = np.random.default_rng(seed)
    if len(x) > MAX_ROWS:
        x = x[rng.choice(len(x), MAX_ROWS, replace=False)]
    base = score(x)
    result = {}
    shuffled = x.copy()
    for name, columns in groups.items():
        where = np.asarray(columns, dtype=np.intp)
        drops = []
        for _ in range(repeats):
            shuffled[:, where] = x[np.ix_(rng.permutation(len(x)), where)]
            drops.append(base - score(shuffled))
        shuffled[:, where] = x[:, where]
        result[name] = float(np.mean(drops))
    return dict(sorted(result.items(), key=lambda kv: -kv[1]))


def group_features(
    feature_names: Sequence[str], input_columns: Sequence[str]
) -> dict[str, list[int]]:
    """Map each input column to the positions of the features derived from it."""
    by_length = sorted(input_columns, key=len, reverse=True)
    groups: dict[str, list[int]] = {c: [] for c in input_columns}
    for position, feature in enumerate(feature_names):
        source = next(
            (
                c
                for c in by_length
                if feature == c or feature.startswith((f"{c}__", f"{c}=", f"{c}:"))
            ),
            None,
        )
        if source is not None:
            groups[source].append(position)
    return {c: p for c, p in groups.items() if p}


def tree_count(estimator: Any) -> int | None:
    """Trees a prediction walks through, for boosted and bagged tree models; None otherwise."""
    booster = getattr(estimator, "booster_", estimator)
    if hasattr(booster, "num_model_per_iteration") and hasattr(booster, "current_iteration"):
        best = int(getattr(booster, "best_iteration", 0) or 0)  # -1 or 0 when not set
        iterations = best if best > 0 else booster.current_iteration()
        return int(iterations * booster.num_model_per_iteration())  # LightGBM
    xgb = estimator.get_booster() if hasattr(estimator, "get_booster") else estimator
    if hasattr(xgb, "num_boosted_rounds"):  # XGBoost: one tree per class and round
        learner = json.loads(xgb.save_config())["learner"]["learner_model_param"]
        return int(xgb.num_boosted_rounds()) * max(1, int(learner.get("num_class") or 0))
    if hasattr(estimator, "n_iter_") and hasattr(estimator, "n_trees_per_iteration_"):
        return int(estimator.n_iter_ * estimator.n_trees_per_iteration_)  # HistGradientBoosting
    bagged = getattr(estimator, "estimators_", None)
    if isinstance(bagged, list | np.ndarray) and len(bagged):
        return int(np.size(bagged))  # random forests, extra trees, gradient boosting
    return None


def native_gain(estimator: Any, feature_names: Sequence[str]) -> dict[str, float] | None:
    """Total split gain per feature for LightGBM and XGBoost models; None for others."""
    booster = getattr(estimator, "booster_", None)
    if booster is not None and hasattr(booster, "feature_importance"):
        gains = booster.feature_importance(importance_type="gain")
        return {n: float(g) for n, g in zip(feature_names, gains, strict=True)}
    xgb = estimator.get_booster() if hasattr(estimator, "get_booster") else estimator
    if hasattr(xgb, "get_score"):  # an XGBoost model or Booster
        scores = xgb.get_score(importance_type="total_gain")
        return {n: float(scores.get(f"f{i}", 0.0)) for i, n in enumerate(feature_names)}
    return None
