"""The initial and final reports of a serious incident (EU AI Act Article 73), filled from the
record: the system and provider, what happened, when the provider became aware, the due dates,
the course of the incident, the evidence (with whether it was captured before each change that
could affect the evaluation of causes), the cause and the corrective measures.

Rendered as Markdown, HTML (the console embeds its body) and PDF.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.reporting.regulatory import flag_serious
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="dana", system="fraud",
    ...                            failure_mode="data_poisoning", summary="labels flipped")
    ...     _ = flag_serious(s, clock=clock, incident_id=inc.id, category="other",
    ...                      actor="dana", reason="payments refused", time_zone="Europe/Dublin")
    >>> with store.read() as s:
    ...     report = build_regulatory_report(s, incident_id=inc.id, kind="initial",
    ...                                      now=clock.now())
    >>> render_regulatory(report, "md").decode().splitlines()[0]
    '# Serious incident report (initial): data poisoning on fraud (INC-1)'
    >>> report.serious.due_local
    '2026-01-17 00:00 GMT (Europe/Dublin)'
    >>> render_regulatory(report, "pdf")[:5]
    b'%PDF-'
    >>> store.close()
"""

from __future__ import annotations

import re
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel
from sqlalchemy.orm import Session

from airsoc.errors import AirsocError, InputError, NotFoundError
from airsoc.incidents.findings import FindingKind, list_findings
from airsoc.incidents.service import get_incident
from airsoc.lineage import get_system
from airsoc.reporting.course import IncidentCourse, incident_course
from airsoc.reporting.postmortems import postmortem_for_incident
from airsoc.reporting.regulatory import (
    REGULATION,
    ChangeCheck,
    SeriousIncidentView,
    changes_and_evidence,
    get_serious,
    local_text,
)
from airsoc.reporting.render import REPORT_FORMATS, PdfDocument, RenderedReport
from airsoc.reporting.root_cause import root_cause_section

__all__ = [
    "REPORT_KINDS",
    "EvidenceLine",
    "RegulatoryReport",
    "build_regulatory_report",
    "render_regulatory",
    "render_regulatory_body",
    "render_regulatory_report",
]

#: The reports of a serious incident: the first, due by the deadline, and the complete one.
REPORT_KINDS = ("initial", "final")


class EvidenceLine(BaseModel):
    """A piece of evidence: name, sha256, where it came from and when it was captured."""

    name: str
    sha256: str
    source: str
    captured_at: datetime


class RegulatoryReport(BaseModel):
    """Every section of a serious-incident report, as text the renderers lay out."""

    kind: str
    title: str
    incident_ref: str
    generated_at: datetime
    generated_local: str
    serious: SeriousIncidentView
    system: list[tuple[str, str]]
    description: list[str]
    course: IncidentCourse
    course_rows: list[tuple[str, str]]
    evidence: list[EvidenceLine]
    changes: list[ChangeCheck]
    changes_before_evidence: int
    causes: list[str]
    corrective_measures: list[str]
    action_items: list[tuple[str, str, str, str]]


def _system_rows(session: Session, name: str, versions: list[str]) -> list[tuple[str, str]]:
    rows = [("AI system", name)]
    try:
        system = get_system(session, name=name)
    except AirsocError:
        rows.append(("Registration", "not registered with airsoc"))
    else:
        rows += [("Kind", system.kind), ("Owner", system.owner)]
        if system.description:
            rows.append(("Purpose", system.description))
    rows.append(("Model versions involved", ", ".join(versions) or "none recorded"))
    return rows


def build_regulatory_report(
    session: Session, *, incident_id: int, kind: str, now: datetime
) -> RegulatoryReport:
    """Return the ``initial`` or ``final`` report of serious incident ``incident_id``."""
    if kind not in REPORT_KINDS:
        raise InputError(f"unknown report {kind!r}; use initial or final", loc="kind")
    serious = get_serious(session, incident_id=incident_id, now=now)
    if serious is None:
        raise NotFoundError(f"incident {incident_id} is not flagged as a serious incident")
    detail = get_incident(session, incident_id=incident_id)
    course = incident_course(session, detail, now=now)
    postmortem = postmortem_for_incident(session, incident_id=incident_id)
    findings = list_findings(session, incident_id=incident_id)
    root = root_cause_section(findings)
    zone = serious.time_zone
    description = [detail.summary.strip()]
    if postmortem and postmortem.narrative.what_happened.strip() not in ("", detail.summary):
        description.append(postmortem.narrative.what_happened.strip())
    description.append(
        f"Failure mode: {detail.failure_mode.replace('_', ' ')}; severity "
        f"{detail.severity.upper()}; phase now {detail.phase.replace('_', ' ')}."
    )

    def moment(label: str, at: datetime | None, evidence: str, reason: str) -> tuple[str, str]:
        if at is None:
            return (label, f"unknown ({reason})" if reason else "unknown")
        return (label, f"{local_text(at, zone)}; from {evidence}")

    counts = course.counts
    served = f"by {counts.version}" if counts.version else f"by {detail.system}"
    course_rows = [
        moment(
            "Start of impact",
            course.impact_start.at,
            course.impact_start.evidence,
            course.impact_start.reason,
        ),
        moment("First alarm", course.first_alarm.at, course.first_alarm.evidence, ""),
        moment("Declared", course.declared.at, course.declared.evidence, ""),
        moment(
            "Contained", course.contained.at, course.contained.evidence, course.contained.reason
        ),
        (
            f"Requests served {served}",
            str(counts.requests) if counts.requests is not None else f"unknown ({counts.reason})",
        ),
    ]
    if counts.clients is not None:
        course_rows.append(("Clients affected", str(counts.clients)))
    if counts.turns:
        course_rows.append(("Chat sessions affected", str(counts.sessions)))
    causes = list(root.headlines) + [
        f.title for f in findings if f.kind == FindingKind.ROOT_CAUSE and f.id not in root.covered
    ]
    measures = []
    if course.decision:
        measures.append(f"{(course.decision_kind or '').replace('_', ' ')}: {course.decision}")
    measures += [s for s in course.containment_steps if s != course.decision]
    measures += course.recovery
    if course.recommendation:
        measures.append(f"recommended by the investigation: {course.recommendation}")
    items = [
        (i.title, i.owner, f"{i.due_at:%Y-%m-%d}", i.status)
        for i in (postmortem.action_items if postmortem else [])
    ]
    changes = changes_and_evidence(session, incident_id=incident_id)
    return RegulatoryReport(
        kind=kind,
        title=f"Serious incident report ({kind}): {detail.title} ({detail.ref})",
        incident_ref=detail.ref,
        generated_at=now,
        generated_local=local_text(now, zone),
        serious=serious,
        system=_system_rows(session, detail.system, detail.model_versions),
        description=description,
        course=course,
        course_rows=course_rows,
        evidence=[
            EvidenceLine(name=e.name, sha256=e.sha256, source=e.source, captured_at=e.added_at)
            for e in detail.evidence
        ],
        changes=changes,
        changes_before_evidence=sum(1 for c in changes if not c.evidence_before),
        causes=causes,
        corrective_measures=measures,
        action_items=items,
    )


