"""Service functions of the incident core: keyword-only, typed, one transaction given by the caller.

Every change writes its audit entry (chain ``incident/<id>``) in the caller's transaction.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="alice", system="fraud-detector",
    ...                            failure_mode="data_poisoning", summary="vendor batch 17 flips")
    ...     inc = transition_incident(s, clock=clock, incident_id=inc.id, to="triaged",
    ...                               actor="alice", reason="confirmed label flips")
    >>> inc.phase, inc.severity, inc.next_phases
    ('triaged', 'sev2', ['contained', 'false_positive', 'merged'])
    >>> with store.read() as s:
    ...     [e.action for e in get_incident(s, incident_id=inc.id).timeline]
    ['incident.declared', 'incident.transitioned']
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import AuditEntryView, append_entry, list_entries
from airsoc.clock import Clock
from airsoc.errors import ConflictError, InputError, NotFoundError
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.lifecycle import (
    OPEN_PHASES,
    PHASE_TIMESTAMPS,
    SINGLE_HOLDER_ROLES,
    Phase,
    check_transition,
    legal_targets,
    parse_phase,
    parse_role,
    parse_severity,
)
from airsoc.incidents.models import CustodyEventRow, EvidenceRow, IncidentRow, RoleAssignmentRow
from airsoc.incidents.taxonomy import failure_mode as lookup_failure_mode
from airsoc.types import Text

__all__ = [
    "ACKNOWLEDGED",
    "CustodyEventView",
    "EvidenceView",
    "Impact",
    "IncidentDetail",
    "IncidentUpdate",
    "IncidentView",
    "RoleView",
    "acknowledge_incident",
    "add_evidence",
    "add_note",
    "assign_role",
    "declare_incident",
    "get_incident",
    "incident_chain",
    "list_incidents",
    "read_evidence",
    "transition_incident",
    "update_incident",
]


class Impact(BaseModel):
    """NIST SP 800-61 impact assessment."""

    model_config = ConfigDict(extra="forbid")

    functional: Literal["none", "low", "medium", "high"] | None = None
    information: (
        Literal["none", "privacy_breach", "proprietary_breach", "integrity_loss"] | None
    ) = None
    recoverability: Literal["regular", "supplemented", "extended", "not_recoverable"] | None = None
    notes: Annotated[Text, Field(max_length=20000)] = ""


class RoleView(BaseModel):
    """A role assignment on an incident."""

    model_config = ConfigDict(from_attributes=True)

    role: str
    person: str
    assigned_by: str
    assigned_at: datetime
    ended_at: datetime | None


class CustodyEventView(BaseModel):
    """One link of a chain of custody."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    action: str
    detail: str


class EvidenceView(BaseModel):
    """An evidence item with its hash and chain of custody."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    sha256: str
    size: int
    name: str
    media_type: str
    description: str
    source: str
    added_by: str
    added_at: datetime
    custody: list[CustodyEventView] = Field(default_factory=list)


class IncidentView(BaseModel):
    """An incident record as the CLI and API show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ref: str
    title: str
    summary: str
    phase: str
    severity: str
    failure_mode: str
    system: str
    model_versions: list[str]
    data_batches: list[str]
    atlas_techniques: list[dict[str, Any]]
    owasp: list[dict[str, Any]]
    indicators: list[str]
    related_incidents: list[int]
    impact: dict[str, Any]
    contacts: list[str]
    next_steps: list[str]
    labels: dict[str, Any]
    merged_into: int | None
    group_key: str | None
    created_by: str
    started_at: datetime | None
    detected_at: datetime
    reported_at: datetime
    contained_at: datetime | None
    recovered_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    next_phases: list[str]

    @classmethod
    def of(cls, row: IncidentRow) -> IncidentView:
        """Return the view of a stored row."""
        data = {c.key: getattr(row, c.key) for c in IncidentRow.__table__.columns}
        return cls(ref=f"INC-{row.id}", next_phases=legal_targets(Phase(row.phase)), **data)


class IncidentDetail(IncidentView):
    """An incident with its roles, evidence, notes and whole timeline; ``acknowledged_at`` and
    ``acknowledged_by`` come from its acknowledgement on the timeline (``None`` until then)."""

    roles: list[RoleView]
    role_history: list[RoleView]
    evidence: list[EvidenceView]
    notes: list[AuditEntryView]
    timeline: list[AuditEntryView]
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None


class IncidentUpdate(BaseModel):
    """Fields a handler may change on an incident; ``None`` leaves a field as it is."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    summary: str | None = None
    severity: str | None = None
    model_versions: list[str] | None = None
    data_batches: list[str] | None = None
    indicators: list[str] | None = None
    related_incidents: list[int] | None = None
    impact: Impact | None = None
    contacts: list[str] | None = None
    next_steps: list[str] | None = None
    labels: dict[str, str] | None = None
    started_at: datetime | None = None


#: The timeline action of an incident's acknowledgement.
ACKNOWLEDGED = "incident.acknowledged"


def incident_chain(incident_id: int) -> str:
    """Return the audit chain name of an incident's timeline."""
    return f"incident/{incident_id}"


