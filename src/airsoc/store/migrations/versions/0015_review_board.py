"""review board: the review queue, decisions, action items from reviews, four-eyes approvals

Revision ID: 0015_review_board
Revises: 0014_regulatory
Create Date: 2026-12-07 06:45:00.000000

Action items may now come from a review instead of a post-mortem; existing ones keep their
post-mortem. Existing approvals keep their four-eyes rule (destructive steps).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from airsoc.store.base import UTCDateTime

revision: str = "0015_review_board"
down_revision: str | Sequence[str] | None = "0014_regulatory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        for column in ("kind", "reference", "status"):
            batch_op.create_index(batch_op.f(f"ix_review_items_{column}"), [column], unique=False)
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["review_items.id"], name=op.f("fk_review_decisions_item_id_review_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_decisions")),
    )
    with op.batch_alter_table("review_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_decisions_item_id"), ["item_id"], unique=False)
    with op.batch_alter_table("postmortem_action_items", schema=None) as batch_op:
        batch_op.alter_column("postmortem_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("review_item_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_postmortem_action_items_review_item_id"),
            ["review_item_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_postmortem_action_items_review_item_id_review_items"),
            "review_items",
            ["review_item_id"],
            ["id"],
        )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("four_eyes", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_column("four_eyes")
    with op.batch_alter_table("postmortem_action_items", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_postmortem_action_items_review_item_id_review_items"),
            type_="foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_postmortem_action_items_review_item_id"))
        batch_op.drop_column("review_item_id")
        batch_op.alter_column("postmortem_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("review_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_decisions_item_id"))
    op.drop_table("review_decisions")
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        for column in ("kind", "reference", "status"):
            batch_op.drop_index(batch_op.f(f"ix_review_items_{column}"))
    op.drop_table("review_items")
