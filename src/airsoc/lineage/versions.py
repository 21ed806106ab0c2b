"""Model versions of the lineage registry: register one with its training batches, read, set status.

A version carries its artifact's sha256 (hashed now when the artifact is a local file), its
validation evidence (metrics, parameters, input schema, and the record of its validation scores,
see :mod:`airsoc.lineage.validation`) and the batches it was trained on.

A version whose promotion is held (:func:`hold_promotion`, status ``held``) cannot be promoted
or canaried until :func:`release_hold` gives it back the status its deployments say it has.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.lineage.systems import register_system
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = register_system(s, clock=clock, actor="alice", name="fraud",
    ...                         kind="tabular-classifier", owner="risk-ml")
    ...     _ = register_model_version(s, clock=clock, actor="ci", system="fraud", version="v1",
    ...                                artifact_uri="s3://models/v1", sha256="b" * 64,
    ...                                metrics={"auc": 0.91})
    ...     _ = set_model_status(s, clock=clock, actor="ci", system="fraud", version="v1",
    ...                          status="shadow")
    >>> with store.read() as s:
    ...     [(m.version, m.status, m.metrics) for m in list_model_versions(s, system="fraud")]
    [('v1', 'shadow', {'auc': 0.91})]
    >>> with store.transaction() as s:
    ...     hold_promotion(s, clock=clock, actor="soc", system="fraud", version="v1",
    ...                    reason="recall regression").status
    'held'
    >>> with store.transaction() as s:
    ...     release_hold(s, clock=clock, actor="soc", system="fraud", version="v1",
    ...                  reason="explained").status
    'candidate'
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import ConflictError, InputError, NotFoundError
from airsoc.lineage.integrity import local_path, sha256_file
from airsoc.lineage.models import DeploymentRow, ModelVersionRow, SystemRow, TrainingLinkRow
from airsoc.lineage.records import (
    ModelVersionView,
    batch_row,
    check_choice,
    check_sha256,
    model_row,
    model_view,
    system_row,
)
from airsoc.lineage.sources import check_training_batches
from airsoc.lineage.systems import system_chain
from airsoc.lineage.validation import VALIDATION_KEY

__all__ = [
    "MODEL_STATUSES",
    "get_model_version",
    "hold_promotion",
    "list_model_versions",
    "register_model_version",
    "release_hold",
    "set_model_status",
]


MODEL_STATUSES = (
    "candidate",
    "shadow",
    "canary",
    "production",
    "retired",
    "quarantined",
    "held",
)
#: Statuses a deployment never overwrites: only a person (or a playbook) lifts them.
STICKY_STATUSES = ("quarantined", "held")


def register_model_version(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    version: str,
    artifact_uri: str,
    sha256: str | None = None,
    framework: str = "sklearn",
    training_batches: Sequence[str] = (),
    metrics: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    input_schema: dict[str, str] | None = None,
    status: str = "candidate",
    reason: str = "",
    validation: dict[str, Any] | None = None,
) -> ModelVersionView:
    """Register a model version with the batches it was trained on and return it.

    Without ``sha256`` the artifact must be a local file and is hashed now. Training on a
    quarantined batch, on a batch of a revoked source, or on an unapproved batch of a source on
    probation is refused (:func:`airsoc.lineage.sources.check_training_batches`).
    ``validation`` is the record of the version's own validation evidence
    (:func:`airsoc.lineage.validation.describe_validation`), kept in its metrics.
    """
    sys_row = system_row(session, system)
    check_choice(status, MODEL_STATUSES, "model status")
    if not version.strip():
        raise InputError(f"system {system}: the model version needs a name")
    existing = session.execute(
        select(ModelVersionRow).where(
            ModelVersionRow.system_id == sys_row.id, ModelVersionRow.version == version
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise ConflictError(f"system {system} already has a model version {version!r}")
    if sha256 is None:
        path = local_path(artifact_uri)
        if path is None:
            raise InputError(
                f"{system} {version}: give the sha256 of remote artifact {artifact_uri}"
            )
        sha256 = sha256_file(path)
    check_sha256(sha256, f"{system} {version}")
    batches = [batch_row(session, b) for b in dict.fromkeys(training_batches)]
    check_training_batches(
        session, batch_ids=[b.batch_id for b in batches], subject=f"{system} {version}"
    )
    row = ModelVersionRow(
        system_id=sys_row.id,
        version=version,
        artifact_uri=artifact_uri,
        sha256=sha256,
        framework=framework,
        input_schema=dict(input_schema or {}),
        metrics={**(metrics or {}), **({VALIDATION_KEY: dict(validation)} if validation else {})},
        params=dict(params or {}),
        status=status,
        known_good=False,
        created_by=actor,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    for batch in batches:
        session.add(TrainingLinkRow(model_version_id=row.id, batch_id=batch.id))
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=system_chain(system),
        actor=actor,
        action="model.registered",
        reason=reason,
        data={
            "version": version,
            "artifact_uri": artifact_uri,
            "sha256": sha256,
            "framework": framework,
            "training_batches": [b.batch_id for b in batches],
            "status": status,
            **({"validation_sha256": validation["sha256"]} if validation else {}),
        },
    )
    return model_view(session, row, system)


def get_model_version(session: Session, *, system: str, version: str) -> ModelVersionView:
    """Return one model version of a system."""
    return model_view(session, model_row(session, system, version), system)


def list_model_versions(
    session: Session, *, system: str | None = None, status: str | None = None
) -> list[ModelVersionView]:
    """Return model versions (of one system, with one status), oldest first."""
    query = select(ModelVersionRow, SystemRow.name).join(
        SystemRow, SystemRow.id == ModelVersionRow.system_id
    )
    if system is not None:
        system_row(session, system)
        query = query.where(SystemRow.name == system)
    if status is not None:
        check_choice(status, MODEL_STATUSES, "model status")
        query = query.where(ModelVersionRow.status == status)
    rows = session.execute(
        query.order_by(SystemRow.name, ModelVersionRow.created_at, ModelVersionRow.id)
    ).all()
    return [model_view(session, row, name) for row, name in rows]


def set_model_status(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    version: str,
    status: str,
    reason: str = "",
) -> ModelVersionView:
    """Change a model version's status and return it."""
    check_choice(status, MODEL_STATUSES, "model status")
    row = model_row(session, system, version)
    if row.status != status:
        before = row.status
        row.status = status
        session.flush()
        append_entry(
            session,
            clock=clock,
            chain=system_chain(system),
            actor=actor,
            action="model.status_changed",
            reason=reason,
            data={"version": version, "from": before, "to": status},
        )
    return model_view(session, row, system)


