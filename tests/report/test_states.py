"""States recorded by the loop, rollouts and the registry read as sentences."""

from __future__ import annotations

from forgeml.report.states import alias_sentence, cycle_sentence, rollout_sentence


def test_every_cycle_status_is_a_sentence_with_its_reason() -> None:
    why = "the challenger failed its gate: no labels from after the drift yet"
    assert cycle_sentence("kept", "done", {"reason": why}) == f"the champion stays: {why}"
    assert cycle_sentence("promoted", "done", {"challenger": 3}) == "v3 became the champion"
    assert cycle_sentence("running", "train", {}) == "still running, at the train step"
    rolled_back = cycle_sentence("rolled_back", "done", {"challenger": 5, "reason": "worse"})
    assert rolled_back == "v5 was rolled back, the champion stays: worse"
    for status in ("running", "rolling_out", "promoted", "kept", "rolled_back"):
        assert "_" not in cycle_sentence(status, "data", {})


def test_rollout_and_alias_words_are_sentences() -> None:
    for status in ("active", "promoted", "rolled_back", "stopped"):
        assert "_" not in rollout_sentence(status) and " " in rollout_sentence(status)
    assert alias_sentence("promote") == "promoted"
    assert alias_sentence("rollback") == "rolled back to the previous version"
