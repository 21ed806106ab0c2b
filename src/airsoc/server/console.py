"""The console: server-rendered pages (Jinja2, charts as inline SVG) that stay live.

Every page works without JavaScript. With it, one static script (``/static/live.js``, no inline
script, no CDN) keeps the page current: it polls the page every few seconds and swaps in the
sections marked ``data-live`` that changed (never one holding what the reader is typing), shows
every ``<time>`` in the reader's time zone to the second, counts approvals' time-outs down to the
second, and sends forms marked ``data-inplace`` (acknowledge, approve, reject) without leaving
the page.

Login opens a server-side session (cookie ``airsoc_session``: HttpOnly, SameSite=Lax, Secure
when served over HTTPS). Every form carries the session's CSRF token and every POST checks it
before anything else; then the user's role is checked like on the API.

Panels are how domains add to the pages: a :class:`Panel` gets a :class:`PanelContext` and returns
its HTML, or ``None`` to be left out (so a domain that is not installed shows nothing at all).

Example:
    >>> [p.title for p in (open_incidents_panel, response_times_panel)]
    ['Open incidents', 'Response times by failure mode']
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.orm import Session

from airsoc.errors import (
    AuthenticationError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from airsoc.incidents import service
from airsoc.incidents.findings import list_findings
from airsoc.incidents.lifecycle import OPEN_PHASES, TRANSITIONS, Phase, Role, Severity
from airsoc.reporting import postmortems as pm
from airsoc.reporting.charts import Series, bar_chart, chart_from_data
from airsoc.reporting.render import render_html_body, render_postmortem
from airsoc.reporting.report import build_report, describe_actor, describe_entry
from airsoc.reporting.timing import fleet_metrics, format_duration, incident_times
from airsoc.roles import UserRole
from airsoc.server.auth import (
    UserView,
    end_web_session,
    require_role,
    session_user,
    start_web_session,
)
from airsoc.server.deps import Ctx, ServerContext
from airsoc.server.humanize import (
    describe_output,
    describe_step,
    escape_text,
    markdown_html,
    utc_iso,
    when,
    without_json,
)
from airsoc.server.routes.incidents import read_incident_evidence
from airsoc.server.routes.postmortems import move_postmortem
from airsoc.types import MAX_ROW_ID

__all__ = [
    "CSRF_FIELD",
    "LOGIN_CSRF_COOKIE",
    "SESSION_COOKIE",
    "ConsoleUser",
    "Panel",
    "PanelContext",
    "communication_drafts_panel",
    "open_incidents_panel",
    "page",
    "render_error_page",
    "response_times_panel",
    "router",
]

logger = logging.getLogger("airsoc.server.console")

SESSION_COOKIE = "airsoc_session"
LOGIN_CSRF_COOKIE = "airsoc_login_csrf"
CSRF_FIELD = "csrf_token"

#: A row number in a console path: out of range is a page not found, never a database error.
RowNumber = Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)]

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _when(moment: datetime | None, missing: str = "unknown") -> Markup:
    return when(moment, missing=missing)


def countdown(deadline: datetime, then: str) -> Markup:
    """Return an approval's time-out as an element the console's script counts down to the
    second (the text without the script names the moment, UTC to the second)."""
    return Markup(
        '<span class="countdown" data-deadline="{}" data-then="{}">times out at {} (then {})</span>'
    ).format(utc_iso(deadline), then, when(deadline), then)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


templates.env.filters["when"] = _when
templates.env.filters["markdown"] = markdown_html
templates.env.filters["describe_output"] = describe_output
templates.env.globals["describe_step"] = describe_step
templates.env.filters["text_times"] = escape_text
templates.env.filters["slug"] = _slug
templates.env.globals["countdown"] = countdown
router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ConsoleUser:
    """The logged-in user and their session's CSRF token."""

    user: UserView
    csrf_token: str


@dataclass(frozen=True)
class PanelContext:
    """What a panel may look at: a read session, the clock, the user and (on an incident page)
    the incident."""

    session: Session
    ctx: ServerContext
    user: UserView
    csrf_token: str
    incident: service.IncidentDetail | None = None


@dataclass(frozen=True)
class Panel:
    """A console section: a title and a function that renders it or returns ``None``."""

    title: str
    render: Callable[[PanelContext], Markup | None]


