"""Rendering a post-mortem report: Markdown, HTML with SVG charts, and PDF (fpdf2, pure Python).

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.reporting.report import build_report
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=SimulatedClock(), actor="dana", system="bot",
    ...                            failure_mode="prompt_injection", summary="canary leaked")
    >>> with store.read() as s:
    ...     report = build_report(s, incident_id=inc.id)
    >>> render_markdown(report).splitlines()[0]
    '# Post-mortem: prompt injection on bot (INC-1)'
    >>> "<svg" in render_html(report), render_pdf(report)[:5]
    (True, b'%PDF-')
    >>> store.close()
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sqlalchemy.orm import Session

from airsoc.errors import InputError
from airsoc.reporting.pdf import PdfDocument
from airsoc.reporting.postmortems import get_postmortem
from airsoc.reporting.report import PostmortemReport, build_report

__all__ = [
    "REPORT_FORMATS",
    "PdfDocument",
    "RenderedReport",
    "render",
    "render_html",
    "render_html_body",
    "render_markdown",
    "render_pdf",
    "render_postmortem",
]

#: Formats a report renders to, with their media types.
REPORT_FORMATS = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}

_html_env = Environment(
    loader=PackageLoader("airsoc.reporting", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),
    undefined=StrictUndefined,
)
_md_env = Environment(
    loader=PackageLoader("airsoc.reporting", "templates"),
    autoescape=False,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def render_markdown(report: PostmortemReport) -> str:
    """Return the report as Markdown."""
    text = _md_env.get_template("postmortem.md.j2").render(r=report)
    return re.sub(r"\n{3,}", "\n\n", text)


def render_html(report: PostmortemReport) -> str:
    """Return the report as a standalone HTML page with inline SVG charts and no external links."""
    return _html_env.get_template("postmortem.html.j2").render(r=report)


def render_html_body(report: PostmortemReport) -> Markup:
    """Return the report's ``<article>`` to embed in another page (the console)."""
    return Markup(_html_env.get_template("postmortem_body.html.j2").render(r=report))


def render(report: PostmortemReport, fmt: str) -> bytes:
    """Return the report in ``fmt`` (``md``, ``html`` or ``pdf``) as bytes."""
    if fmt == "md":
        return render_markdown(report).encode()
    if fmt == "html":
        return render_html(report).encode()
    if fmt == "pdf":
        return render_pdf(report)
    raise InputError(f"unknown report format {fmt!r}; use md, html or pdf", loc="format")


@dataclass(frozen=True)
class RenderedReport:
    """A rendered post-mortem: its bytes, media type and a file name for downloads."""

    data: bytes
    media_type: str
    filename: str


def render_postmortem(
    session: Session, *, postmortem_id: int, fmt: str, now: datetime | None = None
) -> RenderedReport:
    """Return post-mortem ``postmortem_id`` rendered as ``md``, ``html`` or ``pdf``."""
    if fmt not in REPORT_FORMATS:
        raise InputError(f"unknown report format {fmt!r}; use md, html or pdf", loc="format")
    incident_id = get_postmortem(session, postmortem_id=postmortem_id).incident_id
    report = build_report(session, incident_id=incident_id, now=now)
    return RenderedReport(
        data=render(report, fmt),
        media_type=REPORT_FORMATS[fmt],
        filename=f"postmortem-{report.incident_ref}.{fmt}",
    )


