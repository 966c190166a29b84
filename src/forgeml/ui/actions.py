"""The UI's actions: promote, roll back, start or stop a rollout.

Each needs the admin key the UI was started with, an explicit confirmation and a reason,
and goes through the same functions as the CLI, so the audit trail records it the same way (the
actor says it came from the web UI).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from forgeml.errors import ConfigError, ForgemlError
from forgeml.project import Project, who
from forgeml.registry.aliases import promote, rollback
from forgeml.serve.rollout import end_rollout, start_rollout

__all__ = ["ACTIONS", "ActionRefused", "run_action"]

ACTIONS = ("promote", "rollback", "rollout-start", "rollout-stop")


class ActionRefused(ForgemlError):
    """The action was refused before anything changed (no key, wrong key, not confirmed)."""

    def __init__(self, status: int, message: str, *, fix: str) -> None:
        super().__init__(message, fix=fix)
        self.status = status


def check_allowed(admin_key: str | None, form: Mapping[str, str]) -> None:
    """Refuse unless the UI has an admin key, the form carries it, and the user confirmed."""
    if not admin_key:
        raise ActionRefused(
            403,
            "actions are disabled: this UI was started without an admin key",
            fix="start 'forgeml ui' with FORGEML_ADMIN_KEY set to enable them",
        )
    given = form.get("admin_key", "")
    if not hmac.compare_digest(given.encode(), admin_key.encode()):
        raise ActionRefused(401, "the admin key is missing or wrong", fix="enter the admin key")
    if form.get("confirm") != "yes":
        raise ActionRefused(
            400, "the action was not confirmed", fix="tick the confirmation box, then submit"
        )


def run_action(
    project: Project, model: str, action: str, form: Mapping[str, str], admin_key: str | None
) -> str:
    """Do ``action`` on ``model``; returns what was done, in words."""
    check_allowed(admin_key, form)
    reason = form.get("reason", "").strip()
    if not reason:
        raise ConfigError("a reason is required", fix="say why, e.g. 'better auc on May data'")
    actor = f"web-ui:{who()}"
    alias = form.get("alias", "champion").strip() or "champion"
    if action == "promote":
        number = _version(form)
        event = promote(
            f"{model}@{number}", alias=alias, reason=reason, actor=actor, project=project
        )
        return f"{alias} is now on version {event.to_version}"
    if action == "rollback":
        event = rollback(model, alias=alias, reason=reason, actor=actor, project=project)
        return f"{alias} rolled back from version {event.from_version} to {event.to_version}"
    if action == "rollout-start":
        number = _version(form)
        mode = form.get("mode", "shadow")
        try:
            share = float(form.get("share", "0.1") or 0.1)
        except ValueError:
            raise ConfigError("share must be a number between 0 and 1", fix="e.g. 0.1") from None
        start_rollout(
            f"{model}@{number}", mode=mode, share=share, reason=reason, actor=actor, project=project
        )
        return f"version {number} is in {mode}"
    if action == "rollout-stop":
        ended = end_rollout(model, outcome="stopped", reason=reason, actor=actor, project=project)
        return "the rollout was stopped" if ended is not None else "no rollout was active"
    raise ConfigError(f"unknown action {action!r}", fix="use " + ", ".join(ACTIONS))


def _version(form: Mapping[str, str]) -> int:
    raw = form.get("version", "").strip()
    if not raw.isdigit():
        raise ConfigError("a version number is required", fix="choose a version, e.g. 3")
    return int(raw)
