"""source trust: a trust level per data source, and the approval of a batch on probation

Revision ID: 0012_source_trust
Revises: 0011_fenced_leases
Create Date: 2026-12-07 04:50:00.000000

A source without a row is trusted, so existing sources keep training as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import airsoc.store.base

revision: str = "0012_source_trust"
down_revision: str | Sequence[str] | None = "0011_fenced_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lineage_sources",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("trust", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", airsoc.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_lineage_sources")),
    )
    with op.batch_alter_table("lineage_data_batches") as batch:
        batch.add_column(sa.Column("approved_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("approved_at", airsoc.store.base.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("screening", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lineage_data_batches") as batch:
        batch.drop_column("screening")
        batch.drop_column("approved_at")
        batch.drop_column("approved_by")
    op.drop_table("lineage_sources")
