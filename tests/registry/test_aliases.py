"""Aliases move atomically with their audit row; rollback walks back through the history."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from forgeml.errors import ConfigError, ForgemlError, NotFound
from forgeml.project import Project
from forgeml.registry import (
    ModelBundle,
    history,
    model_version,
    promote,
    register_model,
    rollback,
    save_bundle,
)


@pytest.fixture
def credit(project: Project, sklearn_bundle: ModelBundle) -> Project:
    """A project whose model 'credit' has versions 1 to 4."""
    bundle_id = save_bundle(sklearn_bundle, project.artifacts)
    for auc in (0.70, 0.75, 0.80, 0.85):
        register_model(
            "credit", bundle_id, signature={}, metrics={"auc": auc}, lineage={}, project=project
        )
    return project


def _champion(project: Project) -> int:
    return model_version("credit@champion", project=project).version


def test_promote_moves_the_alias_and_records_who_when_why_and_the_gate(credit: Project) -> None:
    first = promote("credit@1", reason="first model", project=credit)
    assert (first.model, first.alias, first.action) == ("credit", "champion", "promote")
    assert (first.from_version, first.to_version) == (None, 1)
    assert "@" in first.actor and first.reason == "first model" and first.gate is None

    gate = {"passed": True, "checks": [{"name": "auc", "value": 0.8, "champion": float("nan")}]}
    second = promote("credit@3", reason="auc +0.1", actor="ci@build", gate=gate, project=credit)
    assert (second.from_version, second.to_version, second.actor) == (1, 3, "ci@build")
    assert second.gate == {
        "passed": True,
        "checks": [{"name": "auc", "value": 0.8, "champion": None}],  # NaN is stored as None
    }
    assert _champion(credit) == 3
    assert model_version("credit@3", project=credit).aliases == ["champion"]
    assert model_version("credit@1", project=credit).aliases == []
    assert history("credit", project=credit) == [second, first]


def test_promoting_the_current_holder_changes_nothing_and_records_nothing(
    credit: Project,
) -> None:
    event = promote("credit@2", reason="first", project=credit)
    again = promote("credit@2", reason="retry after a crash", actor="someone", project=credit)
    assert again == event
    assert len(history("credit", project=credit)) == 1


def test_promote_accepts_an_alias_or_the_newest_version_as_the_target(credit: Project) -> None:
    promote("credit@2", alias="challenger", reason="shadow it", project=credit)
    event = promote("credit@challenger", reason="challenger won", project=credit)
    assert event.to_version == 2 and _champion(credit) == 2
    assert promote("credit", reason="newest", project=credit).to_version == 4


def test_rollback_walks_back_through_the_history(credit: Project) -> None:
    for version in (1, 2, 3):
        promote(f"credit@{version}", reason=f"release {version}", project=credit)

    back = rollback("credit", reason="error rate doubled", actor="oncall", project=credit)
    assert (back.action, back.from_version, back.to_version) == ("rollback", 3, 2)
    assert (back.actor, back.reason) == ("oncall", "error rate doubled")
    assert _champion(credit) == 2
    assert rollback("credit", project=credit).to_version == 1
    with pytest.raises(NotFound, match="no earlier version to roll back to"):
        rollback("credit", project=credit)
    assert _champion(credit) == 1

    actions = [(e.action, e.from_version, e.to_version) for e in history("credit", project=credit)]
    assert actions == [
        ("rollback", 2, 1),
        ("rollback", 3, 2),
        ("promote", 2, 3),
        ("promote", 1, 2),
        ("promote", None, 1),
    ]


def test_rollback_after_a_new_promotion_returns_to_the_version_before_it(
    credit: Project,
) -> None:
    promote("credit@1", reason="v1", project=credit)
    promote("credit@2", reason="v2", project=credit)
    rollback("credit", project=credit)  # back to 1
    promote("credit@4", reason="v4", project=credit)
    assert rollback("credit", project=credit).to_version == 1
    promote("credit@2", reason="v2 again", project=credit)
    assert rollback("credit", project=credit).to_version == 1


def test_aliases_roll_back_independently(credit: Project) -> None:
    promote("credit@1", reason="v1", project=credit)
    promote("credit@2", reason="v2", project=credit)
    promote("credit@3", alias="challenger", reason="try 3", project=credit)
    promote("credit@4", alias="challenger", reason="try 4", project=credit)
    event = rollback("credit", alias="challenger", project=credit)
    assert (event.alias, event.to_version) == ("challenger", 3)
    assert _champion(credit) == 2
    assert [e.to_version for e in history("credit", alias="champion", project=credit)] == [2, 1]


def test_rollback_needs_an_alias_with_a_past(credit: Project) -> None:
    with pytest.raises(NotFound, match="has no alias 'champion'"):
        rollback("credit", project=credit)
    promote("credit@1", reason="v1", project=credit)
    with pytest.raises(NotFound, match="it is on @1, and no other version held it before"):
        rollback("credit", project=credit)
    with pytest.raises(NotFound, match=r"(?s)has no alias 'challenger'.*champion \(@1\)"):
        rollback("credit", alias="challenger", project=credit)
    with pytest.raises(NotFound, match="no model named 'churn'"):
        rollback("churn", project=credit)
    assert len(history("credit", project=credit)) == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_promotion_needs_a_reason(credit: Project, reason: str) -> None:
    with pytest.raises(ConfigError, match="needs a reason"):
        promote("credit@1", reason=reason, project=credit)
    assert history("credit", project=credit) == []


def test_invalid_aliases_are_refused(credit: Project) -> None:
    cases = {
        "42": "all digits",
        "latest": "already means the newest version",
        "Champion": "breaks the naming rule",
        "-x": "breaks the naming rule",
        "a" * 101: "breaks the naming rule",
    }
    for alias, why in cases.items():
        with pytest.raises(ConfigError, match=why):
            promote("credit@1", alias=alias, reason="test", project=credit)
    assert history("credit", project=credit) == []


def test_a_failed_gate_blocks_the_promotion(credit: Project) -> None:
    with pytest.raises(ForgemlError, match="failed its gate"):
        promote("credit@2", reason="try", gate={"passed": False}, project=credit)
    assert history("credit", project=credit) == []


def test_history_filters_by_alias_and_explains_unknown_ones(credit: Project) -> None:
    assert history("credit", project=credit) == []
    promote("credit@1", reason="v1", project=credit)
    promote("credit@2", alias="challenger", reason="try 2", project=credit)
    assert [e.alias for e in history("credit", project=credit)] == ["challenger", "champion"]
    assert [e.alias for e in history("credit", alias="challenger", project=credit)] == [
        "challenger"
    ]
    with pytest.raises(NotFound, match=r"did you mean 'champion'\?"):
        history("credit", alias="champio", project=credit)


def test_concurrent_promotions_form_one_unbroken_chain(credit: Project) -> None:
    _ = credit.store  # open the store once, before the threads share it
    targets = [1, 2, 3, 4] * 4
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        list(pool.map(lambda v: promote(f"credit@{v}", reason=f"to {v}", project=credit), targets))
    events = list(reversed(history("credit", project=credit)))
    assert events[0].from_version is None
    for before, after in itertools.pairwise(events):
        assert after.from_version == before.to_version != after.to_version
    assert _champion(credit) == events[-1].to_version
