"""Deployments and known-good versions: what serves a system in which role, and where to go back.

Recording a deployment ends the previous one in that role; a version's status follows its role
(primary: production; leaving production: retired). The known-good flag says who vouched for a
version, when and why; :func:`last_known_good` is the rollback target.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.lineage.systems import register_system
    >>> from airsoc.lineage.versions import register_model_version
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = register_system(s, clock=clock, actor="alice", name="fraud",
    ...                         kind="tabular-classifier", owner="risk-ml")
    ...     for v in ("v1", "v2"):
    ...         _ = register_model_version(s, clock=clock, actor="ci", system="fraud", version=v,
    ...                                    artifact_uri=f"s3://models/{v}", sha256="b" * 64)
    ...     _ = mark_known_good(s, clock=clock, actor="alice", system="fraud", version="v1",
    ...                         reason="passed review")
    ...     _ = record_deployment(s, clock=clock, actor="ci", system="fraud", version="v2",
    ...                           role="primary", reason="release")
    >>> with store.read() as s:
    ...     [(d.version, d.role) for d in current_deployments(s, system="fraud")]
    ...     last_known_good(s, system="fraud").version
    [('v2', 'primary')]
    'v1'
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import ConflictError, InputError, NotFoundError
from airsoc.lineage.models import DataBatchRow, DeploymentRow, ModelVersionRow, TrainingLinkRow
from airsoc.lineage.records import (
    ModelVersionView,
    batch_row,
    check_choice,
    model_row,
    model_view,
    system_row,
)
from airsoc.lineage.systems import system_chain
from airsoc.lineage.versions import STICKY_STATUSES

__all__ = [
    "DEPLOYMENT_ROLES",
    "DeploymentView",
    "current_deployments",
    "deployment_history",
    "end_deployment",
    "last_known_good",
    "mark_known_good",
    "record_deployment",
]


DEPLOYMENT_ROLES = ("primary", "canary", "shadow")

# The model status a deployment role gives a version.
_ROLE_STATUS = {"primary": "production", "canary": "canary", "shadow": "shadow"}


class DeploymentView(BaseModel):
    """One stretch of time a version served a system in a role."""

    system: str
    version: str
    role: str
    started_at: datetime
    ended_at: datetime | None
    switched_by: str
    reason: str


def record_deployment(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    version: str,
    role: str,
    reason: str,
) -> DeploymentView:
    """Record that ``version`` now serves ``system`` in ``role`` and return the deployment.

    The previous deployment in that role ends now; a version leaving production is retired.
    The model's status follows its role (primary: production).
    """
    check_choice(role, DEPLOYMENT_ROLES, "deployment role")
    sys_row = system_row(session, system)
    model = model_row(session, system, version)
    now = clock.now()
    previous = _open_deployment(session, sys_row.id, role)
    if previous is not None:
        if previous.model_version_id == model.id:
            return _deployment_view(session, previous, system)
        _close(session, clock=clock, actor=actor, system=system, row=previous, reason=reason)
    row = DeploymentRow(
        system_id=sys_row.id,
        model_version_id=model.id,
        role=role,
        started_at=now,
        switched_by=actor,
        reason=reason,
    )
    session.add(row)
    if model.status not in STICKY_STATUSES:
        model.status = _ROLE_STATUS[role]
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=system_chain(system),
        actor=actor,
        action="deployment.started",
        reason=reason,
        data={"version": version, "role": role},
    )
    return _deployment_view(session, row, system)


def end_deployment(
    session: Session, *, clock: Clock, actor: str, system: str, role: str, reason: str
) -> DeploymentView | None:
    """End the open deployment of ``system`` in ``role`` and return it (None if there was none)."""
    check_choice(role, DEPLOYMENT_ROLES, "deployment role")
    sys_row = system_row(session, system)
    row = _open_deployment(session, sys_row.id, role)
    if row is None:
        return None
    _close(session, clock=clock, actor=actor, system=system, row=row, reason=reason)
    return _deployment_view(session, row, system)


def current_deployments(session: Session, *, system: str) -> list[DeploymentView]:
    """Return the open deployments of a system (at most one per role)."""
    sys_row = system_row(session, system)
    rows = session.execute(
        select(DeploymentRow)
        .where(DeploymentRow.system_id == sys_row.id, DeploymentRow.ended_at.is_(None))
        .order_by(DeploymentRow.role)
    ).scalars()
    return [_deployment_view(session, r, system) for r in rows]


def deployment_history(session: Session, *, system: str) -> list[DeploymentView]:
    """Return every deployment of a system, oldest first."""
    sys_row = system_row(session, system)
    rows = session.execute(
        select(DeploymentRow)
        .where(DeploymentRow.system_id == sys_row.id)
        .order_by(DeploymentRow.started_at, DeploymentRow.id)
    ).scalars()
    return [_deployment_view(session, r, system) for r in rows]


def mark_known_good(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    version: str,
    reason: str,
    known_good: bool = True,
) -> ModelVersionView:
    """Set (or with ``known_good=False`` clear) a version's known-good flag, saying who and why."""
    if not reason.strip():
        raise InputError(f"{system} {version}: say why the version is (not) known-good")
    row = model_row(session, system, version)
    if known_good and row.status in STICKY_STATUSES:
        raise ConflictError(f"{system} {version} is {row.status} and cannot be marked known-good")
    row.known_good = known_good
    row.known_good_by = actor
    row.known_good_at = clock.now()
    row.known_good_reason = reason
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=system_chain(system),
        actor=actor,
        action="model.known_good" if known_good else "model.known_good_cleared",
        reason=reason,
        data={"version": version},
    )
    return model_view(session, row, system)


