"""Rollouts: a challenger version in shadow or canary beside the alias's version.

- **shadow**: the challenger scores every request too; its predictions are logged (arm
  ``shadow``) and never returned.
- **canary**: a ``share`` of requests is answered by the challenger (arm ``canary``). With a
  ``key`` the split is sticky: the same value of that input (or of the ``X-Routing-Key``
  header) always goes to the same arm.

A model has at most one active rollout. It is a row in the metadata store, so every server
process (and a retraining loop on another machine) sees the same one; starting and ending
it are audited with who, when and why. Servers pick a change up within their reload
interval, or at once through ``POST /admin/rollout``.

>>> Rollout(1, "credit", "canary", 3, 0.1, "customer_id", "", "").describe()
'canary of credit@3 on 10% of requests, sticky by customer_id'
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass
from typing import Literal, get_args

from forgeml.errors import ConfigError, ForgemlError
from forgeml.project import ProjectLike, resolve_project, who
from forgeml.registry.refs import check_model_name, parse_model_ref
from forgeml.store import registry as queries
from forgeml.store import rollouts as rows
from forgeml.store.models import RolloutRecord

__all__ = [
    "MODES",
    "OUTCOMES",
    "Mode",
    "Rollout",
    "active_rollout",
    "end_rollout",
    "rollout_history",
    "start_rollout",
]

Mode = Literal["shadow", "canary"]
MODES: tuple[str, ...] = get_args(Mode)
OUTCOMES = ("stopped", "promoted", "rolled_back")


@dataclass(frozen=True)
class Rollout:
    """One rollout of ``model@version``; ``status`` is active until it ends."""

    id: int
    model: str
    mode: str
    version: int
    share: float
    key: str | None
    started_by: str
    reason: str
    status: str = "active"
    ended_by: str | None = None
    end_reason: str | None = None

    def describe(self) -> str:
        if self.mode == "shadow":
            return f"shadow of {self.model}@{self.version}"
        sticky = f", sticky by {self.key}" if self.key else ""
        return f"canary of {self.model}@{self.version} on {self.share:.0%} of requests{sticky}"

    def takes(self, key: str | None) -> bool:
        """Whether a canary sends this request to the challenger (sticky when keyed)."""
        if key is None:
            return random.random() < self.share
        return zlib.crc32(key.encode("utf-8", "surrogatepass")) / 0x1_0000_0000 < self.share

    @classmethod
    def from_record(cls, record: RolloutRecord, model: str, version: int) -> Rollout:
        return cls(
            id=record.id,
            model=model,
            mode=record.mode,
            version=version,
            share=record.share,
            key=record.sticky_key,
            started_by=record.started_by,
            reason=record.reason,
            status=record.status,
            ended_by=record.ended_by,
            end_reason=record.end_reason,
        )


def start_rollout(
    ref: str,
    *,
    mode: str,
    share: float = 0.1,
    key: str | None = None,
    reason: str,
    actor: str | None = None,
    project: ProjectLike = None,
) -> Rollout:
    """Put the version ``ref`` names in shadow or canary for its model.

    Starting the rollout that is already active changes nothing (so a retried command or
    policy is harmless); a different active rollout must be ended first.
    """
    if mode not in MODES:
        raise ConfigError(
            f"rollout mode '{mode}' is unknown", fix=f"use one of: {', '.join(MODES)}"
        )
    if mode == "canary" and not (isinstance(share, int | float) and 0 < share < 1):
        raise ConfigError(
            f"a canary's share must be between 0 and 1 (exclusive), not {share!r}",
            fix="send e.g. 0.1 for 10% of requests",
        )
    if not math.isfinite(float(share)):
        raise ConfigError("a rollout's share must be a finite number", fix="use e.g. 0.1")
    _check_reason(reason, f"a rollout of {ref}")
    name, selector = parse_model_ref(ref)
    found = resolve_project(project)
    with found.store.write() as session:
        model = queries.get_model(session, name, lock=True)
        target = queries.get_version(session, model, selector)
        if queries.aliases(session, model.id).get("champion") == target.version:
            raise ConfigError(
                f"{name}@{target.version} is the champion already; a rollout needs a challenger",
                fix=f"register or name another version of '{name}'",
            )
        current = rows.active(session, model.id)
        wanted = (mode, target.id, float(share) if mode == "canary" else 0.0, key)
        if current is not None:
            held = (current.mode, current.model_version_id, current.share, current.sticky_key)
            if held == wanted:
                return Rollout.from_record(current, name, target.version)
            running = queries.version_number(session, current.model_version_id)
            raise ForgemlError(
                f"model '{name}' already has a {current.mode} of @{running} running",
                fix=f"end it first: 'forgeml rollout stop {name} --reason TEXT'",
            )
        record = rows.add(
            session,
            model_id=model.id,
            model_version_id=target.id,
            mode=mode,
            share=wanted[2],
            sticky_key=key,
            started_by=actor or who(),
            reason=reason.strip(),
        )
        return Rollout.from_record(record, name, target.version)


def end_rollout(
    name: str,
    *,
    outcome: str = "stopped",
    reason: str,
    actor: str | None = None,
    project: ProjectLike = None,
) -> Rollout | None:
    """End the model's active rollout with ``outcome``; None when none is active.

    The outcome is recorded only: promoting the challenger is ``forgeml promote``'s job
    (``forgeml rollout stop --promote`` does both).
    """
    check_model_name(name)
    if outcome not in OUTCOMES:
        raise ConfigError(
            f"rollout outcome '{outcome}' is unknown", fix=f"use one of: {', '.join(OUTCOMES)}"
        )
    _check_reason(reason, f"ending the rollout of '{name}'")
    found = resolve_project(project)
    with found.store.write() as session:
        model = queries.get_model(session, name, lock=True)
        current = rows.active(session, model.id)
        if current is None:
            return None
        rows.end(session, current, status=outcome, actor=actor or who(), reason=reason.strip())
        number = queries.version_number(session, current.model_version_id)
        return Rollout.from_record(current, name, number)


def active_rollout(project: ProjectLike, name: str) -> Rollout | None:
    """The model's active rollout, or None."""
    found = resolve_project(project)
    with found.store.read() as session:
        model = queries.get_model(session, name)
        current = rows.active(session, model.id)
        if current is None:
            return None
        return Rollout.from_record(
            current, name, queries.version_number(session, current.model_version_id)
        )


def rollout_history(name: str, *, project: ProjectLike = None) -> list[Rollout]:
    """Every rollout of the model, newest first."""
    found = resolve_project(project)
    with found.store.read() as session:
        model = queries.get_model(session, name)
        return [
            Rollout.from_record(r, name, queries.version_number(session, r.model_version_id))
            for r in rows.history(session, model.id)
        ]


def _check_reason(reason: str, what: str) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(
            f"{what} needs a reason", fix="say why in a few words, e.g. --reason 'auc +0.02'"
        )
