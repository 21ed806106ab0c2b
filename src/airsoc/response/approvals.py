"""Approvals: a step that needs one waits until someone with the role decides.

Who may decide: a person who holds the approval's role on the incident, or its incident
commander. For destructive actions (rollback, quarantine, block, ...) the person who requested
the run cannot approve it (four-eyes). Every decision records who, when and why on the incident's
timeline, and makes the run runnable again.

Example:
    >>> from airsoc.response.approvals import ApprovalView
    >>> sorted(ApprovalView.model_fields)[:4]
    ['action', 'decided_at', 'decided_by', 'destructive']
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from airsoc.incidents.lifecycle import Role
from airsoc.incidents.service import get_incident, incident_chain
from airsoc.response.models import ApprovalRow, PlaybookRunRow

__all__ = ["ApprovalView", "decide_approval", "list_approvals"]


class ApprovalView(BaseModel):
    """An approval request and its decision."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    run_id: int
    incident_id: int
    step_id: str
    action: str
    role: str
    destructive: bool
    summary: str
    requested_by: str
    requested_at: datetime
    timeout_at: datetime | None
    on_timeout: str
    status: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


def list_approvals(
    session: Session, *, status: str | None = "pending", incident_id: int | None = None
) -> list[ApprovalView]:
    """Return approval requests (pending ones by default), oldest first."""
    query = select(ApprovalRow).order_by(ApprovalRow.id)
    if status:
        query = query.where(ApprovalRow.status == status)
    if incident_id is not None:
        query = query.where(ApprovalRow.incident_id == incident_id)
    return [ApprovalView.model_validate(r) for r in session.execute(query).scalars()]


def decide_approval(
    session: Session,
    *,
    clock: Clock,
    approval_id: int,
    actor: str,
    approve: bool,
    reason: str,
) -> ApprovalView:
    """Approve or reject a pending request, as ``actor``, for ``reason``."""
    if not reason.strip():
        raise InputError("a decision needs a reason")
    row = session.execute(
        select(ApprovalRow).where(ApprovalRow.id == approval_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"approval {approval_id} not found")
    if row.status != "pending":
        raise ConflictError(
            f"approval {approval_id} is already {row.status}"
            + (f" (by {row.decided_by})" if row.decided_by else "")
        )
    if row.timeout_at is not None and clock.now() >= row.timeout_at:
        raise ConflictError(f"approval {approval_id} timed out at {row.timeout_at.isoformat()}")
    if row.destructive and actor == row.requested_by:
        raise PermissionDeniedError(
            f"{actor} requested this {row.action} and cannot approve it: destructive actions "
            "need a second person (four-eyes)"
        )
    incident = get_incident(session, incident_id=row.incident_id)
    holders = {r.person for r in incident.roles if r.role in (row.role, Role.INCIDENT_COMMANDER)}
    if actor not in holders:
        raise PermissionDeniedError(
            f"{actor} does not hold {row.role} (or incident_commander) on INC-{row.incident_id}; "
            f"holders: {', '.join(sorted(holders)) or 'nobody'}"
        )
    now = clock.now()
    row.status = "approved" if approve else "rejected"
    row.decided_by = actor
    row.decided_at = now
    row.reason = reason
    run = session.execute(
        select(PlaybookRunRow).where(PlaybookRunRow.id == row.run_id).with_for_update()
    ).scalar_one()
    if run.status == "waiting_approval":
        run.status = "pending"
        run.wake_at = None
        run.updated_at = now
    append_entry(
        session,
        clock=clock,
        chain=incident_chain(row.incident_id),
        actor=actor,
        action="playbook.approval_granted" if approve else "playbook.approval_rejected",
        reason=reason,
        data={"approval": row.id, "run": row.run_id, "step": row.step_id, "action": row.action},
    )
    session.flush()
    return ApprovalView.model_validate(row)
