"""The states the loop, rollouts and the registry record, as sentences a user reads.

Used wherever a person reads them: the command line and the demo.

The stored words (``rolling_out``, ``kept``, ...) stay short and stable for scripts and
``--json``; people get what the state means and why it was reached.

>>> cycle_sentence("kept", "done", {"reason": "no new labelled rows"})
'the champion stays: no new labelled rows'
>>> cycle_sentence("rolling_out", "rollout", {"challenger": 4})
'v4 is being rolled out: it is promoted or rolled back once enough labelled predictions arrive'
>>> rollout_sentence("rolled_back"), alias_sentence("rollback")
('ended: the challenger was rolled back', 'rolled back to the previous version')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["alias_sentence", "cycle_sentence", "rollout_sentence"]

_ROLLOUT = {
    "active": "running: the challenger is getting traffic",
    "promoted": "ended: the challenger was promoted",
    "rolled_back": "ended: the challenger was rolled back",
    "stopped": "stopped by hand",
}


def cycle_sentence(status: str, stage: str, details: Mapping[str, Any]) -> str:
    """What a retraining cycle decided, or where it stands, with the recorded reason."""
    reason = str(details.get("reason") or "").strip()
    challenger = details.get("challenger")
    who = f"v{challenger}" if challenger else "the challenger"
    if status == "running":
        text = f"still running, at the {stage} step"
    elif status == "rolling_out":
        text = (
            f"{who} is being rolled out: it is promoted or rolled back once enough "
            "labelled predictions arrive"
        )
    elif status == "promoted":
        text = f"{who} became the champion"
    elif status == "kept":
        text = "the champion stays"
    elif status == "rolled_back":
        text = f"{who} was rolled back, the champion stays"
    else:
        text = status.replace("_", " ")
    return f"{text}: {reason}" if reason else text


def rollout_sentence(status: str) -> str:
    """A rollout's status as a sentence."""
    return _ROLLOUT.get(status, status.replace("_", " "))


def alias_sentence(action: str) -> str:
    """An alias move from the audit trail, in words."""
    if action == "promote":
        return "promoted"
    if action == "rollback":
        return "rolled back to the previous version"
    return action.replace("_", " ")
