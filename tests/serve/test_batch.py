"""Batch scoring end to end: real files, real registered models, rejects, bounded memory."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import typer
from sklearn.linear_model import LogisticRegression

import forgeml.cli
from forgeml.cli.context import state
from forgeml.cli.predict import predict_command
from forgeml.data.normalize import normalize
from forgeml.data.profile import profile_table
from forgeml.data.schema import infer_schema
from forgeml.errors import ConfigError, DataError, SourceError
from forgeml.features import FeaturePipeline
from forgeml.project import Project
from forgeml.registry import ModelBundle, load_model, promote, register_model
from forgeml.registry.versions import ModelVersion
from forgeml.serve.batch import predict_file
from forgeml.serve.inputs import NULL_PROBLEM, range_problem
from forgeml.training.predict import Predictor

PLANS = ["basic", "pro", "family", "student"]
FEATURES = ["income", "age", "plan", "paperless", "opened"]
TARGETS = {"binary": "default", "multiclass": "tier", "regression": "spend"}
HEADER = "id,income,age,plan,paperless,opened\n"


def customers(rows: int, *, seed: int = 0) -> pa.Table:
    """Inputs of every kind (float, integer, nullable category, boolean, timestamp), targets."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.4, rows)
    age = rng.integers(18, 80, rows)
    plan = rng.choice(PLANS, rows).astype(object)
    plan[rng.random(rows) < 0.05] = None
    paperless = rng.random(rows) < 0.5
    opened = [datetime(2025, 1, 1) + timedelta(hours=int(h)) for h in rng.integers(0, 4000, rows)]
    signal = (income - income.mean()) / income.std() - 0.03 * (age - 50) + paperless
    tier = np.digitize(signal + rng.normal(0, 0.5, rows), [-0.5, 0.7])
    return pa.table(
        {
            "id": pa.array(np.arange(rows), pa.int64()),
            "income": income,
            "age": age,
            "plan": pa.array(list(plan), pa.string()),
            "paperless": paperless,
            "opened": pa.array(opened, pa.timestamp("us")),
            "default": signal + rng.normal(0, 1, rows) < 0.3,
            "tier": pa.array([["low", "mid", "high"][t] for t in tier]),
            "spend": signal * 100.0 + rng.normal(0, 10, rows),
        }
    )


def register(
    project: Project,
    *,
    task: str = "binary",
    flavor: str = "lightgbm",
    name: str = "credit",
    champion: bool = True,
) -> ModelVersion:
    """Fit a small real model with its feature pipeline and register it."""
    target = TARGETS[task]
    table = normalize(customers(600).select([*FEATURES, target]))
    schema = infer_schema(table, profile_table(table))
    strategy = "tree" if flavor == "lightgbm" else "linear"
    pipeline = FeaturePipeline.fit(table, schema, target=target, strategy=strategy)
    x = pipeline.transform(table)
    raw = table.column(target).to_pylist()
    classes = None if task == "regression" else sorted(set(raw))
    y = np.array(raw, dtype=float) if classes is None else np.array([classes.index(v) for v in raw])
    if flavor == "lightgbm":
        params: dict[str, Any] = {"verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}
        params["objective"] = "binary" if task == "binary" else "regression"
        estimator: Any = lightgbm.train(params, lightgbm.Dataset(x, y), num_boost_round=20)
    else:
        estimator = LogisticRegression(max_iter=500).fit(x, y)
    extras: dict[str, Any] = {"task": task, "classes": classes, "threshold": 0.5}
    bundle = ModelBundle(flavor, estimator, pipeline.to_dict(), extras)  # type: ignore[arg-type]
    inputs = [c for c in schema["columns"] if c["name"] in pipeline.input_columns]
    signature = {"inputs": inputs, "target": target, "task": task, "classes": classes}
    version = register_model(
        name, bundle, signature=signature, metrics={}, lineage={}, project=project
    )
    if champion:
        promote(version.ref, reason="test", project=project)
    return version


def expected_scores(project: Project, ref: str, table: pa.Table) -> np.ndarray:
    _, bundle = load_model(ref, project=project)
    return Predictor(bundle).scores(table.select(FEATURES))


def write(table: pa.Table, path: Path) -> Path:
    if path.name.endswith(".parquet"):
        pq.write_table(table, path)
    elif path.name.endswith(".gz"):
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink)
        path.write_bytes(gzip.compress(sink.getvalue().to_pybytes()))
    else:
        pacsv.write_csv(table, path)
    return path


