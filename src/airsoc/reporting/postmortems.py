"""Post-mortems: one per incident, reviewed Draft -> In review -> Reviewed -> Closed, with action
items whose due dates follow the incident's severity.

Every change is written to the post-mortem's audit chain (``postmortem/<id>``).

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="dana", system="fraud-detector",
    ...                            failure_mode="data_poisoning", summary="labels flipped")
    ...     pm = create_postmortem(s, clock=clock, incident_id=inc.id, actor="dana")
    ...     item = add_action_item(
    ...         s, clock=clock, postmortem_id=pm.id, actor="dana",
    ...         item=ActionItemIn(title="Screen vendor batches", owner="risk-ml"))
    ...     pm = transition_postmortem(s, clock=clock, postmortem_id=pm.id, to="in_review",
    ...                                actor="dana", reason="ready for the review board")
    >>> pm.status.value, pm.next_statuses, (item.due_at - clock.now()).days
    ('in_review', ['draft', 'reviewed'], 14)
    >>> store.close()
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import AuditEntryView, append_entry, list_entries
from airsoc.clock import Clock
from airsoc.errors import ConflictError, IllegalTransitionError, InputError, NotFoundError
from airsoc.incidents.findings import FindingKind, list_findings
from airsoc.incidents.lifecycle import Severity, parse_severity
from airsoc.incidents.service import get_incident
from airsoc.reporting.models import ActionItemRow, PostmortemRow
from airsoc.reporting.review_queue import file_review_item, withdraw_review_item
from airsoc.types import Text

__all__ = [
    "ACTION_ITEM_DUE",
    "POSTMORTEM_TRANSITIONS",
    "ActionItemIn",
    "ActionItemUpdate",
    "ActionItemView",
    "Narrative",
    "NarrativeUpdate",
    "PostmortemStatus",
    "PostmortemView",
    "add_action_item",
    "create_postmortem",
    "due_date_for",
    "get_postmortem",
    "list_postmortems",
    "postmortem_chain",
    "postmortem_for_incident",
    "required_role",
    "transition_postmortem",
    "update_action_item",
    "update_narrative",
]


class PostmortemStatus(StrEnum):
    """Where a post-mortem stands in its review."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    REVIEWED = "reviewed"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        """Return the status as people write it ("In review")."""
        return self.value.replace("_", " ").capitalize()


#: (from, to): the legal moves of a post-mortem's review, and the role each one needs.
POSTMORTEM_TRANSITIONS: dict[tuple[PostmortemStatus, PostmortemStatus], str] = {
    (PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW): "responder",
    (PostmortemStatus.IN_REVIEW, PostmortemStatus.DRAFT): "responder",
    (PostmortemStatus.IN_REVIEW, PostmortemStatus.REVIEWED): "approver",
    (PostmortemStatus.REVIEWED, PostmortemStatus.CLOSED): "approver",
    (PostmortemStatus.REVIEWED, PostmortemStatus.IN_REVIEW): "approver",
}

#: Days an action item has, from the post-mortem, by the incident's severity.
ACTION_ITEM_DUE: dict[Severity, timedelta] = {
    Severity.SEV1: timedelta(days=7),
    Severity.SEV2: timedelta(days=14),
    Severity.SEV3: timedelta(days=30),
    Severity.SEV4: timedelta(days=60),
    Severity.SEV5: timedelta(days=90),
}


def due_date_for(severity: str, *, start: datetime) -> datetime:
    """Return when an action item from an incident of ``severity`` is due.

    >>> from datetime import datetime, timezone
    >>> due_date_for("sev1", start=datetime(2026, 3, 1, tzinfo=timezone.utc)).date()
    datetime.date(2026, 3, 8)
    """
    return start + ACTION_ITEM_DUE[parse_severity(severity)]


class Narrative(BaseModel):
    """What people write into a post-mortem; generated sections fill in around it."""

    model_config = ConfigDict(extra="forbid")

    what_happened: Annotated[Text, Field(max_length=20000)] = ""
    went_well: list[Text] = Field(default_factory=list, max_length=100)
    went_badly: list[Text] = Field(default_factory=list, max_length=100)
    internal_message: Annotated[Text, Field(max_length=20000)] = ""
    external_message: Annotated[Text, Field(max_length=20000)] = ""
    requests_affected: int | None = Field(None, ge=0)
    bad_predictions_served: int | None = Field(None, ge=0)
    users_affected: int | None = Field(None, ge=0)
    sessions_affected: int | None = Field(None, ge=0)


class NarrativeUpdate(BaseModel):
    """Changes to a post-mortem's narrative; ``None`` leaves a field as it is."""

    model_config = ConfigDict(extra="forbid")

    what_happened: Annotated[Text, Field(max_length=20000)] | None = None
    went_well: list[Text] | None = Field(None, max_length=100)
    went_badly: list[Text] | None = Field(None, max_length=100)
    internal_message: Annotated[Text, Field(max_length=20000)] | None = None
    external_message: Annotated[Text, Field(max_length=20000)] | None = None
    requests_affected: int | None = Field(None, ge=0)
    bad_predictions_served: int | None = Field(None, ge=0)
    users_affected: int | None = Field(None, ge=0)
    sessions_affected: int | None = Field(None, ge=0)


