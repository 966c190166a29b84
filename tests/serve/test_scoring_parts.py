"""Input checks, the compiled feature step, native scorers and rollouts, piece by piece."""

from __future__ import annotations

import lightgbm
import numpy as np
import pytest
import xgboost
from sklearn.calibration import CalibratedClassifierCV  # noqa: F401 - import check only
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from forgeml.errors import ConfigError, ForgemlError, InputRejected
from forgeml.project import Project
from forgeml.registry import load_model, promote
from forgeml.serve.inputs import InputSchema
from forgeml.serve.native import fast_calibrator, fast_row_scorer, probe_rows
from forgeml.serve.rollout import active_rollout, end_rollout, rollout_history, start_rollout
from forgeml.serve.scoring import Scorer
from forgeml.training.predict import Predictor
from serve.serving import credit_table, record, register

COLUMNS = [
    {"name": "age", "kind": "integer", "nullable": False, "min": 18, "max": 90},
    {"name": "income", "kind": "float", "nullable": True, "min": 0.0, "max": 1000.0},
    {"name": "plan", "kind": "category", "nullable": True, "categories": ["a", "b"]},
    {"name": "paid", "kind": "boolean", "nullable": False},
    {"name": "at", "kind": "timestamp", "nullable": True},
]
GOOD = {"age": 30, "income": 10.5, "plan": "a", "paid": True, "at": "2025-01-01T10:00:00"}


def _problems(payload: object, **options: object) -> list[dict]:
    with pytest.raises(InputRejected) as caught:
        InputSchema(COLUMNS, **options).read(payload)  # type: ignore[arg-type]
    return caught.value.problems


def test_every_payload_shape_gives_the_same_columns() -> None:
    schema = InputSchema(COLUMNS)
    one = schema.read(GOOD)
    assert one.rows == 1 and one.numbers.tolist() == [[30.0, 10.5]]
    many = schema.read([GOOD, {**GOOD, "income": None}])
    assert many.rows == 2 and np.isnan(many.numbers[1, 1])
    assert schema.read({"records": [GOOD]}).columns == one.columns
    columnar = schema.read({"columns": {k: [v] for k, v in GOOD.items()}})
    assert columnar.columns == one.columns


def test_type_null_and_shape_problems_name_field_and_row() -> None:
    assert _problems({**GOOD, "age": True})[0] == {
        "field": "age",
        "row": 0,
        "problem": "expected a number, got boolean",
        "expected": "a number",
    }
    assert _problems([GOOD, {**GOOD, "age": None}])[0]["row"] == 1
    assert "true or false" in _problems({**GOOD, "paid": 1})[0]["problem"]
    assert "ISO 8601" in _problems({**GOOD, "at": "yesterday"})[0]["problem"]
    assert _problems({**GOOD, "plan": 3})[0]["field"] == "plan"
    fields = {p["field"] for p in _problems({"age": 30, "x": 1})}
    assert fields == {"income", "plan", "paid", "at", "x"}
    assert _problems({"columns": {**{k: [v] for k, v in GOOD.items()}, "age": 3}})[0][
        "problem"
    ].startswith("must be an array")
    assert len(_problems([{"bad": i} for i in range(100)])) == 20  # bounded
    with pytest.raises(InputRejected) as caught:
        InputSchema(COLUMNS, max_rows=2).read([GOOD] * 3)
    assert caught.value.status == 413


def test_flags_and_the_refuse_policy() -> None:
    odd = {**GOOD, "income": 5000.0, "plan": "zz"}
    batch = InputSchema(COLUMNS).read(odd)
    assert batch.flags == ["income:out_of_range", "plan:unseen_category"]
    assert InputSchema(COLUMNS).read({**GOOD, "income": 1400.0}).flags == []  # within tolerance
    assert _problems(odd, out_of_range="refuse")[0]["field"] == "income"
    huge = _problems({**GOOD, "age": 10**400})
    assert huge and huge[0]["field"] in ("age", "(numbers)")