def _render_panels(panels: Sequence[Panel], pctx: PanelContext) -> list[tuple[str, Markup]]:
    shown = []
    for panel in panels:
        html = panel.render(pctx)
        if html is not None:
            shown.append((panel.title, html))
    return shown


def _open_incidents(pctx: PanelContext) -> Markup | None:
    incidents = service.list_incidents(pctx.session, open_only=True, limit=1000)
    counts = {s.value: 0 for s in Severity}
    for inc in incidents:
        counts[inc.severity] += 1
    chart = bar_chart(
        [s.upper() for s in counts],
        [Series("open incidents", list(counts.values()))],
        title="Open incidents by severity",
        width=520,
        height=220,
    )
    table = templates.get_template("_incident_table.html").render(incidents=incidents)
    return Markup(f'<div class="chart">{chart}</div>{table}')


def _response_times(pctx: PanelContext) -> Markup | None:
    rows = fleet_metrics(pctx.session, group_by="failure_mode", period="all")
    if not rows:
        return None

    def minutes(field: str) -> list[float | None]:
        # An unknown mean time stays unknown: the chart writes "unknown", never a bar of 0.
        values: list[float | None] = [getattr(r, field) for r in rows]
        return [None if v is None else round(v / 60, 1) for v in values]

    chart = bar_chart(
        [r.group.replace("_", " ") for r in rows],
        [
            Series("MTTA", minutes("mtta_seconds")),
            Series("MTTC", minutes("mttc_seconds")),
            Series("MTTR", minutes("mttr_seconds")),
        ],
        title="Mean response times (minutes)",
        y_label="minutes",
        width=640,
        height=240,
    )
    html = templates.get_template("_fleet_table.html").render(rows=rows, fmt=format_duration)
    return Markup(f'<div class="chart">{chart}</div>{html}')


def _communication_drafts(pctx: PanelContext) -> Markup | None:
    assert pctx.incident is not None
    report = build_report(pctx.session, incident_id=pctx.incident.id, now=pctx.ctx.clock.now())
    html = templates.get_template("_drafts.html").render(report=report)
    return Markup(html)


open_incidents_panel = Panel("Open incidents", _open_incidents)
response_times_panel = Panel("Response times by failure mode", _response_times)
communication_drafts_panel = Panel("Communication drafts", _communication_drafts)


def render_error_page(request: Request, *, status: int, message: str) -> Response:
    """Return the console's error page (403 says which role is needed)."""
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "message": message, "user": None},
        status_code=status,
    )


