"""Service functions of alerting: signals, alerts, silences and deliveries in the store.

Keyword-only and typed; the caller gives the transaction. Silences are written to the audit
timeline (chain ``alerting/silences``) with who, when and why.

Example:
    >>> from datetime import timedelta
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     sil = add_silence(s, clock=clock, matchers=["system=fraud"],
    ...                       duration=timedelta(hours=2), created_by="alice",
    ...                       comment="retraining window")
    >>> with store.read() as s:
    ...     [(v.created_by, v.state) for v in list_silences(s, clock=clock)]
    [('alice', 'active')]
    >>> store.close()
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.alerting.dispatcher import LogEntry, LogKey
from airsoc.alerting.matchers import parse_matchers
from airsoc.alerting.models import (
    AlertRow,
    DeliveryRow,
    NotificationLogRow,
    SilenceRow,
)
from airsoc.alerting.notification import Delivery
from airsoc.alerting.suppression import Silence
from airsoc.audit import append_entry
from airsoc.clock import Clock, ensure_utc
from airsoc.errors import ConflictError, InputError, NotFoundError
from airsoc.monitoring.alerts import Alert

__all__ = [
    "SILENCE_CHAIN",
    "AlertView",
    "DeliveryView",
    "SilenceView",
    "active_silences",
    "add_silence",
    "expire_silence",
    "firing_monitor_alert",
    "list_alerts",
    "list_deliveries",
    "load_notification_log",
    "record_delivery",
    "save_alert",
    "save_notification_log_entry",
]

SILENCE_CHAIN = "alerting/silences"


class AlertView(BaseModel):
    """An alert as stored: labels, status and lifetime."""

    model_config = ConfigDict(from_attributes=True)

    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    status: str
    source: str
    starts_at: datetime
    ends_at: datetime | None
    updated_at: datetime


class SilenceView(BaseModel):
    """A silence with its state at the time it was read."""

    id: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime
    expired_by: str | None
    state: str


class DeliveryView(BaseModel):
    """A recorded delivery."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    receiver: str
    integration: str
    group_key: str
    status: str
    attempts: int
    error: str | None
    response_code: int | None
    at: datetime


def save_alert(session: Session, *, clock: Clock, alert: Alert, source: str) -> AlertView:
    """Insert or update the stored state of ``alert`` (by fingerprint) and return it."""
    now = clock.now()
    row = session.execute(
        select(AlertRow).where(AlertRow.fingerprint == alert.fingerprint)
    ).scalar_one_or_none()
    status = alert.status(now)
    if row is None:
        row = AlertRow(fingerprint=alert.fingerprint, starts_at=alert.starts_at)
        session.add(row)
    elif row.status == "resolved" and status == "firing":
        row.starts_at = alert.starts_at
    row.labels = dict(alert.labels)
    row.annotations = dict(alert.annotations)
    row.status = status
    row.source = source
    row.ends_at = alert.ends_at
    row.updated_at = now
    session.flush()
    return AlertView.model_validate(row)


def list_alerts(
    session: Session, *, status: str | None = None, limit: int = 500
) -> list[AlertView]:
    """Return stored alerts, most recently updated first."""
    if status not in (None, "firing", "resolved"):
        raise InputError(f"unknown alert status {status!r}; use firing or resolved")
    query = select(AlertRow).order_by(AlertRow.updated_at.desc(), AlertRow.id.desc()).limit(limit)
    if status:
        query = query.where(AlertRow.status == status)
    return [AlertView.model_validate(r) for r in session.execute(query).scalars()]


def _silence_view(row: SilenceRow, now: datetime) -> SilenceView:
    silence = _silence(row)
    return SilenceView(
        id=row.id,
        matchers=list(row.matchers),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_by=row.created_by,
        comment=row.comment,
        created_at=row.created_at,
        expired_by=row.expired_by,
        state=silence.state(now),
    )


def _silence(row: SilenceRow) -> Silence:
    return Silence(
        id=row.id,
        matchers=parse_matchers(row.matchers),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_by=row.created_by,
        comment=row.comment,
    )


def add_silence(
    session: Session,
    *,
    clock: Clock,
    matchers: Sequence[str],
    created_by: str,
    comment: str,
    duration: timedelta | None = None,
    ends_at: datetime | None = None,
    starts_at: datetime | None = None,
) -> SilenceView:
    """Create a silence (from now, or ``starts_at``) until ``ends_at`` or for ``duration``."""
    if not matchers:
        raise InputError("a silence needs at least one matcher, e.g. system=fraud-detector")
    try:
        parse_matchers(matchers)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not comment.strip():
        raise InputError("a silence needs a comment saying why (--comment)")
    if not created_by.strip():
        raise InputError("a silence needs an author")
    now = clock.now()
    start = ensure_utc(starts_at) if starts_at else now
    if (duration is None) == (ends_at is None):
        raise InputError("give the silence a duration or an end time (one of them)")
    end = ensure_utc(ends_at) if ends_at else start + (duration or timedelta(0))
    if end <= start:
        raise InputError(f"the silence ends ({end.isoformat()}) before it starts")
    row = SilenceRow(
        id=str(uuid.uuid4()),
        matchers=list(matchers),
        starts_at=start,
        ends_at=end,
        created_by=created_by,
        comment=comment,
        created_at=now,
    )
    session.add(row)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=SILENCE_CHAIN,
        actor=created_by,
        action="silence.created",
        reason=comment,
        data={"id": row.id, "matchers": list(matchers), "ends_at": end.isoformat()},
    )
    return _silence_view(row, now)


