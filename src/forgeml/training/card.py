"""Model card: one self-contained HTML page per model version, for a reviewer to read offline.

Charts are drawn by the vendored uPlot, written into the page with their numbers; the page
has no fonts, images or links to fetch, so it opens the same anywhere, offline. Every value
from user data is escaped. A section whose data is absent is left out.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup
from sklearn import metrics as skm

from forgeml.errors import ConfigError
from forgeml.report.charts import Series, bar_chart, inline_assets, line_chart, scatter
from forgeml.report.text import number, probability
from forgeml.training.slices import RELATIVE_SHORTFALL

__all__ = ["classification_curves", "regression_curves", "render_card"]

MAX_CURVE_POINTS = 200
MAX_RESIDUAL_POINTS = 2000
CALIBRATION_BINS = 10
TOP_FEATURES = 20
DASH = "–"


def render_card(context: Mapping[str, Any]) -> str:
    """The model card as one HTML page; only ``context["model"]`` is required.

    >>> page = render_card({"model": {"name": "churn", "version": 3, "task": "binary"}})
    >>> page.startswith("<!DOCTYPE html>"), "churn v3" in page, "Metrics" in page
    (True, True, False)
    """
    if not isinstance(context.get("model"), Mapping):
        raise ConfigError(
            "the model card context has no 'model' mapping",
            fix="pass at least {'model': {'name': ...}} to render_card",
        )
    return (
        _environment()
        .get_template("card.html.j2")
        .render(chart_assets=inline_assets(), **_view(context))
    )


def classification_curves(y: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """ROC, precision-recall and calibration points from 0/1 labels and positive-class scores.

    >>> c = classification_curves(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> c["roc"]["auc"], c["calibration"]["count"]
    (0.75, [1, 1, 1, 1])
    """
    y = np.asarray(y).astype(np.int64).ravel()
    proba = np.asarray(proba, dtype=np.float64)
    proba = proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba.ravel()
    finite = np.isfinite(proba)
    y, proba = y[finite], proba[finite]
    curves: dict[str, Any] = {"calibration": _calibration(y, proba)}
    if np.unique(y).size == 2:  # both curves are undefined on a single class
        fpr, tpr, _ = skm.roc_curve(y, proba)
        precision, recall, _ = skm.precision_recall_curve(y, proba)
        roc, pr = _thin(len(fpr), MAX_CURVE_POINTS), _thin(len(recall), MAX_CURVE_POINTS)
        curves["roc"] = {
            "fpr": fpr[roc].tolist(),
            "tpr": tpr[roc].tolist(),
            "auc": float(skm.auc(fpr, tpr)),
        }
        curves["pr"] = {
            "recall": recall[pr].tolist(),
            "precision": precision[pr].tolist(),
            "average_precision": float(skm.average_precision_score(y, proba)),
        }
    return curves


def regression_curves(y: np.ndarray, predicted: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Predicted values and residuals (actual − predicted), a seeded sample of ≤ 2,000 rows."""
    y = np.asarray(y, dtype=np.float64).ravel()
    predicted = np.asarray(predicted, dtype=np.float64).ravel()
    rows = np.arange(len(y))
    if len(rows) > MAX_RESIDUAL_POINTS:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(len(y), MAX_RESIDUAL_POINTS, replace=False))
    return {
        "residuals": {
            "predicted": predicted[rows].tolist(),
            "residual": (y[rows] - predicted[rows]).tolist(),
        }
    }


def _number(value: Any) -> str:
    """A value as the card shows it (:func:`forgeml.report.text.number`), lists joined.

    >>> [_number(v) for v in (None, float("nan"), 0.87654, 12345.6, 1200, True, "gbm")]
    ['–', '–', '0.8765', '12,346', '1,200', 'yes', 'gbm']
    """
    if isinstance(value, list | tuple):
        return ", ".join(_number(v) for v in value)
    return number(value)


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("forgeml.training", "templates"),
        autoescape=True,  # the template's name ends in .j2, which select_autoescape would miss
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _number
    return env


def _view(context: Mapping[str, Any]) -> dict[str, Any]:
    model = context["model"]
    metrics = context.get("metrics") or {}
    test, valid = metrics.get("test") or {}, metrics.get("valid") or {}
    main = model.get("metric")
    version = model.get("version")
    importance = context.get("importance") or {}
    return {
        "model": model,
        "title": f"{model.get('name') or 'model'} "
        + (f"v{version}" if version is not None else "· candidate"),
        "dataset": context.get("dataset") or {},
        "metrics": _metric_rows(test, valid, main),
        "has_valid": bool(valid),
        "charts": _charts(context.get("curves") or {}, test),
        "confusion": _confusion(context.get("confusion_matrix"), test, model),
        "importance": _importance(importance),
        "importance_note": (importance.get("permutation_method") or {}).get("note"),
        "slices": context.get("slices") or {},
        "flagged": {(str(c), str(v)) for c, v, *_ in context.get("flagged") or []},
        "why": f"{main} more than {RELATIVE_SHORTFALL:.0%} worse than on all test rows "
        f"({_number(test.get(main))})",
        "gate": context.get("gate"),
        "threshold": None if model.get("threshold") is None else probability(model["threshold"]),
        "positive_class": model.get("positive_class"),
        "search": _search(context.get("search")),
        "lineage": context.get("lineage") or {},
    }


