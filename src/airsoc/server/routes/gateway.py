"""``/api/v1/gateway``: how each system's traffic is routed, and the containment controls.

Reads need any user. Containment (rollback, fallback, isolate, restore) needs ``responder``;
sending traffic to a candidate version (canary, shadow) needs ``approver``. Every change needs a
reason, goes on the system's audit timeline and reaches running gateways within milliseconds.
A rules fallback (which runs code from a file) is set from the CLI only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from airsoc import serving
from airsoc.server.auth import UserRole, UserView
from airsoc.server.deps import Ctx, CurrentUser, requires
from airsoc.server.errors import error_responses
from airsoc.server.routes.incidents import Prose

__all__ = ["CandidateIn", "FallbackIn", "ReasonIn", "RollbackIn", "ShadowIn", "router"]

router = APIRouter(prefix="/gateway", tags=["gateway"])

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@:+-]*$"
SystemName = Annotated[str, Path(min_length=1, max_length=200, pattern=_NAME)]
VersionName = Annotated[str, Field(min_length=1, max_length=200, pattern=_NAME)]
Responder = Annotated[UserView, Depends(requires(UserRole.RESPONDER, "contain a system"))]
Approver = Annotated[UserView, Depends(requires(UserRole.APPROVER, "route traffic to a candidate"))]
_CHANGE = error_responses(403, 404, 409, 422)


class ReasonIn(BaseModel):
    """Why the routing changes (kept on the audit timeline)."""

    model_config = ConfigDict(extra="forbid")

    reason: Prose


class RollbackIn(ReasonIn):
    """Serve an earlier version: ``to`` a named one, or the last known-good one (trained
    before ``before_batch`` when given)."""

    to: VersionName | Literal["last_known_good"] = "last_known_good"
    before_batch: VersionName | None = None


class FallbackIn(ReasonIn):
    """Answer without the model: the system's configured fallback, a scripted answer, or a
    human hand-off queue."""

    type: Literal["scripted", "human_handoff"] | None = Field(
        None, description="Without it, the system's configured fallback (or a scripted answer)"
    )
    message: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")] | None = (
        Field(None, description="The scripted answer")
    )


class CandidateIn(ReasonIn):
    """Send a share of the traffic to a candidate version."""

    version: VersionName
    share: float = Field(gt=0.0, lt=1.0, description="The share of requests, between 0 and 1")


class ShadowIn(ReasonIn):
    """Mirror a share of the traffic (all by default) to a candidate; it never answers."""

    version: VersionName
    share: float = Field(1.0, gt=0.0, le=1.0)


@router.get("/routes", response_model=list[serving.RouteView], responses=error_responses())
def routes(ctx: Ctx, _user: CurrentUser) -> list[serving.RouteView]:
    """Return how every routed system is served: mode, primary and candidate versions."""
    with ctx.store.read() as s:
        return serving.list_routes(s)


@router.get(
    "/routes/{system}", response_model=serving.RouteView, responses=error_responses(404, 422)
)
def route(system: SystemName, ctx: Ctx, _user: CurrentUser) -> serving.RouteView:
    """Return how one system is served."""
    with ctx.store.read() as s:
        return serving.get_route(s, system=system)


@router.post("/routes/{system}/rollback", response_model=serving.RouteView, responses=_CHANGE)
def rollback(system: SystemName, body: RollbackIn, ctx: Ctx, user: Responder) -> serving.RouteView:
    """Serve the last known-good version (or ``to``) as the only version."""
    with ctx.store.transaction() as s:
        return serving.rollback(
            s,
            clock=ctx.clock,
            actor=user.name,
            system=system,
            reason=body.reason,
            to=body.to,
            before_batch=body.before_batch,
        )


@router.post("/routes/{system}/fallback", response_model=serving.RouteView, responses=_CHANGE)
def fallback(system: SystemName, body: FallbackIn, ctx: Ctx, user: Responder) -> serving.RouteView:
    """Answer from the fallback; no model is called until restored."""
    spec: dict[str, Any] | None = None
    if body.type is not None:
        spec = {"type": body.type}
        if body.message:
            spec["message"] = body.message
    with ctx.store.transaction() as s:
        return serving.set_fallback(
            s, clock=ctx.clock, actor=user.name, system=system, reason=body.reason, fallback=spec
        )


@router.post("/routes/{system}/isolate", response_model=serving.RouteView, responses=_CHANGE)
def isolate(system: SystemName, body: ReasonIn, ctx: Ctx, user: Responder) -> serving.RouteView:
    """Refuse every request to the system (503); no model is called until restored."""
    with ctx.store.transaction() as s:
        return serving.isolate(
            s, clock=ctx.clock, actor=user.name, system=system, reason=body.reason
        )


@router.post("/routes/{system}/restore", response_model=serving.RouteView, responses=_CHANGE)
def restore(system: SystemName, body: ReasonIn, ctx: Ctx, user: Responder) -> serving.RouteView:
    """Leave fallback or isolation (back to the mode before), or end a canary or shadow."""
    with ctx.store.transaction() as s:
        return serving.restore(
            s, clock=ctx.clock, actor=user.name, system=system, reason=body.reason
        )


@router.post("/routes/{system}/canary", response_model=serving.RouteView, responses=_CHANGE)
def canary(system: SystemName, body: CandidateIn, ctx: Ctx, user: Approver) -> serving.RouteView:
    """Send a share of the traffic to a candidate version."""
    with ctx.store.transaction() as s:
        return serving.set_canary(
            s,
            clock=ctx.clock,
            actor=user.name,
            system=system,
            version=body.version,
            share=body.share,
            reason=body.reason,
        )


@router.post("/routes/{system}/shadow", response_model=serving.RouteView, responses=_CHANGE)
def shadow(system: SystemName, body: ShadowIn, ctx: Ctx, user: Approver) -> serving.RouteView:
    """Mirror a share of the traffic to a candidate version; both answers are logged."""
    with ctx.store.transaction() as s:
        return serving.set_shadow(
            s,
            clock=ctx.clock,
            actor=user.name,
            system=system,
            version=body.version,
            share=body.share,
            reason=body.reason,
        )
