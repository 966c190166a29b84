"""Tables of the metadata store. Schema changes go through a migration in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine

__all__ = [
    "AlertRecord",
    "AliasEventRecord",
    "AliasRecord",
    "ArtifactRecord",
    "Base",
    "CycleRecord",
    "DatasetRecord",
    "DatasetVersionRecord",
    "LeaseRecord",
    "MetricRecord",
    "ModelRecord",
    "ModelVersionRecord",
    "MonitorWindowRecord",
    "PipelineRunRecord",
    "PipelineStepRecord",
    "PredictionSegmentRecord",
    "RolloutRecord",
    "RunArtifactRecord",
    "RunRecord",
    "utcnow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class JSONDocument(TypeDecorator[Any]):
    """JSON, stored as JSONB on PostgreSQL. Its dialect is imported only when a PostgreSQL
    store is used, which keeps opening a SQLite store cheap."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


JSONDoc = JSONDocument()


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps stored in forgeml must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ArtifactRecord(Base):
    """A blob in the artifact store, by the sha256 of its bytes."""

    __tablename__ = "artifacts"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DatasetRecord(Base):
    """A named series of dataset versions."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    versions: Mapped[list[DatasetVersionRecord]] = relationship(
        back_populates="dataset", order_by="DatasetVersionRecord.version"
    )


class DatasetVersionRecord(Base):
    """One immutable, content-addressed version of a dataset."""

    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_number"),
        UniqueConstraint("dataset_id", "content_hash", name="uq_dataset_versions_content"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    artifact_sha256: Mapped[str] = mapped_column(ForeignKey("artifacts.sha256"))
    n_rows: Mapped[int] = mapped_column(BigInteger)
    n_columns: Mapped[int] = mapped_column(Integer)
    schema: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    profile: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    source: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    dataset: Mapped[DatasetRecord] = relationship(back_populates="versions")


class RunRecord(Base):
    """One training or evaluation job. Immutable once its status is finished or failed."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # train | evaluate | retrain
    status: Mapped[str] = mapped_column(String(16))  # running | finished | failed
    dataset_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="RESTRICT")
    )
    params: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    tags: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONDoc)  # last value of each metric
    code_version: Mapped[dict[str, Any]] = mapped_column(JSONDoc)  # commit, dirty, ...
    packages: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    host: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pid: Mapped[int | None] = mapped_column(Integer)  # the process running it, on ``host``
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last sign of life

    # newest-first listings page by (started_at, id) without sorting the table
    __table_args__ = (Index("ix_runs_started_id", "started_at", "id"),)


