"""Prediction log segments: the index of a model's logged predictions and feedback labels.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from forgeml.store.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_segments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("first_time", UTCDateTime(), nullable=False),
        sa.Column("last_time", UTCDateTime(), nullable=False),
        sa.Column("writer", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["artifact_sha256"],
            ["artifacts.sha256"],
            name=op.f("fk_prediction_segments_artifact_sha256_artifacts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_segments")),
        sa.UniqueConstraint(
            "model", "kind", "artifact_sha256", name="uq_prediction_segments_artifact"
        ),
    )
    op.create_index(
        "ix_prediction_segments_model_kind_last",
        "prediction_segments",
        ["model", "kind", "last_time"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_prediction_segments_model_kind_last", table_name="prediction_segments")
    op.drop_table("prediction_segments")
