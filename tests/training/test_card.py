"""The model card: a self-contained, escaped, well-formed page with the sections it has data for."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LinearRegression, LogisticRegression

from forgeml.config import GateSpec
from forgeml.errors import ConfigError
from forgeml.report.charts import Series, bar_chart, inline_assets, line_chart, scatter, spec
from forgeml.training.card import classification_curves, regression_curves, render_card
from forgeml.training.gates import evaluate_gate
from forgeml.training.importance import permutation_importance
from forgeml.training.metrics import classification_metrics, regression_metrics
from forgeml.training.slices import flagged, slice_metrics

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
STRUCTURAL = {"html", "head", "body", "header", "main", "section", "footer", "div", "table",
              "thead", "tbody", "tr", "td", "th", "figure", "svg", "g", "dl", "style",
              "title"}  # fmt: skip


class TagBalance(HTMLParser):
    """Records every structural tag that closes out of order or never closes."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.seen: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in STRUCTURAL:
            self.stack.append(tag)
            self.seen.add(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag not in STRUCTURAL:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def assert_well_formed_offline(page: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    assert page.startswith("<!DOCTYPE html>")
    # The only scripts are the chart library written into the page and each chart's data.
    assert page.count(inline_assets()) == 1
    rest = re.sub(r'<script type="application/json" class="fm-data">[^<]*</script>', "",
                  page.replace(inline_assets(), ""))  # fmt: skip
    for forbidden in ("http://", "https://", "<script", "<link", "<img", "@import", "url("):
        assert forbidden not in rest, forbidden
    return parser


def section_ids(page: str) -> list[str]:
    return re.findall(r'<section id="([a-z]+)"', page)


@pytest.fixture(scope="module")
def binary_context() -> dict[str, Any]:
    x, y = make_classification(n_samples=900, n_features=5, n_informative=3, random_state=2)
    columns = ["age", "income", "tenure", "visits", EVIL]
    train, valid, test = slice(0, 500), slice(500, 700), slice(700, 900)
    model = LogisticRegression().fit(x[train], y[train])
    proba = model.predict_proba(x[test])[:, 1]
    test_metrics = classification_metrics(y[test], proba, threshold=0.5)
    valid_metrics = classification_metrics(
        y[valid], model.predict_proba(x[valid])[:, 1], threshold=0.5
    )
    importance = permutation_importance(
        x[test],
        lambda rows: float(model.score(rows, y[test])),
        {name: [i] for i, name in enumerate(columns)},
        seed=0,
    )
    # Rows the model is unsure about form a slice that scores visibly worse than the whole.
    segment = np.where(np.abs(proba - 0.5) < 0.2, "uncertain", EVIL)

    def score(rows: np.ndarray) -> dict[str, Any]:
        return classification_metrics(y[test][rows], proba[rows], threshold=0.5)

    slices = slice_metrics({"segment": segment}, score)
    found = flagged(slices, test_metrics, "roc_auc", min_rows=10)
    assert found, "the uncertain slice should be flagged"
    spec = GateSpec.model_validate(
        {"metrics": {"roc_auc": {"min": 0.7}, "accuracy": {"min": 0.99}}}
    )
    gate = evaluate_gate(spec, test_metrics).to_dict()
    trials = [
        {"number": i, "candidate": "logistic", "score": 0.8 + 0.01 * i, "state": "complete",
         "seconds": 0.1 * i}
        for i in range(6)
    ] + [{"number": 6, "candidate": "gbm", "score": None, "state": "failed",
          "seconds": 0.2}]  # fmt: skip
    return {
        "model": {"name": "churn", "version": 4, "flavor": "sklearn", "candidate": "logistic",
                  "params": {"C": 1.0, "penalty": "l2"}, "task": "binary", "target": "churned",
                  "classes": [0, 1], "threshold": 0.5, "calibration": None, "metric": "roc_auc"},
        "dataset": {"ref": "customers@3f2a9c", "rows": 900, "columns": 6,
                    "split": {"method": "random", "train": 500, "valid": 200, "test": 200},
                    "positive_rate": float(y.mean())},
        "metrics": {"test": test_metrics, "valid": {**valid_metrics, "pr_auc": math.nan}},
        "curves": classification_curves(y[test], proba),
        "confusion_matrix": {"labels": ["stayed", "churned"],
                             "matrix": test_metrics["confusion_matrix"]},
        "importance": {"permutation": importance, "gain": None},
        "slices": slices,
        "flagged": [list(f) for f in found],
        "gate": gate,
        "search": {"metric": "roc_auc", "trials": trials,
                   "best": {"candidate": "logistic", "params": {"C": 1.0}, "score": 0.85}},
        "lineage": {"dataset": "customers@3f2a9c", "run_id": "run-17",
                    "code_version": {"commit": "a1b2c3d", "dirty": True},
                    "packages": {"scikit-learn": "1.5.0", "numpy": "2.0.0"},
                    "created_by": "ana", "created_at": "2025-01-02T03:04:05Z"},
    }  # fmt: skip


@pytest.fixture(scope="module")
def regression_context() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 3))
    y = x @ np.array([2.0, -1.0, 0.5]) + rng.normal(scale=0.3, size=3000)
    predicted = LinearRegression().fit(x, y).predict(x)
    return {
        "model": {"name": "price", "version": None, "task": "regression", "target": "price",
                  "metric": "rmse", "candidate": "linear", "flavor": "sklearn"},
        "metrics": {"test": regression_metrics(y, predicted)},
        "curves": regression_curves(y, predicted, seed=0),
        "importance": {"permutation": {"a": 0.9, "b": 0.3, "c": -0.01},
                       "gain": {"a": 10.0, "b": 2.0}},
    }  # fmt: skip


