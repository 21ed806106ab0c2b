"""``/healthz`` (the process answers), ``/readyz`` (the store answers) and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from airsoc.server.deps import Ctx

__all__ = ["Health", "Part", "Readiness", "router"]

router = APIRouter(tags=["operations"])


class Part(BaseModel):
    """One part of the running platform: the worker, the event-log writer."""

    part: str
    status: str
    ok: bool
    detail: str = ""


class Health(BaseModel):
    """Whether the server (and, for readiness, its store) is working."""

    status: str
    store: str | None = None
    detail: str | None = None


class Readiness(Health):
    """Readiness: the store, and the parts of the running platform when it runs them."""

    parts: list[Part] | None = None


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Answer ``ok`` while the process serves requests."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "The store or a part is down"}},
)
def readyz(ctx: Ctx) -> Response:
    """Answer ``ready`` when the store answers a query and every part of the running platform
    works, else 503 saying why."""
    parts = (
        [Part(part=p.part, status=p.status, ok=p.ok, detail=p.detail) for p in ctx.readiness()]
        if ctx.readiness is not None
        else None
    )
    try:
        with ctx.store.read() as s:
            s.execute(text("SELECT 1")).scalar_one()
    except Exception as exc:  # any failure of the store means not ready
        body = Readiness(
            status="unavailable", store=ctx.store.dialect, detail=type(exc).__name__, parts=parts
        )
        return JSONResponse(
            body.model_dump(exclude={"parts"} if parts is None else None), status_code=503
        )
    down = [p for p in parts or [] if not p.ok]
    if down:
        detail = "; ".join(f"{p.part} is {p.status}" for p in down)
        body = Readiness(status="unavailable", store=ctx.store.dialect, detail=detail, parts=parts)
        return JSONResponse(body.model_dump(), status_code=503)
    body = Readiness(status="ready", store=ctx.store.dialect, parts=parts)
    return JSONResponse(body.model_dump(exclude={"parts"} if parts is None else None))


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": {"text/plain": {}}}},
)
def metrics(request: Request) -> Response:
    """Return every metric in the Prometheus text exposition format."""
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