@pytest.mark.parametrize("strategy", ["lightgbm", "sklearn"])
def test_compiled_features_equal_the_pipeline(sqlite_project: Project, strategy: str) -> None:
    register(sqlite_project, flavor=strategy)
    version, bundle = load_model("credit@1", project=sqlite_project)
    scorer = Scorer(version, bundle)
    table = credit_table(rows=30, seed=9)
    rows = [record(table, i) for i in range(30)]
    rows[3] = {**rows[3], "plan": None}
    rows[4] = {**rows[4], "plan": "never-seen", "income": 1e9}
    batch = scorer.read(rows)
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    expected = Predictor(bundle).pipeline.transform(columns)
    np.testing.assert_array_equal(scorer.features(batch), expected)
    for i in range(5):  # single rows go through the native path
        one = scorer.score(scorer.read(rows[i])).scores
        np.testing.assert_allclose(one, Predictor(bundle).scores_from_matrix(expected[i : i + 1]))


@pytest.mark.parametrize("objective", ["binary", "multiclass", "regression"])
def test_native_lightgbm_rows_match_booster_predict(objective: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 1)
    params = {"objective": objective, "verbose": -1, "num_threads": 1}
    if objective == "multiclass":
        params["num_class"] = 3
    booster = lightgbm.train(params, lightgbm.Dataset(x, y), num_boost_round=20)
    fast = fast_row_scorer("lightgbm", booster, 6)
    assert fast is not None
    probe = probe_rows(6, rows=50, seed=3)
    expected = booster.predict(probe)
    got = np.stack([fast(np.ascontiguousarray(row)) for row in probe]).reshape(expected.shape)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert fast_row_scorer("lightgbm", booster, 0) is None
    assert fast_row_scorer("sklearn", booster, 6) is None


def test_fast_calibrators_match_and_unknown_ones_are_left_alone() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(300)
    y = (rng.random(300) < p).astype(int)
    iso = IsotonicRegression(out_of_bounds="clip").fit(p, y)
    fast = fast_calibrator("isotonic", iso)
    assert fast is not None
    np.testing.assert_allclose(fast.predict(p), iso.predict(p))
    logit = np.log(p / (1 - p)).reshape(-1, 1)
    sig = LogisticRegression().fit(logit, y)
    fast_sig = fast_calibrator("sigmoid", sig)
    assert fast_sig is not None
    np.testing.assert_allclose(fast_sig.predict_proba(logit), sig.predict_proba(logit))
    assert fast_calibrator("isotonic", IsotonicRegression(out_of_bounds="nan").fit(p, y)) is None
    assert fast_calibrator(None, iso) is None


