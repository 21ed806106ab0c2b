"""``/api/v1/incidents``: declare, update, move through the lifecycle, assign roles, take notes,
read the timeline, attach and fetch evidence (with custody), and record findings.

Reads need any user; every change needs the ``responder`` role.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile, status
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from airsoc.audit import AuditEntryView
from airsoc.errors import NotFoundError
from airsoc.incidents import service
from airsoc.incidents.findings import FindingIn, FindingView, add_finding, list_findings
from airsoc.incidents.lifecycle import TRANSITIONS, Phase, Role, Severity
from airsoc.incidents.taxonomy import FAILURE_MODES
from airsoc.reporting.timing import IncidentTimes, incident_times
from airsoc.response.governance import declaration_severity
from airsoc.roles import UserRole
from airsoc.server.auth import UserView
from airsoc.server.deps import Ctx, CurrentUser, ServerContext, requires
from airsoc.server.errors import error_responses
from airsoc.server.routes.charter import governance_of
from airsoc.types import MAX_ROW_ID, ClosedKeys, NonBlank
from airsoc.types import Text as PlainText

__all__ = [
    "IncidentChanges",
    "IncidentCreate",
    "IncidentPatch",
    "MergeIn",
    "NoteIn",
    "RoleIn",
    "TransitionIn",
    "TransitionOption",
    "read_incident_evidence",
    "router",
]

router = APIRouter(prefix="/incidents", tags=["incidents"])

IncidentId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The incident's number")]
EvidenceId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The evidence item's number")]
Responder = Annotated[UserView, Depends(requires(UserRole.RESPONDER, "change incidents"))]
Line = Annotated[NonBlank, Field(min_length=1, max_length=300)]
Text = Annotated[PlainText, Field(max_length=20000)]
Prose = Annotated[NonBlank, Field(min_length=1, max_length=20000)]
FailureModeName = Annotated[
    str,
    Field(
        description="A failure mode of the taxonomy",
        json_schema_extra={"enum": sorted(FAILURE_MODES)},
    ),
]
SeverityName = Annotated[
    str,
    Field(
        pattern=r"^sev[1-5](\|sev[1-5])?$",
        description="sev1 (worst) to sev5; 'sev2|sev3' when unsure takes the higher",
    ),
]
RoleName = Annotated[
    str,
    Field(
        description="A response role (short forms such as ic, sme and comms are accepted too)",
        json_schema_extra={"enum": [r.value for r in Role]},
    ),
]


class IncidentCreate(BaseModel):
    """A new incident; without a severity the failure mode's default applies."""

    model_config = ConfigDict(extra="forbid")

    system: Line
    failure_mode: FailureModeName
    summary: Prose
    severity: SeverityName | None = None
    title: Line | None = None
    model_versions: list[Line] = Field(default_factory=list, max_length=100)
    data_batches: list[Line] = Field(default_factory=list, max_length=100)
    indicators: list[Line] = Field(default_factory=list, max_length=100)
    labels: Annotated[dict[Line, Line], ClosedKeys(300)] = Field(
        default_factory=dict, max_length=50
    )


class IncidentChanges(BaseModel):
    """Fields a handler may change; a missing field stays as it is."""

    model_config = ConfigDict(extra="forbid")

    title: Line | None = None
    summary: Prose | None = None
    severity: SeverityName | None = None
    model_versions: list[Line] | None = Field(None, max_length=100)
    data_batches: list[Line] | None = Field(None, max_length=100)
    indicators: list[Line] | None = Field(None, max_length=100)
    related_incidents: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] | None = Field(
        None, max_length=100
    )
    impact: service.Impact | None = None
    contacts: list[Line] | None = Field(None, max_length=100)
    next_steps: list[Line] | None = Field(None, max_length=100)
    labels: Annotated[dict[Line, Line], ClosedKeys(300)] | None = Field(None, max_length=50)
    started_at: AwareDatetime | None = Field(None, description="When the problem began")


class IncidentPatch(BaseModel):
    """Changes to an incident's record, and why."""

    model_config = ConfigDict(extra="forbid")

    changes: IncidentChanges
    reason: Text = ""


