"""keyed audit: key ids on entries, a keyed tag on every chain's registry row

Revision ID: 0010_keyed_audit
Revises: 0008_retrieval_controls
Create Date: 2026-12-07 01:20:00.000000

Existing entries keep their plain sha256 hashes (``key_id`` NULL) until they are verified and
re-signed with the audit key: ``airsoc.audit.upgrade_chains`` (run at start-up), or on the next
append to each chain. The key lives outside the database, so this migration cannot sign.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_keyed_audit"
down_revision: str | Sequence[str] | None = "0008_retrieval_controls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_chains") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("head_mac", sa.String(length=64), nullable=True))
    with op.batch_alter_table("audit_entries") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.drop_column("key_id")
    with op.batch_alter_table("audit_chains") as batch:
        batch.drop_column("head_mac")
        batch.drop_column("key_id")
