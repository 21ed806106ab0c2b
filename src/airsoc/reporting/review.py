"""The review board: decisions on the items of its queue, and the action items they give rise to.

A reviewer approves an item or requests changes, always in words; the decision is stored with
the reviewer's name and time and written to the item's audit chain (``review/<id>``) in the same
transaction. A decision on a post-mortem moves the post-mortem too: approve -> ``reviewed``,
request changes -> back to ``draft`` (on the post-mortem's own chain).

Action items (owner, due date, status ``open`` / ``in_progress`` / ``done`` / ``cancelled``)
come from a post-mortem or from a review; :func:`list_action_items` queries all of them, and
``overdue_only`` keeps those still open or in progress past their due date.

Example:
    >>> from datetime import timedelta
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.reporting.postmortems import ActionItemIn
    >>> from airsoc.reporting.review_queue import file_review_item
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     item = file_review_item(s, clock=clock, kind="tabletop_debrief", reference="TT-1",
    ...                             title="Poisoning tabletop", actor="dana")
    ...     todo = add_review_action_item(s, clock=clock, item_id=item.id, actor="sam",
    ...         item=ActionItemIn(title="Page the data owner first", owner="risk-ml",
    ...                           due_at=clock.now() + timedelta(days=2)))
    ...     view = decide_review(s, clock=clock, item_id=item.id, decision="request_changes",
    ...                          reviewer="sam", text="Name who calls the vendor")
    >>> view.status, [d.reviewer for d in view.decisions], [a.title for a in view.action_items]
    ('changes_requested', ['sam'], ['Page the data owner first'])
    >>> clock.advance(timedelta(days=3))
    >>> with store.read() as s:
    ...     [(a.title, a.overdue) for a in list_action_items(s, at=clock.now(), overdue_only=True)]
    [('Page the data owner first', True)]
    >>> store.close()
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from airsoc.audit import AuditEntryView, append_entry, list_entries
from airsoc.clock import Clock
from airsoc.errors import ConflictError, InputError, NotFoundError
from airsoc.incidents.lifecycle import Severity
from airsoc.incidents.service import get_incident
from airsoc.reporting.models import ActionItemRow, PostmortemRow, ReviewDecisionRow, ReviewItemRow
from airsoc.reporting.postmortems import (
    ACTION_ITEM_DUE,
    ActionItemIn,
    ActionItemUpdate,
    ActionItemView,
    PostmortemStatus,
    due_date_for,
    postmortem_chain,
    transition_postmortem,
)
from airsoc.reporting.review_queue import ReviewItemStatus, ReviewItemSummary, review_chain

__all__ = [
    "ACTION_ITEM_STATUSES",
    "ActionItemEntry",
    "ReviewDecision",
    "ReviewDecisionView",
    "ReviewItemView",
    "add_review_action_item",
    "change_action_item",
    "decide_review",
    "get_review_item",
    "list_action_items",
    "postmortem_id_of",
    "review_queue",
]

ReviewDecision = Literal["approve", "request_changes"]

#: Statuses of an action item; the first two are still to do.
ACTION_ITEM_STATUSES = ("open", "in_progress", "done", "cancelled")
_STILL_TO_DO = ACTION_ITEM_STATUSES[:2]
_PM_REFERENCE = re.compile(r"^PM-(\d+)$")


class ReviewDecisionView(BaseModel):
    """A reviewer's decision with their words."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    item_id: int
    decision: str
    reviewer: str
    text: str
    decided_at: datetime


class ActionItemEntry(ActionItemView):
    """An action item with where it came from (``PM-3``, ``review 4``) and whether it is late."""

    source: str
    overdue: bool = False


class ReviewItemView(ReviewItemSummary):
    """A review item with its decisions, action items and history."""

    decisions: list[ReviewDecisionView]
    action_items: list[ActionItemEntry]
    history: list[AuditEntryView]


def postmortem_id_of(kind: str, reference: str) -> int | None:
    """Return the post-mortem a review item is about (``PM-3`` -> 3), or None.

    >>> postmortem_id_of("postmortem", "PM-3"), postmortem_id_of("tabletop_debrief", "PM-3")
    (3, None)
    """
    match = _PM_REFERENCE.match(reference)
    return int(match.group(1)) if kind == "postmortem" and match else None


