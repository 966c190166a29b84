"""'forgeml init' writes a template of every spec section that is valid once uncommented."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from forgeml.config import SPEC_FILE, Spec
from forgeml.project import Project

SECTIONS = (
    "store",
    "datasets",
    "train",
    "gate",
    "monitor",
    "policy",
    "serve",
    "entities",
    "feature_views",
    "on_demand_views",
    "feature_services",
    "pipelines",
)
# A commented-out spec line: a key, or an item of a list, after '# '.
SPEC_LINE = re.compile(r"^# (?=\s*[a-z_]+:|\s+- )")


def _uncommented(text: str) -> str:
    return "\n".join(SPEC_LINE.sub("", line) for line in text.splitlines())


def test_init_writes_every_section_commented_and_valid_once_uncommented(
    sqlite_project: Project,
) -> None:
    text = (sqlite_project.root / SPEC_FILE).read_text()
    for section in SECTIONS:
        assert f"\n# {section}:\n" in text, section
    assert yaml.safe_load(text) == {"project": "test"}  # all of it is commented out

    document = yaml.safe_load(_uncommented(text))
    assert set(document) == {"project", *SECTIONS}
    spec = Spec.model_validate(document)
    assert spec.train.target == "defaulted" and spec.gate.metrics["roc_auc"].min == 0.75
    assert spec.policy.rollout.mode == "canary" and spec.monitor.window == "1d"
    assert spec.serve.passthrough == ["customer_id"] and spec.serve.feedback_origins == []
    nightly = spec.pipelines["nightly"]
    assert list(nightly.steps) == ["ingest", "train", "gate", "register", "score"]
    assert nightly.steps["score"].uses == "predict" and nightly.steps["register"].retries == 2


def test_init_ignores_the_state_folder_in_git_once(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc\n")
    for _ in range(2):
        Project.init(tmp_path, name="p").close()
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[0] == "*.pyc" and lines.count(".forgeml/") == 1
