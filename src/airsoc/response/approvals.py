"""Approvals: a step that needs one waits until someone with the role decides.

The gate (:func:`approval_gate`) is what the runner asks before a step with an ``approval``:
it files the request the first time, and afterwards says whether the step may proceed, is
skipped, waits, or ends the run (rejected, or timed out with ``on_timeout: abort``). The runner
moves the run accordingly, through the run lifecycle table.

Who may decide: a person who holds the approval's role on the incident, or its incident
commander. For destructive actions (rollback, quarantine, block, ...) the person who requested
the run cannot approve it (four-eyes); the governance rule of the system's criticality can widen
four-eyes to every step and add approvals to destructive steps
(:mod:`airsoc.response.governance`). Every decision records who, when and why on the incident's
timeline, and makes the run runnable again.

Example:
    >>> from airsoc.response.approvals import ApprovalView
    >>> sorted(ApprovalView.model_fields)[:4]
    ['action', 'decided_at', 'decided_by', 'destructive']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from airsoc.incidents.lifecycle import Role
from airsoc.incidents.service import get_incident, incident_chain
from airsoc.response.lifecycle import RunStatus, move_run
from airsoc.response.models import ApprovalRow, PlaybookRunRow
from airsoc.response.playbooks import ApprovalSpec, Step
from airsoc.response.runs import audit_run

__all__ = ["ApprovalView", "GateDecision", "approval_gate", "decide_approval", "list_approvals"]


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
    four_eyes: bool = False
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
    if (row.destructive or row.four_eyes) and actor == row.requested_by:
        why = "destructive actions" if row.destructive else "steps on this system"
        raise PermissionDeniedError(
            f"{actor} requested this {row.action} and cannot approve it: {why} "
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
    if run.status == RunStatus.WAITING_APPROVAL:
        move_run(run, RunStatus.PENDING, at=now)
        run.wake_at = None
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


@dataclass(frozen=True)
class GateDecision:
    """What the approval gate says about a step: go on, skip it, wait, or end the run.

    ``reason`` says why a run ends (``reject``, ``abort``); ``wake_at`` is when a waiting run
    becomes runnable again by itself (the approval's timeout), or None.

    >>> GateDecision("wait").outcome
    'wait'
    """

    outcome: Literal["proceed", "skip", "wait", "reject", "abort"]
    reason: str = ""
    wake_at: datetime | None = None


def approval_gate(
    session: Session,
    *,
    clock: Clock,
    run: PlaybookRunRow,
    step: Step,
    destructive: bool,
    summary: Callable[[], str],
    spec: ApprovalSpec | None = None,
    four_eyes: bool = False,
    why: str = "",
) -> GateDecision:
    """Return whether ``step`` of ``run`` may proceed, filing its approval request if new.

    ``spec`` is the approval needed (default: the step's own), ``four_eyes`` whether the run's
    starter is barred from deciding, ``why`` the rule that asks for it (recorded on the request).
    ``summary`` describes the step for the approver; it is called only for a new request.
    A request past its timeout is marked ``timed_out`` and its ``on_timeout`` decides.
    """
    spec = spec or step.approval
    assert spec is not None
    now = clock.now()
    approval = session.execute(
        select(ApprovalRow).where(ApprovalRow.run_id == run.id, ApprovalRow.step_id == step.id)
    ).scalar_one_or_none()
    if approval is None:
        timeout_at = now + spec.timeout if spec.timeout is not None else None
        approval = ApprovalRow(
            run_id=run.id,
            incident_id=run.incident_id,
            step_id=step.id,
            action=step.action,
            role=spec.role,
            destructive=destructive,
            four_eyes=four_eyes or destructive,
            summary=summary(),
            requested_by=run.started_by,
            requested_at=now,
            timeout_at=timeout_at,
            on_timeout=spec.on_timeout,
            status="pending",
        )
        session.add(approval)
        session.flush()
        audit_run(
            session,
            clock=clock,
            incident_id=run.incident_id,
            action="playbook.approval_requested",
            reason=approval.summary,
            data={
                "run": run.id,
                "step": step.id,
                "approval": approval.id,
                "role": spec.role,
                "four_eyes": approval.four_eyes,
                **({"rule": why} if why else {}),
            },
        )
        return GateDecision("wait", wake_at=timeout_at)
    if approval.status == "approved":
        return GateDecision("proceed")
    if approval.status == "rejected":
        return GateDecision("reject", f"rejected by {approval.decided_by}: {approval.reason}")
    if approval.status == "timed_out" or (
        approval.timeout_at is not None and now >= approval.timeout_at
    ):
        if approval.status == "pending":
            approval.status = "timed_out"
            approval.decided_at = now
            audit_run(
                session,
                clock=clock,
                incident_id=run.incident_id,
                action="playbook.approval_timed_out",
                reason=f"no decision by {approval.timeout_at}; on_timeout: {approval.on_timeout}",
                data={"run": run.id, "step": step.id, "approval": approval.id},
            )
        if approval.on_timeout == "proceed":
            return GateDecision("proceed")
        if approval.on_timeout == "skip":
            return GateDecision("skip")
        return GateDecision("abort", f"approval of {step.id} timed out")
    return GateDecision("wait", wake_at=approval.timeout_at)