class TransitionIn(BaseModel):
    """A move to another phase (merging has its own route: ``POST .../merge``)."""

    model_config = ConfigDict(extra="forbid")

    to: Annotated[
        Phase,
        # Merging names the incident it merges into, so it has its own route: not a choice here.
        WithJsonSchema(
            {"type": "string", "enum": [p.value for p in Phase if p is not Phase.MERGED]}
        ),
    ] = Field(description="The target phase, one of the incident's next_phases")
    reason: Prose


class MergeIn(BaseModel):
    """Merge this incident into another open one (this one moves to ``merged``)."""

    model_config = ConfigDict(extra="forbid")

    into: int = Field(ge=1, le=MAX_ROW_ID, description="The incident that carries on")
    reason: Prose


class TransitionOption(BaseModel):
    """A phase the incident may move to next, and when that move is right."""

    to: str
    why: str


class RoleIn(BaseModel):
    """A role assignment (single-holder roles hand off from the previous holder)."""

    model_config = ConfigDict(extra="forbid")

    role: RoleName
    person: Line
    reason: Text = ""


class NoteIn(BaseModel):
    """A handler's note for the timeline."""

    model_config = ConfigDict(extra="forbid")

    text: Prose


def read_incident_evidence(
    session: Session,
    *,
    ctx: ServerContext,
    incident_id: int,
    evidence_id: int,
    actor: str,
    purpose: str,
) -> tuple[service.EvidenceView, bytes]:
    """Return an evidence item of the incident and its checked bytes; log the access."""
    detail = service.get_incident(session, incident_id=incident_id)
    item = next((e for e in detail.evidence if e.id == evidence_id), None)
    if item is None:
        raise NotFoundError(f"evidence {evidence_id} not found on incident {incident_id}")
    data = service.read_evidence(
        session,
        clock=ctx.clock,
        blobs=ctx.blobs,
        evidence_id=evidence_id,
        actor=actor,
        purpose=purpose,
    )
    return item, data


