"""Service functions of the lineage registry: keyword-only, typed, in the caller's transaction.

Every state change writes its audit entry in the same transaction: systems, model versions and
deployments on chain ``system/<name>``, data batches on chain ``batch/<batch_id>``.

Example:
    >>> import tempfile
    >>> from datetime import timedelta
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp()))
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = register_system(s, clock=clock, actor="alice", name="fraud",
    ...                         kind="tabular-classifier", owner="risk-ml")
    ...     _ = register_batch(s, clock=clock, actor="etl", batch_id="acme-1", source="acme",
    ...                        rows=1000, sha256="a" * 64)
    ...     _ = register_model_version(s, clock=clock, actor="ci", system="fraud", version="v1",
    ...                                artifact_uri="s3://models/v1", sha256="b" * 64,
    ...                                training_batches=["acme-1"])
    ...     _ = mark_known_good(s, clock=clock, actor="alice", system="fraud", version="v1",
    ...                         reason="passed review")
    ...     clock.advance(timedelta(days=1))
    ...     _ = register_batch(s, clock=clock, actor="etl", batch_id="acme-2", source="acme",
    ...                        rows=1000, sha256="c" * 64)
    ...     _ = register_model_version(s, clock=clock, actor="ci", system="fraud", version="v2",
    ...                                artifact_uri="s3://models/v2", sha256="d" * 64,
    ...                                training_batches=["acme-1", "acme-2"])
    >>> with store.read() as s:
    ...     [m.version for m in models_for_batch(s, batch_id="acme-2")]
    ...     last_known_good(s, system="fraud", before_batch="acme-2").version
    ...     [m.version for m in blast_radius(s, batch_id="acme-1").model_versions]
    ['v2']
    'v1'
    ['v1', 'v2']
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from airsoc.audit import AuditEntryView, append_entry, list_entries
from airsoc.clock import Clock, ensure_utc
from airsoc.config.schema import AirsocConfig, SystemConfig
from airsoc.errors import ConflictError, HashMismatchError, InputError, NotFoundError
from airsoc.lineage.integrity import local_path, sha256_file
from airsoc.lineage.models import (
    DataBatchRow,
    DeploymentRow,
    ModelVersionRow,
    SystemRow,
    TrainingLinkRow,
)

__all__ = [
    "BATCH_STATUSES",
    "DEPLOYMENT_ROLES",
    "MODEL_STATUSES",
    "SYSTEM_KINDS",
    "BatchView",
    "BlastRadius",
    "DeploymentView",
    "IntegrityReport",
    "ModelVersionView",
    "SyncReport",
    "SystemImpact",
    "SystemView",
    "batch_chain",
    "batches_for_model",
    "batches_from_source",
    "blast_radius",
    "current_deployments",
    "deployment_history",
    "end_deployment",
    "get_batch",
    "get_model_version",
    "get_system",
    "last_known_good",
    "list_batches",
    "list_model_versions",
    "list_systems",
    "mark_known_good",
    "models_for_batch",
    "quarantine_batch",
    "record_deployment",
    "register_batch",
    "register_model_version",
    "register_system",
    "release_batch",
    "revoke_source",
    "set_model_status",
    "sync_systems_from_config",
    "system_chain",
    "system_timeline",
    "verify_artifact",
    "verify_batch",
]

MODEL_STATUSES = ("candidate", "shadow", "canary", "production", "retired", "quarantined")
BATCH_STATUSES = ("accepted", "quarantined", "released")
DEPLOYMENT_ROLES = ("primary", "canary", "shadow")
SYSTEM_KINDS: tuple[str, ...] = get_args(SystemConfig.model_fields["kind"].annotation)
_CRITICALITIES = ("low", "medium", "high", "critical")
# The model status a deployment role gives a version.
_ROLE_STATUS = {"primary": "production", "canary": "canary", "shadow": "shadow"}


class SystemView(BaseModel):
    """A registered AI system."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    kind: str
    owner: str
    criticality: str
    fallback: dict[str, Any] | None
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime


class ModelVersionView(BaseModel):
    """A model version with its artifact hash, training batches and known-good flag."""

    system: str
    version: str
    artifact_uri: str
    sha256: str
    framework: str
    input_schema: dict[str, Any]
    metrics: dict[str, Any]
    params: dict[str, Any]
    status: str
    known_good: bool
    known_good_by: str | None
    known_good_at: datetime | None
    known_good_reason: str | None
    created_by: str
    created_at: datetime
    training_batches: list[str]


class BatchView(BaseModel):
    """A data batch: where it came from, what it covers, its hash and its status."""

    model_config = ConfigDict(from_attributes=True, serialize_by_alias=True, validate_by_name=True)

    batch_id: str
    source: str
    uri: str
    ingested_at: datetime
    time_start: datetime | None
    time_end: datetime | None
    rows: int
    schema_: dict[str, Any] = Field(alias="schema")
    sha256: str
    validation: dict[str, Any]
    status: str
    created_by: str


class DeploymentView(BaseModel):
    """One stretch of time a version served a system in a role."""

    system: str
    version: str
    role: str
    started_at: datetime
    ended_at: datetime | None
    switched_by: str
    reason: str


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


class SyncReport(BaseModel):
    """What ``sync_systems_from_config`` did."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]
    not_in_config: list[str]


class IntegrityReport(BaseModel):
    """The result of checking a file against the sha256 the registry holds."""

    subject: str
    path: str
    expected: str
    actual: str
    ok: bool
    failure_mode: str | None = Field(None, description="'supply_chain' when the hashes differ")

    def raise_for_mismatch(self) -> IntegrityReport:
        """Return self when the hashes match; raise :class:`HashMismatchError` otherwise."""
        if not self.ok:
            raise HashMismatchError(
                f"{self.subject}: {self.path} hashes to {self.actual}, "
                f"the registry holds {self.expected} (supply_chain)"
            )
        return self


def system_chain(name: str) -> str:
    """Return the audit chain of a system (its models, deployments and routing).

    >>> system_chain("fraud")
    'system/fraud'
    """
    return f"system/{name}"


def batch_chain(batch_id: str) -> str:
    """Return the audit chain of a data batch.

    >>> batch_chain("acme-7")
    'batch/acme-7'
    """
    return f"batch/{batch_id}"


# --------------------------------------------------------------------------- systems


def register_system(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    name: str,
    kind: str,
    owner: str,
    criticality: str = "medium",
    fallback: dict[str, Any] | None = None,
    description: str = "",
    reason: str = "",
) -> SystemView:
    """Create or update a system and return it; an unchanged system writes nothing."""
    if not name.strip() or "/" in name:
        raise InputError(f"system name {name!r} must be non-empty and contain no '/'")
    if kind not in SYSTEM_KINDS:
        raise InputError(f"system {name}: kind {kind!r} is not one of {', '.join(SYSTEM_KINDS)}")
    if criticality not in _CRITICALITIES:
        raise InputError(
            f"system {name}: criticality {criticality!r} is not one of {', '.join(_CRITICALITIES)}"
        )
    values: dict[str, Any] = {
        "kind": kind,
        "owner": owner,
        "criticality": criticality,
        "fallback": fallback,
        "description": description,
    }
    row = session.execute(select(SystemRow).where(SystemRow.name == name)).scalar_one_or_none()
    now = clock.now()
    if row is None:
        row = SystemRow(name=name, created_by=actor, created_at=now, updated_at=now, **values)
        session.add(row)
        action = "system.registered"
        changed = values
    else:
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if not changed:
            return SystemView.model_validate(row)
        for key, value in changed.items():
            setattr(row, key, value)
        row.updated_at = now
        action = "system.updated"
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=system_chain(name),
        actor=actor,
        action=action,
        reason=reason,
        data=changed,
    )
    return SystemView.model_validate(row)


def get_system(session: Session, *, name: str) -> SystemView:
    """Return the system called ``name``."""
    return SystemView.model_validate(_system_row(session, name))


def list_systems(session: Session) -> list[SystemView]:
    """Return every registered system, by name."""
    rows = session.execute(select(SystemRow).order_by(SystemRow.name)).scalars()
    return [SystemView.model_validate(r) for r in rows]


def sync_systems_from_config(
    session: Session, *, clock: Clock, actor: str, config: AirsocConfig
) -> SyncReport:
    """Make the registry's systems agree with ``airsoc.yaml`` and return what changed.

    Systems that are registered but absent from the configuration are reported, never deleted:
    their model versions and deployments are history.
    """
    report = SyncReport(created=[], updated=[], unchanged=[], not_in_config=[])
    known = {s.name: s for s in list_systems(session)}
    for name, cfg in sorted(config.systems.items()):
        before = known.get(name)
        after = register_system(
            session,
            clock=clock,
            actor=actor,
            name=name,
            kind=cfg.kind,
            owner=cfg.owner,
            criticality=cfg.criticality,
            fallback=cfg.fallback.model_dump(exclude_none=True) if cfg.fallback else None,
            description=cfg.description,
            reason="synced from airsoc.yaml",
        )
        if before is None:
            report.created.append(name)
        elif after.model_dump(exclude={"updated_at"}) != before.model_dump(exclude={"updated_at"}):
            report.updated.append(name)
        else:
            report.unchanged.append(name)
    report.not_in_config = sorted(set(known) - set(config.systems))
    return report


def system_timeline(session: Session, *, name: str) -> list[AuditEntryView]:
    """Return the audit timeline of a system: registrations, deployments, routing changes."""
    _system_row(session, name)
    return list_entries(session, chain=system_chain(name))


# --------------------------------------------------------------------------- model versions


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
    sys_row = _system_row(session, system)
    _check_status(status, MODEL_STATUSES, "model status")
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
    _check_sha256(sha256, f"{system} {version}")
    batches = [_batch_row(session, b) for b in dict.fromkeys(training_batches)]
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
    return _model_view(session, row, system)


def get_model_version(session: Session, *, system: str, version: str) -> ModelVersionView:
    """Return one model version of a system."""
    return _model_view(session, _model_row(session, system, version), system)


def list_model_versions(
    session: Session, *, system: str | None = None, status: str | None = None
) -> list[ModelVersionView]:
    """Return model versions (of one system, with one status), oldest first."""
    query = select(ModelVersionRow, SystemRow.name).join(
        SystemRow, SystemRow.id == ModelVersionRow.system_id
    )
    if system is not None:
        _system_row(session, system)
        query = query.where(SystemRow.name == system)
    if status is not None:
        _check_status(status, MODEL_STATUSES, "model status")
        query = query.where(ModelVersionRow.status == status)
    rows = session.execute(
        query.order_by(SystemRow.name, ModelVersionRow.created_at, ModelVersionRow.id)
    ).all()
    return [_model_view(session, row, name) for row, name in rows]


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
    _check_status(status, MODEL_STATUSES, "model status")
    row = _model_row(session, system, version)
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
    return _model_view(session, row, system)


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
    row = _model_row(session, system, version)
    if known_good and row.status == "quarantined":
        raise ConflictError(f"{system} {version} is quarantined and cannot be marked known-good")
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
    return _model_view(session, row, system)


# --------------------------------------------------------------------------- data batches


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
    _check_status(status, BATCH_STATUSES, "batch status")
    if not batch_id.strip() or not source.strip():
        raise InputError("a data batch needs a batch id and a source (vendor)")
    if rows < 0:
        raise InputError(f"batch {batch_id}: rows must be >= 0, got {rows}")
    _check_sha256(sha256, f"batch {batch_id}")
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
    return BatchView.model_validate(_batch_row(session, batch_id))


def list_batches(
    session: Session, *, source: str | None = None, status: str | None = None
) -> list[BatchView]:
    """Return data batches (from one source, with one status), by ingestion time."""
    query = select(DataBatchRow)
    if source is not None:
        query = query.where(DataBatchRow.source == source)
    if status is not None:
        _check_status(status, BATCH_STATUSES, "batch status")
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
    row = _batch_row(session, batch_id)
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


# --------------------------------------------------------------------------- lineage queries


def batches_for_model(session: Session, *, system: str, version: str) -> list[BatchView]:
    """Return the batches a model version was trained on, by ingestion time."""
    model = _model_row(session, system, version)
    rows = session.execute(
        select(DataBatchRow)
        .join(TrainingLinkRow, TrainingLinkRow.batch_id == DataBatchRow.id)
        .where(TrainingLinkRow.model_version_id == model.id)
        .order_by(DataBatchRow.ingested_at, DataBatchRow.id)
    ).scalars()
    return [BatchView.model_validate(r) for r in rows]


def models_for_batch(session: Session, *, batch_id: str) -> list[ModelVersionView]:
    """Return the model versions (of any system) a batch reached, oldest first."""
    batch = _batch_row(session, batch_id)
    rows = session.execute(
        select(ModelVersionRow, SystemRow.name)
        .join(SystemRow, SystemRow.id == ModelVersionRow.system_id)
        .join(TrainingLinkRow, TrainingLinkRow.model_version_id == ModelVersionRow.id)
        .where(TrainingLinkRow.batch_id == batch.id)
        .order_by(SystemRow.name, ModelVersionRow.created_at, ModelVersionRow.id)
    ).all()
    return [_model_view(session, row, name) for row, name in rows]


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


def last_known_good(
    session: Session,
    *,
    system: str,
    before_batch: str | None = None,
    exclude: Iterable[str] = (),
) -> ModelVersionView:
    """Return the newest known-good version of ``system`` untouched by ``before_batch``.

    A candidate must be flagged known-good, not quarantined, trained neither on ``before_batch``
    nor on any quarantined batch, and not in ``exclude``; so it is what the system was before the
    batch arrived, or a later version trained without it. Raises :class:`NotFoundError` when no
    version qualifies.
    """
    sys_row = _system_row(session, system)
    query = select(ModelVersionRow).where(
        ModelVersionRow.system_id == sys_row.id,
        ModelVersionRow.known_good.is_(True),
        ModelVersionRow.status != "quarantined",
    )
    excluded = set(exclude)
    banned_batches = set(
        session.execute(
            select(DataBatchRow.id).where(DataBatchRow.status == "quarantined")
        ).scalars()
    )
    if before_batch is not None:
        banned_batches.add(_batch_row(session, before_batch).id)
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
        return _model_view(session, row, system)
    when = f" before batch {before_batch}" if before_batch else ""
    raise NotFoundError(f"system {system} has no known-good model version{when}")


def blast_radius(session: Session, *, batch_id: str) -> BlastRadius:
    """Return everything quarantining ``batch_id`` would touch, and where each system could go."""
    batch = get_batch(session, batch_id=batch_id)
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


# --------------------------------------------------------------------------- deployments


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
    _check_status(role, DEPLOYMENT_ROLES, "deployment role")
    sys_row = _system_row(session, system)
    model = _model_row(session, system, version)
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
    if model.status != "quarantined":
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
    _check_status(role, DEPLOYMENT_ROLES, "deployment role")
    sys_row = _system_row(session, system)
    row = _open_deployment(session, sys_row.id, role)
    if row is None:
        return None
    _close(session, clock=clock, actor=actor, system=system, row=row, reason=reason)
    return _deployment_view(session, row, system)


def current_deployments(session: Session, *, system: str) -> list[DeploymentView]:
    """Return the open deployments of a system (at most one per role)."""
    sys_row = _system_row(session, system)
    rows = session.execute(
        select(DeploymentRow)
        .where(DeploymentRow.system_id == sys_row.id, DeploymentRow.ended_at.is_(None))
        .order_by(DeploymentRow.role)
    ).scalars()
    return [_deployment_view(session, r, system) for r in rows]


def deployment_history(session: Session, *, system: str) -> list[DeploymentView]:
    """Return every deployment of a system, oldest first."""
    sys_row = _system_row(session, system)
    rows = session.execute(
        select(DeploymentRow)
        .where(DeploymentRow.system_id == sys_row.id)
        .order_by(DeploymentRow.started_at, DeploymentRow.id)
    ).scalars()
    return [_deployment_view(session, r, system) for r in rows]


# --------------------------------------------------------------------------- integrity


def verify_artifact(
    session: Session, *, system: str, version: str, path: str | Path | None = None
) -> IntegrityReport:
    """Return whether a model artifact (its registered URI, or ``path``) has the registered hash.

    A mismatch is a ``supply_chain`` signal: the report says so and
    :meth:`IntegrityReport.raise_for_mismatch` turns it into an error.
    """
    row = _model_row(session, system, version)
    return _verify(f"model {system} {version}", row.artifact_uri, row.sha256, path)


def verify_batch(
    session: Session, *, batch_id: str, path: str | Path | None = None
) -> IntegrityReport:
    """Return whether a batch's file (its registered URI, or ``path``) has the registered hash."""
    row = _batch_row(session, batch_id)
    return _verify(f"batch {batch_id}", row.uri, row.sha256, path)


