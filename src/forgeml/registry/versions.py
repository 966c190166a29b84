"""Model versions: register a bundle under a name, look versions up, load them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from forgeml.errors import ConfigError
from forgeml.project import ProjectLike, resolve_project, who
from forgeml.registry.bundle import ModelBundle, load_bundle, read_manifest, save_bundle
from forgeml.registry.documents import finite_document, json_document
from forgeml.registry.refs import check_model_name, parse_model_ref
from forgeml.store import registry as queries
from forgeml.store import runs as run_queries
from forgeml.store.models import ModelVersionRecord
from forgeml.store.registry import ModelSummary

__all__ = [
    "ModelSummary",
    "ModelVersion",
    "list_models",
    "load_model",
    "model_version",
    "register_model",
    "versions",
]

VERSION_ALIASES = 1000  # the aliases a looked-up version reports, so a lookup stays one small read


@dataclass(frozen=True)
class ModelVersion:
    """One registered, immutable model version and the aliases that point at it now."""

    name: str
    version: int
    flavor: str
    artifact_sha256: str  # the bundle manifest's sha256
    signature: dict[str, Any]
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    card_sha256: str | None
    run_id: str | None
    created_by: str
    created_at: datetime
    aliases: list[str]

    @property
    def ref(self) -> str:
        """``name@version``, the reference every command accepts."""
        return f"{self.name}@{self.version}"

    def __repr__(self) -> str:
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"<ModelVersion {self.ref}{aliases} {self.flavor}, {self.created_at:%Y-%m-%d %H:%M}>"

    @classmethod
    def from_record(
        cls, record: ModelVersionRecord, name: str, held: Mapping[str, int]
    ) -> ModelVersion:
        return cls(
            name=name,
            version=record.version,
            flavor=record.flavor,
            artifact_sha256=record.artifact_sha256,
            signature=record.signature,
            metrics=record.metrics,
            lineage=record.lineage,
            card_sha256=record.card_sha256,
            run_id=record.run_id,
            created_by=record.created_by,
            created_at=record.created_at,
            aliases=sorted(a for a, v in held.items() if v == record.version),
        )


def register_model(
    name: str,
    bundle: ModelBundle | str,
    *,
    signature: Mapping[str, Any],
    metrics: Mapping[str, Any],
    lineage: Mapping[str, Any],
    run_id: str | None = None,
    card_html: bytes | None = None,
    project: ProjectLike = None,
) -> ModelVersion:
    """Register ``bundle`` as the next version of model ``name`` (created on first use).

    ``bundle`` is a :class:`ModelBundle` (saved here) or the id of a saved one. The
    ``signature`` (the inputs the model expects), ``metrics`` (NaN and infinity are
    recorded as None) and ``lineage`` (dataset ref, run id, ...) are stored as JSON;
    ``card_html`` is stored as an artifact. Concurrent registrations of one model get
    consecutive version numbers. The stored bundle is loaded back and must predict on
    example rows (:mod:`forgeml.registry.model_check`), else ModelCannotPredict is raised
    and no version is recorded.

    >>> import tempfile
    >>> from sklearn.linear_model import LogisticRegression
    >>> from forgeml import Project
    >>> project = Project.init(tempfile.mkdtemp(), name="docs")
    >>> bundle = ModelBundle("sklearn", LogisticRegression().fit([[0], [1]], [0, 1]), {})
    >>> first = register_model("credit", bundle, signature={"inputs": ["x"]},
    ...                        metrics={"auc": 0.5}, lineage={}, project=project)
    >>> second = register_model("credit", first.artifact_sha256, signature={"inputs": ["x"]},
    ...                         metrics={"auc": 0.5}, lineage={}, project=project)
    >>> first.ref, second.ref, model_version("credit", project=project).version
    ('credit@1', 'credit@2', 2)
    >>> project.close()
    """
    from forgeml.registry.model_check import check_predicts  # numpy: only when registering

    found = resolve_project(project)
    check_model_name(name)
    signature_doc = json_document(signature, "signature")
    metrics_doc = finite_document(metrics, "metrics")
    lineage_doc = json_document(lineage, "lineage")
    if isinstance(bundle, ModelBundle):
        if bundle.flavor == "sklearn":  # an unfitted estimator stores nothing at all
            check_predicts(bundle, signature_doc, f"model {name!r}")
        bundle_sha = save_bundle(bundle, found.artifacts)
    elif isinstance(bundle, str):
        bundle_sha = bundle
    else:
        raise ConfigError(
            f"bundle must be a ModelBundle or a bundle id, not a {type(bundle).__name__}",
            fix="pass ModelBundle(flavor, estimator, features) or the id save_bundle() returned",
        )
    manifest = read_manifest(bundle_sha, found.artifacts)
    stored = load_bundle(bundle_sha, found.artifacts)  # what a server will load, checked
    check_predicts(stored, signature_doc, f"model {name!r} (bundle {bundle_sha[:12]})")
    artifacts = [(bundle_sha, found.artifacts.size(bundle_sha), "model/bundle")]
    artifacts += [
        (sha, found.artifacts.size(sha), "model/part") for sha in manifest["parts"].values()
    ]
    card_sha = None
    if card_html is not None:
        card_sha = found.artifacts.put_bytes(bytes(card_html))
        artifacts.append((card_sha, len(card_html), "model/card"))
    with found.store.write() as session:
        if run_id is not None:
            run_id = run_queries.get_run(session, run_id).id  # NotFound, not a key error
        record = queries.add_version(
            session,
            name=name,
            flavor=manifest["flavor"],
            artifact_sha256=bundle_sha,
            signature=signature_doc,
            metrics=metrics_doc,
            lineage=lineage_doc,
            card_sha256=card_sha,
            run_id=run_id,
            created_by=who(),
            artifacts=artifacts,
        )
        return ModelVersion.from_record(record, name, {})


def model_version(ref: str, *, project: ProjectLike = None) -> ModelVersion:
    """Look up ``name@3``, ``name@champion`` (an alias), or ``name`` / ``name@latest``."""
    name, selector = parse_model_ref(ref)
    with resolve_project(project).store.read() as session:
        return _lookup(session, name, selector)


def _lookup(session: Session, name: str, selector: int | str | None) -> ModelVersion:
    model = queries.get_model(session, name)
    record = queries.get_version(session, model, selector)
    held = queries.aliases(session, model.id, version=record.version, limit=VERSION_ALIASES)
    return ModelVersion.from_record(record, name, held)


def versions(name: str, *, project: ProjectLike = None) -> list[ModelVersion]:
    """Every version of model ``name``, oldest first."""
    check_model_name(name)
    with resolve_project(project).store.read() as session:
        model = queries.get_model(session, name)
        held = queries.aliases(session, model.id)
        return [
            ModelVersion.from_record(r, name, held) for r in queries.list_versions(session, model)
        ]


def list_models(*, project: ProjectLike = None) -> list[ModelSummary]:
    """Every model with its number of versions, latest version and aliases."""
    with resolve_project(project).store.read() as session:
        return queries.list_models(session)


def load_model(ref: str, *, project: ProjectLike = None) -> tuple[ModelVersion, ModelBundle]:
    """The model version ``ref`` and its bundle, loaded after every hash is verified."""
    found = resolve_project(project)
    version = model_version(ref, project=found)
    return version, load_bundle(version.artifact_sha256, found.artifacts)
