"""Tables of response. Other domains use the service functions of :mod:`airsoc.response`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from airsoc.store.base import Base, UTCDateTime


class PlaybookRunRow(Base):
    """One run of a playbook against an incident; the definition is frozen at start."""

    __tablename__ = "playbook_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    playbook: Mapped[str] = mapped_column(String(200), index=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    incident_id: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    started_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    wake_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: The fencing token: raised on every claim (and when a timed-out attempt is revoked); a
    #: worker acts on the run only while the token it holds is still the run's.
    fence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class StepStateRow(Base):
    """The state of one step (or one ``foreach`` item of a step) of a run."""

    __tablename__ = "playbook_steps"
    __table_args__ = (UniqueConstraint("run_id", "step_id", "item_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("playbook_runs.id"), index=True)
    step_id: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    item_index: Mapped[int] = mapped_column(Integer, default=-1)
    action: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    output: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApprovalRow(Base):
    """A request to approve one step, and its decision: who, when and why."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("run_id", "step_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("playbook_runs.id"), index=True)
    incident_id: Mapped[int] = mapped_column(Integer, index=True)
    step_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(64))
    destructive: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Whoever started the run cannot decide (always so for destructive steps).
    four_eyes: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    summary: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    timeout_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    on_timeout: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class ActionEffectRow(Base):
    """An action's side effect that completed, by idempotency key: never done twice."""

    __tablename__ = "action_effects"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    action: Mapped[str] = mapped_column(String(100))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentAlertRow(Base):
    """An alert attached to an incident (the incident of its alert group)."""

    __tablename__ = "incident_alerts"
    __table_args__ = (UniqueConstraint("incident_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Integer, index=True)
    group_key: Mapped[str] = mapped_column(String(500), index=True)
    fingerprint: Mapped[str] = mapped_column(String(16))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attached_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EscalationRow(Base):
    """Where an incident stands on its escalation policy."""

    __tablename__ = "incident_escalations"

    incident_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy: Mapped[str] = mapped_column(String(200))
    next_level: Mapped[int] = mapped_column(Integer, default=0)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done: Mapped[bool] = mapped_column(Boolean, default=False)


class CommunicationRow(Base):
    """A status update or customer-notice draft saved on an incident."""

    __tablename__ = "incident_communications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
