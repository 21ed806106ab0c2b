"""retrieval controls of RAG systems

Revision ID: 0008_retrieval_controls
Revises: 0006_server
Create Date: 2026-11-21 06:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import airsoc.store.base

revision: str = "0008_retrieval_controls"
down_revision: str | Sequence[str] | None = "0006_server"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_retrieval",
        sa.Column("system", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("removed_documents", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", airsoc.store.base.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("system", name=op.f("pk_gateway_retrieval")),
    )


def downgrade() -> None:
    op.drop_table("gateway_retrieval")
