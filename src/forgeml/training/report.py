"""``forgeml report``: the model card of a registered version, as one offline HTML file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from forgeml.project import ProjectLike, resolve_project
from forgeml.registry import ModelVersion, model_version
from forgeml.training.card import render_card
from forgeml.training.tracking import get_run
from forgeml.training.trainer import CARD_CONTEXT

__all__ = ["model_card", "registered_context", "write_report"]


def model_card(ref: str, *, project: ProjectLike = None) -> str:
    """The HTML card of ``ref``, rendered from what its training run recorded."""
    found = resolve_project(project)
    version = model_version(ref, project=found)
    if version.run_id:
        run = get_run(version.run_id, project=found)
        if CARD_CONTEXT in run.artifacts:
            context = json.loads(found.artifacts.get_bytes(run.artifacts[CARD_CONTEXT]))
            context["model"]["version"] = version.version
            context["model"]["aliases"] = version.aliases
            return render_card(context)
    if version.card_sha256:
        return found.artifacts.get_bytes(version.card_sha256).decode("utf-8")
    return render_card(registered_context(version))


def registered_context(version: ModelVersion) -> dict[str, Any]:
    """What a card can say of a version that no forgeml training run describes (one logged
    from the user's own code, or imported): its task, classes, target, lineage, metrics."""
    signature, lineage = version.signature, version.lineage
    metrics = version.metrics.get("test", version.metrics)
    flat = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
    return {
        "model": {
            "name": version.name,
            "version": version.version,
            "flavor": version.flavor,
            "aliases": version.aliases,
            "task": signature.get("task"),
            "target": signature.get("target"),
            "classes": signature.get("classes"),
        },
        "metrics": {"test": flat},
        "dataset": {"ref": lineage.get("dataset")} if lineage.get("dataset") else {},
        "lineage": {
            "dataset": lineage.get("dataset"),
            "run_id": version.run_id,
            "created_by": lineage.get("logged_by") or version.created_by,
            "created_at": f"{version.created_at:%Y-%m-%d %H:%M} UTC",
        },
    }


def write_report(
    ref: str, output: str | Path | None = None, *, project: ProjectLike = None
) -> Path:
    """Write the card of ``ref`` to ``output`` (default ``NAME-vN.html``); returns the path."""
    found = resolve_project(project)
    version = model_version(ref, project=found)
    path = Path(output) if output else Path(f"{version.name}-v{version.version}.html")
    html = model_card(version.ref, project=found)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
