"""The console's regulatory clock of an incident (EU AI Act Article 73): a panel on the incident
page (the due date and its countdown, or a form to flag the incident as serious) and a page with
the report, the forms to record the reports sent, and the downloads.

Example:
    >>> regulatory_panel.title
    'Regulatory clock'
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from airsoc.errors import InputError
from airsoc.reporting import regulatory
from airsoc.reporting.regulatory import SeriousCategory
from airsoc.reporting.regulatory_report import (
    REPORT_KINDS,
    build_regulatory_report,
    render_regulatory_body,
    render_regulatory_report,
)
from airsoc.roles import UserRole
from airsoc.server.console import (
    ConsoleUser,
    Panel,
    PanelContext,
    RowNumber,
    Viewer,
    console_writer,
    page,
    templates,
)
from airsoc.server.deps import Ctx

__all__ = ["regulatory_panel", "router"]

router = APIRouter(include_in_schema=False)
Responder = Annotated[ConsoleUser, Depends(console_writer(UserRole.RESPONDER, "change incidents"))]


def _panel(pctx: PanelContext) -> Markup | None:
    assert pctx.incident is not None
    serious = regulatory.get_serious(
        pctx.session, incident_id=pctx.incident.id, now=pctx.ctx.clock.now()
    )
    html = templates.get_template("_regulatory_panel.html").render(
        incident=pctx.incident,
        serious=serious,
        categories=[(c.value, c.label) for c in SeriousCategory],
        csrf_token=pctx.csrf_token,
        can_respond=pctx.user.role.rank >= UserRole.RESPONDER.rank,
    )
    return Markup(html)


regulatory_panel = Panel("Regulatory clock", _panel)


@router.get("/incidents/{incident_id}/regulatory", response_class=HTMLResponse)
def regulatory_page(
    request: Request, incident_id: RowNumber, ctx: Ctx, cu: Viewer, kind: str = "initial"
) -> Response:
    """The serious-incident report of the incident, with the forms to record reports sent."""
    if kind not in REPORT_KINDS:
        raise InputError(f"unknown report {kind!r}; use initial or final", loc="kind")
    with ctx.store.read() as s:
        report = build_regulatory_report(s, incident_id=incident_id, kind=kind, now=ctx.clock.now())
    return page(
        request,
        "regulatory.html",
        cu,
        report=report,
        kind=kind,
        body=render_regulatory_body(report),
        can_respond=cu.user.role.rank >= UserRole.RESPONDER.rank,
    )


@router.post("/incidents/{incident_id}/regulatory/flag")
def flag(
    incident_id: RowNumber,
    ctx: Ctx,
    cu: Responder,
    category: Annotated[str, Form()],
    reason: Annotated[str, Form()],
) -> Response:
    """Flag the incident as serious, aware now; then show its regulatory page."""
    with ctx.store.transaction() as s:
        regulatory.flag_serious(
            s,
            clock=ctx.clock,
            incident_id=incident_id,
            category=category,
            actor=cu.user.name,
            reason=reason,
        )
    return RedirectResponse(f"/incidents/{incident_id}/regulatory", status_code=303)


@router.post("/incidents/{incident_id}/regulatory/reports")
def report_sent(
    incident_id: RowNumber,
    ctx: Ctx,
    cu: Responder,
    kind: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Record that the initial or final report went to the authority."""
    with ctx.store.transaction() as s:
        regulatory.record_report(
            s, clock=ctx.clock, incident_id=incident_id, kind=kind, actor=cu.user.name,
            reason=reason,
        )  # fmt: skip
    return RedirectResponse(f"/incidents/{incident_id}/regulatory?kind={kind}", status_code=303)


@router.get("/incidents/{incident_id}/regulatory/report-{kind}.{fmt}")
def download(incident_id: RowNumber, kind: str, fmt: str, ctx: Ctx, _cu: Viewer) -> Response:
    """Download the initial or final report as Markdown, HTML or PDF."""
    with ctx.store.read() as s:
        out = render_regulatory_report(
            s, incident_id=incident_id, kind=kind, fmt=fmt, now=ctx.clock.now()
        )
    return Response(
        out.data,
        media_type=out.media_type,
        headers={"Content-Disposition": f'attachment; filename="{out.filename}"'},
    )