class ActionItemIn(BaseModel):
    """A new action item; without ``due_at`` the incident's severity sets it."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[Text, Field(min_length=1, max_length=2000)]
    owner: Annotated[Text, Field(min_length=1, max_length=200)]
    due_at: datetime | None = None


class ActionItemUpdate(BaseModel):
    """Changes to an action item; ``None`` leaves a field as it is."""

    model_config = ConfigDict(extra="forbid")

    owner: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    due_at: datetime | None = None
    status: str | None = Field(None, pattern="^(open|in_progress|done|cancelled)$")


class ActionItemView(BaseModel):
    """An action item with its owner, due date and status (``open``, ``in_progress``, ``done``
    or ``cancelled``), from a post-mortem or from a review of the review board."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    postmortem_id: int | None
    review_item_id: int | None = None
    title: str
    owner: str
    due_at: datetime
    status: str
    created_by: str
    created_at: datetime


class PostmortemView(BaseModel):
    """A post-mortem: status, the legal next statuses, narrative, action items and history."""

    id: int
    incident_id: int
    status: PostmortemStatus
    status_label: str
    next_statuses: list[str]
    narrative: Narrative
    action_items: list[ActionItemView]
    history: list[AuditEntryView]
    created_by: str
    created_at: datetime
    updated_at: datetime


def postmortem_chain(postmortem_id: int) -> str:
    """Return the audit chain name of a post-mortem."""
    return f"postmortem/{postmortem_id}"


def _next_statuses(status: PostmortemStatus) -> list[str]:
    return [dst.value for (src, dst) in POSTMORTEM_TRANSITIONS if src == status]


