"""regulatory: serious incidents (EU AI Act Article 73) and the regulatory profiles of systems

Revision ID: 0014_regulatory
Revises: 0013_retrain_hooks
Create Date: 2026-12-07 06:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from airsoc.store.base import UTCDateTime

revision: str = "0014_regulatory"
down_revision: str | Sequence[str] | None = "0013_retrain_hooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "serious_incidents",
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("aware_at", UTCDateTime(), nullable=False),
        sa.Column("aware_reason", sa.Text(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("jurisdiction", sa.String(100), nullable=False),
        sa.Column("authority", sa.String(300), nullable=False),
        sa.Column("provider", sa.String(300), nullable=False),
        sa.Column("flagged_by", sa.String(200), nullable=False),
        sa.Column("flagged_at", UTCDateTime(), nullable=False),
        sa.Column("initial_report_at", UTCDateTime(), nullable=True),
        sa.Column("final_report_at", UTCDateTime(), nullable=True),
        sa.Column("reminders_sent", sa.JSON(), nullable=False),
    )
    op.create_table(
        "regulatory_profiles",
        sa.Column("system", sa.String(200), primary_key=True),
        sa.Column("jurisdiction", sa.String(100), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("article_73", sa.Boolean(), nullable=False),
        sa.Column("authority", sa.String(300), nullable=False),
        sa.Column("provider", sa.String(300), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("regulatory_profiles")
    op.drop_table("serious_incidents")
