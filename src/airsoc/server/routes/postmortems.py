"""``/api/v1/postmortems`` and ``/api/v1/reports``: post-mortems through their review, action
items, the rendered report (Markdown, HTML, PDF) and fleet-wide response times.

Writing needs ``responder``; moving a review to ``reviewed`` or ``closed`` needs ``approver``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from airsoc.reporting import postmortems as pm
from airsoc.reporting.render import render_postmortem
from airsoc.reporting.timing import FleetMetric, fleet_metrics
from airsoc.roles import UserRole
from airsoc.server.auth import UserView, parse_user_role, require_role
from airsoc.server.deps import Ctx, CurrentUser, ServerContext, requires
from airsoc.server.errors import error_responses
from airsoc.types import NonBlank

__all__ = [
    "PostmortemCreate",
    "PostmortemTransition",
    "move_postmortem",
    "reports_router",
    "router",
]

router = APIRouter(prefix="/postmortems", tags=["postmortems"])
reports_router = APIRouter(prefix="/reports", tags=["reports"])

PostmortemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The post-mortem's number")]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The action item's number")]
Responder = Annotated[UserView, Depends(requires(UserRole.RESPONDER, "change post-mortems"))]


class PostmortemCreate(BaseModel):
    """Which incident to write the post-mortem of."""

    model_config = ConfigDict(extra="forbid")

    incident_id: int = Field(ge=1, le=2**31 - 1)


class PostmortemTransition(BaseModel):
    """A move of the review: draft -> in_review -> reviewed -> closed."""

    model_config = ConfigDict(extra="forbid")

    to: pm.PostmortemStatus
    reason: Annotated[NonBlank, Field(min_length=1, max_length=20000)]


def move_postmortem(
    session: Session,
    *,
    ctx: ServerContext,
    user: UserView,
    postmortem_id: int,
    to: str,
    reason: str,
) -> pm.PostmortemView:
    """Move a post-mortem's review after checking ``user`` holds the role that move needs."""
    current = pm.get_postmortem(session, postmortem_id=postmortem_id)
    needed = parse_user_role(pm.required_role(current.status.value, to))
    require_role(user, needed, action=f"move a post-mortem to {to}")
    return pm.transition_postmortem(
        session, clock=ctx.clock, postmortem_id=postmortem_id, to=to, actor=user.name, reason=reason
    )


@router.get("", response_model=list[pm.PostmortemView], responses=error_responses(422))
def list_postmortems(
    ctx: Ctx,
    _user: CurrentUser,
    status_: Annotated[pm.PostmortemStatus | None, Query(alias="status")] = None,
) -> list[pm.PostmortemView]:
    """List post-mortems, newest first."""
    with ctx.store.read() as s:
        return pm.list_postmortems(s, status=status_.value if status_ else None)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=pm.PostmortemView,
    responses=error_responses(403, 404, 409, 422),
)
def create(body: PostmortemCreate, ctx: Ctx, user: Responder) -> pm.PostmortemView:
    """Open the draft post-mortem of an incident (one per incident)."""
    with ctx.store.transaction() as s:
        return pm.create_postmortem(
            s, clock=ctx.clock, incident_id=body.incident_id, actor=user.name
        )


@router.get(
    "/{postmortem_id}", response_model=pm.PostmortemView, responses=error_responses(404, 422)
)
def get(postmortem_id: PostmortemId, ctx: Ctx, _user: CurrentUser) -> pm.PostmortemView:
    """Return a post-mortem with its action items and review history."""
    with ctx.store.read() as s:
        return pm.get_postmortem(s, postmortem_id=postmortem_id)


@router.patch(
    "/{postmortem_id}",
    response_model=pm.PostmortemView,
    responses=error_responses(403, 404, 409, 422),
)
def edit(
    postmortem_id: PostmortemId, body: pm.NarrativeUpdate, ctx: Ctx, user: Responder
) -> pm.PostmortemView:
    """Edit what people write: what happened, impact counts, lessons, messages."""
    with ctx.store.transaction() as s:
        return pm.update_narrative(
            s, clock=ctx.clock, postmortem_id=postmortem_id, changes=body, actor=user.name
        )


@router.post(
    "/{postmortem_id}/transitions",
    response_model=pm.PostmortemView,
    responses=error_responses(403, 404, 409, 422),
)
def transition(
    postmortem_id: PostmortemId, body: PostmortemTransition, ctx: Ctx, user: Responder
) -> pm.PostmortemView:
    """Move the review on; marking it reviewed or closed needs the approver role."""
    with ctx.store.transaction() as s:
        return move_postmortem(
            s, ctx=ctx, user=user, postmortem_id=postmortem_id, to=body.to.value, reason=body.reason
        )


@router.post(
    "/{postmortem_id}/action-items",
    status_code=status.HTTP_201_CREATED,
    response_model=pm.ActionItemView,
    responses=error_responses(403, 404, 409, 422),
)
def add_action_item(
    postmortem_id: PostmortemId, body: pm.ActionItemIn, ctx: Ctx, user: Responder
) -> pm.ActionItemView:
    """Add an action item; without a due date the incident's severity sets it."""
    with ctx.store.transaction() as s:
        return pm.add_action_item(
            s, clock=ctx.clock, postmortem_id=postmortem_id, item=body, actor=user.name
        )


@router.patch(
    "/{postmortem_id}/action-items/{item_id}",
    response_model=pm.ActionItemView,
    responses=error_responses(403, 404, 422),
)
def update_action_item(
    postmortem_id: PostmortemId,
    item_id: ItemId,
    body: pm.ActionItemUpdate,
    ctx: Ctx,
    user: Responder,
) -> pm.ActionItemView:
    """Change an action item's owner, due date or status."""
    with ctx.store.transaction() as s:
        return pm.update_action_item(
            s,
            clock=ctx.clock,
            postmortem_id=postmortem_id,
            item_id=item_id,
            changes=body,
            actor=user.name,
        )


@router.get(
    "/{postmortem_id}/report",
    response_class=Response,
    responses={
        200: {
            "description": "The rendered post-mortem",
            "content": {
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **error_responses(404, 422),
    },
)
def report(
    postmortem_id: PostmortemId,
    ctx: Ctx,
    _user: CurrentUser,
    format_: Annotated[Literal["md", "html", "pdf"], Query(alias="format")] = "md",
) -> Response:
    """Return the post-mortem rendered as Markdown, HTML (with charts) or PDF."""
    with ctx.store.read() as s:
        out = render_postmortem(s, postmortem_id=postmortem_id, fmt=format_, now=ctx.clock.now())
    return Response(
        out.data,
        media_type=out.media_type,
        headers={"Content-Disposition": f'inline; filename="{out.filename}"'},
    )


@reports_router.get("/fleet", response_model=list[FleetMetric], responses=error_responses(422))
def fleet(
    ctx: Ctx,
    _user: CurrentUser,
    group_by: Literal["failure_mode", "system"] = "failure_mode",
    period: Literal["day", "week", "month"] = "week",
) -> list[FleetMetric]:
    """Return MTTD/MTTA/MTTC/MTTR by failure mode or system, per period."""
    with ctx.store.read() as s:
        return fleet_metrics(s, group_by=group_by, period=period)