def list_silences(
    session: Session, *, clock: Clock, include_expired: bool = False
) -> list[SilenceView]:
    """Return silences, newest first; expired ones only when asked."""
    now = clock.now()
    query = select(SilenceRow).order_by(SilenceRow.created_at.desc())
    if not include_expired:
        query = query.where(SilenceRow.ends_at > now)
    return [_silence_view(r, now) for r in session.execute(query).scalars()]


def active_silences(session: Session, *, clock: Clock) -> list[Silence]:
    """Return the silences in force now."""
    now = clock.now()
    rows = session.execute(
        select(SilenceRow).where(SilenceRow.starts_at <= now, SilenceRow.ends_at > now)
    ).scalars()
    return [_silence(r) for r in rows]


def expire_silence(
    session: Session, *, clock: Clock, silence_id: str, actor: str, reason: str = ""
) -> SilenceView:
    """End a silence now; expiring an expired silence is a conflict."""
    rows = session.execute(
        select(SilenceRow).where(SilenceRow.id.startswith(silence_id)).with_for_update()
    ).scalars()
    found = list(rows)
    if not found:
        raise NotFoundError(f"silence {silence_id} not found")
    if len(found) > 1:
        raise InputError(f"silence id {silence_id!r} is ambiguous; give more characters")
    row = found[0]
    now = clock.now()
    if row.ends_at <= now:
        raise ConflictError(f"silence {row.id} already expired at {row.ends_at.isoformat()}")
    row.ends_at = now
    row.expired_by = actor
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=SILENCE_CHAIN,
        actor=actor,
        action="silence.expired",
        reason=reason or "expired by hand",
        data={"id": row.id},
    )
    return _silence_view(row, now)


def record_delivery(session: Session, *, delivery: Delivery) -> DeliveryView:
    """Store the outcome of one delivery and return it."""
    row = DeliveryRow(
        receiver=delivery.receiver,
        integration=delivery.integration,
        group_key=delivery.group_key,
        status=delivery.status,
        attempts=delivery.attempts,
        error=delivery.error,
        response_code=delivery.response_code,
        at=delivery.at,
        request=dict(delivery.request),
    )
    session.add(row)
    session.flush()
    return DeliveryView.model_validate(row)


def list_deliveries(
    session: Session, *, receiver: str | None = None, limit: int = 200
) -> list[DeliveryView]:
    """Return recorded deliveries, newest first."""
    query = select(DeliveryRow).order_by(DeliveryRow.id.desc()).limit(limit)
    if receiver:
        query = query.where(DeliveryRow.receiver == receiver)
    return [DeliveryView.model_validate(r) for r in session.execute(query).scalars()]


def load_notification_log(session: Session) -> dict[LogKey, LogEntry]:
    """Return the stored notification log: what each integration was last told, per group."""
    return {
        (r.group_key, r.receiver, r.integration): LogEntry(
            frozenset(r.firing), frozenset(r.resolved), r.at
        )
        for r in session.execute(select(NotificationLogRow)).scalars()
    }


def save_notification_log_entry(session: Session, *, key: LogKey, entry: LogEntry | None) -> None:
    """Store (or, with None, delete) the log entry of one group and integration."""
    group_key, receiver, integration = key
    row = session.execute(
        select(NotificationLogRow).where(
            NotificationLogRow.group_key == group_key,
            NotificationLogRow.receiver == receiver,
            NotificationLogRow.integration == integration,
        )
    ).scalar_one_or_none()
    if entry is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        row = NotificationLogRow(group_key=group_key, receiver=receiver, integration=integration)
        session.add(row)
    row.firing = sorted(entry.firing)
    row.resolved = sorted(entry.resolved)
    row.at = entry.at
    session.flush()


def firing_monitor_alert(session: Session, *, monitor: str) -> Alert | None:
    """Return the stored firing alert of ``monitor``, if any (so a restarted scheduler resolves
    what an earlier one fired)."""
    for view in list_alerts(session, status="firing"):
        if view.labels.get("monitor") == monitor and view.source == "monitor":
            return Alert(labels=view.labels, annotations=view.annotations, starts_at=view.starts_at)
    return None
