"""Lineage walks: which batches trained a version, which versions a batch reached, and what
quarantining a batch would touch (the blast radius), system by system.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.lineage.batches import register_batch
    >>> from airsoc.lineage.systems import register_system
    >>> from airsoc.lineage.versions import register_model_version
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = register_system(s, clock=clock, actor="alice", name="fraud",
    ...                         kind="tabular-classifier", owner="risk-ml")
    ...     _ = register_batch(s, clock=clock, actor="etl", batch_id="acme-1", source="acme",
    ...                        rows=1000, sha256="a" * 64)
    ...     _ = register_model_version(s, clock=clock, actor="ci", system="fraud", version="v1",
    ...                                artifact_uri="s3://models/v1", sha256="b" * 64,
    ...                                training_batches=["acme-1"])
    >>> with store.read() as s:
    ...     [b.batch_id for b in batches_for_model(s, system="fraud", version="v1")]
    ...     [(i.system, i.affected_versions) for i in blast_radius(s, batch_id="acme-1").systems]
    ['acme-1']
    [('fraud', ['v1'])]
    >>> store.close()
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.errors import NotFoundError
from airsoc.lineage.deployments import current_deployments, last_known_good
from airsoc.lineage.models import DataBatchRow, ModelVersionRow, SystemRow, TrainingLinkRow
from airsoc.lineage.records import BatchView, ModelVersionView, batch_row, model_row, model_view

__all__ = [
    "BlastRadius",
    "SystemImpact",
    "batches_for_model",
    "blast_radius",
    "models_for_batch",
]


class SystemImpact(BaseModel):
    """What a suspect batch means for one system."""

    system: str
    affected_versions: list[str]
    serving: dict[str, str] = Field(description="role -> version serving now")
    serving_affected: bool
    rollback_to: str | None = Field(description="last known-good version before the batch")


class BlastRadius(BaseModel):
    """Everything quarantining a batch would touch."""

    batch: BatchView
    model_versions: list[ModelVersionView]
    systems: list[SystemImpact]


def batches_for_model(session: Session, *, system: str, version: str) -> list[BatchView]:
    """Return the batches a model version was trained on, by ingestion time."""
    model = model_row(session, system, version)
    rows = session.execute(
        select(DataBatchRow)
        .join(TrainingLinkRow, TrainingLinkRow.batch_id == DataBatchRow.id)
        .where(TrainingLinkRow.model_version_id == model.id)
        .order_by(DataBatchRow.ingested_at, DataBatchRow.id)
    ).scalars()
    return [BatchView.model_validate(r) for r in rows]


def models_for_batch(session: Session, *, batch_id: str) -> list[ModelVersionView]:
    """Return the model versions (of any system) a batch reached, oldest first."""
    batch = batch_row(session, batch_id)
    rows = session.execute(
        select(ModelVersionRow, SystemRow.name)
        .join(SystemRow, SystemRow.id == ModelVersionRow.system_id)
        .join(TrainingLinkRow, TrainingLinkRow.model_version_id == ModelVersionRow.id)
        .where(TrainingLinkRow.batch_id == batch.id)
        .order_by(SystemRow.name, ModelVersionRow.created_at, ModelVersionRow.id)
    ).all()
    return [model_view(session, row, name) for row, name in rows]


def blast_radius(session: Session, *, batch_id: str) -> BlastRadius:
    """Return everything quarantining ``batch_id`` would touch, and where each system could go."""
    batch = BatchView.model_validate(batch_row(session, batch_id))
    models = models_for_batch(session, batch_id=batch_id)
    impacts = []
    for system in sorted({m.system for m in models}):
        affected = [m.version for m in models if m.system == system]
        serving = {d.role: d.version for d in current_deployments(session, system=system)}
        try:
            rollback_to: str | None = last_known_good(
                session, system=system, before_batch=batch_id
            ).version
        except NotFoundError:
            rollback_to = None
        impacts.append(
            SystemImpact(
                system=system,
                affected_versions=affected,
                serving=serving,
                serving_affected=any(v in affected for v in serving.values()),
                rollback_to=rollback_to,
            )
        )
    return BlastRadius(batch=batch, model_versions=models, systems=impacts)
