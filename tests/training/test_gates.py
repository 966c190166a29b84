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
    assert "roc_auc on region=tiny" not in names  # below min_slice_rows: not judged


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
    assert vs.passed and "no champion" in vs.detail


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
