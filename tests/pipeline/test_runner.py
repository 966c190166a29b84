"""Running pipelines of user steps: caching by inputs, retries, failures, --from and --only."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import pytest

from forgeml.errors import ConfigError, NotFound
from forgeml.pipeline import Pipeline, Step, run_pipeline
from forgeml.project import Project
from forgeml.store import pipelines as queries

STEPS = textwrap.dedent(
    '''
    """Steps that log each call to calls.log, so a test sees which ones really ran."""
    from pathlib import Path


    def _log(ctx):
        with (ctx.project.root / "calls.log").open("a") as f:
            f.write(ctx.step + "\\n")


    def load(ctx):
        _log(ctx)
        return {"n": int(Path(ctx.project.root / "input.txt").read_text())}


    def double(ctx):
        _log(ctx)
        return {"n": ctx.find("n") * int(ctx.params.get("factor", 2))}


    def report(ctx):
        _log(ctx)
        return {"text": f"n={ctx.find('n')}"}


    def flaky(ctx):
        _log(ctx)
        marker = ctx.project.root / "fail.txt"
        if marker.exists():
            left = int(marker.read_text())
            if left > 0:
                marker.write_text(str(left - 1))
                raise RuntimeError("database went away")
        return {"ok": True}


    def not_json(ctx):
        return {"when": object()}
    '''
)


@pytest.fixture
def proj(sqlite_project: Project) -> Project:
    (sqlite_project.root / "usersteps.py").write_text(STEPS)
    (sqlite_project.root / "input.txt").write_text("3")
    return sqlite_project


def _pipeline(factor: int = 2, *, retries: int = 0) -> Pipeline:
    return Pipeline(
        "demo",
        [
            Step("load", uses="usersteps:load", params={"inputs": ["input.txt"]}),
            Step("double", uses="usersteps:double", after=["load"], params={"factor": factor}),
            Step("side", uses="usersteps:flaky", after=["load"], retries=retries, backoff=0.0),
            Step("report", uses="usersteps:report", after=["double", "side"]),
        ],
    )


def _calls(project: Project) -> list[str]:
    log = project.root / "calls.log"
    calls = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return calls


def test_an_unchanged_pipeline_reuses_every_step_and_records_it(proj: Project) -> None:
    first = run_pipeline(_pipeline(), project=proj)
    assert first.status == "succeeded"
    assert _calls(proj) == ["load", "double", "side", "report"]
    assert first.step("report").outputs == {"text": "n=6"}

    said: list[str] = []
    again = run_pipeline(_pipeline(), project=proj, progress=said.append)
    assert again.status == "succeeded" and again.executed == [] and len(again.cached) == 4
    assert _calls(proj) == []
    assert any("reused the result of run " + first.id[:8] in line for line in said)
    with proj.store.read() as session:
        row = queries.get_run(session, again.id)
        assert [(s.step, s.status) for s in row.steps] == [
            ("load", "cached"),
            ("double", "cached"),
            ("side", "cached"),
            ("report", "cached"),
        ]
        assert row.steps[3].outputs == {"text": "n=6"} and row.status == "succeeded"
        assert row.steps[1].inputs["params"] == {"factor": 2}
        assert row.steps[1].cache_key == first.step("double").cache_key


def test_a_changed_input_reruns_only_the_steps_that_depend_on_it(proj: Project) -> None:
    run_pipeline(_pipeline(), project=proj)
    _calls(proj)
    changed = run_pipeline(_pipeline(factor=5), project=proj)
    assert _calls(proj) == ["double", "report"]
    assert changed.step("report").outputs == {"text": "n=15"}
    assert sorted(changed.cached) == ["load", "side"]

    (proj.root / "usersteps.py").write_text(STEPS + "\n# a comment changes the code version\n")
    recoded = run_pipeline(_pipeline(factor=5), project=proj)
    assert _calls(proj) == ["load", "double", "side", "report"]  # all user steps: new code
    assert recoded.status == "succeeded"


def test_retries_then_failure_keeps_upstream_cached_and_skips_dependants(proj: Project) -> None:
    (proj.root / "fail.txt").write_text("1")
    retried = run_pipeline(_pipeline(retries=2), project=proj)
    assert retried.status == "succeeded" and retried.step("side").attempts == 2

    (proj.root / "fail.txt").write_text("5")
    (proj.root / "input.txt").write_text("4")
    _calls(proj)
    failed = run_pipeline(_pipeline(retries=1), project=proj)
    assert failed.status == "failed"
    side = failed.step("side")
    assert side.status == "failed" and side.attempts == 2
    assert "RuntimeError: database went away" in (side.error or "")
    assert failed.step("report").status == "skipped"
    assert failed.step("double").status == "succeeded"
    with proj.store.read() as session:
        assert queries.get_run(session, failed.id).status == "failed"

    (proj.root / "fail.txt").unlink()
    _calls(proj)
    fixed = run_pipeline(_pipeline(retries=1), project=proj)
    assert fixed.status == "succeeded"
    assert _calls(proj) == ["side", "report"]  # load and double come from the failed run


def test_from_reruns_a_step_and_its_dependants_only_runs_one(proj: Project) -> None:
    run_pipeline(_pipeline(), project=proj)
    _calls(proj)
    run_pipeline(_pipeline(), project=proj, from_step="double")
    assert _calls(proj) == ["double", "report"]
    run_pipeline(_pipeline(), project=proj, only="side", force=True)
    assert _calls(proj) == ["side"]
    run_pipeline(_pipeline(), project=proj, only="side")  # stored and not forced: reused
    assert _calls(proj) == []


def test_only_needs_the_upstream_results_stored(proj: Project) -> None:
    with pytest.raises(NotFound, match="step 'load' of pipeline 'demo' has no stored result"):
        run_pipeline(_pipeline(), project=proj, only="double")
    with pytest.raises(ConfigError, match="either --from or --only"):
        run_pipeline(_pipeline(), project=proj, only="double", from_step="load")
    with pytest.raises(NotFound, match="has no step 'nope'"):
        run_pipeline(_pipeline(), project=proj, from_step="nope")


def test_outputs_that_are_not_json_fail_the_step_clearly(proj: Project) -> None:
    run = run_pipeline(Pipeline("bad", [Step("x", uses="usersteps:not_json")]), project=proj)
    assert run.status == "failed"
    assert "returned outputs that are not JSON" in (run.step("x").error or "")


def test_declared_pipelines_are_checked(proj: Project) -> None:
    with pytest.raises(ConfigError, match="depend on each other in a cycle"):
        Pipeline("c", [Step("a", after=["b"]), Step("b", after=["a"])])
    with pytest.raises(ConfigError, match="runs after 'missing'"):
        Pipeline("c", [Step("a", after=["missing"])])
    with pytest.raises(ConfigError, match="not a valid name"):
        Pipeline("c", [Step("../etc")])
    run = run_pipeline(Pipeline("u", [Step("x", uses="os.path:nothing_here")]), project=proj)
    assert "module 'os.path' has no 'nothing_here'" in (run.step("x").error or "")
    run = run_pipeline(Pipeline("u", [Step("x", uses="rm -rf /")]), project=proj)
    assert "neither a built-in step nor a function" in (run.step("x").error or "")


def test_a_pipeline_in_forgeml_yaml_runs_from_the_cli(proj: Project, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from forgeml.cli import app

    spec = proj.root / "forgeml.yaml"
    spec.write_text(
        spec.read_text()
        + textwrap.dedent(
            """
            pipelines:
              demo:
                steps:
                  load: {uses: "usersteps:load", params: {inputs: [input.txt]}}
                  double: {uses: "usersteps:double", after: [load], params: {factor: 3}}
            """
        )
    )
    cli = CliRunner()
    args = ["--project", str(proj.root), "pipeline"]
    first = cli.invoke(app, [*args, "run", "demo"])
    assert first.exit_code == 0, first.output
    assert "2 steps ran, 0 reused" in first.output
    second = cli.invoke(app, [*args, "run", "demo"])
    assert "0 steps ran, 2 reused from the cache" in second.output
    listed = cli.invoke(app, [*args, "runs"])
    assert listed.exit_code == 0 and listed.output.count("demo") == 2
    run_id = second.output.rsplit("(run ", 1)[1][:8]
    shown = cli.invoke(app, [*args, "show", run_id, "--json"])
    document = json.loads(shown.output)
    assert [s["status"] for s in document["steps"]] == ["cached", "cached"]
    assert document["steps"][1]["outputs"] == {"n": 9}
    names = cli.invoke(app, [*args, "list"])
    assert "demo" in names.output and "retrain" in names.output
    step = cli.invoke(app, [*args, "step", "demo", "double", "--force"])
    assert step.exit_code == 0 and "1 step ran" in step.output
    missing = cli.invoke(app, [*args, "run", "nope"])
    assert missing.exit_code != 0


def test_a_cache_hit_never_imports_the_step_module_and_helpers_version_it(
    proj: Project,
) -> None:
    (proj.root / "helpers").mkdir()
    (proj.root / "helpers" / "__init__.py").write_text("")
    (proj.root / "helpers" / "rates.py").write_text("RATE = 2\n")
    (proj.root / "priced.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path

            from helpers.rates import RATE

            with Path(__file__).with_name("imported.log").open("a") as log:
                log.write("imported\\n")


            def price(ctx):
                return {"price": 10 * RATE}
            """
        )
    )
    pipeline = Pipeline("p", [Step("price", uses="priced:price")])
    imported = proj.root / "imported.log"
    assert run_pipeline(pipeline, project=proj).step("price").outputs == {"price": 20}
    assert imported.read_text().split() == ["imported"]

    again = run_pipeline(pipeline, project=proj)
    assert again.cached == ["price"] and imported.read_text().split() == ["imported"]

    (proj.root / "helpers" / "rates.py").write_text("RATE = 3\n")  # only the helper changes
    changed = run_pipeline(pipeline, project=proj)
    assert changed.executed == ["price"] and changed.step("price").outputs == {"price": 30}

    (proj.root / "priced.py").write_text("def price(ctx) return 1\n")
    broken = run_pipeline(pipeline, project=proj)
    assert broken.status == "failed"
    assert "is not valid Python" in (broken.step("price").error or "")


def test_an_input_touched_keeps_the_cache_and_one_rewritten_behind_its_stat_does_not(
    proj: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forgeml.pipeline import file_hashes

    monkeypatch.setattr(file_hashes, "RACY_S", -1.0)  # remember hashes of fresh files too
    data = proj.root / "input.txt"
    before = data.stat()
    assert run_pipeline(_pipeline(), project=proj).status == "succeeded"
    assert (proj.state_dir / file_hashes.FILE_NAME).is_file()
    _calls(proj)

    os.utime(data)  # touched: a new mtime, the same bytes
    touched = run_pipeline(_pipeline(), project=proj)
    assert touched.executed == [] and _calls(proj) == []

    time.sleep(0.05)  # past the file system's timestamp tick
    data.write_text("4")  # the same size, and the old mtime put back
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
    rewritten = run_pipeline(_pipeline(), project=proj)
    assert _calls(proj) == ["load", "double", "side", "report"]
    assert rewritten.step("report").outputs == {"text": "n=8"}
