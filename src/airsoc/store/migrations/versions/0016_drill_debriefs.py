"""drill debriefs: the record of each tabletop exercise

Revision ID: 0016_drill_debriefs
Revises: 0015_review_board
Create Date: 2026-12-07 07:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from airsoc.store.base import UTCDateTime

revision: str = "0016_drill_debriefs"
down_revision: str | Sequence[str] | None = "0015_review_board"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drill_debriefs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scenario", sa.String(length=200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("players", sa.JSON(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("comparison", sa.JSON(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drill_debriefs")),
    )
    op.create_index(
        op.f("ix_drill_debriefs_scenario"), "drill_debriefs", ["scenario"], unique=False
    )
    op.create_index(op.f("ix_drill_debriefs_status"), "drill_debriefs", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_drill_debriefs_status"), table_name="drill_debriefs")
    op.drop_index(op.f("ix_drill_debriefs_scenario"), table_name="drill_debriefs")
    op.drop_table("drill_debriefs")
