"""Model versions of the lineage registry: register one with its training batches, read, set status.

A version carries its artifact's sha256 (hashed now when the artifact is a local file), its
validation evidence (metrics, parameters, input schema) and the batches it was trained on.

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
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import ConflictError, InputError
from airsoc.lineage.integrity import local_path, sha256_file
from airsoc.lineage.models import ModelVersionRow, SystemRow, TrainingLinkRow
from airsoc.lineage.records import (
    ModelVersionView,
    batch_row,
    check_choice,
    check_sha256,
    model_row,
    model_view,
    system_row,
)
from airsoc.lineage.systems import system_chain

__all__ = [
    "MODEL_STATUSES",
    "get_model_version",
    "list_model_versions",
    "register_model_version",
    "set_model_status",
]


MODEL_STATUSES = ("candidate", "shadow", "canary", "production", "retired", "quarantined")


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
) -> ModelVersionView:
    """Register a model version with the batches it was trained on and return it.

    Without ``sha256`` the artifact must be a local file and is hashed now. Training on a
    quarantined batch is refused.
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
    for batch in batches:
        if batch.status == "quarantined":
            raise ConflictError(
                f"{system} {version}: training batch {batch.batch_id} is quarantined"
            )
    row = ModelVersionRow(
        system_id=sys_row.id,
        version=version,
        artifact_uri=artifact_uri,
        sha256=sha256,
        framework=framework,
        input_schema=dict(input_schema or {}),
        metrics=dict(metrics or {}),
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