def last_known_good(
    session: Session,
    *,
    system: str,
    before_batch: str | None = None,
    exclude: Iterable[str] = (),
) -> ModelVersionView:
    """Return the newest known-good version of ``system`` untouched by ``before_batch``.

    A candidate must be flagged known-good, neither quarantined nor held, trained neither on
    ``before_batch`` nor on any quarantined batch, and not in ``exclude``; so it is what the
    system was before the batch arrived, or a later version trained without it. Raises
    :class:`NotFoundError` when no version qualifies.
    """
    sys_row = system_row(session, system)
    query = select(ModelVersionRow).where(
        ModelVersionRow.system_id == sys_row.id,
        ModelVersionRow.known_good.is_(True),
        ModelVersionRow.status.not_in(STICKY_STATUSES),
    )
    excluded = set(exclude)
    banned_batches = set(
        session.execute(
            select(DataBatchRow.id).where(DataBatchRow.status == "quarantined")
        ).scalars()
    )
    if before_batch is not None:
        banned_batches.add(batch_row(session, before_batch).id)
    rows = session.execute(
        query.order_by(ModelVersionRow.created_at.desc(), ModelVersionRow.id.desc())
    ).scalars()
    for row in rows:
        if row.version in excluded:
            continue
        trained_on = set(
            session.execute(
                select(TrainingLinkRow.batch_id).where(TrainingLinkRow.model_version_id == row.id)
            ).scalars()
        )
        if trained_on & banned_batches:
            continue
        return model_view(session, row, system)
    when = f" before batch {before_batch}" if before_batch else ""
    raise NotFoundError(f"system {system} has no known-good model version{when}")


def _open_deployment(session: Session, system_id: int, role: str) -> DeploymentRow | None:
    return session.execute(
        select(DeploymentRow).where(
            DeploymentRow.system_id == system_id,
            DeploymentRow.role == role,
            DeploymentRow.ended_at.is_(None),
        )
    ).scalar_one_or_none()


def _close(
    session: Session, *, clock: Clock, actor: str, system: str, row: DeploymentRow, reason: str
) -> None:
    row.ended_at = clock.now()
    model = session.get(ModelVersionRow, row.model_version_id)
    assert model is not None
    still_serving = session.execute(
        select(DeploymentRow.id).where(
            DeploymentRow.model_version_id == model.id,
            DeploymentRow.ended_at.is_(None),
            DeploymentRow.id != row.id,
        )
    ).first()
    if still_serving is None and model.status not in STICKY_STATUSES:
        model.status = "retired" if row.role == "primary" else "candidate"
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=system_chain(system),
        actor=actor,
        action="deployment.ended",
        reason=reason,
        data={"version": model.version, "role": row.role},
    )


def _deployment_view(session: Session, row: DeploymentRow, system: str) -> DeploymentView:
    model = session.get(ModelVersionRow, row.model_version_id)
    assert model is not None
    return DeploymentView(
        system=system,
        version=model.version,
        role=row.role,
        started_at=row.started_at,
        ended_at=row.ended_at,
        switched_by=row.switched_by,
        reason=row.reason,
    )
