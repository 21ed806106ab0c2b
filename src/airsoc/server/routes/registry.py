"""``/api/v1/systems`` and ``/api/v1/batches``: the lineage registry. Systems, model versions,
data batches and deployments; which batches trained a version, which versions a batch reached,
the last known-good version, what a quarantine would touch.

Reads need any user. Marking a version known-good needs ``approver`` (rollbacks go to it).
Quarantining and releasing a batch and revoking a source come from the table of operations
(:mod:`airsoc.runtime.operations`) and need ``responder``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict

from airsoc import lineage
from airsoc.audit import AuditEntryView
from airsoc.roles import UserRole
from airsoc.server.auth import UserView
from airsoc.server.deps import Ctx, CurrentUser, requires
from airsoc.server.errors import error_responses
from airsoc.server.routes.incidents import Prose
from airsoc.server.routes.operations import add_operation_routes
from airsoc.types import Text as PlainText

__all__ = ["KnownGoodIn", "router"]

router = APIRouter(tags=["registry"])

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@:+-]*$"
SystemName = Annotated[str, Path(min_length=1, max_length=200, pattern=_NAME)]
Version = Annotated[str, Path(min_length=1, max_length=200, pattern=_NAME)]
BatchId = Annotated[str, Path(min_length=1, max_length=200, pattern=_NAME)]
Approver = Annotated[UserView, Depends(requires(UserRole.APPROVER, "mark known-good versions"))]


class KnownGoodIn(BaseModel):
    """Flag a version known-good (or take the flag away), and why."""

    model_config = ConfigDict(extra="forbid")

    reason: Prose
    known_good: bool = True


@router.get("/systems", response_model=list[lineage.SystemView], responses=error_responses())
def systems(ctx: Ctx, _user: CurrentUser) -> list[lineage.SystemView]:
    """List registered systems, by name."""
    with ctx.store.read() as s:
        return lineage.list_systems(s)


@router.get(
    "/systems/{system}", response_model=lineage.SystemView, responses=error_responses(404, 422)
)
def system(system: SystemName, ctx: Ctx, _user: CurrentUser) -> lineage.SystemView:
    """Return a registered system."""
    with ctx.store.read() as s:
        return lineage.get_system(s, name=system)


@router.get(
    "/systems/{system}/versions",
    response_model=list[lineage.ModelVersionView],
    responses=error_responses(404, 422),
)
def versions(
    system: SystemName,
    ctx: Ctx,
    _user: CurrentUser,
    status: Annotated[
        str | None, Query(json_schema_extra={"enum": list(lineage.MODEL_STATUSES)})
    ] = None,
) -> list[lineage.ModelVersionView]:
    """List a system's model versions (with one status)."""
    with ctx.store.read() as s:
        return lineage.list_model_versions(s, system=system, status=status)


@router.get(
    "/systems/{system}/versions/{version}",
    response_model=lineage.ModelVersionView,
    responses=error_responses(404, 422),
)
def version(
    system: SystemName, version: Version, ctx: Ctx, _user: CurrentUser
) -> lineage.ModelVersionView:
    """Return one model version."""
    with ctx.store.read() as s:
        return lineage.get_model_version(s, system=system, version=version)


@router.get(
    "/systems/{system}/versions/{version}/batches",
    response_model=list[lineage.BatchView],
    responses=error_responses(404, 422),
)
def training_batches(
    system: SystemName, version: Version, ctx: Ctx, _user: CurrentUser
) -> list[lineage.BatchView]:
    """Return the batches that trained a version (lineage, upstream)."""
    with ctx.store.read() as s:
        return lineage.batches_for_model(s, system=system, version=version)


@router.post(
    "/systems/{system}/versions/{version}/known-good",
    response_model=lineage.ModelVersionView,
    responses=error_responses(403, 404, 409, 422),
)
def known_good(
    system: SystemName, version: Version, body: KnownGoodIn, ctx: Ctx, user: Approver
) -> lineage.ModelVersionView:
    """Flag a version known-good (a rollback target), or clear the flag."""
    with ctx.store.transaction() as s:
        return lineage.mark_known_good(
            s,
            clock=ctx.clock,
            actor=user.name,
            system=system,
            version=version,
            reason=body.reason,
            known_good=body.known_good,
        )


@router.get(
    "/systems/{system}/last-known-good",
    response_model=lineage.ModelVersionView,
    responses=error_responses(404, 422),
)
def last_known_good(
    system: SystemName,
    ctx: Ctx,
    _user: CurrentUser,
    before_batch: Annotated[PlainText | None, Query(max_length=200)] = None,
) -> lineage.ModelVersionView:
    """Return the version a rollback would serve (trained before ``before_batch``)."""
    with ctx.store.read() as s:
        return lineage.last_known_good(s, system=system, before_batch=before_batch)


@router.get(
    "/systems/{system}/deployments",
    response_model=list[lineage.DeploymentView],
    responses=error_responses(404, 422),
)
def deployments(system: SystemName, ctx: Ctx, _user: CurrentUser) -> list[lineage.DeploymentView]:
    """Return the system's deployment history: which version served, when, who switched it."""
    with ctx.store.read() as s:
        return lineage.deployment_history(s, system=system)


@router.get(
    "/systems/{system}/timeline",
    response_model=list[AuditEntryView],
    responses=error_responses(404, 422),
)
def system_timeline(system: SystemName, ctx: Ctx, _user: CurrentUser) -> list[AuditEntryView]:
    """Return the system's audit timeline (registrations, routing changes), oldest first."""
    with ctx.store.read() as s:
        return lineage.system_timeline(s, name=system)


@router.get("/batches", response_model=list[lineage.BatchView], responses=error_responses(422))
def batches(
    ctx: Ctx,
    _user: CurrentUser,
    source: Annotated[PlainText | None, Query(max_length=200)] = None,
    status: Annotated[
        str | None, Query(json_schema_extra={"enum": list(lineage.BATCH_STATUSES)})
    ] = None,
) -> list[lineage.BatchView]:
    """List data batches (of one source, with one status), oldest first."""
    with ctx.store.read() as s:
        return lineage.list_batches(s, source=source, status=status)


@router.get(
    "/batches/{batch_id}", response_model=lineage.BatchView, responses=error_responses(404, 422)
)
def batch(batch_id: BatchId, ctx: Ctx, _user: CurrentUser) -> lineage.BatchView:
    """Return a data batch."""
    with ctx.store.read() as s:
        return lineage.get_batch(s, batch_id=batch_id)


@router.get(
    "/batches/{batch_id}/models",
    response_model=list[lineage.ModelVersionView],
    responses=error_responses(404, 422),
)
def batch_models(batch_id: BatchId, ctx: Ctx, _user: CurrentUser) -> list[lineage.ModelVersionView]:
    """Return the model versions a batch trained (lineage, downstream)."""
    with ctx.store.read() as s:
        return lineage.models_for_batch(s, batch_id=batch_id)


@router.get(
    "/batches/{batch_id}/blast-radius",
    response_model=lineage.BlastRadius,
    responses=error_responses(404, 422),
)
def batch_blast_radius(batch_id: BatchId, ctx: Ctx, _user: CurrentUser) -> lineage.BlastRadius:
    """Return what a quarantine would touch: versions, systems serving them, rollback targets."""
    with ctx.store.read() as s:
        return lineage.blast_radius(s, batch_id=batch_id)


add_operation_routes(router, group="registry")
