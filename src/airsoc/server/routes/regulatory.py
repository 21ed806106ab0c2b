"""``/api/v1/incidents/{id}/serious``: the serious-incident flag (EU AI Act Article 73), its
awareness time and due date, the reports sent, the reports themselves (initial and final, as
Markdown, HTML or PDF) and whether evidence preceded each change.

Reads need any user; every change needs the ``responder`` role.
"""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from airsoc.errors import NotFoundError
from airsoc.reporting import regulatory
from airsoc.reporting.regulatory import ChangeCheck, SeriousCategory, SeriousIncidentView
from airsoc.reporting.regulatory_report import render_regulatory_report
from airsoc.roles import UserRole
from airsoc.server.auth import UserView
from airsoc.server.deps import Ctx, CurrentUser, requires
from airsoc.server.errors import error_responses
from airsoc.types import MAX_ROW_ID, NonBlank

__all__ = ["Awareness", "FlagIn", "ReportSentIn", "SeriousPatch", "router"]

router = APIRouter(prefix="/incidents", tags=["regulatory"])

IncidentId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The incident's number")]
Responder = Annotated[UserView, Depends(requires(UserRole.RESPONDER, "change incidents"))]
Reason = Annotated[NonBlank, Field(min_length=1, max_length=2000)]


class Awareness(BaseModel):
    """When the provider became aware, if not when the flag is set, and why."""

    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime
    reason: Reason


TimeZone = Annotated[
    str,
    Field(
        description="An IANA time zone",
        json_schema_extra={"enum": sorted(available_timezones())},
    ),
]


class FlagIn(BaseModel):
    """Flag an incident as serious; the provider is aware now unless ``awareness`` says when."""

    model_config = ConfigDict(extra="forbid")

    category: SeriousCategory
    reason: Reason
    awareness: Awareness | None = None
    time_zone: TimeZone | None = Field(
        None, description="Without it: the system's time zone from airsoc.yaml (regulatory)"
    )


class SeriousPatch(BaseModel):
    """Change the category or the awareness time, with the reason."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason
    category: SeriousCategory | None = None
    aware_at: AwareDatetime | None = None


class ReportSentIn(BaseModel):
    """The initial or final report went to the authority."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["initial", "final"]
    reason: Annotated[str, Field(max_length=2000)] = ""


@router.get(
    "/{incident_id}/serious",
    response_model=SeriousIncidentView,
    responses=error_responses(404, 422),
)
def get_serious(incident_id: IncidentId, ctx: Ctx, _user: CurrentUser) -> SeriousIncidentView:
    """Return the serious-incident record: category, awareness, due date, status."""
    with ctx.store.read() as s:
        view = regulatory.get_serious(s, incident_id=incident_id, now=ctx.clock.now())
    if view is None:
        raise NotFoundError(f"incident {incident_id} is not flagged as a serious incident")
    return view


@router.post(
    "/{incident_id}/serious",
    response_model=SeriousIncidentView,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404, 409, 422),
)
def flag(incident_id: IncidentId, body: FlagIn, ctx: Ctx, user: Responder) -> SeriousIncidentView:
    """Flag the incident as a serious incident; the due date starts from awareness."""
    with ctx.store.transaction() as s:
        return regulatory.flag_serious(
            s,
            clock=ctx.clock,
            incident_id=incident_id,
            category=body.category.value,
            actor=user.name,
            reason=body.reason,
            aware_at=body.awareness.at if body.awareness else None,
            aware_reason=body.awareness.reason if body.awareness else "",
            time_zone=body.time_zone,
        )


@router.patch(
    "/{incident_id}/serious",
    response_model=SeriousIncidentView,
    responses=error_responses(403, 404, 422),
)
def update(
    incident_id: IncidentId, body: SeriousPatch, ctx: Ctx, user: Responder
) -> SeriousIncidentView:
    """Change the category or the awareness time (the due date follows)."""
    with ctx.store.transaction() as s:
        return regulatory.update_serious(
            s,
            clock=ctx.clock,
            incident_id=incident_id,
            actor=user.name,
            reason=body.reason,
            category=body.category.value if body.category else None,
            aware_at=body.aware_at,
        )


@router.post(
    "/{incident_id}/serious/reports",
    response_model=SeriousIncidentView,
    responses=error_responses(403, 404, 409, 422),
)
def report_sent(
    incident_id: IncidentId, body: ReportSentIn, ctx: Ctx, user: Responder
) -> SeriousIncidentView:
    """Record that the initial or final report went to the authority (reminders stop)."""
    with ctx.store.transaction() as s:
        return regulatory.record_report(
            s,
            clock=ctx.clock,
            incident_id=incident_id,
            kind=body.kind,
            actor=user.name,
            reason=body.reason,
        )


@router.get(
    "/{incident_id}/serious/changes",
    response_model=list[ChangeCheck],
    responses=error_responses(404, 422),
)
def changes(incident_id: IncidentId, ctx: Ctx, _user: CurrentUser) -> list[ChangeCheck]:
    """Return each change that could affect the evaluation of causes, and whether evidence was
    captured before it."""
    with ctx.store.read() as s:
        return regulatory.changes_and_evidence(s, incident_id=incident_id)


@router.get(
    "/{incident_id}/serious/report",
    response_class=Response,
    responses={
        200: {
            "description": "The rendered report",
            "content": {
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **error_responses(404, 422),
    },
)
def report(
    incident_id: IncidentId,
    ctx: Ctx,
    _user: CurrentUser,
    kind: Literal["initial", "final"] = "initial",
    format_: Annotated[Literal["md", "html", "pdf"], Query(alias="format")] = "md",
) -> Response:
    """Return the initial or final report rendered as Markdown, HTML or PDF."""
    with ctx.store.read() as s:
        out = render_regulatory_report(
            s, incident_id=incident_id, kind=kind, fmt=format_, now=ctx.clock.now()
        )
    return Response(
        out.data,
        media_type=out.media_type,
        headers={"Content-Disposition": f'inline; filename="{out.filename}"'},
    )