def declare_incident(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    failure_mode: str,
    summary: str,
    severity: str | None = None,
    title: str | None = None,
    model_versions: Sequence[str] = (),
    data_batches: Sequence[str] = (),
    indicators: Sequence[str] = (),
    labels: dict[str, str] | None = None,
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
    group_key: str | None = None,
    severity_reason: str = "",
) -> IncidentView:
    """Open an incident in phase ``detected``, tagged from the taxonomy, and return it.

    Without a severity the failure mode's default applies; ``sev2|sev3`` (unsure) takes the higher.
    ``severity_reason`` says why the severity is what it is (e.g. a system's severity floor); it
    is recorded with the declaration.
    """
    mode = lookup_failure_mode(failure_mode)
    sev = parse_severity(severity) if severity else parse_severity(mode.default_severity)
    if not system.strip():
        raise InputError("the incident needs a system")
    if not summary.strip():
        raise InputError("the incident needs a summary")
    now = clock.now()
    row = IncidentRow(
        title=title or f"{mode.name.replace('_', ' ')} on {system}",
        summary=summary,
        phase=Phase.DETECTED.value,
        severity=sev.value,
        failure_mode=mode.name,
        system=system,
        model_versions=list(model_versions),
        data_batches=list(data_batches),
        atlas_techniques=[
            {"id": t.id, "name": t.name, "tactics": list(t.tactics)} for t in mode.atlas
        ],
        owasp=[
            {"list": o.list, "id": o.id, "name": o.name, "version": o.version} for o in mode.owasp
        ],
        indicators=list(indicators),
        related_incidents=[],
        impact={},
        contacts=[],
        next_steps=[],
        labels=dict(labels or {}),
        group_key=group_key,
        created_by=actor,
        started_at=started_at,
        detected_at=detected_at or now,
        reported_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=incident_chain(row.id),
        actor=actor,
        action="incident.declared",
        reason=summary,
        data={
            "system": system,
            "failure_mode": mode.name,
            "severity": sev.value,
            **({"severity_reason": severity_reason} if severity_reason else {}),
        },
    )
    return IncidentView.of(row)


def get_incident(session: Session, *, incident_id: int) -> IncidentDetail:
    """Return the incident with its roles, evidence, notes and timeline."""
    row = _load(session, incident_id)
    assignments = session.execute(
        select(RoleAssignmentRow)
        .where(RoleAssignmentRow.incident_id == incident_id)
        .order_by(RoleAssignmentRow.id)
    ).scalars()
    history = [RoleView.model_validate(a) for a in assignments]
    timeline = list_entries(session, chain=incident_chain(incident_id))
    rows = list(
        session.execute(
            select(EvidenceRow)
            .where(EvidenceRow.incident_id == incident_id)
            .order_by(EvidenceRow.id)
        ).scalars()
    )
    # Every item's chain of custody in one query (not one per item).
    custody: dict[int, list[CustodyEventRow]] = {}
    if rows:
        for event in session.execute(
            select(CustodyEventRow)
            .join(EvidenceRow, CustodyEventRow.evidence_id == EvidenceRow.id)
            .where(EvidenceRow.incident_id == incident_id)
            .order_by(CustodyEventRow.id)
        ).scalars():
            custody.setdefault(event.evidence_id, []).append(event)
    evidence = [_evidence_view(session, e, custody.get(e.id, [])) for e in rows]
    base = IncidentView.of(row)
    ack = next((e for e in timeline if e.action == ACKNOWLEDGED), None)
    return IncidentDetail(
        **base.model_dump(),
        roles=[r for r in history if r.ended_at is None],
        role_history=history,
        evidence=evidence,
        notes=[e for e in timeline if e.action == "incident.note"],
        timeline=timeline,
        acknowledged_at=ack.at if ack else None,
        acknowledged_by=ack.actor if ack else None,
    )


def list_incidents(
    session: Session,
    *,
    phase: str | None = None,
    open_only: bool = False,
    system: str | None = None,
    severity: str | None = None,
    failure_mode: str | None = None,
    limit: int = 200,
) -> list[IncidentView]:
    """Return incidents, newest first, filtered by the given fields."""
    query = select(IncidentRow).order_by(IncidentRow.id.desc()).limit(limit)
    if phase:
        query = query.where(IncidentRow.phase == parse_phase(phase).value)
    if open_only:
        query = query.where(IncidentRow.phase.in_([p.value for p in OPEN_PHASES]))
    if system:
        query = query.where(IncidentRow.system == system)
    if severity:
        query = query.where(IncidentRow.severity == parse_severity(severity).value)
    if failure_mode:
        query = query.where(IncidentRow.failure_mode == lookup_failure_mode(failure_mode).name)
    return [IncidentView.of(r) for r in session.execute(query).scalars()]


