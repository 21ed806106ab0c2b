"""Console pages of governance: the review board's queue, a review item with its decisions and
action items, the action items still to do, the overview's panel of overdue action items, and
the AI SOC's charter (with Markdown and PDF downloads).

Example:
    >>> overdue_actions_panel.title
    'Overdue action items'
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from airsoc.errors import InputError
from airsoc.reporting import review
from airsoc.reporting.charter import render_charter_markdown, render_charter_pdf
from airsoc.reporting.postmortems import ActionItemIn, ActionItemUpdate
from airsoc.reporting.review_queue import REVIEW_KINDS
from airsoc.roles import UserRole
from airsoc.server.console import (
    ConsoleUser,
    Panel,
    PanelContext,
    RowNumber,
    Viewer,
    console_writer,
    page,
    templates,
)
from airsoc.server.deps import Ctx
from airsoc.server.routes.charter import served_charter

__all__ = ["overdue_actions_panel", "router"]

router = APIRouter(include_in_schema=False)

Responder = Annotated[ConsoleUser, Depends(console_writer(UserRole.RESPONDER, "change reviews"))]
Approver = Annotated[
    ConsoleUser, Depends(console_writer(UserRole.APPROVER, "change review decisions"))
]


def _overdue_actions(pctx: PanelContext) -> Markup | None:
    now = pctx.ctx.clock.now()
    if not review.list_action_items(pctx.session, limit=1):
        return None  # nobody has written an action item yet: nothing to say
    items = review.list_action_items(pctx.session, at=now, overdue_only=True)
    html = templates.get_template("_action_items.html").render(
        items=items, empty="No action item is overdue.", now=now
    )
    return Markup(html)


overdue_actions_panel = Panel("Overdue action items", _overdue_actions)


@router.get("/reviews", response_class=HTMLResponse)
def reviews_page(request: Request, ctx: Ctx, cu: Viewer, status: str = "pending") -> Response:
    """The review board's queue (pending items first; ``?status=all`` for every item)."""
    with ctx.store.read() as s:
        items = review.review_queue(s, status=None if status == "all" else status)
    return page(request, "reviews.html", cu, items=items, status=status, kinds=REVIEW_KINDS)


@router.get("/reviews/{item_id}", response_class=HTMLResponse)
def review_page(request: Request, item_id: RowNumber, ctx: Ctx, cu: Viewer) -> Response:
    """A review item: what it is, the decisions on it, its action items and its history."""
    with ctx.store.read() as s:
        item = review.get_review_item(s, item_id=item_id, at=ctx.clock.now())
    postmortem = review.postmortem_id_of(item.kind, item.reference)
    return page(
        request,
        "review.html",
        cu,
        item=item,
        postmortem=postmortem,
        can_respond=cu.user.role.rank >= UserRole.RESPONDER.rank,
        can_decide=cu.user.role.rank >= UserRole.APPROVER.rank,
        statuses=review.ACTION_ITEM_STATUSES,
    )


@router.post("/reviews/{item_id}/decisions")
def decide(
    item_id: RowNumber,
    ctx: Ctx,
    cu: Approver,
    decision: Annotated[str, Form(max_length=32)],
    text: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    """Record the signed-in reviewer's decision."""
    with ctx.store.transaction() as s:
        review.decide_review(
            s, clock=ctx.clock, item_id=item_id, decision=decision, reviewer=cu.user.name, text=text
        )
    return RedirectResponse(f"/reviews/{item_id}", status_code=303)


def _due(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"due: give a date like 2026-03-31 (UTC), got {text!r}", loc="due"
        ) from None
    if len(text) == 10:  # a day: due by its end
        moment += timedelta(days=1, microseconds=-1)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.post("/reviews/{item_id}/action-items")
def add_action_item(
    item_id: RowNumber,
    ctx: Ctx,
    cu: Responder,
    title: Annotated[str, Form(min_length=1, max_length=2000)],
    owner: Annotated[str, Form(min_length=1, max_length=200)],
    due: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Add an action item from the review."""
    with ctx.store.transaction() as s:
        review.add_review_action_item(
            s,
            clock=ctx.clock,
            item_id=item_id,
            item=ActionItemIn(title=title, owner=owner, due_at=_due(due)),
            actor=cu.user.name,
        )
    return RedirectResponse(f"/reviews/{item_id}#action-items", status_code=303)


@router.post("/action-items/{action_item_id}/status")
def set_status(
    action_item_id: RowNumber,
    ctx: Ctx,
    cu: Responder,
    status: Annotated[str, Form(max_length=16)],
    back: Annotated[str, Form(max_length=200)] = "/action-items",
) -> Response:
    """Move an action item to open, in progress, done or cancelled."""
    if status not in review.ACTION_ITEM_STATUSES:
        raise InputError(
            f"status: one of {', '.join(review.ACTION_ITEM_STATUSES)}, got {status!r}",
            loc="status",
        )
    with ctx.store.transaction() as s:
        review.change_action_item(
            s,
            clock=ctx.clock,
            action_item_id=action_item_id,
            changes=ActionItemUpdate(status=status),
            actor=cu.user.name,
        )
    target = back if back.startswith("/") and not back.startswith("//") else "/action-items"
    return RedirectResponse(target, status_code=303)


@router.get("/action-items", response_class=HTMLResponse)
def action_items_page(request: Request, ctx: Ctx, cu: Viewer, overdue: bool = False) -> Response:
    """Every action item of post-mortems and reviews, soonest due first."""
    now = ctx.clock.now()
    with ctx.store.read() as s:
        items = review.list_action_items(s, at=now, overdue_only=overdue)
    html = templates.get_template("_action_items.html").render(
        items=items, empty="No action items.", now=now
    )
    return page(request, "action_items.html", cu, table=Markup(html), overdue=overdue)


@router.get("/charter", response_class=HTMLResponse)
def charter_page(request: Request, ctx: Ctx, cu: Viewer) -> Response:
    """The AI SOC's charter, generated from the configuration the server runs with."""
    return page(request, "charter.html", cu, c=served_charter(request, ctx))


@router.get("/charter.{fmt}")
def charter_download(request: Request, fmt: str, ctx: Ctx, _cu: Viewer) -> Response:
    """Download the charter as Markdown or PDF."""
    if fmt not in ("md", "pdf"):
        raise InputError(f"unknown charter format {fmt!r}; use md or pdf", loc="format")
    built = served_charter(request, ctx)
    if fmt == "md":
        data, media = render_charter_markdown(built).encode(), "text/markdown; charset=utf-8"
    else:
        data, media = render_charter_pdf(built), "application/pdf"
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="charter.{fmt}"'},
    )
