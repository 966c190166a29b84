"""Trusting a model version's code: the one, audited exception to "nothing stored runs code".

A few formats can hold Python code that runs when the model loads: a Keras ``Lambda``
layer (its function as bytecode) and a legacy Keras ``.h5`` file. forgeml refuses them by
default. A user who knows where such a model comes from can admit it, per version and
with a reason, through :func:`trust_code` (``forgeml.load_model(..., trust_code=True)``,
``forgeml serve --trust-code``, ``forgeml gate --trust-code``,
``forgeml.log_model(..., trust_code=True)``). Each grant
is an audit row (who, when, which version, why, what it admitted), and it holds for this
process only: a bundle is trusted by its sha256, never by anything stored with it.

The same audit trail records, through :func:`record_trust`, trust that was used once and
holds nothing afterwards: a pickle read by ``forgeml import mlflow --trust-pickle``
(action ``import``), whose model is stored in a safe format on the way in.

The flag never admits pickle, nor a Keras config naming a module outside Keras
(``os.system``) or a custom object: those stay refused.

>>> import tempfile
>>> from sklearn.linear_model import LogisticRegression
>>> from forgeml import Project
>>> from forgeml.registry import ModelBundle, register_model
>>> project = Project.init(tempfile.mkdtemp(), name="docs")
>>> bundle = ModelBundle("sklearn", LogisticRegression().fit([[0], [1]], [0, 1]), {})
>>> version = register_model("plain", bundle, signature={}, metrics={}, lineage={},
...                          project=project)
>>> event = trust_code("plain@1", reason="reviewed by the ML team", project=project)
>>> event.ref, event.action, event.admitted
('plain@1', 'load', [])
>>> [e.reason for e in trust_history("plain", project=project)]
['reviewed by the ML team']
>>> project.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from forgeml.errors import ConfigError

__all__ = [
    "TrustEvent",
    "code_in_version",
    "grant",
    "in_trusted_block",
    "is_trusted",
    "record_trust",
    "trust_code",
    "trust_history",
    "trusting",
]

Action = Literal["log", "load", "serve", "gate", "import"]
_ACTIONS = ("log", "load", "serve", "gate", "import")

_granted: set[str] = set()  # bundle ids trusted in this process
_scope: ContextVar[bool] = ContextVar("forgeml_trusting_code", default=False)


@dataclass(frozen=True)
class TrustEvent:
    """One audited grant: who trusted which version's code, when, why, and what it holds."""

    model: str
    version: int
    action: str  # log | load | serve | gate | import
    admitted: list[str]
    actor: str
    reason: str
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.version}"


def is_trusted(bundle_sha256: str) -> bool:
    """Whether loads in this process may admit code in the bundle ``bundle_sha256``."""
    return _scope.get() or bundle_sha256 in _granted


def in_trusted_block() -> bool:
    """Whether this code runs inside :func:`trusting` (a version being logged with trust)."""
    return _scope.get()


def grant(bundle_ids: Iterable[str]) -> None:
    """Trust these bundles in this process (a server worker, after the grant was audited)."""
    _granted.update(bundle_ids)


@contextmanager
def trusting(enabled: bool = True) -> Iterator[None]:
    """Admit code in every bundle saved or loaded in this block (while a version is logged)."""
    token = _scope.set(enabled or _scope.get())
    try:
        yield
    finally:
        _scope.reset(token)


def check_reason(reason: Any, what: str) -> str:
    """The reason, stripped; a ConfigError saying how to give one when it is empty."""
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(
            f"trusting the code in {what} needs a reason, which the audit trail records",
            fix="say why in a few words, e.g. reason='Lambda layer written by our team, "
            "reviewed in PR 42' (--trust-reason on the command line)",
        )
    return reason.strip()


def trust_code(
    ref: str,
    *,
    reason: str,
    action: Action = "load",
    actor: str | None = None,
    project: Any = None,
) -> TrustEvent:
    """Admit the code model version ``ref`` holds for loads in this process, and audit it.

    ``reason`` says why (required). Raises UntrustedModel when the version holds code
    that is never admitted (a Keras config naming ``os.system``, a pickle).
    """
    event, sha = _audit(ref, reason, action, None, actor, project)
    grant([sha])
    return event


def record_trust(
    ref: str,
    *,
    reason: str,
    action: Action,
    admitted: list[str],
    actor: str | None = None,
    project: Any = None,
) -> TrustEvent:
    """Record that ``admitted`` was trusted for model version ``ref``; nothing is granted.

    For trust used once, before the version existed (a pickle read on import, its model
    stored in a safe format): the audit row is all that remains of it.
    """
    return _audit(ref, reason, action, list(admitted), actor, project)[0]


def _audit(
    ref: str,
    reason: str,
    action: str,
    admitted: list[str] | None,
    actor: str | None,
    project: Any,
) -> tuple[TrustEvent, str]:
    """Write one audit row; ``admitted`` None: what the stored version holds that runs code."""
    from forgeml.project import resolve_project, who
    from forgeml.registry.refs import parse_model_ref
    from forgeml.store import registry as queries
    from forgeml.store.models import CodeTrustRecord

    why = check_reason(reason, ref)
    if action not in _ACTIONS:
        raise ConfigError(
            f"unknown trust action {action!r}", fix=f"use one of: {', '.join(_ACTIONS)}"
        )
    found = resolve_project(project)
    name, selector = parse_model_ref(ref)
    with found.store.write() as session:
        record = queries.get_version(session, queries.get_model(session, name), selector)
        if admitted is None:
            admitted = code_in_version(record.artifact_sha256, found.artifacts)
        row = CodeTrustRecord(
            model_version_id=record.id,
            action=action,
            admitted=admitted,
            actor=actor or who(),
            reason=why,
        )
        session.add(row)
        session.flush()
        event = TrustEvent(name, record.version, action, admitted, row.actor, why, row.created_at)
        return event, record.artifact_sha256


def trust_history(name: str, *, project: Any = None) -> list[TrustEvent]:
    """Every grant of trust to a version of model ``name``, oldest first."""
    from sqlalchemy import select

    from forgeml.project import resolve_project
    from forgeml.store import registry as queries
    from forgeml.store.models import CodeTrustRecord, ModelVersionRecord

    found = resolve_project(project)
    with found.store.read() as session:
        model = queries.get_model(session, name)
        rows = session.execute(
            select(CodeTrustRecord, ModelVersionRecord.version)
            .join(ModelVersionRecord, ModelVersionRecord.id == CodeTrustRecord.model_version_id)
            .where(ModelVersionRecord.model_id == model.id)
            .order_by(CodeTrustRecord.id)
        ).all()
        return [
            TrustEvent(name, version, r.action, list(r.admitted), r.actor, r.reason, r.created_at)
            for r, version in rows
        ]


def code_in_version(bundle_sha256: str, artifacts: Any) -> list[str]:
    """What in a stored bundle runs Python code when it loads ([] for most models)."""
    from forgeml.registry.bundle import read_manifest

    manifest = read_manifest(bundle_sha256, artifacts)
    if manifest["flavor"] != "keras":
        return []
    from forgeml.flavors.keras_flavor import code_in

    return code_in(artifacts.get_bytes(manifest["parts"]["model"]))
