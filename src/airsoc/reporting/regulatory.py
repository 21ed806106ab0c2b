"""The regulatory clock of serious incidents (EU AI Act, Article 73): the serious-incident flag,
when the provider became aware, the report's due date, reminders as it approaches, and whether
evidence was captured before each change that could affect the evaluation of causes.

**Due dates.** Article 73 gives the provider a number of days from becoming aware: 2 for a
widespread infringement or a serious and irreversible disruption of critical infrastructure
(73(3)), 10 for a death (73(4)), 15 otherwise (73(2)). airsoc counts them as EU law counts periods
(Regulation (EEC, Euratom) No 1182/71, Article 3): the day of awareness does not count, and the
period ends with the last hour of its last day. So the report is due at the **end of the local
calendar day N days after the day of awareness**, in the system's configured time zone: the
first instant of the next local day, stored in UTC. A day that is 23 or 25 hours long (a
daylight-saving change) counts as one day. airsoc does not move a deadline that ends on a
weekend or public holiday (1182/71, Article 3(4) may allow it; the conservative reading does
not rely on it).

Example:
    >>> from datetime import datetime, timezone
    >>> aware = datetime(2026, 3, 27, 9, 0, tzinfo=timezone.utc)  # 10:00 in Berlin (CET)
    >>> due = report_due(aware, category="widespread_infringement", time_zone="Europe/Berlin")
    >>> due.isoformat()  # the end of Sunday 29 March in Berlin, which is CEST by then
    '2026-03-29T22:00:00+00:00'
    >>> local_text(due, "Europe/Berlin")
    '2026-03-30 00:00 CEST (Europe/Berlin)'
    >>> [REPORTING_DAYS[c] for c in SeriousCategory]
    [2, 2, 10, 15]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import AirsocError, ConflictError, InputError, NotFoundError
from airsoc.incidents.service import IncidentDetail, get_incident, incident_chain
from airsoc.lineage import system_timeline
from airsoc.monitoring.alerts import Alert
from airsoc.reporting.config import RegulatoryConfig, RegulatoryProfile, check_time_zone
from airsoc.reporting.course import acted_steps
from airsoc.reporting.models import RegulatoryProfileRow, SeriousIncidentRow
from airsoc.response import list_runs
from airsoc.store import Store

__all__ = [
    "CHANGE_ACTIONS",
    "MANIFEST_NAME",
    "REGULATION",
    "REPORTING_DAYS",
    "ChangeCheck",
    "Reminder",
    "SeriousCategory",
    "SeriousIncidentView",
    "changes_and_evidence",
    "due_reminders",
    "flag_serious",
    "get_profile",
    "get_serious",
    "list_serious",
    "local_text",
    "mark_reminder_sent",
    "record_report",
    "report_due",
    "send_reminders",
    "sync_profiles",
    "update_serious",
]

#: The regulation the clock follows, as alert labels and reports name it.
REGULATION = "EU AI Act Article 73"
#: The name of the evidence manifest forensics writes when it captures an incident's evidence.
MANIFEST_NAME = "evidence-manifest.json"


class SeriousCategory(StrEnum):
    """What kind of serious incident it is; the kind sets how many days the report may take."""

    WIDESPREAD_INFRINGEMENT = "widespread_infringement"
    CRITICAL_INFRASTRUCTURE = "critical_infrastructure"
    DEATH = "death"
    OTHER = "other"

    @property
    def label(self) -> str:
        """Return the category in words."""
        return {
            "widespread_infringement": "widespread infringement",
            "critical_infrastructure": "serious and irreversible disruption of critical "
            "infrastructure",
            "death": "death of a person",
            "other": "other serious incident",
        }[self.value]


#: Calendar days from awareness to the report's due date, by category (Article 73(2)-(4)).
REPORTING_DAYS: dict[SeriousCategory, int] = {
    SeriousCategory.WIDESPREAD_INFRINGEMENT: 2,
    SeriousCategory.CRITICAL_INFRASTRUCTURE: 2,
    SeriousCategory.DEATH: 10,
    SeriousCategory.OTHER: 15,
}

#: Playbook actions that change what can be examined (lineage, retrieval, clients); routing
#: changes are read from the system's timeline instead.
CHANGE_ACTIONS = (
    "quarantine_batch",
    "release_batch",
    "approve_batch",
    "revoke_source",
    "set_source_trust",
    "hold_promotion",
    "release_hold",
    "disable_retrieval",
    "enable_retrieval",
    "remove_document",
    "restore_document",
    "block_client",
    "unblock_client",
    "rate_limit_client",
    "retrain",
)


def _category(value: str) -> SeriousCategory:
    try:
        return SeriousCategory(value.strip().lower().replace(" ", "_").replace("-", "_"))
    except ValueError:
        known = ", ".join(c.value for c in SeriousCategory)
        raise InputError(
            f"unknown serious-incident category {value!r}; known: {known}", loc="category"
        ) from None


def report_due(aware_at: datetime, *, category: str, time_zone: str) -> datetime:
    """Return when the report of a serious incident of ``category`` is due (UTC): the end of the
    local calendar day ``REPORTING_DAYS[category]`` days after the day of ``aware_at``.

    >>> from datetime import datetime, timezone
    >>> aware = datetime(2026, 10, 23, 21, 30, tzinfo=timezone.utc)  # 23:30 CEST, Friday
    >>> report_due(aware, category="widespread_infringement", time_zone="Europe/Berlin")
    datetime.datetime(2026, 10, 25, 23, 0, tzinfo=datetime.timezone.utc)
    """
    zone = ZoneInfo(check_time_zone(time_zone))
    days = REPORTING_DAYS[_category(category)]
    local_day = aware_at.astimezone(zone).date()
    # The first instant of the day after the last day of the period, in local wall time.
    end = datetime.combine(local_day + timedelta(days=days + 1), time(0), tzinfo=zone)
    return end.astimezone(UTC)


def local_text(at: datetime, time_zone: str) -> str:
    """Return ``at`` as local wall time with its abbreviation and zone.

    >>> from datetime import datetime, timezone
    >>> local_text(datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc), "Europe/Dublin")
    '2026-01-05 08:00 GMT (Europe/Dublin)'
    """
    local = at.astimezone(ZoneInfo(time_zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({time_zone})"


# --------------------------------------------------------------------------- profiles


def sync_profiles(session: Session, *, clock: Clock, config: RegulatoryConfig) -> int:
    """Store what ``config`` says about each system (replacing what was stored); return how
    many systems are placed. The runtime calls it whenever it applies ``airsoc.yaml``."""
    now = clock.now()
    # Row by row, so that workers applying the same file at once agree instead of colliding.
    session.execute(
        delete(RegulatoryProfileRow).where(RegulatoryProfileRow.system.not_in(config.systems))
    )
    for system in config.systems:
        profile = config.profile(system)
        assert profile is not None
        fields = profile.model_dump(exclude={"system"})
        row = session.get(RegulatoryProfileRow, system, with_for_update=True)
        if row is None:
            session.add(RegulatoryProfileRow(system=system, updated_at=now, **fields))
        elif any(getattr(row, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(row, k, v)
            row.updated_at = now
    session.flush()
    return len(config.systems)


def get_profile(session: Session, *, system: str) -> RegulatoryProfile | None:
    """Return the stored regulatory profile of ``system`` (``None`` when it is not placed)."""
    row = session.get(RegulatoryProfileRow, system)
    if row is None:
        return None
    return RegulatoryProfile(
        system=row.system,
        jurisdiction=row.jurisdiction,
        time_zone=row.time_zone,
        article_73=row.article_73,
        authority=row.authority,
        provider=row.provider,
    )


# --------------------------------------------------------------------------- the flag


class ChangeCheck(BaseModel):
    """A change that could affect the evaluation of causes, and whether evidence preceded it."""

    at: datetime
    actor: str
    change: str
    evidence_before: bool
    evidence_at: datetime | None


class SeriousIncidentView(BaseModel):
    """A serious incident: its category, awareness, due date, reports and reminders."""

    incident_id: int
    ref: str
    system: str
    category: SeriousCategory
    category_label: str
    days: int
    aware_at: datetime
    aware_local: str
    aware_reason: str
    time_zone: str
    jurisdiction: str
    authority: str
    provider: str
    due_at: datetime
    due_local: str
    due_by_category: dict[str, str]
    status: str
    initial_report_at: datetime | None
    final_report_at: datetime | None
    reminders_sent: list[str]
    flagged_by: str
    flagged_at: datetime


def _status(row: SeriousIncidentRow, due: datetime, now: datetime | None) -> str:
    if row.initial_report_at is not None:
        late = " (late)" if row.initial_report_at >= due else ""
        return ("final report sent" if row.final_report_at else "initial report sent") + late
    if now is not None and now >= due:
        return "overdue"
    return "due"


def _view(session: Session, row: SeriousIncidentRow, now: datetime | None) -> SeriousIncidentView:
    incident = get_incident(session, incident_id=row.incident_id)
    category = SeriousCategory(row.category)
    due = report_due(row.aware_at, category=category, time_zone=row.time_zone)
    return SeriousIncidentView(
        incident_id=row.incident_id,
        ref=incident.ref,
        system=incident.system,
        category=category,
        category_label=category.label,
        days=REPORTING_DAYS[category],
        aware_at=row.aware_at,
        aware_local=local_text(row.aware_at, row.time_zone),
        aware_reason=row.aware_reason,
        time_zone=row.time_zone,
        jurisdiction=row.jurisdiction,
        authority=row.authority,
        provider=row.provider,
        due_at=due,
        due_local=local_text(due, row.time_zone),
        due_by_category={
            c.value: local_text(
                report_due(row.aware_at, category=c, time_zone=row.time_zone), row.time_zone
            )
            for c in SeriousCategory
        },
        status=_status(row, due, now),
        initial_report_at=row.initial_report_at,
        final_report_at=row.final_report_at,
        reminders_sent=list(row.reminders_sent or []),
        flagged_by=row.flagged_by,
        flagged_at=row.flagged_at,
    )


def _load(session: Session, incident_id: int) -> SeriousIncidentRow:
    row = session.get(SeriousIncidentRow, incident_id)
    if row is None:
        raise NotFoundError(f"incident {incident_id} is not flagged as a serious incident")
    return row


def flag_serious(
    session: Session,
    *,
    clock: Clock,
    incident_id: int,
    category: str,
    actor: str,
    reason: str,
    aware_at: datetime | None = None,
    aware_reason: str = "",
    time_zone: str | None = None,
) -> SeriousIncidentView:
    """Flag incident ``incident_id`` as a serious incident of ``category`` and return it.

    The provider became aware when the flag is set, unless ``aware_at`` says otherwise (then
    ``aware_reason`` must say why). The time zone and jurisdiction come from the system's
    regulatory profile (``airsoc.yaml``), or ``time_zone`` when given.
    """
    incident = get_incident(session, incident_id=incident_id)
    if session.get(SeriousIncidentRow, incident_id) is not None:
        raise ConflictError(f"{incident.ref} is already flagged as a serious incident")
    if not reason.strip():
        raise InputError("say why this is a serious incident", loc="reason")
    kind = _category(category)
    now = clock.now()
    aware, because = _awareness(aware_at, aware_reason, now)
    profile = get_profile(session, system=incident.system)
    if profile is not None and not profile.article_73:
        raise ConflictError(
            f"Article 73 does not apply to {incident.system} in jurisdiction "
            f"{profile.jurisdiction} (regulatory.systems.{incident.system} in airsoc.yaml)"
        )
    zone = time_zone or (profile.time_zone if profile else None)
    if zone is None:
        raise ConflictError(
            f"{incident.system} has no regulatory profile (regulatory.systems in airsoc.yaml); "
            "give the time zone its deadlines are counted in"
        )
    try:
        check_time_zone(zone)
    except ValueError as exc:
        raise InputError(str(exc), loc="time_zone") from None
    row = SeriousIncidentRow(
        incident_id=incident_id,
        category=kind.value,
        aware_at=aware,
        aware_reason=because,
        time_zone=zone,
        jurisdiction=profile.jurisdiction if profile else "",
        authority=profile.authority if profile else "the market surveillance authority",
        provider=profile.provider if profile else "",
        flagged_by=actor,
        flagged_at=now,
        reminders_sent=[],
    )
    session.add(row)
    session.flush()
    due = report_due(aware, category=kind, time_zone=zone)
    append_entry(
        session,
        clock=clock,
        chain=incident_chain(incident_id),
        actor=actor,
        action="incident.flagged_serious",
        reason=reason.strip(),
        data={
            "category": kind.value,
            "aware_at": aware.isoformat(),
            "aware_reason": because,
            "time_zone": zone,
            "due_at": due.isoformat(),
        },
    )
    return _view(session, row, now)


def _awareness(aware_at: datetime | None, aware_reason: str, now: datetime) -> tuple[datetime, str]:
    if aware_at is None:
        return now, ""
    if aware_at.tzinfo is None:
        raise InputError("give the awareness time with its UTC offset", loc="aware_at")
    if not aware_reason.strip():
        raise InputError(
            "say why the provider became aware at another time than the flag", loc="aware_reason"
        )
    if aware_at > now:
        raise ConflictError(
            f"the provider cannot become aware in the future ({aware_at.isoformat()} is after "
            f"{now.isoformat()})"
        )
    return aware_at.astimezone(UTC), aware_reason.strip()


def update_serious(
    session: Session,
    *,
    clock: Clock,
    incident_id: int,
    actor: str,
    reason: str,
    category: str | None = None,
    aware_at: datetime | None = None,
) -> SeriousIncidentView:
    """Change the category or the awareness time of a serious incident, with the reason."""
    row = _load(session, incident_id)
    if not reason.strip():
        raise InputError("say why", loc="reason")
    changes: dict[str, Any] = {}
    if category is not None and _category(category).value != row.category:
        changes["category"] = {"old": row.category, "new": _category(category).value}
        row.category = _category(category).value
    if aware_at is not None:
        aware, because = _awareness(aware_at, reason, clock.now())
        if aware != row.aware_at:
            changes["aware_at"] = {"old": row.aware_at.isoformat(), "new": aware.isoformat()}
            row.aware_at, row.aware_reason = aware, because
    if changes:
        # A new due date may bring reminders back: the sent ones were for the old date.
        row.reminders_sent = []
        due = report_due(row.aware_at, category=row.category, time_zone=row.time_zone)
        append_entry(
            session,
            clock=clock,
            chain=incident_chain(incident_id),
            actor=actor,
            action="incident.serious_updated",
            reason=reason.strip(),
            data={"changes": changes, "due_at": due.isoformat()},
        )
        session.flush()
    return _view(session, row, clock.now())


def record_report(
    session: Session, *, clock: Clock, incident_id: int, kind: str, actor: str, reason: str = ""
) -> SeriousIncidentView:
    """Record that the ``initial`` or ``final`` report went to the authority (now)."""
    row = _load(session, incident_id)
    if kind not in ("initial", "final"):
        raise InputError(f"unknown report {kind!r}; use initial or final", loc="kind")
    now = clock.now()
    if kind == "initial":
        if row.initial_report_at is not None:
            raise ConflictError(f"INC-{incident_id}: the initial report was already recorded")
        row.initial_report_at = now
    else:
        if row.final_report_at is not None:
            raise ConflictError(f"INC-{incident_id}: the final report was already recorded")
        row.final_report_at = now
        row.initial_report_at = row.initial_report_at or now
    due = report_due(row.aware_at, category=row.category, time_zone=row.time_zone)
    append_entry(
        session,
        clock=clock,
        chain=incident_chain(incident_id),
        actor=actor,
        action="regulatory.report_submitted",
        reason=reason.strip() or f"{kind} report sent to {row.authority}",
        data={"report": kind, "due_at": due.isoformat(), "late": now >= due},
    )
    session.flush()
    return _view(session, row, now)


def get_serious(
    session: Session, *, incident_id: int, now: datetime | None = None
) -> SeriousIncidentView | None:
    """Return the incident's serious-incident record, or ``None`` when it is not flagged."""
    row = session.get(SeriousIncidentRow, incident_id)
    return None if row is None else _view(session, row, now)