def _view(session: Session, row: PostmortemRow) -> PostmortemView:
    items = session.execute(
        select(ActionItemRow)
        .where(ActionItemRow.postmortem_id == row.id)
        .order_by(ActionItemRow.due_at, ActionItemRow.id)
    ).scalars()
    status = PostmortemStatus(row.status)
    return PostmortemView(
        id=row.id,
        incident_id=row.incident_id,
        status=status,
        status_label=status.label,
        next_statuses=_next_statuses(status),
        narrative=Narrative.model_validate(row.narrative),
        action_items=[ActionItemView.model_validate(i) for i in items],
        history=list_entries(session, chain=postmortem_chain(row.id)),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _load(session: Session, postmortem_id: int, *, lock: bool = False) -> PostmortemRow:
    query = select(PostmortemRow).where(PostmortemRow.id == postmortem_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"post-mortem {postmortem_id} not found")
    return row


def create_postmortem(
    session: Session, *, clock: Clock, incident_id: int, actor: str
) -> PostmortemView:
    """Open the draft post-mortem of an incident, seeded with an action item per recommendation.

    Each finding's recommendation becomes an action item owned by the incident commander (or,
    without one, by whoever opens the post-mortem), due by the incident's severity.
    """
    incident = get_incident(session, incident_id=incident_id)
    existing = session.execute(
        select(PostmortemRow).where(PostmortemRow.incident_id == incident_id)
    ).scalar_one_or_none()
    if existing is not None:
        raise ConflictError(
            f"incident {incident_id} already has post-mortem {existing.id}", loc="incident_id"
        )
    now = clock.now()
    row = PostmortemRow(
        incident_id=incident_id,
        status=PostmortemStatus.DRAFT.value,
        narrative=Narrative(what_happened=incident.summary).model_dump(mode="json"),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=postmortem_chain(row.id),
        actor=actor,
        action="postmortem.created",
        data={"incident_id": incident_id},
    )
    commander = next((r.person for r in incident.roles if r.role == "incident_commander"), actor)
    due = due_date_for(incident.severity, start=now)
    for finding in list_findings(session, incident_id=incident_id):
        if finding.recommendation.strip() and finding.kind != FindingKind.OBSERVATION:
            _insert_item(session, clock, row, finding.recommendation, commander, due, actor)
    return _view(session, row)


def _insert_item(
    session: Session,
    clock: Clock,
    row: PostmortemRow,
    title: str,
    owner: str,
    due: datetime,
    actor: str,
) -> ActionItemRow:
    item = ActionItemRow(
        postmortem_id=row.id,
        title=title.strip(),
        owner=owner.strip(),
        due_at=due,
        status="open",
        created_by=actor,
        created_at=clock.now(),
    )
    session.add(item)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=postmortem_chain(row.id),
        actor=actor,
        action="postmortem.action_item_added",
        reason=item.title,
        data={"item_id": item.id, "owner": item.owner, "due_at": due.isoformat()},
    )
    return item


def get_postmortem(session: Session, *, postmortem_id: int) -> PostmortemView:
    """Return the post-mortem with its action items and history."""
    return _view(session, _load(session, postmortem_id))


def postmortem_for_incident(session: Session, *, incident_id: int) -> PostmortemView | None:
    """Return the incident's post-mortem, or ``None`` when it has none yet."""
    row = session.execute(
        select(PostmortemRow).where(PostmortemRow.incident_id == incident_id)
    ).scalar_one_or_none()
    return None if row is None else _view(session, row)


def list_postmortems(session: Session, *, status: str | None = None) -> list[PostmortemView]:
    """Return post-mortems, newest first, optionally only those in ``status``."""
    query = select(PostmortemRow).order_by(PostmortemRow.id.desc())
    if status:
        query = query.where(PostmortemRow.status == _parse_status(status).value)
    return [_view(session, r) for r in session.execute(query).scalars()]


def _parse_status(value: str) -> PostmortemStatus:
    try:
        return PostmortemStatus(value.strip().lower().replace(" ", "_"))
    except ValueError:
        known = ", ".join(s.value for s in PostmortemStatus)
        raise InputError(f"unknown post-mortem status {value!r}; known: {known}") from None


def required_role(current: str, to: str) -> str:
    """Return the user role a move of a post-mortem's review needs (or raise if it is illegal).

    >>> required_role("in_review", "reviewed")
    'approver'
    """
    src, dst = _parse_status(current), _parse_status(to)
    role = POSTMORTEM_TRANSITIONS.get((src, dst))
    if role is None:
        legal = ", ".join(_next_statuses(src)) or "none"
        raise IllegalTransitionError(
            f"a post-mortem cannot move from {src.value} to {dst.value}; "
            f"legal moves from {src.value}: {legal}",
            loc="to",
        )
    return role


