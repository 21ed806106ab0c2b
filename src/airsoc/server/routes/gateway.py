"""``/api/v1/gateway``: how each system's traffic is routed, and the controls of the gateway.

Reads need any user. The changes come from the table of operations
(:mod:`airsoc.runtime.operations`, routes made by :mod:`airsoc.server.routes.operations`):
containment (rollback, fallback, isolate, restore), client blocks and limits and retrieval
controls need ``responder``; sending traffic to a candidate version (canary, shadow) needs
``approver``. Every change needs a reason, goes on the audit timeline and reaches running
gateways within milliseconds. A rules fallback's path (code from a file) is set from the CLI or
the configuration only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from airsoc import serving
from airsoc.server.deps import Ctx, CurrentUser
from airsoc.server.errors import error_responses
from airsoc.server.routes.operations import add_operation_routes

__all__ = ["router"]

router = APIRouter(prefix="/gateway", tags=["gateway"])

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@:+-]*$"
SystemName = Annotated[str, Path(min_length=1, max_length=200, pattern=_NAME)]


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


@router.get("/retrieval", response_model=list[serving.RetrievalView], responses=error_responses())
def retrieval_controls(ctx: Ctx, _user: CurrentUser) -> list[serving.RetrievalView]:
    """Return the retrieval control of every RAG system that was ever changed."""
    with ctx.store.read() as s:
        return serving.list_retrieval(s)


@router.get(
    "/retrieval/{system}",
    response_model=serving.RetrievalView,
    responses=error_responses(404, 422),
)
def retrieval_control(system: SystemName, ctx: Ctx, _user: CurrentUser) -> serving.RetrievalView:
    """Return whether a system may retrieve, and the documents it must not use."""
    with ctx.store.read() as s:
        return serving.get_retrieval(s, system=system)


add_operation_routes(router, group="gateway")