def transition_incident(
    session: Session,
    *,
    clock: Clock,
    incident_id: int,
    to: str,
    actor: str,
    reason: str,
    merged_into: int | None = None,
) -> IncidentView:
    """Move an incident to phase ``to`` if the transitions table allows it, and record why."""
    target = parse_phase(to)
    if not reason.strip():
        raise InputError("a transition needs a reason")
    row = _load(session, incident_id, lock=True)
    source = Phase(row.phase)
    check_transition(source, target)
    data: dict[str, Any] = {"from": source.value, "to": target.value}
    if target is Phase.MERGED:
        if merged_into is None:
            raise InputError("merging needs the incident it merges into")
        if merged_into == incident_id:
            raise InputError(f"incident {incident_id} cannot be merged into itself")
        survivor = _load(session, merged_into, lock=True)
        if Phase(survivor.phase) not in OPEN_PHASES:
            raise InputError(f"incident {merged_into} is {survivor.phase}; merge into an open one")
        row.merged_into = merged_into
        survivor.related_incidents = sorted({*survivor.related_incidents, incident_id})
        row.related_incidents = sorted({*row.related_incidents, merged_into})
        data["merged_into"] = merged_into
        append_entry(
            session,
            clock=clock,
            chain=incident_chain(merged_into),
            actor=actor,
            action="incident.absorbed",
            reason=reason,
            data={"incident": incident_id},
        )
    elif merged_into is not None:
        raise InputError("the incident to merge into only applies when moving to merged")
    now = clock.now()
    row.phase = target.value
    row.updated_at = now
    for field in PHASE_TIMESTAMPS.get(target, ()):
        if getattr(row, field) is None:
            setattr(row, field, now)
    append_entry(
        session,
        clock=clock,
        chain=incident_chain(incident_id),
        actor=actor,
        action="incident.transitioned",
        reason=reason,
        data=data,
    )
    session.flush()
    return IncidentView.of(row)


def assign_role(
    session: Session,
    *,
    clock: Clock,
    incident_id: int,
    role: str,
    person: str,
    actor: str,
    reason: str = "",
) -> RoleView:
    """Give ``person`` a role; for a single-holder role the previous holder hands off."""
    parsed = parse_role(role)
    if not person.strip():
        raise InputError("a role assignment needs a person")
    _load(session, incident_id, lock=True)
    now = clock.now()
    current = (
        session.execute(
            select(RoleAssignmentRow).where(
                RoleAssignmentRow.incident_id == incident_id,
                RoleAssignmentRow.role == parsed.value,
                RoleAssignmentRow.ended_at.is_(None),
            )
        )
        .scalars()
        .all()
    )
    if any(a.person == person for a in current):
        raise InputError(f"{person} already holds {parsed.value} on incident {incident_id}")
    handed_from = []
    if parsed in SINGLE_HOLDER_ROLES:
        for a in current:
            a.ended_at = now
            handed_from.append(a.person)
    assignment = RoleAssignmentRow(
        incident_id=incident_id,
        role=parsed.value,
        person=person,
        assigned_by=actor,
        assigned_at=now,
    )
    session.add(assignment)
    session.flush()
    data: dict[str, Any] = {"role": parsed.value, "person": person}
    if handed_from:
        data["handed_off_from"] = handed_from
    append_entry(
        session,
        clock=clock,
        chain=incident_chain(incident_id),
        actor=actor,
        action="incident.role_handed_off" if handed_from else "incident.role_assigned",
        reason=reason,
        data=data,
    )
    return RoleView.model_validate(assignment)


def add_note(
    session: Session, *, clock: Clock, incident_id: int, actor: str, text: str
) -> AuditEntryView:
    """Add a handler comment to the incident's timeline and return the entry."""
    if not text.strip():
        raise InputError("a note needs text")
    _load(session, incident_id)
    return append_entry(
        session,
        clock=clock,
        chain=incident_chain(incident_id),
        actor=actor,
        action="incident.note",
        reason=text,
    )


