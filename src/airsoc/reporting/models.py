"""Tables of reporting: post-mortems and their action items, the review board's queue and
decisions, serious incidents (EU AI Act Article 73) and the regulatory profiles of systems.

Other domains never read these; they call :mod:`airsoc.reporting.postmortems`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from airsoc.store.base import Base, UTCDateTime

__all__ = [
    "ActionItemRow",
    "PostmortemRow",
    "RegulatoryProfileRow",
    "ReviewDecisionRow",
    "ReviewItemRow",
    "SeriousIncidentRow",
]


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


class SeriousIncidentRow(Base):
    """An incident flagged as a serious incident to report: its category, when the provider
    became aware (and why that time, if set by hand), the time zone its deadlines are counted
    in, when its reports went out, and the reminders already sent."""

    __tablename__ = "serious_incidents"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(40))
    aware_at: Mapped[datetime] = mapped_column(UTCDateTime())
    aware_reason: Mapped[str] = mapped_column(Text, default="")
    time_zone: Mapped[str] = mapped_column(String(64))
    jurisdiction: Mapped[str] = mapped_column(String(100))
    authority: Mapped[str] = mapped_column(String(300))
    provider: Mapped[str] = mapped_column(String(300))
    flagged_by: Mapped[str] = mapped_column(String(200))
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    initial_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    final_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reminders_sent: Mapped[list[str]] = mapped_column(JSON, default=list)


class RegulatoryProfileRow(Base):
    """What ``airsoc.yaml``'s ``regulatory`` section says about one system, as last applied."""

    __tablename__ = "regulatory_profiles"

    system: Mapped[str] = mapped_column(String(200), primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(String(100))
    time_zone: Mapped[str] = mapped_column(String(64))
    article_73: Mapped[bool] = mapped_column(Boolean)
    authority: Mapped[str] = mapped_column(String(300))
    provider: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


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