def _entry(row: ActionItemRow, at: datetime | None) -> ActionItemEntry:
    source = f"PM-{row.postmortem_id}" if row.postmortem_id else f"review {row.review_item_id}"
    late = at is not None and row.status in _STILL_TO_DO and row.due_at < at
    return ActionItemEntry(
        **ActionItemView.model_validate(row).model_dump(), source=source, overdue=late
    )


def _load(session: Session, item_id: int, *, lock: bool = False) -> ReviewItemRow:
    query = select(ReviewItemRow).where(ReviewItemRow.id == item_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"review item {item_id} not found")
    return row


def review_queue(
    session: Session, *, status: str | None = "pending", kind: str | None = None
) -> list[ReviewItemSummary]:
    """Return the board's items (pending ones by default), oldest first."""
    query = select(ReviewItemRow).order_by(ReviewItemRow.submitted_at, ReviewItemRow.id)
    if status:
        try:
            query = query.where(ReviewItemRow.status == ReviewItemStatus(status).value)
        except ValueError:
            known = ", ".join(s.value for s in ReviewItemStatus)
            raise InputError(
                f"unknown review status {status!r}; known: {known}", loc="status"
            ) from None
    if kind:
        query = query.where(ReviewItemRow.kind == kind)
    return [ReviewItemSummary.model_validate(r) for r in session.execute(query).scalars()]


def get_review_item(
    session: Session, *, item_id: int, at: datetime | None = None
) -> ReviewItemView:
    """Return the item with its decisions, action items (overdue as of ``at``) and history."""
    row = _load(session, item_id)
    decisions = session.execute(
        select(ReviewDecisionRow)
        .where(ReviewDecisionRow.item_id == item_id)
        .order_by(ReviewDecisionRow.id)
    ).scalars()
    items = session.execute(
        select(ActionItemRow)
        .where(ActionItemRow.review_item_id == item_id)
        .order_by(ActionItemRow.due_at, ActionItemRow.id)
    ).scalars()
    return ReviewItemView(
        **ReviewItemSummary.model_validate(row).model_dump(),
        decisions=[ReviewDecisionView.model_validate(d) for d in decisions],
        action_items=[_entry(i, at) for i in items],
        history=list_entries(session, chain=review_chain(item_id)),
    )


def decide_review(
    session: Session,
    *,
    clock: Clock,
    item_id: int,
    decision: str,
    reviewer: str,
    text: str,
) -> ReviewItemView:
    """Record ``reviewer``'s decision (``approve`` or ``request_changes``) on a pending item."""
    if decision not in ("approve", "request_changes"):
        raise InputError(
            f"unknown decision {decision!r}; known: approve, request_changes", loc="decision"
        )
    if not text.strip():
        raise InputError("a decision needs the reviewer's words", loc="text")
    row = _load(session, item_id, lock=True)
    if row.status != ReviewItemStatus.PENDING.value:
        raise ConflictError(f"review item {item_id} is {row.status}, not pending", loc="item_id")
    now = clock.now()
    status = (
        ReviewItemStatus.APPROVED if decision == "approve" else ReviewItemStatus.CHANGES_REQUESTED
    )
    stored = ReviewDecisionRow(
        item_id=item_id, decision=decision, reviewer=reviewer, text=text.strip(), decided_at=now
    )
    session.add(stored)
    row.status = status.value
    row.updated_at = now
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=review_chain(item_id),
        actor=reviewer,
        action=f"review.{status.value}",
        reason=stored.text,
        data={"decision": decision, "kind": row.kind, "reference": row.reference},
    )
    postmortem_id = postmortem_id_of(row.kind, row.reference)
    if postmortem_id is not None:
        postmortem = session.get(PostmortemRow, postmortem_id)
        if postmortem is not None and postmortem.status == PostmortemStatus.IN_REVIEW.value:
            transition_postmortem(
                session,
                clock=clock,
                postmortem_id=postmortem_id,
                to="reviewed" if decision == "approve" else "draft",
                actor=reviewer,
                reason=f"review board: {stored.text}",
            )
    return get_review_item(session, item_id=item_id, at=now)