def transition_postmortem(
    session: Session, *, clock: Clock, postmortem_id: int, to: str, actor: str, reason: str
) -> PostmortemView:
    """Move the post-mortem's review to status ``to`` and record who did it and why."""
    row = _load(session, postmortem_id, lock=True)
    required_role(row.status, to)
    target = _parse_status(to)
    if target is PostmortemStatus.CLOSED:
        open_items = session.execute(
            select(ActionItemRow).where(
                ActionItemRow.postmortem_id == postmortem_id, ActionItemRow.status == "open"
            )
        ).scalars()
        if not all(i.owner.strip() for i in open_items):
            raise ConflictError("every open action item needs an owner before closing")
    source = row.status
    row.status = target.value
    row.updated_at = clock.now()
    _queue_for_review(session, clock, row, source, actor)
    append_entry(
        session,
        clock=clock,
        chain=postmortem_chain(postmortem_id),
        actor=actor,
        action="postmortem.transitioned",
        reason=reason,
        data={"from": source, "to": target.value},
    )
    session.flush()
    return _view(session, row)


def _queue_for_review(
    session: Session, clock: Clock, row: PostmortemRow, source: str, actor: str
) -> None:
    # In review means in the review board's queue; leaving review by another way takes it off.
    reference = f"PM-{row.id}"
    if row.status == PostmortemStatus.IN_REVIEW.value:
        title = get_incident(session, incident_id=row.incident_id).title
        file_review_item(
            session,
            clock=clock,
            kind="postmortem",
            reference=reference,
            title=f"Post-mortem of INC-{row.incident_id}: {title}",
            actor=actor,
        )
    elif source == PostmortemStatus.IN_REVIEW.value:
        withdraw_review_item(
            session,
            clock=clock,
            kind="postmortem",
            reference=reference,
            actor=actor,
            reason=f"the post-mortem moved to {row.status} outside the review board",
        )


def update_narrative(
    session: Session,
    *,
    clock: Clock,
    postmortem_id: int,
    changes: NarrativeUpdate,
    actor: str,
) -> PostmortemView:
    """Apply narrative changes (refused once the post-mortem is closed) and return it."""
    row = _load(session, postmortem_id, lock=True)
    if row.status == PostmortemStatus.CLOSED.value:
        raise ConflictError(f"post-mortem {postmortem_id} is closed; reopen is not possible")
    merged = {**row.narrative, **changes.model_dump(exclude_none=True, mode="json")}
    changed = sorted(k for k in merged if row.narrative.get(k) != merged[k])
    if changed:
        row.narrative = Narrative.model_validate(merged).model_dump(mode="json")
        row.updated_at = clock.now()
        append_entry(
            session,
            clock=clock,
            chain=postmortem_chain(postmortem_id),
            actor=actor,
            action="postmortem.edited",
            data={"fields": changed},
        )
        session.flush()
    return _view(session, row)


def add_action_item(
    session: Session, *, clock: Clock, postmortem_id: int, item: ActionItemIn, actor: str
) -> ActionItemView:
    """Add an action item; without a due date it is due by the incident's severity."""
    row = _load(session, postmortem_id, lock=True)
    if row.status == PostmortemStatus.CLOSED.value:
        raise ConflictError(f"post-mortem {postmortem_id} is closed")
    incident = get_incident(session, incident_id=row.incident_id)
    due = item.due_at or due_date_for(incident.severity, start=clock.now())
    created = _insert_item(session, clock, row, item.title, item.owner, due, actor)
    return ActionItemView.model_validate(created)


def update_action_item(
    session: Session,
    *,
    clock: Clock,
    postmortem_id: int,
    item_id: int,
    changes: ActionItemUpdate,
    actor: str,
) -> ActionItemView:
    """Change an action item's owner, due date or status and record it."""
    _load(session, postmortem_id, lock=True)
    item = session.get(ActionItemRow, item_id)
    if item is None or item.postmortem_id != postmortem_id:
        raise NotFoundError(f"action item {item_id} not found on post-mortem {postmortem_id}")
    diff = {}
    for field, value in changes.model_dump(exclude_none=True).items():
        if getattr(item, field) != value:
            diff[field] = str(value)
            setattr(item, field, value)
    if diff:
        append_entry(
            session,
            clock=clock,
            chain=postmortem_chain(postmortem_id),
            actor=actor,
            action="postmortem.action_item_updated",
            reason=item.title,
            data={"item_id": item_id, **diff},
        )
        session.flush()
    return ActionItemView.model_validate(item)