@router.get("", response_model=list[service.IncidentView], responses=error_responses(422))
def list_incidents(
    ctx: Ctx,
    _user: CurrentUser,
    phase: Phase | None = None,
    open_only: Annotated[bool, Query(alias="open", description="Only open incidents")] = False,
    system: Annotated[PlainText | None, Query(max_length=200)] = None,
    severity: Severity | None = None,
    failure_mode: Annotated[FailureModeName | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[service.IncidentView]:
    """List incidents, newest first."""
    with ctx.store.read() as s:
        return service.list_incidents(
            s,
            phase=phase.value if phase else None,
            open_only=open_only,
            system=system,
            severity=severity.value if severity else None,
            failure_mode=failure_mode,
            limit=limit,
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=service.IncidentView,
    responses=error_responses(403, 422),
)
def declare(
    body: IncidentCreate, request: Request, ctx: Ctx, user: Responder
) -> service.IncidentView:
    """Declare an incident in phase ``detected``, tagged from the taxonomy, at least as severe as
    the severity floor of its system's criticality."""
    with ctx.store.transaction() as s:
        decision = declaration_severity(
            s,
            system=body.system,
            failure_mode=body.failure_mode,
            severity=body.severity,
            rules=governance_of(request.app),
        )
        return service.declare_incident(
            s,
            clock=ctx.clock,
            actor=user.name,
            system=body.system,
            failure_mode=body.failure_mode,
            summary=body.summary,
            severity=decision.severity,
            severity_reason=decision.reason,
            title=body.title,
            model_versions=body.model_versions,
            data_batches=body.data_batches,
            indicators=body.indicators,
            labels=body.labels,
        )


@router.get(
    "/{incident_id}", response_model=service.IncidentDetail, responses=error_responses(404, 422)
)
def get_incident(incident_id: IncidentId, ctx: Ctx, _user: CurrentUser) -> service.IncidentDetail:
    """Return the incident with roles, evidence, notes and its whole timeline."""
    with ctx.store.read() as s:
        return service.get_incident(s, incident_id=incident_id)


@router.patch(
    "/{incident_id}",
    response_model=service.IncidentView,
    responses=error_responses(403, 404, 422),
)
def update(
    incident_id: IncidentId, body: IncidentPatch, ctx: Ctx, user: Responder
) -> service.IncidentView:
    """Change fields of the record; each change is written to the timeline, old and new."""
    with ctx.store.transaction() as s:
        return service.update_incident(
            s,
            clock=ctx.clock,
            incident_id=incident_id,
            changes=service.IncidentUpdate.model_validate(
                body.changes.model_dump(exclude_none=True)
            ),
            actor=user.name,
            reason=body.reason,
        )


@router.get(
    "/{incident_id}/transitions",
    response_model=list[TransitionOption],
    responses=error_responses(404, 422),
)
def next_transitions(
    incident_id: IncidentId, ctx: Ctx, _user: CurrentUser
) -> list[TransitionOption]:
    """Return the phases the incident may move to next, with when each move is right."""
    with ctx.store.read() as s:
        phase = Phase(service.get_incident(s, incident_id=incident_id).phase)
    return [
        TransitionOption(to=dst.value, why=why)
        for (src, dst), why in TRANSITIONS.items()
        if src == phase
    ]


@router.post(
    "/{incident_id}/transitions",
    response_model=service.IncidentView,
    responses=error_responses(403, 404, 409, 422),
)
def transition(
    incident_id: IncidentId, body: TransitionIn, ctx: Ctx, user: Responder
) -> service.IncidentView:
    """Move the incident to another phase; the answer lists the next legal phases."""
    with ctx.store.transaction() as s:
        return service.transition_incident(
            s,
            clock=ctx.clock,
            incident_id=incident_id,
            to=body.to.value,
            actor=user.name,
            reason=body.reason,
        )


@router.post(
    "/{incident_id}/merge",
    response_model=service.IncidentView,
    responses=error_responses(403, 404, 409, 422),
)
def merge(
    incident_id: IncidentId, body: MergeIn, ctx: Ctx, user: Responder
) -> service.IncidentView:
    """Merge the incident into another open incident, which carries on."""
    with ctx.store.transaction() as s:
        return service.transition_incident(
            s,
            clock=ctx.clock,
            incident_id=incident_id,
            to=Phase.MERGED.value,
            actor=user.name,
            reason=body.reason,
            merged_into=body.into,
        )


@router.get(
    "/{incident_id}/roles",
    response_model=list[service.RoleView],
    responses=error_responses(404, 422),
)
def roles(incident_id: IncidentId, ctx: Ctx, _user: CurrentUser) -> list[service.RoleView]:
    """Return who holds which role now."""
    with ctx.store.read() as s:
        return service.get_incident(s, incident_id=incident_id).roles


@router.post(
    "/{incident_id}/roles",
    status_code=status.HTTP_201_CREATED,
    response_model=service.RoleView,
    responses=error_responses(403, 404, 422),
)
def assign_role(
    incident_id: IncidentId, body: RoleIn, ctx: Ctx, user: Responder
) -> service.RoleView:
    """Give a person a role on the incident."""
    with ctx.store.transaction() as s:
        return service.assign_role(
            s,
            clock=ctx.clock,
            incident_id=incident_id,
            role=body.role,
            person=body.person,
            actor=user.name,
            reason=body.reason,
        )


@router.post(
    "/{incident_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=AuditEntryView,
    responses=error_responses(403, 404, 422),
)
def add_note(incident_id: IncidentId, body: NoteIn, ctx: Ctx, user: Responder) -> AuditEntryView:
    """Add a handler's note to the timeline."""
    with ctx.store.transaction() as s:
        return service.add_note(
            s, clock=ctx.clock, incident_id=incident_id, actor=user.name, text=body.text
        )


class AcknowledgeIn(BaseModel):
    """An acknowledgement: optionally, what the responder is doing about it."""

    model_config = ConfigDict(extra="forbid")

    reason: Text = ""


@router.post(
    "/{incident_id}/acknowledge",
    status_code=status.HTTP_201_CREATED,
    response_model=AuditEntryView,
    responses=error_responses(403, 404, 409, 422),
)
def acknowledge(
    incident_id: IncidentId, ctx: Ctx, user: Responder, body: AcknowledgeIn | None = None
) -> AuditEntryView:
    """Acknowledge the incident as the caller: time to acknowledge stops, paging stops."""
    with ctx.store.transaction() as s:
        return service.acknowledge_incident(
            s,
            clock=ctx.clock,
            incident_id=incident_id,
            actor=user.name,
            reason=body.reason if body else "",
        )


@router.get(
    "/{incident_id}/timeline",
    response_model=list[AuditEntryView],
    responses=error_responses(404, 422),
)
def timeline(incident_id: IncidentId, ctx: Ctx, _user: CurrentUser) -> list[AuditEntryView]:
    """Return the incident's hash-chained timeline, oldest first."""
    with ctx.store.read() as s:
        return service.get_incident(s, incident_id=incident_id).timeline


@router.get(
    "/{incident_id}/evidence",
    response_model=list[service.EvidenceView],
    responses=error_responses(404, 422),
)
def list_evidence(
    incident_id: IncidentId, ctx: Ctx, _user: CurrentUser
) -> list[service.EvidenceView]:
    """Return the incident's evidence with hashes and chains of custody."""
    with ctx.store.read() as s:
        return service.get_incident(s, incident_id=incident_id).evidence


@router.post(
    "/{incident_id}/evidence",
    status_code=status.HTTP_201_CREATED,
    response_model=service.EvidenceView,
    responses=error_responses(403, 404, 413, 422),
)
async def upload_evidence(
    incident_id: IncidentId,
    ctx: Ctx,
    user: Responder,
    file: Annotated[UploadFile, File(description="The evidence file")],
    source: Annotated[NonBlank, Form(min_length=1, max_length=500)],
    description: Annotated[PlainText, Form(max_length=20000)] = "",
) -> service.EvidenceView:
    """Store a file by its sha256, attach it and open its chain of custody.

    The upload was spooled to disk as it arrived (at most the server's upload cap: 413 beyond,
    and nothing stored); it is copied to the evidence store in chunks, off the event loop."""
    return await run_in_threadpool(
        _store_evidence, ctx, incident_id, user, file, source, description
    )


def _store_evidence(
    ctx: ServerContext,
    incident_id: int,
    user: UserView,
    file: UploadFile,
    source: str,
    description: str,
) -> service.EvidenceView:
    with ctx.store.transaction() as s:
        return service.add_evidence(
            s,
            clock=ctx.clock,
            blobs=ctx.blobs,
            incident_id=incident_id,
            content=file.file,
            name=(file.filename or "evidence").replace("\x00", "")[:300],
            source=source,
            actor=user.name,
            media_type=(file.content_type or "application/octet-stream")[:100],
            description=description,
        )


@router.get(
    "/{incident_id}/evidence/{evidence_id}/content",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "description": "The evidence bytes, after their hash was checked",
        },
        **error_responses(403, 404, 422),
    },
)
def download_evidence(
    incident_id: IncidentId,
    evidence_id: EvidenceId,
    ctx: Ctx,
    user: Annotated[UserView, Depends(requires(UserRole.RESPONDER, "read evidence"))],
    purpose: Annotated[
        NonBlank, Query(min_length=1, max_length=500, description="Why (kept in the custody log)")
    ] = "review",
) -> Response:
    """Return an evidence item's bytes; the access is added to its chain of custody."""
    with ctx.store.transaction() as s:
        item, data = read_incident_evidence(
            s,
            ctx=ctx,
            incident_id=incident_id,
            evidence_id=evidence_id,
            actor=user.name,
            purpose=purpose,
        )
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{evidence_id}"',
            "X-Content-SHA256": item.sha256,
        },
    )