def console_user(request: Request, ctx: Ctx) -> ConsoleUser:
    """Return the user of the console session, or raise (the error page sends them to log in)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        raise AuthenticationError("log in to use the console")
    with ctx.store.read() as s:
        user, csrf = session_user(s, clock=ctx.clock, secret=secret)
    return ConsoleUser(user=user, csrf_token=csrf)


Viewer = Annotated[ConsoleUser, Depends(console_user)]


class console_writer:  # noqa: N801 - used like a function in Depends(console_writer(...))
    """A dependency for console POSTs: a live session, a matching CSRF token, then the role."""

    def __init__(self, needed: UserRole, action: str) -> None:
        self.needed = needed
        self.action = action

    async def __call__(self, request: Request, cu: Viewer) -> ConsoleUser:
        """Return the console user after the CSRF and role checks."""
        form = await request.form()
        sent = str(form.get(CSRF_FIELD, ""))
        if not hmac.compare_digest(sent.encode(), cu.csrf_token.encode()):
            raise PermissionDeniedError(
                "the form's CSRF token is missing or stale; reload the page and try again"
            )
        require_role(cu.user, self.needed, action=self.action)
        return cu


def page(request: Request, name: str, cu: ConsoleUser | None, **values: Any) -> HTMLResponse:
    """Return the page rendered from template ``name`` for ``cu`` (user and CSRF token filled)."""
    now = request.app.state.ctx.clock.now()
    context = {
        "user": cu.user if cu else None,
        "csrf_token": cu.csrf_token if cu else "",
        "server_now": utc_iso(now),
        **values,
    }
    return templates.TemplateResponse(request, name, context)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    """Show the login form (with a login CSRF token in a cookie and in the form)."""
    token = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"user": None, "login_csrf": token, "next": _safe_next(next), "error": None},
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return response


def _safe_next(target: str) -> str:
    # Only local paths: never redirect a login to another site.
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Check the login and open a session; a wrong login shows the form again."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        raise PermissionDeniedError("the login form expired; reload the page and try again")
    address = request.client.host if request.client else "unknown"
    try:
        with (
            ctx.login_throttle.attempt(user=username, address=address),
            ctx.store.transaction() as s,
        ):
            web = start_web_session(s, clock=ctx.clock, name=username, password=password)
    except (AuthenticationError, RateLimitedError) as exc:
        logger.info("console login refused for user %r from %s: %s", username, address, exc)
        token = secrets.token_urlsafe(32)
        response = templates.TemplateResponse(
            request,
            "login.html",
            {"user": None, "login_csrf": token, "next": _safe_next(next), "error": exc.message},
            status_code=exc.http_status,
        )
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        response.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600
        )
        return response
    logger.info("console login for user %r", username)
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        web.secret,
        httponly=True,
        samesite="lax",
        secure=ctx.cookie_secure,
        max_age=int((web.expires_at - ctx.clock.now()).total_seconds()),
        path="/",
    )
    redirect.delete_cookie(LOGIN_CSRF_COOKIE)
    return redirect


@router.post("/logout")
def logout(
    request: Request,
    ctx: Ctx,
    _cu: Annotated[ConsoleUser, Depends(console_writer(UserRole.VIEWER, "log out"))],
) -> Response:
    """End the console session."""
    with ctx.store.transaction() as s:
        end_web_session(s, secret=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, ctx: Ctx, cu: Viewer) -> Response:
    """The overview: every panel that has something to show."""
    with ctx.store.read() as s:
        pctx = PanelContext(session=s, ctx=ctx, user=cu.user, csrf_token=cu.csrf_token)
        panels = _render_panels(request.app.state.overview_panels, pctx)
        recent = pm.list_postmortems(s)[:5]
    return page(request, "overview.html", cu, panels=panels, postmortems=recent)


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: RowNumber, ctx: Ctx, cu: Viewer) -> Response:
    """The incident: summary, phase and next moves, roles, timeline, evidence, findings."""
    with ctx.store.read() as s:
        detail = service.get_incident(s, incident_id=incident_id)
        findings = list_findings(s, incident_id=incident_id)
        times = incident_times(s, incident_id=incident_id)
        postmortem = pm.postmortem_for_incident(s, incident_id=incident_id)
        pctx = PanelContext(
            session=s, ctx=ctx, user=cu.user, csrf_token=cu.csrf_token, incident=detail
        )
        panels = _render_panels(request.app.state.incident_panels, pctx)
    phase = Phase(detail.phase)
    moves = [(dst.value, why) for (src, dst), why in TRANSITIONS.items() if src == phase]
    charts = {f.id: Markup(chart_from_data(f.chart, title=f.title)) for f in findings if f.chart}
    timeline = [
        (e, describe_actor(e.actor), without_json(describe_entry(e)))
        for e in reversed(detail.timeline)
    ]
    return page(
        request,
        "incident.html",
        cu,
        incident=detail,
        moves=moves,
        findings=findings,
        charts=charts,
        timeline=timeline,
        times=times,
        fmt=format_duration,
        postmortem=postmortem,
        panels=panels,
        roles=[r.value for r in Role],
        can_respond=cu.user.role.rank >= UserRole.RESPONDER.rank,
        is_open=phase in OPEN_PHASES,
    )


Responder = Annotated[ConsoleUser, Depends(console_writer(UserRole.RESPONDER, "change incidents"))]


@router.post("/incidents/{incident_id}/transition")
def transition(
    incident_id: RowNumber,
    ctx: Ctx,
    cu: Responder,
    to: Annotated[str, Form(max_length=32)],
    reason: Annotated[str, Form(max_length=20000)] = "",
    merged_into: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Move the incident to the phase of the button pressed."""
    into = None
    if merged_into.strip():
        if not merged_into.strip().isdigit():
            raise InputError("merge into: give the incident number", loc="merged_into")
        into = int(merged_into)
        if not 1 <= into <= MAX_ROW_ID:
            raise NotFoundError(f"incident {into} not found")
    with ctx.store.transaction() as s:
        service.transition_incident(
            s,
            clock=ctx.clock,
            incident_id=incident_id,
            to=to,
            actor=cu.user.name,
            reason=reason or f"moved to {to} from the console",
            merged_into=into,
        )
    return RedirectResponse(f"/incidents/{incident_id}#timeline", status_code=303)