_md_env = Environment(
    loader=PackageLoader("airsoc.reporting", "templates"),
    autoescape=False,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_html_env = Environment(
    loader=PackageLoader("airsoc.reporting", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),
    undefined=StrictUndefined,
)


def _globals() -> dict[str, object]:
    return {"regulation": REGULATION, "local_text": local_text}


def render_regulatory_body(report: RegulatoryReport) -> Markup:
    """Return the report's ``<article>`` to embed in the console."""
    template = _html_env.get_template("regulatory_body.html.j2")
    return Markup(template.render(r=report, **_globals()))


def _pdf(report: RegulatoryReport) -> bytes:
    doc = PdfDocument(report.title)
    s = report.serious
    doc.heading(report.title, 15)
    doc.para(
        f"Under {REGULATION}. Provider: {s.provider or 'not configured'}. "
        f"Report to: {s.authority}. Generated {report.generated_local}.",
        "I",
    )
    doc.heading("The AI system")
    doc.table(list(report.system), [1, 2])
    doc.heading("The incident")
    for line in report.description:
        doc.para(line)
    doc.heading("Awareness and due dates")
    rows = [
        ("Category", s.category_label),
        ("Provider became aware", s.aware_local),
    ]
    if s.aware_reason:
        rows.append(("Why this awareness time", s.aware_reason))
    rows += [
        (f"Report due ({s.days} days)", s.due_local),
        ("Status", s.status),
    ]
    doc.table(rows, [1, 2])
    doc.table(
        [(c.replace("_", " "), due) for c, due in s.due_by_category.items()],
        [1, 2],
        ("If the category were", "the report would be due"),
    )
    doc.heading("Course of the incident")
    doc.table(list(report.course_rows), [1, 2])
    doc.heading("Evidence")
    doc.table(
        [
            (e.name, e.sha256[:16] + "...", e.source, local_text(e.captured_at, s.time_zone))
            for e in report.evidence
        ]
        or [("none captured", "", "", "")],
        [2, 1.4, 2, 1.6],
        ("Item", "sha256", "Source", "Captured"),
    )
    doc.heading("Evidence before changes")
    if report.changes_before_evidence:
        doc.para(
            f"FLAGGED: {report.changes_before_evidence} change(s) were made before any evidence "
            "was captured.",
            "B",
        )
    doc.table(
        [
            (
                local_text(c.at, s.time_zone),
                c.change,
                "yes" if c.evidence_before else "NO - changed before evidence",
            )
            for c in report.changes
        ]
        or [("", "no change on record", "")],
        [1.4, 3, 1.4],
        ("When", "Change", "Evidence captured before"),
    )
    doc.heading("Cause")
    doc.bullets(report.causes or ["Under investigation."])
    doc.heading("Corrective measures")
    doc.bullets(report.corrective_measures or ["None taken yet."])
    if report.action_items:
        doc.table(list(report.action_items), [3, 1.2, 1, 0.8], ("Action", "Owner", "Due", "Status"))
    return doc.output()


def render_regulatory(report: RegulatoryReport, fmt: str) -> bytes:
    """Return the report in ``fmt`` (``md``, ``html`` or ``pdf``) as bytes."""
    if fmt == "md":
        text = _md_env.get_template("regulatory.md.j2").render(r=report, **_globals())
        return re.sub(r"\n{3,}", "\n\n", text).encode()
    if fmt == "html":
        body = render_regulatory_body(report)
        return (
            f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>'
            f"{Markup.escape(report.title)}</title></head><body>{body}</body></html>"
        ).encode()
    if fmt == "pdf":
        return _pdf(report)
    raise InputError(f"unknown report format {fmt!r}; use md, html or pdf", loc="format")


def render_regulatory_report(
    session: Session, *, incident_id: int, kind: str, fmt: str, now: datetime
) -> RenderedReport:
    """Return the ``kind`` report of serious incident ``incident_id`` rendered as ``fmt``."""
    if fmt not in REPORT_FORMATS:
        raise InputError(f"unknown report format {fmt!r}; use md, html or pdf", loc="format")
    report = build_regulatory_report(session, incident_id=incident_id, kind=kind, now=now)
    return RenderedReport(
        data=render_regulatory(report, fmt),
        media_type=REPORT_FORMATS[fmt],
        filename=f"serious-incident-{kind}-{report.incident_ref}.{fmt}",
    )