@pytest.mark.parametrize(
    ("task", "flavor"),
    [("binary", "lightgbm"), ("multiclass", "sklearn"), ("regression", "lightgbm")],
)
@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".csv.gz"])
def test_predictions_match_the_model_for_parquet_and_csv(
    sqlite_project: Project, tmp_path: Path, task: str, flavor: str, suffix: str
) -> None:
    version = register(sqlite_project, task=task, flavor=flavor)
    table = customers(300, seed=1).select(["id", *FEATURES])
    source = write(table, tmp_path / f"in{suffix}")
    calls: list[dict[str, Any]] = []
    result = predict_file(
        "credit",
        source,
        tmp_path / "out.parquet",
        project=sqlite_project,
        chunk_rows=64,
        progress=lambda **kw: calls.append(kw),
    )
    assert (result.model, result.chosen_by) == (version.ref, "champion")
    assert (result.rows, result.scored, result.rejected) == (300, 300, 0)
    assert result.rejects == tmp_path / "out.rejects.parquet"
    assert pq.read_table(result.rejects).num_rows == 0
    assert calls[-1]["done"] == calls[-1]["total"] and calls[-1]["rows"] == 300
    assert calls[-1]["unit"] == ("rows" if suffix == ".parquet" else "bytes")
    out = pq.read_table(result.output)
    ids = out.column("id").to_pylist()
    assert ids == (list(range(300)) if suffix == ".parquet" else [str(i) for i in range(300)])
    expected = expected_scores(sqlite_project, version.ref, table)
    if task == "regression":
        assert out.column_names == ["id", "prediction", "flags"]
        np.testing.assert_allclose(out.column("prediction").to_numpy(), expected, atol=1e-12)
    elif task == "binary":
        assert out.column_names == ["id", "prediction", "score", "flags"]
        np.testing.assert_allclose(out.column("score").to_numpy(), expected, atol=1e-12)
        assert out.column("prediction").to_pylist() == (expected >= 0.5).tolist()
    else:
        classes = ["high", "low", "mid"]
        probabilities = [f"probability_{c}" for c in classes]
        assert out.column_names == ["id", "prediction", "score", *probabilities, "flags"]
        got = np.column_stack([out.column(c).to_numpy() for c in probabilities])
        np.testing.assert_allclose(got, expected, atol=1e-12)
        np.testing.assert_allclose(out.column("score").to_numpy(), expected.max(axis=1))
        assert out.column("prediction").to_pylist() == [classes[i] for i in expected.argmax(1)]


BAD_CSV = (
    HEADER
    + "r0,52000.5,41,pro,true,2025-02-01T09:30:00\n"
    + "r1,abc,41,pro,true,2025-02-01T09:30:00\n"
    + "r2,52000,,pro,false,2025-02-01\n"
    + "r3,52000,41,basic,true,yesterday\n"
    + "r4,52000,41,basic,maybe,2025-02-01\n"
    + "r5,1\n"
    + "r6,61000,35,,FALSE,2025-02-01 10:00\n"
    + "r7,NA,x,pro,true,2025-02-01\n"
    + "r8, 48000 ,29,family,1,2025-03-01T10:00:00+02:00\n"
)