@router.post("/incidents/{incident_id}/acknowledge")
def acknowledge(incident_id: RowNumber, ctx: Ctx, cu: Responder) -> Response:
    """Acknowledge the incident as the logged-in responder."""
    with ctx.store.transaction() as s:
        service.acknowledge_incident(
            s, clock=ctx.clock, incident_id=incident_id, actor=cu.user.name
        )
    return RedirectResponse(f"/incidents/{incident_id}#summary", status_code=303)


@router.post("/incidents/{incident_id}/notes")
def note(
    incident_id: RowNumber,
    ctx: Ctx,
    cu: Responder,
    text: Annotated[str, Form(max_length=20000)],
) -> Response:
    """Add a note to the incident's timeline."""
    with ctx.store.transaction() as s:
        service.add_note(s, clock=ctx.clock, incident_id=incident_id, actor=cu.user.name, text=text)
    return RedirectResponse(f"/incidents/{incident_id}#timeline", status_code=303)


@router.post("/incidents/{incident_id}/roles")
def assign(
    incident_id: RowNumber,
    ctx: Ctx,
    cu: Responder,
    role: Annotated[str, Form(max_length=64)],
    person: Annotated[str, Form(max_length=200)],
) -> Response:
    """Give a person a role on the incident."""
    with ctx.store.transaction() as s:
        service.assign_role(
            s,
            clock=ctx.clock,
            incident_id=incident_id,
            role=role,
            person=person,
            actor=cu.user.name,
        )
    return RedirectResponse(f"/incidents/{incident_id}#roles", status_code=303)


@router.post("/incidents/{incident_id}/postmortem")
def start_postmortem(incident_id: RowNumber, ctx: Ctx, cu: Responder) -> Response:
    """Open the incident's draft post-mortem and show it."""
    with ctx.store.transaction() as s:
        created = pm.create_postmortem(
            s, clock=ctx.clock, incident_id=incident_id, actor=cu.user.name
        )
    return RedirectResponse(f"/postmortems/{created.id}", status_code=303)


@router.get("/incidents/{incident_id}/evidence/{evidence_id}")
def download_evidence(
    incident_id: RowNumber, evidence_id: RowNumber, ctx: Ctx, cu: Viewer
) -> Response:
    """Download an evidence item (responders and up); the access joins its chain of custody."""
    require_role(cu.user, UserRole.RESPONDER, action="read evidence")
    with ctx.store.transaction() as s:
        _item, data = read_incident_evidence(
            s,
            ctx=ctx,
            incident_id=incident_id,
            evidence_id=evidence_id,
            actor=cu.user.name,
            purpose="downloaded from the console",
        )
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="evidence-{evidence_id}"'},
    )


@router.get("/postmortems", response_class=HTMLResponse)
def postmortems_page(request: Request, ctx: Ctx, cu: Viewer) -> Response:
    """Every post-mortem with its status."""
    with ctx.store.read() as s:
        items = [
            (p, service.get_incident(s, incident_id=p.incident_id)) for p in pm.list_postmortems(s)
        ]
    return page(request, "postmortems.html", cu, items=items)


@router.get("/postmortems/{postmortem_id}", response_class=HTMLResponse)
def postmortem_page(request: Request, postmortem_id: RowNumber, ctx: Ctx, cu: Viewer) -> Response:
    """A post-mortem: the report with its charts, its review status and the next moves."""
    with ctx.store.read() as s:
        postmortem = pm.get_postmortem(s, postmortem_id=postmortem_id)
        report = build_report(s, incident_id=postmortem.incident_id, now=ctx.clock.now())
    return page(
        request,
        "postmortem.html",
        cu,
        postmortem=postmortem,
        body=render_html_body(report),
        can_respond=cu.user.role.rank >= UserRole.RESPONDER.rank,
    )


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _count(text: str, field: str) -> int | None:
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return None
    if not text.isdigit() or int(text) > MAX_ROW_ID:
        raise InputError(
            f"{field.replace('_', ' ')}: give a whole number up to {MAX_ROW_ID}, got {text!r}",
            loc=field,
        )
    return int(text)