# --------------------------------------------------------------------------- internals


def _verify(subject: str, uri: str, expected: str, path: str | Path | None) -> IntegrityReport:
    target = Path(path) if path is not None else local_path(uri) if uri else None
    if target is None:
        raise InputError(
            f"{subject}: {uri or 'no URI'} is not a local file; give the path of a local copy"
        )
    actual = sha256_file(target)
    ok = actual == expected
    return IntegrityReport(
        subject=subject,
        path=str(target),
        expected=expected,
        actual=actual,
        ok=ok,
        failure_mode=None if ok else "supply_chain",
    )


def _check_status(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise InputError(f"{what} {value!r} is not one of {', '.join(allowed)}")


def _check_sha256(value: str, subject: str) -> None:
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise InputError(f"{subject}: sha256 must be 64 lowercase hex digits, got {value!r}")


def _system_row(session: Session, name: str) -> SystemRow:
    row = session.execute(select(SystemRow).where(SystemRow.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"system {name!r} is not registered (airsoc registry systems)")
    return row


def _model_row(session: Session, system: str, version: str) -> ModelVersionRow:
    sys_row = _system_row(session, system)
    row = session.execute(
        select(ModelVersionRow).where(
            ModelVersionRow.system_id == sys_row.id, ModelVersionRow.version == version
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"system {system} has no model version {version!r}")
    return row


def _batch_row(session: Session, batch_id: str) -> DataBatchRow:
    row = session.execute(
        select(DataBatchRow).where(DataBatchRow.batch_id == batch_id)
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"data batch {batch_id!r} is not registered")
    return row


def _model_view(session: Session, row: ModelVersionRow, system: str) -> ModelVersionView:
    batches = session.execute(
        select(DataBatchRow.batch_id)
        .join(TrainingLinkRow, TrainingLinkRow.batch_id == DataBatchRow.id)
        .where(TrainingLinkRow.model_version_id == row.id)
        .order_by(DataBatchRow.ingested_at, DataBatchRow.id)
    ).scalars()
    data = {c.key: getattr(row, c.key) for c in ModelVersionRow.__table__.columns}
    return ModelVersionView(system=system, training_batches=list(batches), **data)


def _set_batch_status(
    session: Session, *, clock: Clock, actor: str, batch_id: str, status: str, reason: str
) -> DataBatchRow:
    if not reason.strip():
        raise InputError(f"batch {batch_id}: say why its status changes")
    row = _batch_row(session, batch_id)
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
    if still_serving is None and model.status != "quarantined":
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