def list_serious(session: Session, *, now: datetime | None = None) -> list[SeriousIncidentView]:
    """Return every serious incident, the soonest due first."""
    rows = session.execute(select(SeriousIncidentRow)).scalars()
    return sorted((_view(session, r, now) for r in rows), key=lambda v: v.due_at)


# --------------------------------------------------------------------------- reminders


class Reminder(BaseModel):
    """A reminder to send: the threshold it is for (``24h``, ``overdue``) and its alert."""

    incident_id: int
    key: str
    alert: Alert
    skipped: list[str]


def _lead_key(lead: timedelta) -> str:
    seconds = int(lead.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def due_reminders(
    session: Session, *, now: datetime, lead_times: Sequence[timedelta]
) -> list[Reminder]:
    """Return the reminders to send at ``now``: for each serious incident whose initial report
    is not sent, the closest lead time before its due date that has passed (the earlier ones
    it overtook are ``skipped``), or ``overdue``; each threshold once (see
    :func:`mark_reminder_sent`)."""
    out: list[Reminder] = []
    rows = session.execute(
        select(SeriousIncidentRow).where(SeriousIncidentRow.initial_report_at.is_(None))
    ).scalars()
    for row in rows:
        sent = set(row.reminders_sent or [])
        due = report_due(row.aware_at, category=row.category, time_zone=row.time_zone)
        passed = [lead for lead in sorted(lead_times, reverse=True) if now >= due - lead]
        if now >= due:
            key, skipped = "overdue", [_lead_key(lead) for lead in passed]
        elif passed:
            key, skipped = _lead_key(passed[-1]), [_lead_key(lead) for lead in passed[:-1]]
        else:
            continue
        if key in sent:
            continue
        incident = get_incident(session, incident_id=row.incident_id)
        out.append(
            Reminder(
                incident_id=row.incident_id,
                key=key,
                alert=_alert(incident, row, due, key, now),
                skipped=[k for k in skipped if k not in sent],
            )
        )
    return out


def _alert(
    incident: IncidentDetail, row: SeriousIncidentRow, due: datetime, key: str, now: datetime
) -> Alert:
    when = local_text(due, row.time_zone)
    if key == "overdue":
        summary = f"{incident.ref}: the {REGULATION} report is overdue (it was due {when})"
    else:
        summary = f"{incident.ref}: the {REGULATION} report is due within {key} (by {when})"
    return Alert(
        labels={
            "alertname": "RegulatoryReportOverdue" if key == "overdue" else "RegulatoryReportDue",
            "system": incident.system,
            "incident": incident.ref,
            "regulation": "eu-ai-act-article-73",
            "reminder": key,
            "severity": "sev2" if key == "overdue" else "sev3",
        },
        annotations={
            "summary": summary,
            "description": (
                f"{incident.title}: {SeriousCategory(row.category).label}; the provider became "
                f"aware {local_text(row.aware_at, row.time_zone)}. Report to {row.authority}."
            ),
        },
        starts_at=now,
        # A reminder before the due date stops mattering at the due date; the overdue one
        # fires until the initial report is recorded.
        ends_at=due if key != "overdue" else None,
    )


def mark_reminder_sent(
    session: Session, *, clock: Clock, reminder: Reminder, actor: str = "system:regulatory"
) -> None:
    """Record on the incident that ``reminder`` went out (and the thresholds it overtook)."""
    row = _load(session, reminder.incident_id)
    row.reminders_sent = sorted({*(row.reminders_sent or []), reminder.key, *reminder.skipped})
    append_entry(
        session,
        clock=clock,
        chain=incident_chain(reminder.incident_id),
        actor=actor,
        action="regulatory.reminder_sent",
        reason=reminder.alert.annotations.get("summary", ""),
        data={"reminder": reminder.key, "skipped": reminder.skipped},
    )
    session.flush()


def send_reminders(
    store: Store,
    *,
    clock: Clock,
    submit: Callable[[Alert], None],
    lead_times: Sequence[timedelta],
) -> list[Reminder]:
    """Send each reminder due now through ``submit`` (the alerting engine's routing tree) and
    record it on its incident; return them. A reminder whose sending fails is not recorded, so
    the next round sends it again."""
    with store.read() as s:
        reminders = due_reminders(s, now=clock.now(), lead_times=lead_times)
    for reminder in reminders:
        submit(reminder.alert)
        with store.transaction() as s:
            mark_reminder_sent(s, clock=clock, reminder=reminder)
    return reminders


# --------------------------------------------------------------------------- evidence first


def changes_and_evidence(session: Session, *, incident_id: int) -> list[ChangeCheck]:
    """Return every change on the incident that could affect the evaluation of its causes
    (routing changes on its system after detection; lineage, retrieval and client changes its
    playbooks made), oldest first, each with whether an evidence manifest was captured at or
    before it."""
    detail = get_incident(session, incident_id=incident_id)
    captures = sorted(
        e.at
        for e in detail.timeline
        if e.action == "incident.evidence_added" and e.data.get("name") == MANIFEST_NAME
    )
    until = detail.closed_at
    changes: list[tuple[datetime, str, str]] = []
    try:
        system_entries = system_timeline(session, name=detail.system)
    except AirsocError:
        system_entries = []
    for e in system_entries:
        if not e.action.startswith("routing.") or e.at < detail.detected_at:
            continue
        if until is not None and e.at > until:
            continue
        primary = e.data.get("primary")
        to = f" ({e.data.get('mode')}, serving {primary})" if primary else ""
        changes.append((e.at, e.actor, f"{e.action}{to}: {e.reason}".strip()))
    for run in list_runs(session, incident_id=incident_id):
        for step in acted_steps(run):
            if step.action not in CHANGE_ACTIONS or step.finished_at is None:
                continue
            subject = ", ".join(
                f"{k} {v}"
                for k, v in step.output.items()
                if k in ("batch_id", "source", "client_id", "document_id", "version")
            )
            changes.append(
                (
                    step.finished_at,
                    f"playbook:{run.id}",
                    f"{step.action} (playbook {run.playbook}, step {step.step_id})"
                    + (f": {subject}" if subject else ""),
                )
            )
    out = []
    for at, actor, change in sorted(changes, key=lambda c: c[0]):
        before = [c for c in captures if c <= at]
        out.append(
            ChangeCheck(
                at=at,
                actor=actor,
                change=change,
                evidence_before=bool(before),
                evidence_at=before[-1] if before else None,
            )
        )
    return out
