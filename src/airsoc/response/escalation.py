"""Escalation and communication: paging the next level, status updates and customer notices.

An incident is *acknowledged* once it leaves ``detected`` or someone is its incident commander.
Until then, each level of its escalation policy pages its receiver ``after`` the declaration.
Status updates follow a cadence set by severity (SEV1 every 30 minutes by default); each one and
the customer-notice draft are rendered from templates and saved on the incident (with a note on
its timeline).

Example:
    >>> from airsoc.response.config import EscalationConfig
    >>> cadence_for(EscalationConfig(), "sev1")
    datetime.timedelta(seconds=1800)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.alerting.dispatcher import NotifyTarget
from airsoc.alerting.notification import Delivery, Notification
from airsoc.alerting.service import record_delivery
from airsoc.alerting.templates import Templates
from airsoc.clock import Clock
from airsoc.incidents.lifecycle import OPEN_PHASES, Phase, Role
from airsoc.incidents.service import IncidentDetail, IncidentView, add_note, get_incident
from airsoc.monitoring.alerts import Alert
from airsoc.response.config import EscalationConfig
from airsoc.response.incident_alerts import incident_alerts
from airsoc.response.models import CommunicationRow, EscalationRow
from airsoc.store import Store

__all__ = [
    "CommunicationView",
    "EscalationPage",
    "cadence_for",
    "draft_customer_notice",
    "is_acknowledged",
    "list_communications",
    "post_status_update",
    "run_escalations",
    "save_communication",
    "send_due_status_updates",
    "start_escalation",
]

ACTOR = "system:escalation"


class CommunicationView(BaseModel):
    """A saved status update or customer-notice draft."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    kind: str
    body: str
    author: str
    at: datetime
    next_due_at: datetime | None


class EscalationPage(BaseModel):
    """One escalation page: which level, which receiver, and how delivery went."""

    incident_id: int
    level: int
    receiver: str
    delivered: bool


def cadence_for(config: EscalationConfig, severity: str) -> timedelta:
    """Return how often an incident of ``severity`` gets a status update."""
    cadence: dict[str, timedelta] = {str(k): v for k, v in config.status_cadence.items()}
    return cadence.get(severity, timedelta(hours=4))


def start_escalation(
    session: Session,
    *,
    clock: Clock,
    incident: IncidentView,
    policy: str | None,
    config: EscalationConfig,
    templates: Templates | None = None,
) -> None:
    """Start the incident's escalation policy (if any) and save its first status update."""
    if policy is not None:
        session.add(
            EscalationRow(
                incident_id=incident.id,
                policy=policy,
                next_level=0,
                declared_at=incident.reported_at,
                done=False,
            )
        )
    post_status_update(
        session,
        clock=clock,
        incident_id=incident.id,
        config=config,
        templates=templates,
        author=ACTOR,
    )
    draft_customer_notice(
        session,
        clock=clock,
        incident_id=incident.id,
        config=config,
        templates=templates,
        author=ACTOR,
    )


def is_acknowledged(incident: Any) -> bool:
    """Return whether someone has taken the incident (acknowledged, triaged, or an IC assigned)."""
    if incident.phase != Phase.DETECTED.value or getattr(incident, "acknowledged_at", None):
        return True
    return any(r.role == Role.INCIDENT_COMMANDER.value for r in incident.roles)


def _render(
    templates: Templates | None,
    name: str,
    incident: Any,
    next_update: datetime | None,
    alerts: int,
) -> str:
    return (templates or Templates()).render(
        name,
        {
            "incident": incident.model_dump(mode="json"),
            "alerts": list(range(alerts)),
            "next_update": next_update.isoformat() if next_update else "when there is news",
        },
    )


def save_communication(
    session: Session,
    *,
    clock: Clock,
    incident_id: int,
    kind: str,
    body: str,
    author: str,
    next_due_at: datetime | None = None,
) -> CommunicationView:
    """Save a status update, notice or draft on the incident, with a note on its timeline.

    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="alice", system="bot",
    ...                            failure_mode="prompt_injection", summary="injected")
    ...     saved = save_communication(s, clock=clock, incident_id=inc.id,
    ...                                kind="customer_notice", body="We are on it.",
    ...                                author="alice")
    >>> saved.kind, saved.body
    ('customer_notice', 'We are on it.')
    """
    row = CommunicationRow(
        incident_id=incident_id,
        kind=kind,
        body=body,
        author=author,
        at=clock.now(),
        next_due_at=next_due_at,
    )
    session.add(row)
    session.flush()
    add_note(
        session,
        clock=clock,
        incident_id=incident_id,
        actor=author,
        text=f"{kind.replace('_', ' ')} saved:\n{body}",
    )
    return CommunicationView.model_validate(row)


def post_status_update(
    session: Session,
    *,
    clock: Clock,
    incident_id: int,
    config: EscalationConfig,
    author: str,
    templates: Templates | None = None,
    incident: IncidentDetail | None = None,
) -> CommunicationView:
    """Render and save a status update; the next is due one cadence later. ``incident`` is the
    incident as just read in ``session``, when the caller has it (read again otherwise)."""
    if incident is None or incident.id != incident_id:
        incident = get_incident(session, incident_id=incident_id)
    next_due = clock.now() + cadence_for(config, incident.severity)
    alerts = len(incident_alerts(session, incident_id=incident_id))
    body = _render(templates, "status_update.md", incident, next_due, alerts)
    return save_communication(
        session,
        clock=clock,
        incident_id=incident_id,
        kind="status_update",
        body=body,
        author=author,
        next_due_at=next_due,
    )