@router.post("/postmortems/{postmortem_id}/narrative")
def edit_narrative(
    postmortem_id: RowNumber,
    ctx: Ctx,
    cu: Annotated[ConsoleUser, Depends(console_writer(UserRole.RESPONDER, "change post-mortems"))],
    what_happened: Annotated[str, Form(max_length=20000)] = "",
    went_well: Annotated[str, Form(max_length=20000)] = "",
    went_badly: Annotated[str, Form(max_length=20000)] = "",
    internal_message: Annotated[str, Form(max_length=20000)] = "",
    external_message: Annotated[str, Form(max_length=20000)] = "",
    requests_affected: Annotated[str, Form(max_length=20)] = "",
    bad_predictions_served: Annotated[str, Form(max_length=20)] = "",
    users_affected: Annotated[str, Form(max_length=20)] = "",
    sessions_affected: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Save what people wrote into the post-mortem (one lesson per line)."""
    changes = pm.NarrativeUpdate(
        what_happened=what_happened,
        went_well=_lines(went_well),
        went_badly=_lines(went_badly),
        internal_message=internal_message,
        external_message=external_message,
        requests_affected=_count(requests_affected, "requests_affected"),
        bad_predictions_served=_count(bad_predictions_served, "bad_predictions_served"),
        users_affected=_count(users_affected, "users_affected"),
        sessions_affected=_count(sessions_affected, "sessions_affected"),
    )
    with ctx.store.transaction() as s:
        pm.update_narrative(
            s, clock=ctx.clock, postmortem_id=postmortem_id, changes=changes, actor=cu.user.name
        )
    return RedirectResponse(f"/postmortems/{postmortem_id}", status_code=303)


@router.post("/postmortems/{postmortem_id}/action-items")
def add_action_item(
    postmortem_id: RowNumber,
    ctx: Ctx,
    cu: Annotated[ConsoleUser, Depends(console_writer(UserRole.RESPONDER, "change post-mortems"))],
    title: Annotated[str, Form(min_length=1, max_length=2000)],
    owner: Annotated[str, Form(min_length=1, max_length=200)],
) -> Response:
    """Add an action item, due by the incident's severity."""
    with ctx.store.transaction() as s:
        pm.add_action_item(
            s,
            clock=ctx.clock,
            postmortem_id=postmortem_id,
            item=pm.ActionItemIn(title=title, owner=owner),
            actor=cu.user.name,
        )
    return RedirectResponse(f"/postmortems/{postmortem_id}#action-items", status_code=303)


@router.post("/postmortems/{postmortem_id}/transition")
def postmortem_transition(
    postmortem_id: RowNumber,
    ctx: Ctx,
    cu: Annotated[ConsoleUser, Depends(console_writer(UserRole.RESPONDER, "change post-mortems"))],
    to: Annotated[str, Form(max_length=32)],
    reason: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    """Move the post-mortem's review on (reviewed and closed need an approver)."""
    with ctx.store.transaction() as s:
        move_postmortem(
            s,
            ctx=ctx,
            user=cu.user,
            postmortem_id=postmortem_id,
            to=to,
            reason=reason or f"moved to {to} from the console",
        )
    return RedirectResponse(f"/postmortems/{postmortem_id}", status_code=303)


@router.get("/postmortems/{postmortem_id}/report.{fmt}")
def postmortem_download(postmortem_id: RowNumber, fmt: str, ctx: Ctx, _cu: Viewer) -> Response:
    """Download the post-mortem as Markdown, HTML or PDF."""
    with ctx.store.read() as s:
        out = render_postmortem(s, postmortem_id=postmortem_id, fmt=fmt, now=ctx.clock.now())
    return Response(
        out.data,
        media_type=out.media_type,
        headers={"Content-Disposition": f'attachment; filename="{out.filename}"'},
    )