@pytest.mark.parametrize("chunk_rows", [2, 100])
def test_bad_rows_are_rejected_with_row_column_reason_and_value(
    sqlite_project: Project, tmp_path: Path, chunk_rows: int
) -> None:
    version = register(sqlite_project)
    source = tmp_path / "in.csv"
    source.write_text(BAD_CSV, encoding="utf-8")
    result = predict_file(
        "credit@1",
        source,
        tmp_path / "out.parquet",
        project=sqlite_project,
        chunk_rows=chunk_rows,
        on_error="skip",
    )
    assert (result.rows, result.scored, result.rejected) == (9, 3, 6)
    assert result.chosen_by == "reference"
    rejects = pq.read_table(result.rejects).to_pylist()
    assert rejects == [  # in file order
        {"row": 1, "column": "income", "reason": "is not a number", "value": "abc"},
        {"row": 2, "column": "age", "reason": NULL_PROBLEM, "value": ""},
        {
            "row": 3,
            "column": "opened",
            "reason": "is not an ISO 8601 timestamp",
            "value": "yesterday",
        },
        {"row": 4, "column": "paperless", "reason": "is not true or false", "value": "maybe"},
        {
            "row": 5,
            "column": "(row)",
            "reason": "has 2 fields, the header has 6",
            "value": "r5,1",
        },
        {"row": 7, "column": "income", "reason": NULL_PROBLEM, "value": "NA"},
        {"row": 7, "column": "age", "reason": "is not a number", "value": "x"},
    ]
    assert result.reasons["income: is not a number"] == 1
    assert result.reasons[f"age: {NULL_PROBLEM}"] == 1
    out = pq.read_table(result.output)
    assert out.column("id").to_pylist() == ["r0", "r6", "r8"]
    parsed = pa.table(
        {
            "income": [52000.5, 61000.0, 48000.0],
            "age": [41, 35, 29],
            "plan": ["pro", None, "family"],
            "paperless": [True, False, True],
            "opened": pa.array(
                [datetime(2025, 2, 1, 9, 30), datetime(2025, 2, 1, 10), datetime(2025, 3, 1, 8)],
                pa.timestamp("us"),
            ),  # the offset timestamp is taken to UTC, as the server's encoder does
        }
    )
    expected = expected_scores(sqlite_project, version.ref, parsed)
    np.testing.assert_allclose(out.column("score").to_numpy(), expected, atol=1e-12)


def test_row_numbers_stay_true_across_csv_blocks(sqlite_project: Project, tmp_path: Path) -> None:
    register(sqlite_project)
    lines = [f"r{i},52000,41,pro,true,2025-02-01\n" for i in range(40_000)]  # > one 1 MiB block
    lines[35_000] = "r35000,52000,41\n"
    lines[36_000] = "r36000,lots,41,pro,true,2025-02-01\n"
    lines[39_000] = "\n"  # an empty line is a row of empty values
    source = tmp_path / "in.csv"
    source.write_text(HEADER + "".join(lines))
    result = predict_file(
        "credit",
        source,
        tmp_path / "out.parquet",
        project=sqlite_project,
        chunk_rows=7_000,
        on_error="skip",
    )
    assert (result.rows, result.scored, result.rejected) == (40_000, 39_997, 3)
    rejects = pq.read_table(result.rejects)
    assert rejects.column("row").to_pylist()[:3] == [35_000, 36_000, 39_000]
    assert rejects.column("column").to_pylist()[:3] == ["(row)", "income", "income"]
    ids = pq.read_table(result.output).column("id").to_pylist()
    assert ids[34_999:35_001] == ["r34999", "r35001"] and ids[-1] == "r39999"


