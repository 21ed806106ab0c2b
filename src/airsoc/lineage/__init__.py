"""The lineage registry: systems, model versions, data batches, deployments and their links.

It answers the poisoning questions (which batches trained this version, which versions did this
batch reach, what is the last known-good version, what would a quarantine touch) and checks
artifacts and batches against their registered sha256.

Service functions are keyword-only, typed, and run in the caller's transaction; every change
writes its audit entry in the same transaction. By concept:

- :mod:`~airsoc.lineage.systems`: systems, synced from ``airsoc.yaml``, and their timeline;
- :mod:`~airsoc.lineage.versions`: model versions with their training batches and evidence,
  and holds on their promotion;
- :mod:`~airsoc.lineage.validation`: a version's own validation scores and metrics;
- :mod:`~airsoc.lineage.batches`: data batches and their sources, quarantine and release;
- :mod:`~airsoc.lineage.sources`: sources' trust levels and approvals of batches on probation;
- :mod:`~airsoc.lineage.deployments`: what serves where, known-good versions, rollback targets;
- :mod:`~airsoc.lineage.queries`: lineage walks and the blast radius of a batch;
- :mod:`~airsoc.lineage.integrity`: artifacts and batches checked against their sha256.

Example:
    >>> from datetime import timedelta
    >>> from airsoc import lineage
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = lineage.register_system(s, clock=clock, actor="alice", name="fraud",
    ...                                 kind="tabular-classifier", owner="risk-ml")
    ...     _ = lineage.register_batch(s, clock=clock, actor="etl", batch_id="acme-1",
    ...                                source="acme", rows=1000, sha256="a" * 64)
    ...     _ = lineage.register_model_version(s, clock=clock, actor="ci", system="fraud",
    ...                                        version="v1", artifact_uri="s3://models/v1",
    ...                                        sha256="b" * 64, training_batches=["acme-1"])
    ...     _ = lineage.mark_known_good(s, clock=clock, actor="alice", system="fraud",
    ...                                 version="v1", reason="passed review")
    ...     clock.advance(timedelta(days=1))
    ...     _ = lineage.register_batch(s, clock=clock, actor="etl", batch_id="acme-2",
    ...                                source="acme", rows=1000, sha256="c" * 64)
    ...     _ = lineage.register_model_version(s, clock=clock, actor="ci", system="fraud",
    ...                                        version="v2", artifact_uri="s3://models/v2",
    ...                                        sha256="d" * 64,
    ...                                        training_batches=["acme-1", "acme-2"])
    >>> with store.read() as s:
    ...     [m.version for m in lineage.models_for_batch(s, batch_id="acme-2")]
    ...     lineage.last_known_good(s, system="fraud", before_batch="acme-2").version
    ...     [m.version for m in lineage.blast_radius(s, batch_id="acme-1").model_versions]
    ['v2']
    'v1'
    ['v1', 'v2']
    >>> store.close()
"""

from __future__ import annotations

from airsoc.lineage.batches import (
    BATCH_STATUSES,
    batch_chain,
    batches_from_source,
    get_batch,
    list_batches,
    quarantine_batch,
    register_batch,
    release_batch,
    revoke_source,
)
from airsoc.lineage.deployments import (
    DEPLOYMENT_ROLES,
    DeploymentView,
    current_deployments,
    deployment_history,
    end_deployment,
    last_known_good,
    mark_known_good,
    record_deployment,
)
from airsoc.lineage.integrity import (
    IntegrityReport,
    local_path,
    sha256_file,
    verify_artifact,
    verify_batch,
)
from airsoc.lineage.queries import (
    BlastRadius,
    SystemImpact,
    batches_for_model,
    blast_radius,
    models_for_batch,
)
from airsoc.lineage.records import (
    BatchView,
    ModelVersionView,
)
from airsoc.lineage.sources import (
    TRUST_LEVELS,
    SourceTrustView,
    approve_batch,
    check_training_batches,
    get_source_trust,
    list_sources,
    screen_and_approve_batch,
    screening_passed,
    set_source_trust,
    source_chain,
)
from airsoc.lineage.systems import (
    SYSTEM_KINDS,
    SyncReport,
    SystemView,
    get_system,
    list_systems,
    register_system,
    sync_systems_from_config,
    system_chain,
    system_timeline,
)
from airsoc.lineage.validation import describe_validation, read_validation, validation_record
from airsoc.lineage.versions import (
    MODEL_STATUSES,
    get_model_version,
    hold_promotion,
    list_model_versions,
    register_model_version,
    release_hold,
    set_model_status,
)

__all__ = [
    "BATCH_STATUSES",
    "DEPLOYMENT_ROLES",
    "MODEL_STATUSES",
    "SYSTEM_KINDS",
    "TRUST_LEVELS",
    "BatchView",
    "BlastRadius",
    "DeploymentView",
    "IntegrityReport",
    "ModelVersionView",
    "SourceTrustView",
    "SyncReport",
    "SystemImpact",
    "SystemView",
    "approve_batch",
    "batch_chain",
    "batches_for_model",
    "batches_from_source",
    "blast_radius",
    "check_training_batches",
    "current_deployments",
    "deployment_history",
    "describe_validation",
    "end_deployment",
    "get_batch",
    "get_model_version",
    "get_source_trust",
    "get_system",
    "hold_promotion",
    "last_known_good",
    "list_batches",
    "list_model_versions",
    "list_sources",
    "list_systems",
    "local_path",
    "mark_known_good",
    "models_for_batch",
    "quarantine_batch",
    "read_validation",
    "record_deployment",
    "register_batch",
    "register_model_version",
    "register_system",
    "release_batch",
    "release_hold",
    "revoke_source",
    "screen_and_approve_batch",
    "screening_passed",
    "set_model_status",
    "set_source_trust",
    "sha256_file",
    "source_chain",
    "sync_systems_from_config",
    "system_chain",
    "system_timeline",
    "validation_record",
    "verify_artifact",
    "verify_batch",
]
