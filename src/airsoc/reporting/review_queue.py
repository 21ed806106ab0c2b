"""The review board's queue: items of any kind (post-mortems, tabletop debriefs) by reference.

An item has a ``kind``, a ``reference`` (``PM-3``, a drill's debrief id, ...), a ``title`` and a
``status``: ``pending`` (waiting for the board), ``approved``, ``changes_requested`` or
``withdrawn``. Filing the same kind and reference again while it is pending returns the pending
item; after a decision, filing it again starts a new review. Every change is written to the
item's audit chain ``review/<id>`` in the caller's transaction.

The decisions (:mod:`airsoc.reporting.review`) live one module up, because a decision on a
post-mortem moves the post-mortem, and post-mortems file themselves here.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     item = file_review_item(s, clock=clock, kind="tabletop_debrief", reference="TT-1",
    ...                             title="Poisoned vendor batch tabletop", actor="dana")
    ...     again = file_review_item(s, clock=clock, kind="tabletop_debrief", reference="TT-1",
    ...                              title="Poisoned vendor batch tabletop", actor="dana")
    >>> item.id == again.id, item.status
    (True, 'pending')
    >>> store.close()
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import InputError
from airsoc.reporting.models import ReviewItemRow

__all__ = [
    "REVIEW_KINDS",
    "ReviewItemStatus",
    "ReviewItemSummary",
    "file_review_item",
    "review_chain",
    "withdraw_review_item",
]

#: Kinds of item the board knows; another kind may join with a name of the same shape.
REVIEW_KINDS: dict[str, str] = {
    "postmortem": "a post-mortem (reference PM-<id>)",
    "tabletop_debrief": "the debrief of a tabletop exercise",
}

_KIND = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


class ReviewItemStatus(StrEnum):
    """Where an item stands with the board."""

    PENDING = "pending"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    WITHDRAWN = "withdrawn"


class ReviewItemSummary(BaseModel):
    """An item in the queue, without its decisions."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    reference: str
    title: str
    status: str
    submitted_by: str
    submitted_at: datetime
    updated_at: datetime


def review_chain(item_id: int) -> str:
    """Return the audit chain name of a review item."""
    return f"review/{item_id}"


def _pending(session: Session, kind: str, reference: str) -> ReviewItemRow | None:
    return (
        session.execute(
            select(ReviewItemRow).where(
                ReviewItemRow.kind == kind,
                ReviewItemRow.reference == reference,
                ReviewItemRow.status == ReviewItemStatus.PENDING.value,
            )
        )
        .scalars()
        .first()
    )


def file_review_item(
    session: Session, *, clock: Clock, kind: str, reference: str, title: str, actor: str
) -> ReviewItemSummary:
    """Put an item in the board's queue (or return it, when it is already pending)."""
    kind = kind.strip().lower()
    if not _KIND.match(kind):
        raise InputError(
            f"review item kind {kind!r} must be lower-case letters, digits and _ "
            f"(known: {', '.join(REVIEW_KINDS)})",
            loc="kind",
        )
    if not reference.strip():
        raise InputError("a review item needs a reference", loc="reference")
    if not title.strip():
        raise InputError("a review item needs a title", loc="title")
    existing = _pending(session, kind, reference.strip())
    if existing is not None:
        return ReviewItemSummary.model_validate(existing)
    now = clock.now()
    row = ReviewItemRow(
        kind=kind,
        reference=reference.strip(),
        title=title.strip(),
        status=ReviewItemStatus.PENDING.value,
        submitted_by=actor,
        submitted_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=review_chain(row.id),
        actor=actor,
        action="review.filed",
        reason=row.title,
        data={"kind": kind, "reference": row.reference},
    )
    return ReviewItemSummary.model_validate(row)


def withdraw_review_item(
    session: Session, *, clock: Clock, kind: str, reference: str, actor: str, reason: str
) -> ReviewItemSummary | None:
    """Take a pending item off the queue (it changed outside the board); None if none pends."""
    row = _pending(session, kind, reference)
    if row is None:
        return None
    row.status = ReviewItemStatus.WITHDRAWN.value
    row.updated_at = clock.now()
    append_entry(
        session,
        clock=clock,
        chain=review_chain(row.id),
        actor=actor,
        action="review.withdrawn",
        reason=reason,
        data={"kind": kind, "reference": reference},
    )
    session.flush()
    return ReviewItemSummary.model_validate(row)
