"""Data batches and their sources: register, read, quarantine, release, revoke a source.

Batches are written on their audit chain ``batch/<batch_id>``. A quarantined batch can no longer
train a registered version; quarantining with ``cascade`` quarantines every version it reached.

Example:
    >>> from datetime import timedelta
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = register_batch(s, clock=clock, actor="etl", batch_id="acme-1", source="acme",
    ...                        rows=1000, sha256="a" * 64)
    ...     clock.advance(timedelta(days=1))
    ...     _ = register_batch(s, clock=clock, actor="etl", batch_id="acme-2", source="acme",
    ...                        rows=1000, sha256="c" * 64)
    ...     _ = quarantine_batch(s, clock=clock, actor="soc", batch_id="acme-2",
    ...                          reason="labels flipped")
    >>> with store.read() as s:
    ...     [(b.batch_id, b.status) for b in batches_from_source(s, source="acme")]
    [('acme-1', 'accepted'), ('acme-2', 'quarantined')]
    >>> store.close()
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock, ensure_utc
from airsoc.errors import ConflictError, InputError
from airsoc.lineage.models import DataBatchRow
from airsoc.lineage.queries import models_for_batch
from airsoc.lineage.records import (
    BatchView,
    batch_chain,
    batch_row,
    check_choice,
    check_sha256,
)
from airsoc.lineage.versions import set_model_status

__all__ = [
    "BATCH_STATUSES",
    "batch_chain",
    "batches_from_source",
    "get_batch",
    "list_batches",
    "quarantine_batch",
    "register_batch",
    "release_batch",
    "revoke_source",
]


BATCH_STATUSES = ("accepted", "quarantined", "released")


def register_batch(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    batch_id: str,
    source: str,
    rows: int,
    sha256: str,
    schema: dict[str, str] | None = None,
    time_start: datetime | None = None,
    time_end: datetime | None = None,
    validation: dict[str, Any] | None = None,
    uri: str = "",
    ingested_at: datetime | None = None,
    status: str = "accepted",
    reason: str = "",
) -> BatchView:
    """Register an ingested data batch and return it."""
    check_choice(status, BATCH_STATUSES, "batch status")
    if not batch_id.strip() or not source.strip():
        raise InputError("a data batch needs a batch id and a source (vendor)")
    if rows < 0:
        raise InputError(f"batch {batch_id}: rows must be >= 0, got {rows}")
    check_sha256(sha256, f"batch {batch_id}")
    if time_start and time_end and ensure_utc(time_end) < ensure_utc(time_start):
        raise InputError(f"batch {batch_id}: time range ends before it starts")
    exists = session.execute(
        select(DataBatchRow.id).where(DataBatchRow.batch_id == batch_id)
    ).scalar_one_or_none()
    if exists is not None:
        raise ConflictError(f"data batch {batch_id!r} is already registered")
    row = DataBatchRow(
        batch_id=batch_id,
        source=source,
        uri=uri,
        ingested_at=ingested_at or clock.now(),
        time_start=time_start,
        time_end=time_end,
        rows=rows,
        schema=dict(schema or {}),
        sha256=sha256,
        validation=dict(validation or {}),
        status=status,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=batch_chain(batch_id),
        actor=actor,
        action="batch.registered",
        reason=reason,
        data={"source": source, "rows": rows, "sha256": sha256, "status": status},
    )
    return BatchView.model_validate(row)


def get_batch(session: Session, *, batch_id: str) -> BatchView:
    """Return one data batch."""
    return BatchView.model_validate(batch_row(session, batch_id))


def list_batches(
    session: Session, *, source: str | None = None, status: str | None = None
) -> list[BatchView]:
    """Return data batches (from one source, with one status), by ingestion time."""
    query = select(DataBatchRow)
    if source is not None:
        query = query.where(DataBatchRow.source == source)
    if status is not None:
        check_choice(status, BATCH_STATUSES, "batch status")
        query = query.where(DataBatchRow.status == status)
    rows = session.execute(query.order_by(DataBatchRow.ingested_at, DataBatchRow.id)).scalars()
    return [BatchView.model_validate(r) for r in rows]


def quarantine_batch(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    batch_id: str,
    reason: str,
    cascade: bool = False,
) -> BatchView:
    """Quarantine a batch (and with ``cascade`` every model version trained on it); return it.

    A quarantined batch can no longer be used to train a registered version.
    """
    row = _set_batch_status(
        session, clock=clock, actor=actor, batch_id=batch_id, status="quarantined", reason=reason
    )
    if cascade:
        for model in models_for_batch(session, batch_id=batch_id):
            set_model_status(
                session,
                clock=clock,
                actor=actor,
                system=model.system,
                version=model.version,
                status="quarantined",
                reason=f"trained on quarantined batch {batch_id}: {reason}",
            )
    return BatchView.model_validate(row)


def release_batch(
    session: Session, *, clock: Clock, actor: str, batch_id: str, reason: str
) -> BatchView:
    """Release a quarantined batch after investigation and return it."""
    row = batch_row(session, batch_id)
    if row.status != "quarantined":
        raise ConflictError(f"batch {batch_id} is {row.status}, not quarantined")
    row = _set_batch_status(
        session, clock=clock, actor=actor, batch_id=batch_id, status="released", reason=reason
    )
    return BatchView.model_validate(row)


def revoke_source(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    source: str,
    reason: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[BatchView]:
    """Quarantine every batch of ``source`` (in a time range) and return the batches it touched."""
    touched = []
    for batch in batches_from_source(session, source=source, start=start, end=end):
        if batch.status != "quarantined":
            touched.append(
                quarantine_batch(
                    session,
                    clock=clock,
                    actor=actor,
                    batch_id=batch.batch_id,
                    reason=f"source {source} revoked: {reason}",
                )
            )
    return touched


def batches_from_source(
    session: Session,
    *,
    source: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[BatchView]:
    """Return the batches of ``source`` that touch the time range ``[start, end)``.

    A batch touches the range when the time it covers overlaps it; a batch without a covered
    range counts by its ingestion time.
    """
    query = select(DataBatchRow).where(DataBatchRow.source == source)
    if start is not None:
        query = query.where(
            or_(
                and_(DataBatchRow.time_end.is_not(None), DataBatchRow.time_end >= start),
                and_(DataBatchRow.time_end.is_(None), DataBatchRow.ingested_at >= start),
            )
        )
    if end is not None:
        query = query.where(
            or_(
                and_(DataBatchRow.time_start.is_not(None), DataBatchRow.time_start < end),
                and_(DataBatchRow.time_start.is_(None), DataBatchRow.ingested_at < end),
            )
        )
    rows = session.execute(query.order_by(DataBatchRow.ingested_at, DataBatchRow.id)).scalars()
    return [BatchView.model_validate(r) for r in rows]


def _set_batch_status(
    session: Session, *, clock: Clock, actor: str, batch_id: str, status: str, reason: str
) -> DataBatchRow:
    if not reason.strip():
        raise InputError(f"batch {batch_id}: say why its status changes")
    row = batch_row(session, batch_id)
    before = row.status
    row.status = status
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=batch_chain(batch_id),
        actor=actor,
        action=f"batch.{status}",
        reason=reason,
        data={"from": before, "to": status},
    )
    return row
