"""fenced leases: a fencing token on every playbook run

Revision ID: 0011_fenced_leases
Revises: 0010_keyed_audit
Create Date: 2026-12-07 03:40:00.000000

Existing runs start at token 0; the next claim raises it to 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_fenced_leases"
down_revision: str | Sequence[str] | None = "0010_keyed_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("playbook_runs") as batch:
        batch.add_column(sa.Column("fence", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("playbook_runs") as batch:
        batch.drop_column("fence")