def test_parquet_values_of_the_wrong_type_reject_their_rows(
    sqlite_project: Project, tmp_path: Path
) -> None:
    register(sqlite_project)
    good = customers(4, seed=2).select(["id", *FEATURES])
    texts = good.set_column(2, "age", pa.array(["41", None, "30", "52"]))
    result = predict_file(
        "credit",
        write(texts, tmp_path / "a.parquet"),
        tmp_path / "a-out.parquet",
        project=sqlite_project,
        on_error="skip",
    )
    assert (result.scored, result.rejected) == (0, 4)
    assert result.reasons == {
        "age: expected a number, got string": 3,
        f"age: {NULL_PROBLEM}": 1,
    }
    mixed = good.set_column(1, "income", pa.array([np.nan, None, 5e4, 6e4]))
    mixed = mixed.set_column(
        5, "opened", pa.array(["2025-01-02", "2025-01-02T03:04", "noon", None])
    )
    result = predict_file(
        "credit",
        write(mixed, tmp_path / "b.parquet"),
        tmp_path / "b-out.parquet",
        project=sqlite_project,
        on_error="skip",
    )
    rejects = pq.read_table(result.rejects).to_pylist()
    assert [(r["row"], r["column"], r["reason"], r["value"]) for r in rejects] == [
        (0, "income", NULL_PROBLEM, "nan"),
        (1, "income", NULL_PROBLEM, None),
        (2, "opened", "is not an ISO 8601 timestamp", "noon"),
        (3, "opened", NULL_PROBLEM, None),
    ]


def test_out_of_range_and_unseen_categories_are_flagged_or_refused(
    sqlite_project: Project, tmp_path: Path
) -> None:
    version = register(sqlite_project)
    table = customers(4, seed=3).select(["id", *FEATURES])
    table = table.set_column(1, "income", pa.array([1e12, 5e4, 1e12, 6e4]))
    table = table.set_column(3, "plan", pa.array(["platinum", "pro", "pro", "ünïcødé ☃"]))
    source = write(table, tmp_path / "odd.parquet")
    flagged = predict_file("credit", source, tmp_path / "flag.parquet", project=sqlite_project)
    out = pq.read_table(flagged.output)
    assert out.column("flags").to_pylist() == [
        "income:out_of_range;plan:unseen_category",
        None,
        "income:out_of_range",
        "plan:unseen_category",
    ]
    assert (flagged.scored, flagged.flagged) == (4, 3)
    expected = expected_scores(sqlite_project, version.ref, table)  # unseen: scored as unknown
    np.testing.assert_allclose(out.column("score").to_numpy(), expected, atol=1e-12)
    refused = predict_file(
        "credit",
        source,
        tmp_path / "refuse.csv",
        project=sqlite_project,
        out_of_range="refuse",
        on_error="skip",
    )
    income = next(c for c in version.signature["inputs"] if c["name"] == "income")
    rejects = pacsv.read_csv(refused.rejects).to_pylist()
    assert [(r["row"], r["column"], r["reason"]) for r in rejects] == [
        (0, "income", range_problem(income)),
        (2, "income", range_problem(income)),
    ]
    assert refused.rejects == tmp_path / "refuse.rejects.csv"
    nulls = pacsv.ConvertOptions(strings_can_be_null=True)  # CSV writes null as empty
    out = pacsv.read_csv(refused.output, convert_options=nulls)
    assert out.column("id").to_pylist() == [1, 3]
    assert out.column("flags").to_pylist() == [None, "plan:unseen_category"]