def test_binary_card_has_every_section_and_is_well_formed(binary_context: dict[str, Any]) -> None:
    page = render_card(binary_context)
    parser = assert_well_formed_offline(page)
    assert {"figure", "table", "section", "main"} <= parser.seen
    charts = page.count('<figure class="fm-chart"')
    assert charts == 5  # ROC, PR, calibration, permutation importance, the search
    assert section_ids(page) == [
        "parameters", "data", "metrics", "charts", "importance", "slices", "gate", "search",
        "lineage",
    ]  # fmt: skip
    auc = binary_context["curves"]["roc"]["auc"]
    assert f"ROC curve (AUC {auc:.4g})" in page
    assert "Precision–recall (AP" in page
    assert "Calibration (reliability, n per bin)" in page
    assert "n=" in page  # bin counts beside the calibration points
    assert "Confusion matrix at threshold 0.5" in page
    assert "Residuals" not in page
    assert "churn v4" in page
    assert 'class="badge fail">gate failed' in page
    assert "Permutation importance" in page and "Native gain" not in page


def test_main_metric_flagged_slices_and_best_trial_are_highlighted(
    binary_context: dict[str, Any],
) -> None:
    page = render_card(binary_context)
    assert '<tr class="main"><td>roc_auc</td>' in page
    assert page.count('<tr class="flagged">') == len(binary_context["flagged"])
    assert "roc_auc more than 10% worse than on all test rows" in page
    assert page.count('class="best"') == 1
    assert page.count('<tr class="failed">') == 1  # the accuracy bound of 0.99
    assert 'class="muted"' in page  # the failed trial


def test_user_values_are_escaped(binary_context: dict[str, Any]) -> None:
    page = render_card(binary_context)
    assert EVIL not in page
    assert page.count(ESCAPED) >= 1  # the slice value
    # the importance chart's data: the name as JSON escapes, which cannot open a tag
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in page


def test_missing_numbers_render_as_a_dash(binary_context: dict[str, Any]) -> None:
    page = render_card(binary_context)
    assert re.search(r"<td>pr_auc</td><td class=\"n\">[0-9.]+</td><td class=\"n\">–</td>", page)
    page = render_card(
        {"model": {"name": "m", "metric": "r2"},
         "metrics": {"test": {"r2": math.nan, "mae": 1.5}, "valid": {"r2": None}}}
    )  # fmt: skip
    assert '<tr class="main"><td>r2</td><td class="n">–</td><td class="n">–</td></tr>' in page
    assert '<td>mae</td><td class="n">1.5</td><td class="n">–</td>' in page


def test_regression_card_has_residuals_and_no_classification_charts(
    regression_context: dict[str, Any],
) -> None:
    page = render_card(regression_context)
    assert_well_formed_offline(page)
    assert section_ids(page) == ["metrics", "charts", "importance"]
    assert "Residuals (actual − predicted)" in page
    for absent in ("ROC curve", "Precision–recall", "Calibration", "Confusion matrix"):
        assert absent not in page
    assert "price · candidate" in page
    assert "Native gain (top 2)" in page
    residuals = spec(page[page.index("Residuals (actual") - 200 :])
    assert len(residuals["series"][0]["x"]) == 2000


def test_minimal_card_has_only_the_header() -> None:
    page = render_card({"model": {"name": "bare"}})
    assert_well_formed_offline(page)
    assert section_ids(page) == []
    assert "<h1>bare · candidate</h1>" in page
    assert "gate passed" not in page and "gate failed" not in page


def test_a_context_without_a_model_is_refused() -> None:
    with pytest.raises(ConfigError, match="model"):
        render_card({"metrics": {}})


def test_classification_curves_are_thinned_and_binned() -> None:
    rng = np.random.default_rng(0)
    proba = rng.uniform(size=20_000)
    y = (rng.uniform(size=20_000) < proba).astype(int)
    curves = classification_curves(y, proba)
    roc, pr, cal = curves["roc"], curves["pr"], curves["calibration"]
    assert len(roc["fpr"]) == len(roc["tpr"]) <= 200
    assert len(pr["recall"]) == len(pr["precision"]) <= 200
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    assert 0.8 < roc["auc"] < 0.9
    assert len(cal["count"]) == 10 and sum(cal["count"]) == 20_000
    assert np.allclose(cal["predicted"], cal["observed"], atol=0.05)  # calibrated by design