def draft_customer_notice(
    session: Session,
    *,
    clock: Clock,
    incident_id: int,
    config: EscalationConfig,
    author: str,
    templates: Templates | None = None,
) -> CommunicationView:
    """Render and save a customer-notice draft (for a person to review before sending)."""
    incident = get_incident(session, incident_id=incident_id)
    next_due = clock.now() + cadence_for(config, incident.severity)
    body = _render(templates, "customer_notice.md", incident, next_due, 0)
    return save_communication(
        session,
        clock=clock,
        incident_id=incident_id,
        kind="customer_notice_draft",
        body=body,
        author=author,
        next_due_at=None,
    )


def list_communications(session: Session, *, incident_id: int) -> list[CommunicationView]:
    """Return an incident's saved updates and drafts, oldest first."""
    rows = session.execute(
        select(CommunicationRow)
        .where(CommunicationRow.incident_id == incident_id)
        .order_by(CommunicationRow.id)
    ).scalars()
    return [CommunicationView.model_validate(r) for r in rows]


def _send(
    session: Session,
    targets: Sequence[NotifyTarget],
    receiver: str,
    incident: Any,
    text: str,
    clock: Clock,
    key: str,
) -> list[Delivery]:
    alert = Alert(
        labels={
            "alertname": incident.ref,
            "incident": incident.ref,
            "system": incident.system,
            "failure_mode": incident.failure_mode,
            "severity": incident.severity,
        },
        annotations={"summary": text},
        starts_at=clock.now(),
    )
    note = Notification.of(
        receiver=receiver,
        group_key=key,
        group_labels={"incident": incident.ref},
        alerts=[alert],
        now=clock.now(),
    )
    deliveries = [t.send(note) for t in targets]
    for d in deliveries:
        record_delivery(session, delivery=d)
    return deliveries


def run_escalations(
    *,
    store: Store,
    clock: Clock,
    config: EscalationConfig,
    receivers: Mapping[str, Sequence[NotifyTarget]],
    templates: Templates | None = None,
) -> list[EscalationPage]:
    """Page the next level of every unacknowledged incident whose level is due."""
    pages: list[EscalationPage] = []
    now = clock.now()
    with store.transaction() as s:
        rows = list(
            s.execute(
                select(EscalationRow).where(EscalationRow.done.is_(False)).with_for_update()
            ).scalars()
        )
        for row in rows:
            incident = get_incident(s, incident_id=row.incident_id)
            if is_acknowledged(incident) or Phase(incident.phase) not in OPEN_PHASES:
                row.done = True
                continue
            policy = config.policies.get(row.policy)
            if policy is None:
                row.done = True
                continue
            while row.next_level < len(policy.levels):
                level = policy.levels[row.next_level]
                if now < row.declared_at + level.after:
                    break
                text = (templates or Templates()).render(
                    "escalation.txt",
                    {
                        "level": row.next_level + 1,
                        "incident": incident.model_dump(mode="json"),
                        "waited": str(level.after),
                    },
                )
                deliveries = _send(
                    s,
                    receivers.get(level.receiver, ()),
                    level.receiver,
                    incident,
                    text,
                    clock,
                    f"escalation/{incident.id}/{row.next_level}",
                )
                delivered = any(d.ok for d in deliveries)
                add_note(
                    s,
                    clock=clock,
                    incident_id=incident.id,
                    actor=ACTOR,
                    text=f"escalated to {level.receiver} (level {row.next_level + 1}): "
                    + ("paged" if delivered else "page FAILED"),
                )
                pages.append(
                    EscalationPage(
                        incident_id=incident.id,
                        level=row.next_level + 1,
                        receiver=level.receiver,
                        delivered=delivered,
                    )
                )
                row.next_level += 1
            if row.next_level >= len(policy.levels):
                row.done = True
    return pages


def send_due_status_updates(
    *,
    store: Store,
    clock: Clock,
    config: EscalationConfig,
    receivers: Mapping[str, Sequence[NotifyTarget]],
    templates: Templates | None = None,
) -> list[CommunicationView]:
    """Save (and send to ``status_receiver``) the status updates whose cadence is due."""
    now = clock.now()
    posted: list[CommunicationView] = []
    with store.transaction() as s:
        latest: dict[int, CommunicationRow] = {}
        for row in s.execute(
            select(CommunicationRow)
            .where(CommunicationRow.kind == "status_update")
            .order_by(CommunicationRow.id)
        ).scalars():
            latest[row.incident_id] = row
        for incident_id, row in latest.items():
            if row.next_due_at is None or row.next_due_at > now:
                continue
            incident = get_incident(s, incident_id=incident_id)
            if Phase(incident.phase) not in OPEN_PHASES:
                row.next_due_at = None
                continue
            view = post_status_update(
                s,
                clock=clock,
                incident_id=incident_id,
                config=config,
                author=ACTOR,
                templates=templates,
                incident=incident,
            )
            posted.append(view)
            if config.status_receiver:
                _send(
                    s,
                    receivers.get(config.status_receiver, ()),
                    config.status_receiver,
                    incident,
                    view.body,
                    clock,
                    f"status/{incident_id}/{view.id}",
                )
    return posted