@router.get(
    "/{incident_id}/findings",
    response_model=list[FindingView],
    responses=error_responses(404, 422),
)
def findings(incident_id: IncidentId, ctx: Ctx, _user: CurrentUser) -> list[FindingView]:
    """Return the incident's findings, root causes first."""
    with ctx.store.read() as s:
        service.get_incident(s, incident_id=incident_id)
        return list_findings(s, incident_id=incident_id)


@router.post(
    "/{incident_id}/findings",
    status_code=status.HTTP_201_CREATED,
    response_model=FindingView,
    responses=error_responses(403, 404, 422),
)
def record_finding(
    incident_id: IncidentId, body: FindingIn, ctx: Ctx, user: Responder
) -> FindingView:
    """Record a finding (root cause, contributing factor or observation), with chart data."""
    with ctx.store.transaction() as s:
        return add_finding(
            s, clock=ctx.clock, incident_id=incident_id, finding=body, actor=user.name
        )


@router.get(
    "/{incident_id}/times", response_model=IncidentTimes, responses=error_responses(404, 422)
)
def times(incident_id: IncidentId, ctx: Ctx, _user: CurrentUser) -> IncidentTimes:
    """Return the incident's time to detect, acknowledge, contain and recover."""
    with ctx.store.read() as s:
        return incident_times(s, incident_id=incident_id)
