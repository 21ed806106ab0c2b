"""Console panels and pages of the operational domains: systems and their health, a system's
monitors (SVG charts of each statistic and threshold over time, from stored signals), routing and
recent alerts; pending approvals; an incident's playbook runs with approve/reject buttons; and the
status updates and customer-notice drafts response saved on it.

Example:
    >>> [p.title for p in (systems_panel, approvals_panel, playbook_runs_panel)]
    ['Systems', 'Pending approvals', 'Playbook runs']
    >>> svg = monitor_chart("drift", [(datetime(2026, 1, 1, 9), 0.1, 0.2),
    ...                               (datetime(2026, 1, 1, 10), 0.4, 0.2)])
    >>> svg.count("<polyline"), 'aria-label="drift' in svg
    (1, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from pydantic import BaseModel
from sqlalchemy.orm import Session

from airsoc import lineage, serving
from airsoc.alerting import list_alerts
from airsoc.alerting.service import AlertView
from airsoc.errors import NotFoundError
from airsoc.incidents import service as incidents
from airsoc.monitoring.signals import list_signals
from airsoc.reporting.charts import Series, line_chart
from airsoc.response import list_approvals, list_runs
from airsoc.response.escalation import list_communications
from airsoc.roles import UserRole
from airsoc.server.console import (
    ConsoleUser,
    Panel,
    PanelContext,
    Viewer,
    console_writer,
    page,
    templates,
)
from airsoc.server.deps import Ctx
from airsoc.server.routes.approvals import decide
from airsoc.server.routes.monitors import MonitorSummary, monitor_summaries

__all__ = [
    "SystemHealth",
    "approvals_panel",
    "communications_panel",
    "monitor_chart",
    "playbook_runs_panel",
    "router",
    "system_health",
    "systems_panel",
]

router = APIRouter(include_in_schema=False)

#: How many signals a monitor chart draws, and how many alerts a system page lists.
CHART_POINTS = 200
RECENT_ALERTS = 20
_CONTAINED = ("fallback", "isolated")


class SystemHealth(BaseModel):
    """A system at a glance: how it is served, what its monitors and alerts say."""

    name: str
    owner: str
    mode: str | None
    version: str | None
    monitors: int
    breaching: list[str]
    firing_alerts: int
    open_incidents: int
    health: str


def _firing_by_system(session: Session) -> dict[str, int]:
    counts: dict[str, int] = {}
    for alert in list_alerts(session, status="firing", limit=10_000):
        system = alert.labels.get("system", "")
        counts[system] = counts.get(system, 0) + 1
    return counts


def system_health(session: Session) -> list[SystemHealth]:
    """Return every registered (or monitored) system's health, by name.

    ``contained`` when it answers from a fallback or is isolated, ``breaching`` when a monitor's
    latest verdict is drift or an alert fires, else ``ok``.
    """
    registered = {s.name: s.owner for s in lineage.list_systems(session)}
    routes = {r.system: r for r in serving.list_routes(session)}
    monitors: dict[str, list[MonitorSummary]] = {}
    for m in monitor_summaries(session):
        monitors.setdefault(m.system, []).append(m)
    firing = _firing_by_system(session)
    open_by_system: dict[str, int] = {}
    for inc in incidents.list_incidents(session, open_only=True, limit=10_000):
        open_by_system[inc.system] = open_by_system.get(inc.system, 0) + 1
    out = []
    for name in sorted(set(registered) | {m for m in monitors if m}):
        route = routes.get(name)
        breaching = [m.monitor for m in monitors.get(name, []) if m.last_decision == "drift"]
        if route is not None and route.mode in _CONTAINED:
            health = "contained"
        elif breaching or firing.get(name):
            health = "breaching"
        else:
            health = "ok"
        out.append(
            SystemHealth(
                name=name,
                owner=registered.get(name, ""),
                mode=route.mode if route else None,
                version=route.primary_version if route else None,
                monitors=len(monitors.get(name, [])),
                breaching=breaching,
                firing_alerts=firing.get(name, 0),
                open_incidents=open_by_system.get(name, 0),
                health=health,
            )
        )
    return out


def _systems(pctx: PanelContext) -> Markup | None:
    rows = system_health(pctx.session)
    if not rows:
        return None
    return Markup(templates.get_template("_systems.html").render(systems=rows))


def _approvals(pctx: PanelContext) -> Markup | None:
    pending = list_approvals(pctx.session, status="pending")
    html = templates.get_template("_approvals.html").render(approvals=pending)
    return Markup(html)


def _runs(pctx: PanelContext) -> Markup | None:
    assert pctx.incident is not None
    runs = list_runs(pctx.session, incident_id=pctx.incident.id)
    if not runs:
        return None
    approvals = list_approvals(pctx.session, status=None, incident_id=pctx.incident.id)
    html = templates.get_template("_runs.html").render(
        runs=[(r, [a for a in approvals if a.run_id == r.id]) for r in runs],
        csrf_token=pctx.csrf_token,
        can_decide=pctx.user.role.rank >= UserRole.APPROVER.rank,
    )
    return Markup(html)


def _communications(pctx: PanelContext) -> Markup | None:
    assert pctx.incident is not None
    saved = list_communications(pctx.session, incident_id=pctx.incident.id)
    if not saved:
        return None
    html = templates.get_template("_communications.html").render(items=list(reversed(saved)))
    return Markup(html)


def _platform(pctx: PanelContext) -> Markup | None:
    """The running platform's parts that fail readiness (the event-log writer, the worker, the
    store): the same parts ``/readyz`` and ``airsoc_platform_part_up`` report."""
    readiness = pctx.ctx.readiness
    if readiness is None:
        return None
    down = [p for p in readiness() if not p.ok]
    if not down:
        return None
    rows = "".join(
        f"<tr><td>{escape(p.part)}</td><td>{escape(p.status)}</td><td>{escape(p.detail)}</td></tr>"
        for p in down
    )
    return Markup(
        '<p class="alert">airsoc itself is degraded: a platform_fault alert is raised and '
        "/readyz fails until these parts recover.</p>"
        "<table><thead><tr><th>part</th><th>status</th><th>detail</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


platform_panel = Panel("Platform faults", _platform)
systems_panel = Panel("Systems", _systems)
approvals_panel = Panel("Pending approvals", _approvals)
playbook_runs_panel = Panel("Playbook runs", _runs)
communications_panel = Panel("Status updates and notices", _communications)


def monitor_chart(
    monitor: str, points: Sequence[tuple[datetime, float, float | None]], *, y_label: str = ""
) -> str:
    """Return an SVG line chart of a monitor's statistic (and threshold) over time.

    ``points`` are ``(time, statistic, threshold)``; a threshold that never changes is drawn as
    one dashed line, a changing one as a second series.
    """
    one_day = len({t.date() for t, _s, _th in points}) <= 1
    x = [t.strftime("%H:%M" if one_day else "%m-%d %H:%M") for t, _s, _th in points]
    series = [Series("statistic", [s for _t, s, _th in points])]
    limits = {th for _t, _s, th in points if th is not None}
    threshold = next(iter(limits)) if len(limits) == 1 else None
    if len(limits) > 1:
        series.append(Series("threshold", [th for _t, _s, th in points]))
    return line_chart(
        x,
        series,
        title=f"{monitor}: statistic over time",
        y_label=y_label,
        threshold=threshold,
        width=760,
    )


SystemName = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/systems/{system}", response_class=HTMLResponse)
def system_page(request: Request, system: SystemName, ctx: Ctx, cu: Viewer) -> Response:
    """A system: routing mode and version, monitors with charts, recent alerts."""
    with ctx.store.read() as s:
        health = next((h for h in system_health(s) if h.name == system), None)
        if health is None:
            raise NotFoundError(f"system {system!r} is neither registered nor monitored")
        try:
            route: serving.RouteView | None = serving.get_route(s, system=system)
        except NotFoundError:
            route = None
        charts = []
        for m in monitor_summaries(s, system=system):
            signals = [
                g
                for g in list_signals(s, monitor=m.monitor, system=system, limit=CHART_POINTS)
                if g.statistic is not None
            ]
            points = [(g.at, float(g.statistic or 0.0), g.threshold) for g in signals]
            chart = Markup(monitor_chart(m.monitor, points)) if len(points) >= 1 else None
            charts.append((m, chart))
        alerts: list[AlertView] = [
            a for a in list_alerts(s, limit=10_000) if a.labels.get("system") == system
        ][:RECENT_ALERTS]
        open_incidents = incidents.list_incidents(s, open_only=True, system=system, limit=50)
    return page(
        request,
        "system.html",
        cu,
        health=health,
        route=route,
        charts=charts,
        alerts=alerts,
        incidents=open_incidents,
    )


Approver = Annotated[
    ConsoleUser,
    Depends(console_writer(UserRole.APPROVER, "change playbook runs (approve or reject steps)")),
]


@router.post("/approvals/{approval_id}/decide")
def decide_step(
    approval_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    ctx: Ctx,
    cu: Approver,
    decision: Annotated[str, Form(pattern=r"^(approve|reject)$")],
    reason: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    """Approve or reject a waiting step from the incident page."""
    with ctx.store.transaction() as s:
        decided = decide(
            s,
            clock=ctx.clock,
            approval_id=approval_id,
            user=cu.user,
            approve=decision == "approve",
            reason=reason.strip() or f"{decision} from the console",
        )
    return RedirectResponse(f"/incidents/{decided.incident_id}#playbook-runs", status_code=303)
