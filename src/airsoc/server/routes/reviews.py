"""``/api/v1/reviews`` and ``/api/v1/action-items``: the review board's queue, its decisions, and
the action items of reviews and post-mortems.

Reads need any user. Filing an item and writing action items need ``responder``; deciding (approve
or request changes) needs ``approver``. A decision on a post-mortem moves the post-mortem too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from airsoc.reporting import review
from airsoc.reporting.postmortems import ActionItemIn, ActionItemUpdate
from airsoc.reporting.review_queue import ReviewItemStatus, ReviewItemSummary, file_review_item
from airsoc.roles import UserRole
from airsoc.server.auth import UserView
from airsoc.server.deps import Ctx, CurrentUser, requires
from airsoc.server.errors import error_responses
from airsoc.server.routes.incidents import Prose
from airsoc.types import NonBlank

__all__ = ["ReviewDecisionIn", "ReviewItemIn", "action_items_router", "router"]

router = APIRouter(prefix="/reviews", tags=["review board"])
action_items_router = APIRouter(prefix="/action-items", tags=["review board"])

ItemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The review item's number")]
ActionItemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The action item's number")]
Responder = Annotated[UserView, Depends(requires(UserRole.RESPONDER, "change reviews"))]
Approver = Annotated[UserView, Depends(requires(UserRole.APPROVER, "decide reviews"))]


class ReviewItemIn(BaseModel):
    """An item for the board: its kind (``postmortem``, ``tabletop_debrief``, ...), what it
    refers to, and a title."""

    model_config = ConfigDict(extra="forbid")

    kind: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    reference: Annotated[NonBlank, Field(min_length=1, max_length=200)]
    title: Annotated[NonBlank, Field(min_length=1, max_length=2000)]


class ReviewDecisionIn(BaseModel):
    """A reviewer's decision, in their words (kept on the item's timeline)."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "request_changes"]
    text: Prose


@router.get("", response_model=list[ReviewItemSummary], responses=error_responses(422))
def queue(
    ctx: Ctx,
    _user: CurrentUser,
    status_: Annotated[
        ReviewItemStatus | Literal["all"], Query(alias="status", description="Default: pending")
    ] = ReviewItemStatus.PENDING,
    kind: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{1,63}$")] = None,
) -> list[ReviewItemSummary]:
    """List the board's queue (pending items unless asked otherwise), oldest first."""
    with ctx.store.read() as s:
        return review.review_queue(s, status=None if status_ == "all" else status_, kind=kind)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewItemSummary,
    responses=error_responses(403, 422),
)
def file_item(body: ReviewItemIn, ctx: Ctx, user: Responder) -> ReviewItemSummary:
    """Put an item in the queue (the pending item when the same one is already there)."""
    with ctx.store.transaction() as s:
        return file_review_item(
            s,
            clock=ctx.clock,
            kind=body.kind,
            reference=body.reference,
            title=body.title,
            actor=user.name,
        )


@router.get("/{item_id}", response_model=review.ReviewItemView, responses=error_responses(404, 422))
def get_item(item_id: ItemId, ctx: Ctx, _user: CurrentUser) -> review.ReviewItemView:
    """Return an item with its decisions, action items and history."""
    with ctx.store.read() as s:
        return review.get_review_item(s, item_id=item_id, at=ctx.clock.now())


@router.post(
    "/{item_id}/decisions",
    response_model=review.ReviewItemView,
    responses=error_responses(403, 404, 409, 422),
)
def decide(
    item_id: ItemId, body: ReviewDecisionIn, ctx: Ctx, user: Approver
) -> review.ReviewItemView:
    """Approve a pending item or request changes, as the signed-in reviewer."""
    with ctx.store.transaction() as s:
        return review.decide_review(
            s,
            clock=ctx.clock,
            item_id=item_id,
            decision=body.decision,
            reviewer=user.name,
            text=body.text,
        )


@router.post(
    "/{item_id}/action-items",
    status_code=status.HTTP_201_CREATED,
    response_model=review.ActionItemEntry,
    responses=error_responses(403, 404, 422),
)
def add_action_item(
    item_id: ItemId, body: ActionItemIn, ctx: Ctx, user: Responder
) -> review.ActionItemEntry:
    """Add an action item from a review (on a post-mortem's review it joins the post-mortem)."""
    with ctx.store.transaction() as s:
        return review.add_review_action_item(
            s, clock=ctx.clock, item_id=item_id, item=body, actor=user.name
        )


@action_items_router.get(
    "", response_model=list[review.ActionItemEntry], responses=error_responses(422)
)
def action_items(
    ctx: Ctx,
    _user: CurrentUser,
    status_: Annotated[
        Literal["open", "in_progress", "done", "cancelled"] | None, Query(alias="status")
    ] = None,
    owner: Annotated[NonBlank | None, Query(max_length=200)] = None,
    overdue: Annotated[
        bool, Query(description="Only items still open or in progress past their due date")
    ] = False,
) -> list[review.ActionItemEntry]:
    """List action items of post-mortems and reviews, soonest due first."""
    with ctx.store.read() as s:
        return review.list_action_items(
            s, status=status_, owner=owner, at=ctx.clock.now(), overdue_only=overdue
        )


@action_items_router.patch(
    "/{action_item_id}",
    response_model=review.ActionItemEntry,
    responses=error_responses(403, 404, 422),
)
def change_action_item(
    action_item_id: ActionItemId, body: ActionItemUpdate, ctx: Ctx, user: Responder
) -> review.ActionItemEntry:
    """Change an action item's owner, due date or status (open, in_progress, done, cancelled)."""
    with ctx.store.transaction() as s:
        return review.change_action_item(
            s, clock=ctx.clock, action_item_id=action_item_id, changes=body, actor=user.name
        )