def test_xgboost_is_served_in_place_with_the_same_scores(sqlite_project: Project) -> None:
    from forgeml.registry import ModelBundle, register_model
    from serve.serving import fit_bundle

    table = credit_table(rows=300)
    bundle, signature = fit_bundle(table, flavor="sklearn")
    x = Predictor(bundle).pipeline.transform(table)
    y = np.asarray(table.column("default").to_pylist(), dtype=int)
    booster = xgboost.train({"objective": "binary:logistic"}, xgboost.DMatrix(x, y), 10)
    xgb_bundle = ModelBundle("xgboost", booster, bundle.features, bundle.extras)
    register_model(
        "xg", xgb_bundle, signature=signature, metrics={}, lineage={}, project=sqlite_project
    )
    version, loaded = load_model("xg@1", project=sqlite_project)
    scorer = Scorer(version, loaded)
    rows = [record(table, i) for i in range(10)]
    got = [scorer.score(scorer.read(r)).scores[0] for r in rows]
    expected = Predictor(loaded).scores({k: [r[k] for r in rows] for k in rows[0]})
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_rollouts_are_single_audited_and_idempotent(project: Project) -> None:
    register(project)
    register(project, seed=1, champion=False)
    register(project, seed=2, champion=False)
    with pytest.raises(ConfigError, match="champion already"):
        start_rollout("credit@1", mode="canary", reason="x", project=project)
    with pytest.raises(ConfigError, match="between 0 and 1"):
        start_rollout("credit@2", mode="canary", share=1.5, reason="x", project=project)
    with pytest.raises(ConfigError, match="needs a reason"):
        start_rollout("credit@2", mode="shadow", reason=" ", project=project)
    first = start_rollout("credit@2", mode="canary", share=0.2, reason="try", project=project)
    again = start_rollout("credit@2", mode="canary", share=0.2, reason="retry", project=project)
    assert again.id == first.id
    with pytest.raises(ForgemlError, match="already has a canary"):
        start_rollout("credit@3", mode="shadow", reason="x", project=project)
    assert active_rollout(project, "credit") == first
    promote("credit@2", reason="canary won", project=project)
    ended = end_rollout("credit", outcome="promoted", reason="canary won", project=project)
    assert ended is not None and ended.status == "promoted"
    assert active_rollout(project, "credit") is None
    assert end_rollout("credit", reason="nothing", project=project) is None
    start_rollout("credit@3", mode="shadow", reason="next", project=project)
    history = rollout_history("credit", project=project)
    assert [(r.version, r.mode, r.status) for r in history] == [
        (3, "shadow", "active"),
        (2, "canary", "promoted"),
    ]
    assert history[1].end_reason == "canary won"


def test_checked_numbers_reach_the_log_with_their_types(sqlite_project: Project) -> None:
    from forgeml.serve.predlog import PredictionLog, read_predictions

    schema = InputSchema(COLUMNS)
    first = schema.read([GOOD, {**GOOD, "income": None}])
    fraction = schema.read({**GOOD, "age": 30.5})  # an integer column sent a fraction
    with PredictionLog(sqlite_project, "credit", COLUMNS) as log:
        for i, batch in enumerate((first, fraction)):
            log.log_predictions(
                ids=[f"r{i}-{j}" for j in range(batch.rows)],
                version=1,
                arm="champion",
                inputs=schema.loggable(batch),
                scores=[0.5] * batch.rows,
                labels=None,
                latency_ms=1.0,
            )
    table = read_predictions(sqlite_project, "credit")
    assert table.column("income").to_pylist() == [10.5, None, 10.5]
    assert table.column("age").type == "int64"
    assert table.column("age").to_pylist() == [30, 30, None]  # 30.5 does not fit: null
    assert table.column("plan").to_pylist() == ["a", "a", "a"]


def test_calibrated_batches_serialise(sqlite_project: Project) -> None:
    import dataclasses

    import orjson

    from forgeml.registry import register_model
    from serve.serving import fit_bundle

    table = credit_table(rows=300)
    bundle, signature = fit_bundle(table, flavor="sklearn")
    raw = Predictor(bundle).scores(table)
    logit = np.log(raw / (1 - raw)).reshape(-1, 1)
    truth = np.asarray(table.column("default").to_pylist(), dtype=int)
    calibrated = dataclasses.replace(
        bundle,
        extras={**bundle.extras, "calibration": "sigmoid"},
        calibrator=LogisticRegression().fit(logit, truth),
    )
    register_model(
        "cal", calibrated, signature=signature, metrics={}, lineage={}, project=sqlite_project
    )
    version, loaded = load_model("cal@1", project=sqlite_project)
    scorer = Scorer(version, loaded)
    scored = scorer.score(scorer.read([record(table, i) for i in range(5)]))
    assert len(orjson.loads(orjson.dumps(scored.scores, option=orjson.OPT_SERIALIZE_NUMPY))) == 5
    expected = Predictor(loaded).scores(
        {k: [record(table, i)[k] for i in range(5)] for k in record(table, 0)}
    )
    np.testing.assert_allclose(scored.scores, expected, atol=1e-9)