class MetricRecord(Base):
    """One logged metric point; runs append these in batches."""

    __tablename__ = "run_metrics"
    __table_args__ = (Index("ix_run_metrics_run_key_step", "run_id", "key", "step"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    step: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float | None] = mapped_column(Float)  # None for NaN or infinity
    logged_at: Mapped[float] = mapped_column(Float)  # unix seconds; cheap to batch


class RunArtifactRecord(Base):
    """A named artifact of a run, stored in the artifact store by its sha256."""

    __tablename__ = "run_artifacts"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    artifact_sha256: Mapped[str] = mapped_column(ForeignKey("artifacts.sha256"))


class ModelRecord(Base):
    """A named series of model versions."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ModelVersionRecord(Base):
    """A registered model: its artifact bundle, input signature, metrics and lineage."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_versions_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="RESTRICT"))
    flavor: Mapped[str] = mapped_column(String(64))  # lightgbm | xgboost | sklearn
    artifact_sha256: Mapped[str] = mapped_column(ForeignKey("artifacts.sha256"))
    signature: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    card_sha256: Mapped[str | None] = mapped_column(ForeignKey("artifacts.sha256"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AliasRecord(Base):
    """A movable name (champion, challenger, ...) on one version of a model."""

    __tablename__ = "model_aliases"

    model_id: Mapped[int] = mapped_column(
        ForeignKey("models.id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(String(100), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AliasEventRecord(Base):
    """The audit row of one alias move: who, when, why, from which version, gate result."""

    __tablename__ = "model_alias_events"
    __table_args__ = (Index("ix_model_alias_events_model_alias", "model_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))  # promote | rollback | remove
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    gate: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CodeTrustRecord(Base):
    """The audit row of one grant of trust to a model version's code (who, when, why)."""

    __tablename__ = "model_code_trust"
    __table_args__ = (Index("ix_model_code_trust_version", "model_version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    action: Mapped[str] = mapped_column(String(32))  # log | load | serve | gate | import
    admitted: Mapped[list[str]] = mapped_column(JSONDoc)  # e.g. ["Lambda layer (Python code)"]
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PredictionSegmentRecord(Base):
    """One Parquet segment of a model's prediction log or feedback labels.

    The segment's bytes are an artifact, written before this row; readers only see segments
    that have a row here, so a crash between the two leaves an unused blob and nothing torn.
    """

    __tablename__ = "prediction_segments"
    __table_args__ = (
        UniqueConstraint(
            "model", "kind", "artifact_sha256", name="uq_prediction_segments_artifact"
        ),
        Index("ix_prediction_segments_model_kind_last", "model", "kind", "last_time"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # predictions | feedback
    artifact_sha256: Mapped[str] = mapped_column(ForeignKey("artifacts.sha256"))
    rows: Mapped[int] = mapped_column(BigInteger)
    first_time: Mapped[datetime] = mapped_column(UTCDateTime())  # of the rows it holds
    last_time: Mapped[datetime] = mapped_column(UTCDateTime())
    writer: Mapped[str] = mapped_column(String(200))  # host:pid:token of the writing process
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RolloutRecord(Base):
    """A challenger version in shadow or canary for a model; at most one is active.

    The row is its own audit: who started it and why, who ended it, how and why.
    """

    __tablename__ = "rollouts"
    __table_args__ = (Index("ix_rollouts_model_status", "model_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    mode: Mapped[str] = mapped_column(String(16))  # shadow | canary
    share: Mapped[float] = mapped_column(Float)  # canary's share of requests; 0 for shadow
    sticky_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # active | stopped | promoted | rolled_back
    started_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_by: Mapped[str | None] = mapped_column(String(200))
    end_reason: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AlertRecord(Base):
    """A monitoring alert; ``key`` de-duplicates (one alert per model and key)."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("model", "key", name="uq_alerts_model_key"),
        Index("ix_alerts_model_created", "model", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(300))  # e.g. drift:2025-07:income
    kind: Mapped[str] = mapped_column(String(32))  # drift | performance | quality | loop
    severity: Mapped[str] = mapped_column(String(16))  # warning | critical
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class LeaseRecord(Base):
    """A named lease: one holder at a time until it expires (e.g. one retraining loop)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CycleRecord(Base):
    """One retraining cycle of a model, keyed so that a restarted cycle resumes, not repeats."""

    __tablename__ = "cycles"
    __table_args__ = (UniqueConstraint("model", "key", name="uq_cycles_model_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(300))
    trigger: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        String(32)
    )  # running | promoted | kept | rolled_back | failed
    stage: Mapped[str] = mapped_column(String(32))  # the last step completed
    details: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PipelineRunRecord(Base):
    """One run of a pipeline: which steps ran, which were reused from the cache, how it ended."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (Index("ix_pipeline_runs_pipeline_started", "pipeline", "started_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4 hex
    pipeline: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed
    executor: Mapped[str] = mapped_column(String(16))  # local | ray | orchestrator
    options: Mapped[dict[str, Any]] = mapped_column(JSONDoc)  # from / only / force
    created_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)

    steps: Mapped[list[PipelineStepRecord]] = relationship(
        back_populates="run", order_by="PipelineStepRecord.id", cascade="all, delete-orphan"
    )


class PipelineStepRecord(Base):
    """One step of a pipeline run; ``cache_key`` addresses its outputs by its inputs."""

    __tablename__ = "pipeline_steps"
    __table_args__ = (Index("ix_pipeline_steps_cache_key", "cache_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("pipeline_runs.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(64))
    uses: Mapped[str] = mapped_column(String(300))
    cache_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # succeeded, cached, failed, skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seconds: Mapped[float | None] = mapped_column(Float)

    run: Mapped[PipelineRunRecord] = relationship(back_populates="steps")


class MonitorWindowRecord(Base):
    """What monitoring found in one window of a model's traffic: drift, quality, performance.

    One row per model, version and window; monitoring the same window again replaces it.
    """

    __tablename__ = "monitor_windows"
    __table_args__ = (
        UniqueConstraint(
            "model", "version", "window_start", "window_end", name="uq_monitor_windows_window"
        ),
        Index("ix_monitor_windows_model_start", "model", "window_start"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    rows: Mapped[int] = mapped_column(BigInteger)
    drift_share: Mapped[float | None] = mapped_column(Float)  # None: too few rows to test
    drifted: Mapped[bool] = mapped_column(Boolean, default=False)
    features: Mapped[dict[str, Any]] = mapped_column(JSONDoc)  # column -> effect, drifted
    metric: Mapped[str] = mapped_column(String(64))
    metric_value: Mapped[float | None] = mapped_column(Float)
    labels: Mapped[int] = mapped_column(BigInteger)
    issues: Mapped[list[str]] = mapped_column(JSONDoc)  # data quality flags
    decayed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
