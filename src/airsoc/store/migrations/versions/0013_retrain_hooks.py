"""retrain hooks: how each system is retrained

Revision ID: 0013_retrain_hooks
Revises: 0012_source_trust
Create Date: 2026-12-07 04:45:00.000000

Existing systems have no retrain hook until ``airsoc.yaml`` names one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_retrain_hooks"
down_revision: str | Sequence[str] | None = "0012_source_trust"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lineage_systems") as batch:
        batch.add_column(sa.Column("retrain", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lineage_systems") as batch:
        batch.drop_column("retrain")