def add_review_action_item(
    session: Session, *, clock: Clock, item_id: int, item: ActionItemIn, actor: str
) -> ActionItemEntry:
    """Add an action item from a review; on a post-mortem's review it joins the post-mortem too.

    Without a due date, a post-mortem's item is due by its incident's severity, another by the
    SEV3 delay.
    """
    row = _load(session, item_id, lock=True)
    now = clock.now()
    postmortem_id = postmortem_id_of(row.kind, row.reference)
    postmortem = session.get(PostmortemRow, postmortem_id) if postmortem_id else None
    if item.due_at is not None:
        due = item.due_at
    elif postmortem is not None:
        incident = get_incident(session, incident_id=postmortem.incident_id)
        due = due_date_for(incident.severity, start=now)
    else:
        due = now + ACTION_ITEM_DUE[Severity.SEV3]
    created = ActionItemRow(
        postmortem_id=postmortem.id if postmortem is not None else None,
        review_item_id=item_id,
        title=item.title.strip(),
        owner=item.owner.strip(),
        due_at=due,
        status="open",
        created_by=actor,
        created_at=now,
    )
    session.add(created)
    session.flush()
    data = {"item_id": created.id, "owner": created.owner, "due_at": due.isoformat()}
    chains = [review_chain(item_id)]
    if postmortem is not None:
        chains.append(postmortem_chain(postmortem.id))
    for chain in chains:
        append_entry(
            session,
            clock=clock,
            chain=chain,
            actor=actor,
            action="review.action_item_added"
            if chain.startswith("review/")
            else "postmortem.action_item_added",
            reason=created.title,
            data=data,
        )
    return _entry(created, now)


def change_action_item(
    session: Session, *, clock: Clock, action_item_id: int, changes: ActionItemUpdate, actor: str
) -> ActionItemEntry:
    """Change any action item's owner, due date or status, recorded where it came from."""
    row = session.execute(
        select(ActionItemRow).where(ActionItemRow.id == action_item_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"action item {action_item_id} not found")
    diff: dict[str, str] = {}
    for field, value in changes.model_dump(exclude_none=True).items():
        if getattr(row, field) != value:
            diff[field] = value.isoformat() if isinstance(value, datetime) else str(value)
            setattr(row, field, value)
    if diff:
        chains = [review_chain(row.review_item_id)] if row.review_item_id else []
        if row.postmortem_id:
            chains.append(postmortem_chain(row.postmortem_id))
        for chain in chains:
            append_entry(
                session,
                clock=clock,
                chain=chain,
                actor=actor,
                action=f"{chain.split('/')[0]}.action_item_updated",
                reason=row.title,
                data={"item_id": row.id, **diff},
            )
        session.flush()
    return _entry(row, clock.now())


def list_action_items(
    session: Session,
    *,
    status: str | None = None,
    owner: str | None = None,
    at: datetime | None = None,
    overdue_only: bool = False,
    limit: int = 500,
) -> list[ActionItemEntry]:
    """Return action items from post-mortems and reviews, soonest due first, each marked overdue
    when it is still open or in progress past its due date as of ``at``.

    ``overdue_only`` keeps only those (it needs ``at``).
    """
    query = select(ActionItemRow).order_by(ActionItemRow.due_at, ActionItemRow.id).limit(limit)
    if status:
        if status not in ACTION_ITEM_STATUSES:
            raise InputError(
                f"unknown action item status {status!r}; known: {', '.join(ACTION_ITEM_STATUSES)}",
                loc="status",
            )
        query = query.where(ActionItemRow.status == status)
    if owner:
        query = query.where(ActionItemRow.owner == owner)
    if overdue_only:
        if at is None:
            raise InputError("overdue needs a time to be overdue at", loc="at")
        query = query.where(
            or_(*(ActionItemRow.status == s for s in _STILL_TO_DO)), ActionItemRow.due_at < at
        )
    return [_entry(r, at) for r in session.execute(query).scalars()]
