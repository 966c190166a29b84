"""Aliases: movable names on model versions, moved by promotion and rollback, all audited.

Each move happens in one write transaction together with its audit row, with the model's
row locked, so concurrent moves of one model's aliases queue and never interleave.

>>> import tempfile
>>> from sklearn.linear_model import LogisticRegression
>>> from forgeml import Project
>>> from forgeml.registry import ModelBundle, register_model
>>> project = Project.init(tempfile.mkdtemp(), name="docs")
>>> bundle = ModelBundle("sklearn", LogisticRegression().fit([[0], [1]], [0, 1]), {})
>>> for _ in range(2):
...     _ = register_model("credit", bundle, signature={}, metrics={}, lineage={},
...                        project=project)
>>> promote("credit@1", reason="first model", project=project).to_version
1
>>> promote("credit@2", reason="better auc", project=project).from_version
1
>>> event = rollback("credit", project=project)
>>> event.action, event.from_version, event.to_version
('rollback', 2, 1)
>>> [e.action for e in history("credit", project=project)]
['rollback', 'promote', 'promote']
>>> project.close()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from forgeml.errors import ConfigError, ForgemlError, NotFound
from forgeml.project import Project, ProjectLike, resolve_project, who
from forgeml.registry.bundle import load_bundle
from forgeml.registry.documents import finite_document
from forgeml.registry.refs import check_alias, check_model_name, parse_model_ref
from forgeml.store import registry as queries
from forgeml.store.models import AliasEventRecord, ModelRecord, ModelVersionRecord

__all__ = ["AliasEvent", "history", "promote", "rollback"]


@dataclass(frozen=True)
class AliasEvent:
    """One audited move of an alias: who moved it, when, why, and what the gate said."""

    model: str
    alias: str
    action: str  # "promote" | "rollback"
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str
    gate: dict[str, Any] | None
    created_at: datetime

    @classmethod
    def from_record(cls, record: AliasEventRecord, model: str) -> AliasEvent:
        return cls(
            model=model,
            alias=record.alias,
            action=record.action,
            from_version=record.from_version,
            to_version=record.to_version,
            actor=record.actor,
            reason=record.reason,
            gate=record.gate,
            created_at=record.created_at,
        )


def promote(
    ref: str,
    *,
    alias: str = "champion",
    reason: str,
    actor: str | None = None,
    gate: Mapping[str, Any] | None = None,
    project: ProjectLike = None,
) -> AliasEvent:
    """Move ``alias`` to the version ``ref`` names, and record who, when, why and the gate.

    ``ref`` may be ``name@N``, ``name`` (the newest version) or another alias such as
    ``name@challenger``. ``reason`` must say why. ``actor`` defaults to ``user@host``.
    ``gate`` is the result of the checks that cleared the candidate, stored with the
    audit row (NaN recorded as None); a gate result whose ``passed`` is False is refused.

    The version is loaded as a server would load it and must predict on example rows
    (:mod:`forgeml.registry.model_check`); if it cannot, ModelCannotPredict is raised and
    the alias stays where it was.

    Promoting the version that already holds the alias changes nothing and records no
    audit row: it returns the event that last moved the alias there, so a promotion that
    is retried (after a crash, or by a policy that runs again) is harmless.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(
            f"promoting {ref} needs a reason",
            fix="say why in a few words, e.g. --reason 'auc +0.02 on credit@7'",
        )
    check_alias(alias)
    name, selector = parse_model_ref(ref)
    gate_doc = None if gate is None else finite_document(gate, "gate")
    if gate_doc is not None and gate_doc.get("passed") is False:
        raise ForgemlError(
            f"{ref} failed its gate, so it was not promoted to '{alias}'",
            fix="look at the gate's failed checks; promote only a candidate that passes",
        )
    found = resolve_project(project)
    with found.store.write() as session:
        model = queries.get_model(session, name, lock=True)
        target = queries.get_version(session, model, selector)
        current = queries.aliases(session, model.id).get(alias)
        if current == target.version:
            events = queries.alias_events(session, model, alias)
            if events:
                return AliasEvent.from_record(events[-1], name)
        _check_predicts(found, name, target)
        return _move(
            session, model, name, alias, "promote", current, target, actor, reason, gate_doc
        )


def rollback(
    name: str,
    *,
    alias: str = "champion",
    reason: str = "rollback",
    actor: str | None = None,
    project: ProjectLike = None,
) -> AliasEvent:
    """Move ``alias`` back to the version that held it before the current one.

    The alias's audit trail is replayed (each promotion pushes its version, each rollback
    pops one), so repeated rollbacks walk back through the alias's history. The move is
    recorded as a ``rollback`` event. Raises NotFound when the alias has no earlier holder.
    """
    check_model_name(name)
    check_alias(alias)
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(
            f"rolling back {name}@{alias} needs a reason",
            fix="say why in a few words, e.g. --reason 'error rate doubled'",
        )
    found = resolve_project(project)
    with found.store.write() as session:
        model = queries.get_model(session, name, lock=True)
        current = queries.aliases(session, model.id).get(alias)
        if current is None:
            raise queries.alias_not_found(session, model, alias)
        held = _holders(queries.alias_events(session, model, alias))
        if len(held) < 2:
            raise NotFound(
                f"alias '{alias}' of model '{name}' has no earlier version to roll back to "
                f"(it is on @{current}, and no other version held it before)",
                fix=f"promote the version you want instead: 'forgeml promote {name}@N "
                f"--alias {alias} --reason TEXT'",
            )
        target = queries.get_version(session, model, held[-2])
        _check_predicts(found, name, target)
        return _move(session, model, name, alias, "rollback", current, target, actor, reason, None)


def _check_predicts(found: Project, name: str, target: ModelVersionRecord) -> None:
    """Load the version's bundle as a server would, and refuse it if it cannot predict."""
    bundle = load_bundle(target.artifact_sha256, found.artifacts)
    from forgeml.registry.model_check import check_predicts  # numpy: only when promoting

    check_predicts(bundle, target.signature, f"{name}@{target.version}")


def _move(
    session: Session,
    model: ModelRecord,
    name: str,
    alias: str,
    action: str,
    current: int | None,
    target: ModelVersionRecord,
    actor: str | None,
    reason: str,
    gate: dict[str, Any] | None,
) -> AliasEvent:
    """Point ``alias`` at ``target`` and record the move, in the caller's transaction."""
    queries.set_alias(session, model, alias, target)
    record = queries.add_alias_event(
        session,
        model,
        alias,
        action=action,
        from_version=current,
        to_version=target.version,
        actor=actor or who(),
        reason=reason.strip(),
        gate=gate,
    )
    return AliasEvent.from_record(record, name)


def _holders(events: list[AliasEventRecord]) -> list[int]:
    """The alias's holders as a stack, oldest first, replayed from its events."""
    stack: list[int] = []
    for event in events:
        if event.action == "promote" and event.to_version is not None:
            stack.append(event.to_version)
        elif event.action == "rollback" and stack:
            stack.pop()
    return stack


def history(
    name: str, *, alias: str | None = None, project: ProjectLike = None
) -> list[AliasEvent]:
    """Every alias move of model ``name`` (or only of ``alias``), newest first.

    Raises NotFound for an unknown model, or an alias that has never been moved.
    """
    check_model_name(name)
    if alias is not None:
        check_alias(alias)
    with resolve_project(project).store.read() as session:
        model = queries.get_model(session, name)
        events = queries.alias_events(session, model, alias)
        if alias is not None and not events:
            raise queries.alias_not_found(session, model, alias)
        return [AliasEvent.from_record(e, name) for e in reversed(events)]
