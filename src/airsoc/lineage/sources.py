"""Data sources (vendors) and their trust levels: trusted, on probation, or revoked.

A source is ``trusted`` until someone says otherwise. Its batches train versions freely. A
source on ``probation`` (the poisoning playbook puts the vendor it names there) still delivers,
but none of its batches trains a version until the batch passed screening and a person approved
it (:func:`approve_batch`). A ``revoked`` source's batches never train. Every change of trust and
every approval is written on the source's audit chain ``source/<name>`` and the batch's chain.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.lineage.batches import register_batch
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = register_batch(s, clock=clock, actor="etl", batch_id="acme-1", source="acme",
    ...                        rows=1000, sha256="a" * 64)
    ...     set_source_trust(s, clock=clock, actor="soc", source="acme", level="probation",
    ...                      reason="named by the poisoning investigation").trust
    'probation'
    >>> with store.read() as s:
    ...     check_training_batches(s, batch_ids=["acme-1"], subject="fraud v3")
    Traceback (most recent call last):
    ...
    airsoc.errors.ConflictError: fraud v3: training batch acme-1 comes from source acme, ...
    >>> with store.transaction() as s:
    ...     approve_batch(s, clock=clock, actor="sam", batch_id="acme-1", reason="screened clean",
    ...                   screening={"status": "ran", "decision": "ok"}).approved_by
    'sam'
    >>> with store.read() as s:
    ...     check_training_batches(s, batch_ids=["acme-1"], subject="fraud v3")
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import ConflictError, InputError
from airsoc.lineage.integrity import local_path
from airsoc.lineage.models import DataBatchRow, SourceRow
from airsoc.lineage.records import BatchView, batch_chain, batch_row, check_choice

__all__ = [
    "TRUST_LEVELS",
    "SourceTrustView",
    "approve_batch",
    "check_training_batches",
    "get_source_trust",
    "list_sources",
    "screen_and_approve_batch",
    "screening_passed",
    "set_source_trust",
    "source_chain",
]

TRUST_LEVELS = ("trusted", "probation", "revoked")


class SourceTrustView(BaseModel):
    """A data source's trust level, who set it, when and why (``trusted`` by default)."""

    model_config = ConfigDict(from_attributes=True)

    source: str
    trust: str
    reason: str = ""
    updated_by: str | None = None
    updated_at: datetime | None = None


def source_chain(source: str) -> str:
    """Return the audit chain of a data source.

    >>> source_chain("acme")
    'source/acme'
    """
    return f"source/{source}"


def get_source_trust(session: Session, *, source: str) -> SourceTrustView:
    """Return the trust level of ``source`` (``trusted`` when nobody changed it)."""
    row = session.get(SourceRow, source)
    if row is None:
        return SourceTrustView(source=source, trust="trusted")
    return _view(row)


def list_sources(session: Session) -> list[SourceTrustView]:
    """Return every source that delivered a batch or had its trust set, by name."""
    names = set(session.execute(select(DataBatchRow.source).distinct()).scalars())
    rows = {r.name: r for r in session.execute(select(SourceRow)).scalars()}
    return [
        _view(rows[n]) if n in rows else SourceTrustView(source=n, trust="trusted")
        for n in sorted(names | set(rows))
    ]


def set_source_trust(
    session: Session, *, clock: Clock, actor: str, source: str, level: str, reason: str
) -> SourceTrustView:
    """Set the trust level of ``source`` and return it; the change is audited."""
    check_choice(level, TRUST_LEVELS, "trust level")
    if not source.strip():
        raise InputError("a trust level is set on a named data source")
    if not reason.strip():
        raise InputError(f"source {source}: say why its trust level changes")
    row = session.get(SourceRow, source)
    before = "trusted" if row is None else row.trust
    if row is None:
        row = SourceRow(name=source, trust=level, reason=reason, updated_by=actor)
        session.add(row)
    row.trust, row.reason, row.updated_by, row.updated_at = level, reason, actor, clock.now()
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=source_chain(source),
        actor=actor,
        action=f"source.{level}",
        reason=reason,
        data={"from": before, "to": level},
    )
    return _view(row)


def screening_passed(screening: Mapping[str, Any] | None) -> bool:
    """Return whether a screening record says the batch was screened and raised no alarm.

    >>> screening_passed({"status": "ran", "decision": "warn"})
    True
    >>> screening_passed({"status": "skipped", "decision": "ok"}), screening_passed(None)
    (False, False)
    """
    return (
        screening is not None
        and screening.get("status") == "ran"
        and screening.get("decision") in ("ok", "warn")
    )