def test_unicode_values_and_column_names_pass_through(
    sqlite_project: Project, tmp_path: Path
) -> None:
    register(sqlite_project)
    text = (
        "名前,income,age,plan,paperless,opened,note\n"
        '"Zoë ☃",52000,41,pro,true,2025-02-01,"naïve, ""quoted"""\n'
        "李雷,48000,29,plan-ß,false,2025-02-02,😀\n"
    )
    source = tmp_path / "unicode.csv"
    source.write_text(text, encoding="utf-8")
    result = predict_file("credit", source, tmp_path / "out.parquet", project=sqlite_project)
    out = pq.read_table(result.output)
    assert out.column_names[:2] == ["名前", "note"]
    assert out.column("名前").to_pylist() == ["Zoë ☃", "李雷"]
    assert out.column("note").to_pylist() == ['naïve, "quoted"', "😀"]
    assert out.column("flags").to_pylist() == [None, "plan:unseen_category"]
    typed = customers(2).select(["id", *FEATURES])
    plans = pa.array(["pro", "plan-ß ☃"]).dictionary_encode()  # as pandas writes categoricals
    typed = typed.set_column(3, "plan", plans).append_column("名前", pa.array(["Zoë", "李雷"]))
    result = predict_file(
        "credit",
        write(typed, tmp_path / "u.parquet"),
        tmp_path / "u-out.parquet",
        project=sqlite_project,
    )
    out = pq.read_table(result.output)
    assert out.column("名前").to_pylist() == ["Zoë", "李雷"]
    assert out.column("flags").to_pylist() == [None, "plan:unseen_category"]


def test_missing_input_column_is_a_clear_error_and_writes_nothing(
    sqlite_project: Project, tmp_path: Path
) -> None:
    register(sqlite_project)
    source = write(customers(5).select(["id", "income", "plan", "opened"]), tmp_path / "in.parquet")
    with pytest.raises(DataError, match=r"lacks 2 input columns of credit@1: 'age', 'paperless'"):
        predict_file("credit", source, tmp_path / "out.parquet", project=sqlite_project)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "proj"]


def test_a_failure_midway_leaves_no_partial_output_and_keeps_the_old_one(
    sqlite_project: Project, tmp_path: Path
) -> None:
    register(sqlite_project)
    lines = [f"r{i},52000,41,pro,true,2025-02-01\n" for i in range(40_000)]
    source = tmp_path / "in.csv"
    source.write_bytes((HEADER + "".join(lines)).encode() + b"r,1,2,\xff\xfe,true,2025-02-01\n")
    output = tmp_path / "out.parquet"
    output.write_bytes(b"the previous run's output")
    with pytest.raises(SourceError, match="not valid UTF-8"):
        predict_file("credit", source, output, project=sqlite_project, chunk_rows=1000)
    assert output.read_bytes() == b"the previous run's output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.parquet", "proj"]


def test_empty_inputs(sqlite_project: Project, tmp_path: Path) -> None:
    register(sqlite_project)
    header_only = tmp_path / "header.csv"
    header_only.write_text(HEADER)
    no_rows = write(customers(3).select(["id", *FEATURES]).slice(0, 0), tmp_path / "none.parquet")
    for source in (header_only, no_rows):
        result = predict_file("credit", source, tmp_path / "out.parquet", project=sqlite_project)
        assert (result.rows, result.scored, result.rejected) == (0, 0, 0)
        out = pq.read_table(result.output)
        assert (out.num_rows, out.column_names) == (0, ["id", "prediction", "score", "flags"])
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match=r"empty \(0 bytes\)"):
        predict_file("credit", empty, tmp_path / "out.parquet", project=sqlite_project)


def test_model_reference_picks_the_champion_else_the_newest(
    sqlite_project: Project, tmp_path: Path
) -> None:
    register(sqlite_project)
    register(sqlite_project, champion=False)
    register(sqlite_project, name="draft", champion=False)
    register(sqlite_project, name="draft", champion=False)
    source = write(customers(3).select(FEATURES), tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    picks = [
        (r.model, r.chosen_by)
        for r in (
            predict_file(ref, source, out, project=sqlite_project)
            for ref in ("credit", "credit@2", "credit@champion", "credit@latest", "draft")
        )
    ]
    assert picks == [
        ("credit@1", "champion"),
        ("credit@2", "reference"),
        ("credit@1", "reference"),
        ("credit@2", "reference"),
        ("draft@2", "newest"),
    ]


def test_bad_paths_and_options_are_refused_up_front(
    sqlite_project: Project, tmp_path: Path
) -> None:
    register(sqlite_project)
    source = write(customers(3).select(FEATURES), tmp_path / "in.parquet")
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: predict_file("credit", source, source, project=sqlite_project), "different"),
        (
            lambda: predict_file("credit", source, tmp_path / "o.json", project=sqlite_project),
            "which format",
        ),
        (
            lambda: predict_file(
                "credit", source, tmp_path / "o.csv", project=sqlite_project, chunk_rows=0
            ),
            "chunk_rows",
        ),
    ]
    for call, words in cases:
        with pytest.raises(ConfigError, match=words):
            call()
    fake = tmp_path / "fake.parquet"
    fake.write_text("id,income\n1,2\n")
    with pytest.raises(SourceError, match="not a Parquet file"):
        predict_file("credit", fake, tmp_path / "o.parquet", project=sqlite_project)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.parquet", "in.parquet", "proj"]


def _cli_app() -> typer.Typer:
    """The real app once it has the predict command, else a minimal app around it."""
    if any(c.name == "predict" for c in forgeml.cli.app.registered_commands):
        return forgeml.cli.app
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.call_on_close(state(ctx).close)

    app.command("predict")(predict_command)
    return app


