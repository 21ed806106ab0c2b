"""Tables of reporting: post-mortems, the review board's queue and decisions, and action items.

Other domains never read these; they call :mod:`airsoc.reporting.postmortems`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from airsoc.store.base import Base, UTCDateTime

__all__ = ["ActionItemRow", "PostmortemRow", "ReviewDecisionRow", "ReviewItemRow"]


class PostmortemRow(Base):
    """The post-mortem of one incident: its review status and the words people wrote into it."""

    __tablename__ = "postmortems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    narrative: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ActionItemRow(Base):
    """Something to change after the incident, with an owner and a due date; it comes from a
    post-mortem or from a review of the review board (one of the two ids is set)."""

    __tablename__ = "postmortem_action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    postmortem_id: Mapped[int | None] = mapped_column(
        ForeignKey("postmortems.id"), index=True, nullable=True
    )
    review_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_items.id"), index=True, nullable=True
    )
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReviewItemRow(Base):
    """An item in the review board's queue: a post-mortem, a tabletop debrief, ... by reference."""

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    reference: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), index=True)
    submitted_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReviewDecisionRow(Base):
    """A reviewer's decision on a review item: approve or request changes, with their words."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    decision: Mapped[str] = mapped_column(String(32))
    reviewer: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