def approve_batch(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    batch_id: str,
    reason: str,
    screening: Mapping[str, Any],
) -> BatchView:
    """Approve a batch for training on the strength of a passing ``screening`` and return it.

    ``screening`` is the screening verdict's record (``status`` ``ran`` and ``decision`` ``ok``
    or ``warn`` pass). A failed screen, a quarantined batch or a revoked source is refused.
    """
    row = batch_row(session, batch_id)
    if not reason.strip():
        raise InputError(f"batch {batch_id}: say why it is approved")
    trust = get_source_trust(session, source=row.source).trust
    if trust == "revoked":
        raise ConflictError(
            f"batch {batch_id}: source {row.source} is revoked; its batches are never approved"
        )
    if row.status == "quarantined":
        raise ConflictError(f"batch {batch_id} is quarantined; release it before approving it")
    if not screening_passed(screening):
        raise ConflictError(
            f"batch {batch_id} from source {row.source} did not pass screening "
            f"(status {screening.get('status')!r}, decision {screening.get('decision')!r}); "
            "it is not approved"
        )
    row.approved_by, row.approved_at, row.screening = actor, clock.now(), dict(screening)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=batch_chain(batch_id),
        actor=actor,
        action="batch.approved",
        reason=reason,
        data={"source": row.source, "source_trust": trust, "screening": dict(screening)},
    )
    return BatchView.model_validate(row)


def screen_and_approve_batch(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    reason: str,
    batch_id: str,
    trusted_batches: Sequence[str],
    label_column: str = "label",
) -> BatchView:
    """Screen a batch against trusted batches, then approve it if the screen passes; return it.

    The batches are read from their registered files (local paths or ``file://`` URIs). The
    screen is :func:`airsoc.detection.attacks.screen_batch`; its verdict is kept on the batch.
    A screen that alarms is refused with its reason, and nothing is approved.
    """
    from airsoc.detection.attacks import read_frame, screen_batch

    if not trusted_batches:
        raise InputError(f"batch {batch_id}: name the trusted batches to screen it against")
    if batch_id in trusted_batches:
        raise InputError(f"batch {batch_id} cannot be screened against itself")
    frames = [read_frame(_batch_file(session, b)) for b in (batch_id, *trusted_batches)]
    result = screen_batch(frames[0], frames[1:], label_column, batch_id=batch_id)
    verdict = result.verdict
    screening = {
        "method": verdict.method,
        "status": verdict.status,
        "decision": verdict.decision,
        "p_value": verdict.p_value,
        "reason": verdict.reason,
        "rows_flagged": int(result.flagged.sum()),
        "rows": len(result.scores),
        "trusted_batches": list(trusted_batches),
    }
    return approve_batch(
        session, clock=clock, actor=actor, batch_id=batch_id, reason=reason, screening=screening
    )


def _batch_file(session: Session, batch_id: str) -> Path:
    row = batch_row(session, batch_id)
    path = local_path(row.uri) if row.uri else None
    if path is None:
        raise InputError(
            f"batch {batch_id}: its data ({row.uri or 'no URI'}) is not a local file to screen"
        )
    return path


def check_training_batches(session: Session, *, batch_ids: Sequence[str], subject: str) -> None:
    """Return quietly if every batch may train ``subject``; else raise a
    :class:`ConflictError` naming the first batch refused and its source.

    A batch is refused when it is quarantined, when its source is revoked, or when its source is
    on probation and the batch was not both screened clean and approved.
    """
    trust: dict[str, str] = {}
    for batch_id in batch_ids:
        row = batch_row(session, batch_id)
        if row.status == "quarantined":
            raise ConflictError(f"{subject}: training batch {batch_id} is quarantined")
        if row.source not in trust:
            trust[row.source] = get_source_trust(session, source=row.source).trust
        level = trust[row.source]
        if level == "revoked":
            raise ConflictError(
                f"{subject}: training batch {batch_id} comes from source {row.source}, "
                "which is revoked"
            )
        if level == "probation" and not (row.approved_by and screening_passed(row.screening)):
            raise ConflictError(
                f"{subject}: training batch {batch_id} comes from source {row.source}, which is "
                "on probation; the batch needs a passing screen and an approval first"
            )


def _view(row: SourceRow) -> SourceTrustView:
    return SourceTrustView(
        source=row.name,
        trust=row.trust,
        reason=row.reason,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )
