"""The web application: the REST API at ``/api/v1``, the console, ``/metrics`` and health checks.

**Where other domains plug in** (one line each, in this module):

- :data:`API_ROUTERS`: a domain's ``APIRouter`` (e.g. ``alerts.router`` from
  ``airsoc/server/routes/alerts.py``) is mounted under ``/api/v1``. Its mutating routes declare
  the role they need with ``Depends(requires(UserRole.X, "what it does"))``; a test checks that a
  viewer is refused on every one of them.
- :data:`METRIC_HOOKS`: ``(session, clock) -> metric families`` read at scrape time (signals,
  gateway request rates and latencies, notification failures).
- :data:`OVERVIEW_PANELS` and :data:`INCIDENT_PANELS`: console sections (systems health, pending
  approvals, the playbook run of an incident). A panel returns ``None`` when it has nothing to
  show, and is then left out of the page.

Example:
    >>> import tempfile
    >>> from fastapi.testclient import TestClient
    >>> from airsoc.settings import Settings
    >>> app = create_app(Settings.resolve(data_dir=tempfile.mkdtemp()))
    >>> with TestClient(app) as client:
    ...     client.get("/healthz").json(), client.get("/api/v1/incidents").status_code
    ({'status': 'ok', 'store': None, 'detail': None}, 401)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

import airsoc
from airsoc.alerting import AlertingEngine
from airsoc.clock import Clock, SystemClock
from airsoc.incidents.evidence import BlobStore
from airsoc.runtime.health import PartStatus
from airsoc.server import apidocs, console, governance_console, panels, regulatory
from airsoc.server.console import Panel
from airsoc.server.deps import ServerContext
from airsoc.server.errors import install_error_handlers
from airsoc.server.guards import install_guards
from airsoc.server.metrics import (
    HookCollector,
    MetricHook,
    PartsCollector,
    RequestMetrics,
    RequestMetricsMiddleware,
    gateway_metrics,
    incident_metrics,
    notification_metrics,
    signal_metrics,
)
from airsoc.server.routes import (
    alerts,
    approvals,
    charter,
    gateway,
    incidents,
    monitors,
    ops,
    postmortems,
    registry,
    reviews,
    scan,
    taxonomy,
    traces,
    users,
)
from airsoc.server.routes import regulatory as regulatory_routes
from airsoc.serving.limits import RequestLimits
from airsoc.settings import Settings
from airsoc.store import Store

__all__ = [
    "API_PREFIX",
    "API_ROUTERS",
    "INCIDENT_PANELS",
    "METRIC_HOOKS",
    "OVERVIEW_PANELS",
    "create_app",
]

API_PREFIX = "/api/v1"

#: Every domain's API router, mounted under /api/v1. Add a domain: one line here.
API_ROUTERS: tuple[APIRouter, ...] = (
    incidents.router,
    postmortems.router,
    postmortems.reports_router,
    regulatory_routes.router,
    taxonomy.router,
    users.router,
    alerts.router,
    monitors.router,
    approvals.router,
    registry.router,
    gateway.router,
    scan.router,
    reviews.router,
    reviews.action_items_router,
    charter.router,
)

#: Metric hooks read at every scrape of /metrics. Add a domain's metrics: one line here.
METRIC_HOOKS: tuple[MetricHook, ...] = (
    incident_metrics,
    signal_metrics,
    notification_metrics,
    gateway_metrics,
)

#: Sections of the console overview, in order. Add a domain's panel: one line here.
OVERVIEW_PANELS: tuple[Panel, ...] = (
    panels.platform_panel,
    panels.systems_panel,
    console.open_incidents_panel,
    panels.approvals_panel,
    console.response_times_panel,
    governance_console.overdue_actions_panel,
)

#: Sections of the console's incident page after the core ones. Add one: one line here.
INCIDENT_PANELS: tuple[Panel, ...] = (
    panels.playbook_runs_panel,
    console.communication_drafts_panel,
    panels.communications_panel,
    regulatory.regulatory_panel,
)

_STATIC = Path(__file__).parent / "static"


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    routers: Sequence[APIRouter] = API_ROUTERS,
    metric_hooks: Sequence[MetricHook] = METRIC_HOOKS,
    overview_panels: Sequence[Panel] = OVERVIEW_PANELS,
    incident_panels: Sequence[Panel] = INCIDENT_PANELS,
    cookie_secure: bool = False,
    alerting: AlertingEngine | None = None,
    readiness: Callable[[], Sequence[PartStatus]] | None = None,
    limits: RequestLimits | None = None,
) -> FastAPI:
    """Return the airsoc web app on the store ``settings`` point at (opened and migrated here
    unless ``store`` is given). ``cookie_secure`` marks the console cookie HTTPS-only;
    ``alerting`` routes alerts from Alertmanager (without it they are stored only);
    ``readiness`` is the running platform's parts (``/readyz`` fails while one is down);
    ``limits`` bounds request bodies (default: 1 MiB, evidence uploads 100 MiB, JSON 64 deep)."""
    own_store = store is None
    the_store = store or Store.open(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        traces.close_intake(_app)
        if own_store:
            the_store.close()

    app = FastAPI(
        title="airsoc",
        version=airsoc.__version__,
        summary="Incident response for AI systems",
        description=(
            "The airsoc REST API. Authenticate with `Authorization: Bearer <token>` "
            "(`airsoc users token NAME`). Errors answer `{code, message, loc}`; the codes are "
            "listed in docs/errors.md."
        ),
        lifespan=lifespan,
        docs_url=None,  # served from the package by apidocs, never from a CDN
        redoc_url=None,
    )
    app.state.ctx = ServerContext(
        settings=settings,
        store=the_store,
        clock=clock or SystemClock(),
        blobs=BlobStore(settings.evidence_dir),
        cookie_secure=cookie_secure,
        alerting=alerting,
        readiness=readiness,
    )
    app.state.overview_panels = tuple(overview_panels)
    app.state.incident_panels = tuple(incident_panels)
    registry = CollectorRegistry()
    registry.register(HookCollector(the_store, app.state.ctx.clock, metric_hooks))
    if readiness is not None:
        registry.register(PartsCollector(readiness))
    app.state.registry = registry
    install_guards(app, limits=limits or RequestLimits(), error_page=console.render_error_page)
    app.add_middleware(RequestMetricsMiddleware, metrics=RequestMetrics(registry))
    install_error_handlers(app, error_page=console.render_error_page)
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(ops.router)
    app.include_router(traces.router)  # OTLP's own path, /v1/traces
    app.include_router(console.router)
    app.include_router(panels.router)
    app.include_router(regulatory.router)
    app.include_router(governance_console.router)
    apidocs.install_api_docs(app)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    return app