def test_classification_curves_of_one_class_have_only_calibration() -> None:
    curves = classification_curves(np.zeros(5), np.linspace(0.1, 0.5, 5))
    assert set(curves) == {"calibration"}


def test_regression_curves_are_a_seeded_sample() -> None:
    y, predicted = np.arange(5000.0), np.arange(5000.0) + 1
    first = regression_curves(y, predicted, seed=3)["residuals"]
    assert len(first["predicted"]) == len(first["residual"]) == 2000
    assert set(first["residual"]) == {-1.0}
    assert first == regression_curves(y, predicted, seed=3)["residuals"]
    assert first != regression_curves(y, predicted, seed=4)["residuals"]
    assert len(regression_curves(y[:10], predicted[:10])["residuals"]["predicted"]) == 10


def test_charts_escape_text_and_skip_non_finite_points() -> None:
    chart = line_chart(
        [Series(EVIL, [0, 0.5, math.nan, 1], [0, 0.7, 0.8, math.inf], markers=True)],
        x_label="x & y", y_label="<y>", title=EVIL, diagonal=True,
    )  # fmt: skip
    assert "<script>" not in chart and ESCAPED in chart  # the title, and the data block
    drawn = spec(chart)
    assert drawn["series"][0]["name"] == EVIL and drawn["x"]["label"] == "x & y"
    assert drawn["series"][0]["x"] == [0, 0.5, 1]  # the point without an x is left out
    assert drawn["series"][0]["y"] == [0, 0.7, None]  # an infinite value is a gap
    assert drawn["references"] == [{"name": "y = x", "x": [0.0, 1.0], "y": [0.0, 1.0]}]
    bars = spec(bar_chart(["a", "b" * 40], [0.5, -0.1], title="imp", y_label="drop"))
    assert bars["x"]["names"] == ["a", "b" * 40] and bars["series"][0]["y"] == [0.5, -0.1]
    assert (
        spec(scatter([math.nan], [1.0], x_label="x", y_label="y", title="t"))["series"][0]["x"]
        == []
    )
    points = scatter(list(range(5000)), list(range(5000)), x_label="x", y_label="y", title="t")
    assert len(spec(points)["series"][0]["x"]) == 2000


def test_card_says_when_permutation_importance_was_cut_down_or_skipped() -> None:
    skipped = "skipped: with 3,000 trees and 400 input columns, even 1,000 rows <b>"
    page = render_card(
        {
            "model": {"name": "big"},
            "importance": {
                "permutation": None,
                "permutation_method": {"rows": 0, "repeats": 0, "note": skipped},
                "gain": {"income": 12.0, "age": 3.0},
            },
        }
    )
    assert_well_formed_offline(page)
    assert "Native gain (top 2)" in page and "Permutation importance (top" not in page
    assert "Permutation importance skipped: with 3,000 trees" in page
    assert "<b>" not in page and "&lt;b&gt;" in page  # the note is escaped like the rest
    plain = render_card(
        {"model": {"name": "small"}, "importance": {"gain": {"a": 1.0}, "permutation": None}}
    )
    assert "Permutation importance" not in plain


def test_a_threshold_near_one_is_not_shown_as_one_and_the_positive_class_is_named(
    binary_context: dict[str, Any],
) -> None:
    model = binary_context["model"] | {"threshold": 0.99996, "positive_class": "churned"}
    page = render_card(binary_context | {"model": model})
    assert "0.99996" in page and "at threshold 0.99996" in page
    assert re.search(r"Positive class</dt>\s*<dd[^>]*>churned<", page)


def test_a_gate_where_no_check_ran_is_never_shown_as_passed(
    binary_context: dict[str, Any],
) -> None:
    spec = GateSpec.model_validate({"slices": {"roc_auc": {"min": 0.7}}, "min_slice_rows": 10_000})
    gate = evaluate_gate(spec, {}, slices={"region": {"north": {"roc_auc": 0.6, "rows": 40}}})
    page = render_card(binary_context | {"gate": gate.to_dict()})
    assert "gate passed" not in page and "no gate check ran" in page
    assert '<span class="badge skip">skipped</span>' in page
    assert "too few rows to judge: 40, fewer than min_slice_rows (10000)" in page


def test_the_default_gate_is_named_on_the_card(binary_context: dict[str, Any]) -> None:
    gate = evaluate_gate(GateSpec(), {"roc_auc": 0.8}, baseline={"roc_auc": 0.5}, metric="roc_auc")
    page = render_card(binary_context | {"gate": gate.to_dict()})
    assert "the default gate applies" in page and "roc_auc vs baseline" in page