def acknowledge_incident(
    session: Session, *, clock: Clock, incident_id: int, actor: str, reason: str = ""
) -> AuditEntryView:
    """Record that ``actor`` has taken the open incident and return the timeline entry.

    The entry's time is the incident's acknowledgement: time to acknowledge runs from detection
    to it, and escalation stops paging. An incident is acknowledged once; a second
    acknowledgement, or one of a closed incident, is a conflict naming who acknowledged it.

    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="system:monitor", system="fraud",
    ...                            failure_mode="data_drift", summary="psi 0.4")
    ...     entry = acknowledge_incident(s, clock=clock, incident_id=inc.id, actor="dana")
    >>> with store.read() as s:
    ...     get_incident(s, incident_id=inc.id).acknowledged_by
    'dana'
    >>> store.close()
    """
    row = _load(session, incident_id, lock=True)
    if Phase(row.phase) not in OPEN_PHASES:
        raise ConflictError(
            f"INC-{incident_id} is {row.phase.replace('_', ' ')}; only an open incident can be "
            "acknowledged"
        )
    chain = incident_chain(incident_id)
    earlier = next(
        (e for e in list_entries(session, chain=chain) if e.action == ACKNOWLEDGED), None
    )
    if earlier is not None:
        raise ConflictError(
            f"INC-{incident_id} was already acknowledged by {earlier.actor} at "
            f"{earlier.at.strftime('%Y-%m-%d %H:%M:%S')} UTC"
        )
    row.updated_at = clock.now()
    return append_entry(
        session,
        clock=clock,
        chain=chain,
        actor=actor,
        action=ACKNOWLEDGED,
        reason=reason.strip(),
    )


def update_incident(
    session: Session,
    *,
    clock: Clock,
    incident_id: int,
    changes: IncidentUpdate,
    actor: str,
    reason: str = "",
) -> IncidentView:
    """Apply ``changes`` and record each changed field, old and new, on the timeline."""
    row = _load(session, incident_id, lock=True)
    diff: dict[str, Any] = {}
    for field, value in changes.model_dump(exclude_none=True, mode="json").items():
        if field == "severity":
            value = parse_severity(value).value
        if field == "started_at":
            value = changes.started_at
        old = getattr(row, field)
        if old != value:
            diff[field] = {"old": old, "new": value}
            setattr(row, field, value)
    if not diff:
        return IncidentView.of(row)
    row.updated_at = clock.now()
    append_entry(
        session,
        clock=clock,
        chain=incident_chain(incident_id),
        actor=actor,
        action="incident.updated",
        reason=reason,
        data={"changes": diff},
    )
    session.flush()
    return IncidentView.of(row)


def add_evidence(
    session: Session,
    *,
    clock: Clock,
    blobs: BlobStore,
    incident_id: int,
    content: bytes | BinaryIO,
    name: str,
    source: str,
    actor: str,
    media_type: str = "application/octet-stream",
    description: str = "",
) -> EvidenceView:
    """Store ``content`` by its sha256, attach it to the incident and open its chain of custody.

    ``content`` may be a binary file, copied to the evidence store in chunks (an upload never
    sits in memory whole)."""
    _load(session, incident_id)
    if isinstance(content, bytes):
        digest, size = blobs.put(content), len(content)
    else:
        digest, size = blobs.put_stream(content)
    now = clock.now()
    row = EvidenceRow(
        incident_id=incident_id,
        sha256=digest,
        size=size,
        name=name,
        media_type=media_type,
        description=description,
        source=source,
        added_by=actor,
        added_at=now,
    )
    session.add(row)
    session.flush()
    session.add(
        CustodyEventRow(evidence_id=row.id, at=now, actor=actor, action="collected", detail=source)
    )
    append_entry(
        session,
        clock=clock,
        chain=incident_chain(incident_id),
        actor=actor,
        action="incident.evidence_added",
        reason=description,
        data={"evidence_id": row.id, "sha256": digest, "name": name, "source": source},
    )
    session.flush()
    return _evidence_view(session, row)


def read_evidence(
    session: Session, *, clock: Clock, blobs: BlobStore, evidence_id: int, actor: str, purpose: str
) -> bytes:
    """Return an evidence blob after checking its hash, and log the access in its custody."""
    row = session.get(EvidenceRow, evidence_id)
    if row is None:
        raise NotFoundError(f"evidence {evidence_id} not found")
    data = blobs.get(row.sha256)
    session.add(
        CustodyEventRow(
            evidence_id=evidence_id, at=clock.now(), actor=actor, action="accessed", detail=purpose
        )
    )
    session.flush()
    return data


def _evidence_view(
    session: Session, row: EvidenceRow, custody: Iterable[CustodyEventRow] | None = None
) -> EvidenceView:
    if custody is None:
        custody = session.execute(
            select(CustodyEventRow)
            .where(CustodyEventRow.evidence_id == row.id)
            .order_by(CustodyEventRow.id)
        ).scalars()
    view = EvidenceView.model_validate(row)
    view.custody = [CustodyEventView.model_validate(c) for c in custody]
    return view


def _load(session: Session, incident_id: int, *, lock: bool = False) -> IncidentRow:
    query = select(IncidentRow).where(IncidentRow.id == incident_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"incident {incident_id} not found")
    return row
