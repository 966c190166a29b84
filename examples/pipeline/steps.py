"""A user step: ``uses: "steps:summarise"`` (modules in the project folder are importable)."""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq

from forgeml.pipeline import StepContext


def summarise(ctx: StepContext) -> dict[str, Any]:
    """Count the scored rows at or above ``threshold``; the outputs are JSON values."""
    scores = pq.read_table(ctx.find("output"), columns=["score"]).column("score").to_pylist()
    threshold = float(ctx.params.get("threshold", 0.5))
    flagged = sum(1 for s in scores if s is not None and s >= threshold)
    ctx.say(f"{flagged} of {len(scores)} applications score {threshold} or more")
    return {"rows": len(scores), "flagged": flagged}
