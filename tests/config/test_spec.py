"""forgeml.yaml errors name the key path, the line, what was found and the nearest key."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgeml.config import Settings, Spec, load_spec, parse_spec
from forgeml.errors import ConfigError


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_spec(text)
    return str(info.value)


def test_typo_suggests_the_nearest_key_with_its_line() -> None:
    message = _error("project: x\ndatasets:\n  credit:\n    validaton:\n      rows: {min: 1}\n")
    assert "datasets.credit.validaton (line 4): unknown key; did you mean 'validation'?" in message


def test_typo_at_top_level() -> None:
    assert "did you mean 'datasets'?" in _error("datasetz: {}\n")


def test_unrelated_key_lists_what_is_valid() -> None:
    assert "expected one of project, store, datasets, train, gate" in _error("zzzqqq: 1\n")


def test_wrong_type_says_what_it_got() -> None:
    message = _error("datasets:\n  d:\n    validation:\n      columns:\n        age: {min: old}\n")
    assert "datasets.d.validation.columns.age.min (line 5)" in message
    assert "'old'" in message


def test_unknown_column_type_lists_the_choices() -> None:
    message = _error(
        "datasets:\n  d:\n    validation:\n      columns:\n        a: {type: integr}\n"
    )
    assert "'integer'" in message and "'integr'" in message


def test_min_above_max_is_refused() -> None:
    assert "min (5.0) is greater than max (1.0)" in _error(
        "datasets:\n  d:\n    validation:\n      columns:\n        a: {min: 5, max: 1}\n"
    )


def test_yaml_syntax_error_has_line_and_column() -> None:
    assert "not valid YAML at line 2" in _error("project: x\n  bad: [\n")


def test_top_level_must_be_a_mapping() -> None:
    assert "must be a mapping" in _error("- a\n- b\n")


def test_empty_spec_is_all_defaults() -> None:
    spec = parse_spec("")
    assert spec == Spec()
    assert spec.dataset("anything").validation.rows.min == 1


def test_environment_wins_over_spec_wins_over_default(tmp_path: Path) -> None:
    spec = parse_spec("store: {db_url: 'sqlite:///from-spec.db'}\n")
    assert Settings.resolve(tmp_path, spec, env={}).db_url == f"sqlite:///{tmp_path}/from-spec.db"
    env = {"FORGEML_DB_URL": "postgresql+psycopg://u@h/db", "FORGEML_ARTIFACTS_URL": "memory://a"}
    settings = Settings.resolve(tmp_path, spec, env=env)
    assert (settings.db_url, settings.artifacts_url) == (env["FORGEML_DB_URL"], "memory://a")
    default = Settings.resolve(tmp_path, Spec(), env={})
    assert default.db_url == f"sqlite:///{tmp_path / '.forgeml' / 'forgeml.db'}"
    assert default.artifacts_url == str(tmp_path / ".forgeml" / "artifacts")


def test_relative_store_locations_belong_to_the_project(tmp_path: Path) -> None:
    spec = parse_spec("store: {db_url: 'sqlite:///meta/forgeml.db', artifacts_url: blobs}\n")
    settings = Settings.resolve(tmp_path, spec, env={})
    assert settings.db_url == f"sqlite:///{tmp_path / 'meta' / 'forgeml.db'}"
    assert settings.artifacts_url == str(tmp_path / "blobs")
    urls = Settings.resolve(tmp_path, parse_spec("store: {artifacts_url: 's3://b/p'}\n"), env={})
    assert urls.artifacts_url == "s3://b/p"


def test_a_key_written_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    text = "project: x\ntrain:\n  target: churned\n  seed: 3\n  target: status\n"
    message = _error(text)
    assert "key 'train.target' twice in the same mapping, at line 3 and line 5" in message
    nested = _error(
        "datasets:\n  d:\n    validation:\n      columns:\n        a: {min: 1, min: 2}\n"
    )
    assert "'datasets.d.validation.columns.a.min' twice" in nested and "line 5 and line 5" in nested
    path = tmp_path / "forgeml.yaml"
    path.write_text("project: a\ngate: {}\nproject: b\n")
    with pytest.raises(ConfigError, match=f"{path} has the key 'project' twice.*line 1 and line 3"):
        load_spec(path)


def test_the_same_key_in_different_mappings_and_merges_are_fine() -> None:
    spec = parse_spec(
        "train:\n  split: {method: random}\n  budget: {time: 5m}\ngate: {min_rows: 1}\n"
    )
    assert spec.train.split.method == "random" and spec.gate.min_rows == 1
    merged = parse_spec(
        "datasets:\n"
        "  a: &rules\n    validation: {rows: {min: 5}}\n"
        "  b:\n    <<: *rules\n    validation: {rows: {min: 7}}\n"  # explicit beats merged
    )
    assert merged.dataset("a").validation.rows.min == 5
    assert merged.dataset("b").validation.rows.min == 7


def test_expected_cost_without_costs_fails_at_spec_validation() -> None:
    message = _error("train:\n  target: y\n  metric: expected_cost\n")
    assert "train (line 1): metric 'expected_cost' needs train.costs" in message
    assert "false_negative" in message  # the fix shows what to add
    spec = parse_spec("train:\n  metric: expected_cost\n  costs: {false_negative: 5}\n")
    assert spec.train.costs is not None and spec.train.costs.false_negative == 5


@pytest.mark.parametrize(
    "text",
    [
        "project: x\ndatasets: " + "[" * 5000 + "]" * 5000 + "\n",
        "project: x\n" + "".join(" " * i + f"k{i}:\n" for i in range(5000)),
    ],
    ids=["flow", "block"],
)
def test_absurdly_deep_nesting_is_a_clear_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(ConfigError, match="more than 64 levels deep") as info:
        parse_spec(text)
    assert "(at line " in info.value.message and info.value.fix
