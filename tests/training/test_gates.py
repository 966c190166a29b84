"""Gates pass only candidates that earn it, and say exactly which check failed."""

from __future__ import annotations

from forgeml.config import GateSpec
from forgeml.training.gates import evaluate_gate

SPEC = GateSpec.model_validate(
    {
        "min_rows": 100,
        "metrics": {"roc_auc": {"min": 0.7}, "log_loss": {"max": 0.5}},
        "versus_champion": {"roc_auc": {"min_delta": -0.005}, "log_loss": {"max_delta": 0.01}},
        "slices": {"roc_auc": {"min": 0.6}},
        "min_slice_rows": 30,
    }
)


def test_a_good_candidate_passes_every_check() -> None:
    result = evaluate_gate(
        SPEC,
        {"roc_auc": 0.81, "log_loss": 0.40, "rows": 500},
        champion={"roc_auc": 0.80, "log_loss": 0.41},
        slices={
            "region": {
                "north": {"roc_auc": 0.75, "rows": 200},
                "tiny": {"roc_auc": 0.10, "rows": 5},
            }
        },
    )
    assert result.passed, result.failed
    names = [c.name for c in result.checks]
    assert "roc_auc on region=north" in names
    tiny = next(c for c in result.checks if c.name == "roc_auc on region=tiny")
    assert tiny.skipped and tiny.outcome == "skipped"  # below min_slice_rows: not judged
    assert "too few rows to judge: 5, fewer than min_slice_rows (30)" in tiny.detail
    assert result.skipped == [tiny] and result.verdict == "gate passed"


def test_each_kind_of_failure_is_named() -> None:
    result = evaluate_gate(
        SPEC,
        {"roc_auc": 0.69, "log_loss": 0.45, "rows": 50},
        champion={"roc_auc": 0.72, "log_loss": 0.43},
        slices={"region": {"south": {"roc_auc": 0.55, "rows": 80}}},
    )
    failed = {c.name for c in result.failed}
    assert failed == {
        "rows",
        "roc_auc",
        "roc_auc vs champion",
        "log_loss vs champion",
        "roc_auc on region=south",
    }
    vs = next(c for c in result.checks if c.name == "roc_auc vs champion")
    assert round(vs.value or 0, 4) == -0.03 and "champion 0.72" in vs.detail
    assert result.to_dict()["passed"] is False


def test_missing_metrics_fail_instead_of_passing_silently() -> None:
    result = evaluate_gate(SPEC, {"rows": 500, "log_loss": 0.3}, champion={"log_loss": 0.3})
    missing = next(c for c in result.checks if c.name == "roc_auc")
    assert not missing.passed and "not measured" in missing.detail
    assert not next(c for c in result.checks if c.name == "roc_auc vs champion").passed


def test_without_a_champion_relative_checks_pass_and_say_why() -> None:
    result = evaluate_gate(SPEC, {"roc_auc": 0.8, "log_loss": 0.4, "rows": 500})
    vs = next(c for c in result.checks if c.name == "roc_auc vs champion")
    assert vs.passed and vs.skipped and "no champion" in vs.detail


def test_a_gate_whose_checks_were_all_skipped_is_not_reported_as_passed() -> None:
    spec = GateSpec.model_validate({"versus_champion": {"roc_auc": {"min_delta": 0}}})
    result = evaluate_gate(spec, {"roc_auc": 0.8})
    assert result.passed and not result.ran  # nothing failed, but nothing was checked
    assert result.verdict == "no gate check ran"
    assert result.to_dict()["passed"] is None


def test_nan_counts_as_not_measured() -> None:
    result = evaluate_gate(
        GateSpec.model_validate({"metrics": {"roc_auc": {"min": 0.5}}}), {"roc_auc": float("nan")}
    )
    assert not result.passed


def test_a_champion_that_cannot_score_the_rows_fails_the_comparison() -> None:
    result = evaluate_gate(
        SPEC,
        {"roc_auc": 0.9, "log_loss": 0.3, "rows": 500},
        champion={"version": 3, "error": "column 'income' is missing"},
    )
    vs = next(c for c in result.checks if c.name == "roc_auc vs champion")
    assert not vs.passed and "income" in vs.detail


def test_the_champion_is_compared_on_the_rows_both_were_scored_on() -> None:
    # Overall the candidate looks better, but on the rows both were scored on it is worse.
    result = evaluate_gate(
        SPEC,
        {"roc_auc": 0.90, "log_loss": 0.30, "rows": 500},
        champion={
            "roc_auc": 0.80,
            "log_loss": 0.41,
            "rows": 120,
            "candidate": {"roc_auc": 0.70, "log_loss": 0.45},
            "note": "compared on the 120 of 500 held-out rows the champion did not train on",
        },
    )
    vs = next(c for c in result.checks if c.name == "roc_auc vs champion")
    assert not vs.passed and round(vs.value or 0, 4) == -0.1
    assert "120 of 500" in vs.detail


def test_no_rows_left_to_compare_fails_the_comparison_and_says_so() -> None:
    why = (
        "the champion (v1) trained on all 80 held-out rows, "
        "so no row is left that neither model saw"
    )
    result = evaluate_gate(
        SPEC, {"roc_auc": 0.9, "log_loss": 0.3, "rows": 500}, champion={"version": 1, "error": why}
    )
    vs = next(c for c in result.checks if c.name == "roc_auc vs champion")
    assert not vs.passed and vs.detail == why


class TestDefaultGate:
    """Without a declared gate, the default one still protects the champion."""

    def test_a_candidate_that_beats_the_baseline_and_has_no_champion_passes(self) -> None:
        result = evaluate_gate(
            GateSpec(), {"roc_auc": 0.7}, baseline={"roc_auc": 0.5}, metric="roc_auc"
        )
        assert result.default and result.passed and result.ran
        assert "default gate applies" in result.note
        assert result.to_dict()["default"] is True

    def test_a_candidate_no_better_than_the_baseline_fails(self) -> None:
        result = evaluate_gate(
            GateSpec(),
            {"rmse": 3.0},
            baseline={"rmse": 2.9, "predictor": "the training mean, 10"},
            metric="rmse",
        )
        failed = result.failed
        assert [c.name for c in failed] == ["rmse vs baseline"]
        assert "the training mean" in failed[0].detail

    def test_a_candidate_worse_than_the_champion_fails(self) -> None:
        result = evaluate_gate(
            GateSpec(),
            {"log_loss": 0.40},
            champion={"log_loss": 0.39},
            baseline={"log_loss": 0.69},
            metric="log_loss",
        )
        assert [c.name for c in result.failed] == ["log_loss vs champion"]

    def test_without_a_named_metric_the_task_default_is_judged(self) -> None:
        result = evaluate_gate(
            GateSpec(), {"accuracy": 0.9, "roc_auc": 0.6}, champion={"roc_auc": 0.7}
        )
        assert [c.name for c in result.failed] == ["roc_auc vs champion"]
