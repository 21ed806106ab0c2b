"""Console panels and pages of the operational domains: systems and their health; a system's
page (routing, its gateway traffic per version, the guard's decisions on a chat system, each
monitor's statistic per run against its threshold, routing changes marked on every chart; see
:mod:`airsoc.server.system_view`) and recent alerts; pending approvals; an incident's playbook
runs with approve/reject buttons; and the status updates and customer-notice drafts response
saved on it.

Example:
    >>> [p.title for p in (systems_panel, approvals_panel, playbook_runs_panel)]
    ['Systems', 'Pending approvals', 'Playbook runs']
    >>> sorted(SPANS)[:2]
    ['15m', '1h']
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
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
from airsoc.reporting.charts import Annotation
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
from airsoc.server.system_view import (
    FIT_AT_LEAST,
    LLM_DETECTORS,
    SPANS,
    Chart,
    guard_charts,
    monitor_chart,
    monitor_runs,
    routing_changes,
    traffic_charts,
)
from airsoc.server.traffic import system_traffic

__all__ = [
    "SystemHealth",
    "approvals_panel",
    "communications_panel",
    "playbook_runs_panel",
    "router",
    "system_health",
    "systems_panel",
]

router = APIRouter(include_in_schema=False)

#: How many signals a monitor chart reads, and how many alerts a system page lists.
CHART_POINTS = 2000
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


SystemName = Annotated[str, Path(min_length=1, max_length=200)]
SpanName = Annotated[str, Query(pattern="^(" + "|".join(SPANS) + ")$")]
#: Systems whose traffic is chat turns: their page shows the guard and groups LLM monitors.
_CHAT_KINDS = ("llm-app", "rag-app")


def _monitor_panels(
    session: Session,
    system: str,
    monitors: list[MonitorSummary],
    annotations: list[Annotation],
    now: datetime,
) -> list[tuple[MonitorSummary, Chart]]:
    panels = []
    for m in monitors:
        signals = list_signals(session, monitor=m.monitor, system=system, limit=CHART_POINTS)
        runs = monitor_runs(signals)
        measured = [r for r in runs if r.statistic is not None]
        if measured:
            # Up to now: a routing change since the last run shows, and so does the silence.
            span = (runs[0].at, max(now, runs[-1].at))
            svg = monitor_chart(m.monitor, runs, annotations=annotations, span=span)
            chart = Chart(m.monitor, Markup(svg))
        else:
            last = next((r for r in reversed(runs) if r.reason), None)
            said = f"; the last said: {last.reason}" if last else ""
            chart = Chart(
                m.monitor,
                None,
                f"No run has measured a statistic yet ({len(runs)} runs{said}).",
            )
        panels.append((m, chart))
    return panels


@router.get("/systems/{system}", response_class=HTMLResponse)
def system_page(
    request: Request, system: SystemName, ctx: Ctx, cu: Viewer, span: SpanName = "fit"
) -> Response:
    """A system: routing, its traffic per version, the guard (chat systems), its monitors'
    history and recent alerts, over ``span`` (15m, 1h, 6h, 24h or 7d; ``fit``, the default:
    the last hour from the system's first request in it)."""
    length, span_words = SPANS[span]
    now = ctx.clock.now()
    with ctx.store.read() as s:
        health = next((h for h in system_health(s) if h.name == system), None)
        if health is None:
            raise NotFoundError(f"system {system!r} is neither registered nor monitored")
        try:
            route: serving.RouteView | None = serving.get_route(s, system=system)
        except NotFoundError:
            route = None
        kind = next((x.kind for x in lineage.list_systems(s) if x.name == system), None)
        annotations = routing_changes(s, system=system)
        summaries = monitor_summaries(s, system=system)
        monitors = _monitor_panels(s, system, summaries, annotations, now)
        alerts: list[AlertView] = [
            a for a in list_alerts(s, limit=10_000) if a.labels.get("system") == system
        ][:RECENT_ALERTS]
        open_incidents = incidents.list_incidents(s, open_only=True, system=system, limit=50)
    traffic = system_traffic(
        ctx.settings.telemetry_dir,
        system=system,
        start=now - length,
        end=now,
        fit=FIT_AT_LEAST if span == "fit" else None,
    )
    chat = kind in _CHAT_KINDS or bool(traffic.guard) or traffic.guard_unchecked > 0
    llm_monitors = [(m, c) for m, c in monitors if m.detector in LLM_DETECTORS]
    other_monitors = [(m, c) for m, c in monitors if m.detector not in LLM_DETECTORS]
    if route is None and not traffic.requests:
        traffic_panel = [
            Chart(
                "Traffic",
                None,
                f"{system} is not routed through the gateway: no traffic is logged.",
            )
        ]
    else:
        traffic_panel = traffic_charts(traffic, annotations, span_words=span_words)
    return page(
        request,
        "system.html",
        cu,
        health=health,
        route=route,
        span=span,
        spans=list(SPANS),
        traffic=traffic_panel,
        guard=guard_charts(traffic, annotations, span_words=span_words) if chat else None,
        chat=chat,
        llm_monitors=llm_monitors,
        monitors=other_monitors,
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