def test_cli_scores_reports_rejects_and_fails_only_when_nothing_scored(
    sqlite_project: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    register(sqlite_project)
    monkeypatch.setenv("FORGEML_PROJECT", str(sqlite_project.root))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(forgeml.cli, "app", _cli_app())  # main() runs whichever app it has
    source = tmp_path / "in.csv"
    source.write_text(BAD_CSV, encoding="utf-8")
    all_bad = tmp_path / "bad.csv"
    all_bad.write_text(HEADER + "r1,abc,41,pro,true,2025-02-01\n")

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["forgeml", "predict", *args])
        try:
            forgeml.cli.main()
            code = 0
        except SystemExit as done:
            code = int(done.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, err = run(
        "credit", "-i", str(source), "-o", str(tmp_path / "stop.csv"), "--chunk-rows", "4"
    )
    assert code == 1 and "row 1 of" in err and "column 'income' is not a number" in err
    assert "--on-error skip" in err and not (tmp_path / "stop.csv").exists()
    code, out, _ = run(
        "credit",
        "-i",
        str(source),
        "-o",
        str(tmp_path / "out.csv"),
        "--chunk-rows",
        "4",
        "--on-error",
        "skip",
    )
    assert code == 0, out
    assert "credit@1 (the champion): scored 3 of 9 rows" in out
    assert "6 rows skipped (rows 1, 2, 3, 4, 5, 7)" in out and "out.rejects.csv" in out
    assert "income: is not a number" in out
    assert pacsv.read_csv(tmp_path / "out.rejects.csv").num_rows == 7
    code, out, _ = run(
        "credit@1",
        "-i",
        str(all_bad),
        "-o",
        str(tmp_path / "bad.parquet"),
        "--rejects",
        str(tmp_path / "why.parquet"),
        "--on-error",
        "skip",
    )
    assert code == 1
    assert "every row was rejected" in out
    assert pq.read_table(tmp_path / "why.parquet").column("row").to_pylist() == [0]
    dropped = tmp_path / "dropped.parquet"
    write(customers(3).select(["income", "age", "plan", "paperless"]), dropped)
    code, out, err = run("credit", "-i", str(dropped), "-o", str(tmp_path / "x.parquet"))
    assert code == 1 and "lacks 1 input column" in err and "'opened'" in err
    assert not (tmp_path / "x.parquet").exists()
    code, _, err = run(
        "credit", "-i", str(source), "-o", str(tmp_path / "y.csv"), "--out-of-range", "ignore"
    )
    assert code == 2 and "ignore" in err


CHILD = """
import json, resource, sys
import pyarrow as pa
from forgeml.serve.batch import predict_file
# the libraries a stored model loads with (imported lazily): their code is not the scoring's
import scipy.sparse, skops.io, sklearn.pipeline, lightgbm

def peak():  # bytes; /proc's high-water mark starts afresh in a new program, ru_maxrss may not
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def measure(name):
    out[name] = peak()
    out[name + "_arrow"] = pa.default_memory_pool().max_memory()  # most Arrow ever held

small, large, output, project = sys.argv[1:]
out = {}
measure("before")
predict_file("credit", small, output, project=project, chunk_rows=50_000)
measure("small")
result = predict_file("credit", large, output, project=project, chunk_rows=50_000)
measure("large")
print(json.dumps({**out, "rows": result.rows, "scored": result.scored}))
"""
NOTES = [
    f"note {i}: " + "the customer called about the invoice and the plan. " * 6 for i in range(64)
]


def _piece(start: int, rows: int) -> pa.Table:
    """Rows ``start`` to ``start + rows`` of a large input file (vectorised: no Python loops)."""
    rng = np.random.default_rng(start)
    hours = rng.integers(0, 4000, rows).astype("timedelta64[h]")
    return pa.table(
        {
            "id": pa.array(np.arange(start, start + rows), pa.int64()),
            "income": rng.lognormal(10.5, 0.4, rows),
            "age": rng.integers(18, 80, rows),
            "plan": pa.array(PLANS).take(pa.array(rng.integers(0, len(PLANS), rows))),
            "paperless": rng.random(rows) < 0.5,
            "opened": pa.array(np.datetime64("2025-01-01", "us") + hours, pa.timestamp("us")),
            "note": pa.array(NOTES).take(pa.array(rng.integers(0, len(NOTES), rows))),
        }
    )


def _write_large(path: Path, rows: int, step: int = 250_000) -> int:
    """A Parquet file written in pieces; returns its size as Arrow columns in memory."""
    size = 0
    with pq.ParquetWriter(path, _piece(0, 1).schema) as writer:
        for start in range(0, rows, step):
            piece = _piece(start, min(step, rows - start))
            writer.write_table(piece)
            size += piece.nbytes
    return size


@pytest.mark.slow
def test_memory_stays_bounded_whatever_the_file_size(
    sqlite_project: Project, tmp_path: Path
) -> None:
    register(sqlite_project)
    small_size = _write_large(tmp_path / "small.parquet", 200_000)
    large_size = _write_large(tmp_path / "large.parquet", 2_000_000)
    paths = [tmp_path / "small.parquet", tmp_path / "large.parquet", tmp_path / "out.parquet"]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, paths), str(sqlite_project.root)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    child = json.loads(done.stdout.strip().splitlines()[-1])
    assert (child["rows"], child["scored"]) == (2_000_000, 2_000_000)
    mib = 1 << 20
    grown = child["large"] - child["before"]
    report = (
        f"2M-row file as Arrow columns: {large_size / mib:.0f} MiB "
        f"(200k-row file: {small_size / mib:.0f} MiB); peak RSS growth while scoring: "
        f"{(child['small'] - child['before']) / mib:.0f} MiB for the 200k rows, "
        f"{grown / mib:.0f} MiB after the 2M rows too; most Arrow memory held at once: "
        f"{child['small_arrow'] / mib:.0f} MiB, then {child['large_arrow'] / mib:.0f} MiB"
    )
    print(report)
    assert grown < 0.4 * large_size, report  # far less than loading the file would take
    # Ten times the rows, nearly the same peak: memory follows the chunk, not the file. The
    # allocators' free lists and arenas wander by a few chunks' worth (30-70 MiB seen), while
    # holding the extra rows would take all of the 630 MiB between the two files.
    assert child["large"] - child["small"] < (large_size - small_size) / 4, report
    assert child["large_arrow"] - child["small_arrow"] < 16 * mib, report
    assert child["large_arrow"] < large_size / 8, report