def hold_promotion(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    reason: str,
    version: str | None = None,
) -> ModelVersionView:
    """Hold ``version`` (by default the one serving ``system`` as primary now): it cannot be
    promoted or canaried until the hold is released. A version keeps serving while held."""
    if not reason.strip():
        raise InputError(f"{system}: say why promotions are held")
    if version is None:
        version = _primary_version(session, system)
    row = model_row(session, system, version)
    if row.status == "quarantined":
        raise ConflictError(f"{system} {version} is quarantined; a hold would hide that")
    if row.status != "held":
        before = row.status
        row.status = "held"
        session.flush()
        append_entry(
            session,
            clock=clock,
            chain=system_chain(system),
            actor=actor,
            action="model.promotion_held",
            reason=reason,
            data={"version": version, "from": before},
        )
    return model_view(session, row, system)


def release_hold(
    session: Session, *, clock: Clock, actor: str, system: str, version: str, reason: str
) -> ModelVersionView:
    """Release the hold on ``version``: it takes the status its deployments give it again
    (production, canary or shadow while serving; retired if it served before; else candidate)."""
    if not reason.strip():
        raise InputError(f"{system} {version}: say why the hold is released")
    row = model_row(session, system, version)
    if row.status != "held":
        raise ConflictError(f"{system} {version} is not held (it is {row.status})")
    roles = set(
        session.execute(
            select(DeploymentRow.role).where(
                DeploymentRow.model_version_id == row.id, DeploymentRow.ended_at.is_(None)
            )
        ).scalars()
    )
    served = session.execute(
        select(DeploymentRow.id).where(
            DeploymentRow.model_version_id == row.id, DeploymentRow.role == "primary"
        )
    ).first()
    status = next(
        (
            s
            for role, s in (("primary", "production"), ("canary", "canary"), ("shadow", "shadow"))
            if role in roles
        ),
        "retired" if served is not None else "candidate",
    )
    row.status = status
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=system_chain(system),
        actor=actor,
        action="model.hold_released",
        reason=reason,
        data={"version": version, "to": status},
    )
    return model_view(session, row, system)


def _primary_version(session: Session, system: str) -> str:
    sys_row = system_row(session, system)
    row = session.execute(
        select(ModelVersionRow.version)
        .join(DeploymentRow, DeploymentRow.model_version_id == ModelVersionRow.id)
        .where(
            DeploymentRow.system_id == sys_row.id,
            DeploymentRow.role == "primary",
            DeploymentRow.ended_at.is_(None),
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"system {system} serves no version; name the version to hold")
    return str(row)
