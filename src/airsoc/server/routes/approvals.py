"""``/api/v1/playbook-runs`` and ``/api/v1/approvals``: playbook runs with their step states, and
the decisions on steps that wait for a person.

Reads need any user. Deciding needs the ``approver`` role, and the person must hold the
approval's role (or incident commander) on the incident. For destructive actions (rollback,
quarantine, isolation, ...) the person who requested the run cannot approve it (four-eyes).
Each decision records who, when and why on the incident's timeline; a worker (``airsoc monitors
run``) then carries the run on.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.errors import NotFoundError
from airsoc.response import (
    ApprovalView,
    RunView,
    decide_approval,
    get_run,
    list_approvals,
    list_runs,
)
from airsoc.roles import UserRole
from airsoc.server.auth import UserView, check_separate_approver
from airsoc.server.deps import Ctx, CurrentUser, requires
from airsoc.server.errors import error_responses
from airsoc.server.routes.incidents import Prose

__all__ = ["DecisionIn", "decide", "router"]

router = APIRouter(tags=["playbooks"])

RunId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The playbook run's number")]
ApprovalId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The approval's number")]
Approver = Annotated[UserView, Depends(requires(UserRole.APPROVER, "approve playbook steps"))]
RunStatus = Literal[
    "pending",
    "running",
    "waiting_approval",
    "succeeded",
    "failed",
    "aborted",
    "rejected",
    "compensated",
]


class DecisionIn(BaseModel):
    """Why the step is approved or rejected (kept on the incident's timeline)."""

    model_config = ConfigDict(extra="forbid")

    reason: Prose


def decide(
    session: Session, *, clock: Clock, approval_id: int, user: UserView, approve: bool, reason: str
) -> ApprovalView:
    """Record ``user``'s decision on an approval; a destructive step needs a second person."""
    found = [a for a in list_approvals(session, status=None) if a.id == approval_id]
    if not found:
        raise NotFoundError(f"approval {approval_id} not found")
    if approve and found[0].destructive:
        check_separate_approver(
            requester=found[0].requested_by,
            approver=user.name,
            subject=f"the {found[0].action} of run {found[0].run_id}",
        )
    return decide_approval(
        session,
        clock=clock,
        approval_id=approval_id,
        actor=user.name,
        approve=approve,
        reason=reason,
    )


@router.get("/playbook-runs", response_model=list[RunView], responses=error_responses(422))
def runs(
    ctx: Ctx,
    _user: CurrentUser,
    incident_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    status: RunStatus | None = None,
) -> list[RunView]:
    """List playbook runs with their step states, newest first."""
    with ctx.store.read() as s:
        return list_runs(s, incident_id=incident_id, status=status)


@router.get("/playbook-runs/{run_id}", response_model=RunView, responses=error_responses(404, 422))
def run(run_id: RunId, ctx: Ctx, _user: CurrentUser) -> RunView:
    """Return a playbook run with every step's state, attempts, parameters and output."""
    with ctx.store.read() as s:
        return get_run(s, run_id=run_id)


@router.get("/approvals", response_model=list[ApprovalView], responses=error_responses(422))
def approvals(
    ctx: Ctx,
    _user: CurrentUser,
    status: Literal["pending", "approved", "rejected", "timed_out", "all"] = "pending",
    incident_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[ApprovalView]:
    """List approvals (pending ones unless asked otherwise), oldest first."""
    with ctx.store.read() as s:
        return list_approvals(
            s, status=None if status == "all" else status, incident_id=incident_id
        )


@router.post(
    "/approvals/{approval_id}/approve",
    response_model=ApprovalView,
    responses=error_responses(403, 404, 409, 422),
)
def approve(approval_id: ApprovalId, body: DecisionIn, ctx: Ctx, user: Approver) -> ApprovalView:
    """Approve a waiting step; the run carries on at the next worker round."""
    with ctx.store.transaction() as s:
        return decide(
            s, clock=ctx.clock, approval_id=approval_id, user=user, approve=True, reason=body.reason
        )


@router.post(
    "/approvals/{approval_id}/reject",
    response_model=ApprovalView,
    responses=error_responses(403, 404, 409, 422),
)
def reject(approval_id: ApprovalId, body: DecisionIn, ctx: Ctx, user: Approver) -> ApprovalView:
    """Reject a waiting step; the run stops there."""
    with ctx.store.transaction() as s:
        return decide(
            s,
            clock=ctx.clock,
            approval_id=approval_id,
            user=user,
            approve=False,
            reason=body.reason,
        )