def _metric_rows(test: Mapping[str, Any], valid: Mapping[str, Any], main: Any) -> list[Any]:
    names = [n for n in dict.fromkeys([*test, *valid]) if not _nested(test.get(n), valid.get(n))]
    names.sort(key=lambda n: n != main)  # the main metric first, the rest as given
    return [(n, test.get(n), valid.get(n), n == main) for n in names]


def _nested(*values: Any) -> bool:
    return any(isinstance(v, list | tuple | dict) for v in values)


def _charts(curves: Mapping[str, Any], test: Mapping[str, Any]) -> list[Markup]:
    charts = []
    if roc := curves.get("roc"):
        auc = roc.get("auc", test.get("roc_auc"))
        charts.append(line_chart(
            [Series("model", roc["fpr"], roc["tpr"])], diagonal="chance",
            title=f"ROC curve (AUC {_number(auc)})", x_label="false positive rate",
            y_label="true positive rate", x_range=(0, 1), y_range=(0, 1),
        ))  # fmt: skip
    if pr := curves.get("pr"):
        ap = pr.get("average_precision", test.get("pr_auc"))
        charts.append(line_chart(
            [Series("model", pr["recall"], pr["precision"])],
            title=f"Precision–recall (AP {_number(ap)})", x_label="recall",
            y_label="precision", x_range=(0, 1), y_range=(0, 1),
        ))  # fmt: skip
    if cal := curves.get("calibration"):
        notes = [f"n={_number(c)}" for c in cal.get("count") or []]
        charts.append(line_chart(
            [Series("model", cal["predicted"], cal["observed"], markers=True, notes=notes)],
            diagonal="perfectly calibrated", title="Calibration (reliability, n per bin)",
            x_label="mean predicted probability", y_label="observed positive rate",
            x_range=(0, 1), y_range=(0, 1),
        ))  # fmt: skip
    if res := curves.get("residuals"):
        charts.append(scatter(
            res["predicted"], res["residual"], zero_line=True, max_points=MAX_RESIDUAL_POINTS,
            title="Residuals (actual − predicted)", x_label="predicted", y_label="residual",
        ))  # fmt: skip
    return charts


def _confusion(
    given: Mapping[str, Any] | None, test: Mapping[str, Any], model: Mapping[str, Any]
) -> dict[str, Any] | None:
    matrix = (given or {}).get("matrix") or test.get("confusion_matrix")
    if not matrix:
        return None
    labels = (given or {}).get("labels") or model.get("classes") or list(range(len(matrix)))
    top = max((c for row in matrix for c in row), default=0) or 1
    rows = []
    for label, row in zip(labels, matrix, strict=False):
        total = sum(row) or 1
        cells = [(c, c / total, c / top) for c in row]
        rows.append((label, [(c, f"{share:.0%}", _heat(alpha)) for c, share, alpha in cells]))
    return {"labels": labels, "rows": rows, "threshold": model.get("threshold")}


def _heat(alpha: float) -> str:
    ink = "#fff" if alpha > 0.55 else "#111827"
    return f"background: rgba(37, 99, 235, {0.06 + 0.9 * alpha:.2f}); color: {ink}"


def _importance(importance: Mapping[str, Any]) -> list[Markup]:
    charts = []
    for key, title in (("permutation", "Permutation importance"), ("gain", "Native gain")):
        scores = importance.get(key) or {}
        finite = [(str(k), _float(v)) for k, v in scores.items() if math.isfinite(_float(v))]
        top = sorted(finite, key=lambda kv: -kv[1])[:TOP_FEATURES]
        if top:
            charts.append(bar_chart(
                [k for k, _ in top], [v for _, v in top],
                title=f"{title} (top {len(top)})", y_label=key,
            ))  # fmt: skip
    return charts


def _search(search: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not search or not search.get("trials"):
        return None
    trials = search["trials"]
    best = search.get("best") or {}
    scores = [_float(t.get("score")) for t in trials]
    finite = [i for i, s in enumerate(scores) if math.isfinite(s)]
    # The best trial is the one whose score equals the reported best score.
    target = _float(best.get("score"))
    pick = next((i for i in finite if math.isclose(scores[i], target, rel_tol=1e-9)), None)
    chart = scatter(
        [_float(t.get("number", i)) for i, t in enumerate(trials)], scores,
        title=f"Score by trial ({search.get('metric', 'score')})", x_label="trial",
        y_label=str(search.get("metric", "score")), highlight=pick,
    )  # fmt: skip
    return {"metric": search.get("metric"), "trials": trials, "best": best,
            "best_index": pick, "chart": chart}  # fmt: skip


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _calibration(y: np.ndarray, proba: np.ndarray) -> dict[str, list[Any]]:
    which = np.clip((proba * CALIBRATION_BINS).astype(np.int64), 0, CALIBRATION_BINS - 1)
    count = np.bincount(which, minlength=CALIBRATION_BINS)
    predicted = np.bincount(which, weights=proba, minlength=CALIBRATION_BINS)
    observed = np.bincount(which, weights=y, minlength=CALIBRATION_BINS)
    used = count > 0
    return {
        "predicted": (predicted[used] / count[used]).tolist(),
        "observed": (observed[used] / count[used]).tolist(),
        "count": count[used].tolist(),
    }


def _thin(n: int, most: int) -> np.ndarray:
    """At most ``most`` evenly spaced indices into ``n`` points, always the first and last."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))
