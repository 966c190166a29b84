"""Monitoring windows kept in the store (for the web UI), and an index for paging runs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from forgeml.store.models import JSONDoc, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_windows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("drift_share", sa.Float(), nullable=True),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("features", JSONDoc, nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("metric_value", sa.Float(), nullable=True),
        sa.Column("labels", sa.BigInteger(), nullable=False),
        sa.Column("issues", JSONDoc, nullable=False),
        sa.Column("decayed", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_windows")),
        sa.UniqueConstraint(
            "model", "version", "window_start", "window_end", name="uq_monitor_windows_window"
        ),
    )
    op.create_index("ix_monitor_windows_model_start", "monitor_windows", ["model", "window_start"])
    op.create_index("ix_runs_started_id", "runs", ["started_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_runs_started_id", table_name="runs")
    op.drop_index("ix_monitor_windows_model_start", table_name="monitor_windows")
    op.drop_table("monitor_windows")