def render_pdf(report: PostmortemReport) -> bytes:
    """Return the report as a PDF: the same sections as the HTML, with the charts drawn in."""
    doc = PdfDocument(report.title)
    heading, para, bullets, table, chart = doc.heading, doc.para, doc.bullets, doc.table, doc.chart

    heading(report.title, 16)
    para(
        f"Status: {report.status}  |  Severity: {report.severity.upper()}  |  System: "
        f"{report.system}  |  Failure mode: {report.failure_mode.replace('_', ' ')}",
        "I",
    )
    para(
        "This is a blameless post-mortem: it describes what the systems and the people in their "
        "roles did and why, so that we can change the systems, not to find someone at fault."
    )
    heading("Overview")
    for p in report.overview:
        para(p)
    heading("Impact")
    table([(a, b) for a, b in report.impact], [1, 2])
    heading("Timeline")
    by_title = {c.title: c for c in report.charts}
    if "Time in each phase" in by_title:
        chart(by_title["Time in each phase"].svg, by_title["Time in each phase"].caption)
    table(
        [(t.at.strftime("%Y-%m-%d %H:%M"), t.actor, t.text) for t in report.timeline],
        [1.2, 1.3, 4],
        ("Time (UTC)", "Who", "What"),
    )
    heading("Root cause and contributing factors")
    rc = report.root_cause
    for line in rc.headlines:
        para(f"Root cause: {line}.", "B")
    for w in rc.windows:
        para(f"Window ({w.method}): {w.describe()}.")
    for g in rc.groups:
        para(f"{g.label} (top {len(g.suspects)} of {g.total}):")
        table(
            [(x.name, f"{x.score:.3f}", x.kind.replace("_", " "), x.method) for x in g.suspects],
            [2.2, 0.8, 1.4, 1.6],
            (g.subject_type.capitalize(), "Score", "Finding", "Method"),
        )
    if rc.options:
        para("Rollback or patch, measured on the trusted validation slice:")
        chosen = rc.recommendation.action if rc.recommendation else None
        table(
            [
                (o.label + (" (recommended)" if o.action == chosen else ""), o.metric_text(),
                 o.cost_text())
                for o in rc.options
            ],
            [1.6, 3, 1.8],
            ("Option", "Metrics", "Cost"),
        )  # fmt: skip
    if rc.recommendation:
        para(f"Recommendation: {rc.recommendation.label}. {rc.recommendation.reason}")
    if rc.methods:
        para(f"Methods: {', '.join(rc.methods)}.")
    for f in report.root_causes:
        para(f"Root cause: {f.title}. {f.detail}")
    if rc.empty and not report.root_causes:
        para("No root cause has been recorded yet.")
    if report.contributing_factors:
        para("Contributing factors:")
        bullets([f"{f.title}. {f.detail}" for f in report.contributing_factors])
    if report.observations:
        para("Other observations:")
        bullets([f"{f.title}. {f.detail}" for f in report.observations])
    for c in report.charts:
        if c.title not in ("Time in each phase", "Response times"):
            chart(c.svg, c.caption)
    if report.handler_notes:
        para("From the handlers' notes:")
        bullets([f"{n.at:%H:%M}, {n.actor}: {n.text}" for n in report.handler_notes])
    heading("Detection")
    for line in report.detection.splitlines():
        para(line)
    heading("Response")
    para(" ".join(report.response))
    course = report.course
    decided = (
        f"{(course.decision_kind or '').replace('_', ' ')}: {course.decision}."
        if course.decision
        else "none decided yet."
    )
    advised = (
        f" Forensics recommended: {course.recommendation} (see the root cause)."
        if course.recommendation
        else ""
    )
    para(f"Rollback or patch: {decided}{advised}")
    if len(course.containment_steps) > 1:
        para("Containment steps:")
        bullets(course.containment_steps)
    if course.recovery:
        para("Recovery:")
        bullets(course.recovery)
    else:
        para("Recovery: no retrain, shadow or canary step has run yet.")
    heading("What went well")
    bullets(report.went_well or ["Nothing recorded."])
    heading("What did not go well")
    bullets(report.went_badly or ["Nothing recorded."])
    heading("Action items")
    if report.action_items:
        table(
            [
                (i.title, i.owner, i.due_at.strftime("%Y-%m-%d"), i.status)
                for i in report.action_items
            ],
            [4, 1.4, 1.1, 0.8],
            ("Action", "Owner", "Due", "Status"),
        )
    else:
        para(
            f"No action items yet. At {report.severity.upper()}, new items are due by "
            f"{report.suggested_due:%Y-%m-%d}."
        )
    heading("Messaging")
    para("Internal update:", "B")
    para(report.internal_message)
    para("External statement:", "B")
    para(report.external_message)
    heading("ATLAS and OWASP mapping")
    bullets(
        [f"MITRE ATLAS {t['id']} {t['name']} ({', '.join(t['tactics'])})" for t in report.atlas]
        + [f"{o['list']} ({o['version']}) {o['id']} {o['name']}" for o in report.owasp]
    )
    heading("Metrics")
    table([tuple(m) for m in report.metrics], [1.6, 1, 2], ("Metric", "Value", "Measured as"))
    if "Response times" in by_title:
        chart(by_title["Response times"].svg, by_title["Response times"].caption)
    return doc.output()
