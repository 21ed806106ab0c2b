"""``/metrics`` for Prometheus: metrics read from the store at scrape time through *hooks*, plus the
API's own request counts and latencies.

A hook is a function ``(session, clock) -> iterable of prometheus_client metric families``. Each
domain contributes hooks (signals, gateway request rates and latencies, notification failures);
:data:`airsoc.server.app.METRIC_HOOKS` lists them. A hook that fails is reported, never hidden:
``airsoc_metrics_hook_up{hook="..."}`` drops to 0 and the error is logged.

Example:
    >>> import tempfile
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp()))
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = declare_incident(s, clock=clock, actor="dana", system="bot",
    ...                          failure_mode="prompt_injection", summary="jailbreak")
    >>> with store.read() as s:
    ...     families = list(incident_metrics(s, clock))
    >>> [(x.labels["severity"], x.value) for x in families[0].samples if x.value]
    [('sev2', 1)]
    >>> store.close()
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airsoc.clock import Clock
from airsoc.incidents.lifecycle import Severity
from airsoc.incidents.service import list_incidents
from airsoc.reporting.timing import fleet_metrics
from airsoc.store import Store

__all__ = [
    "HookCollector",
    "MetricHook",
    "RequestMetrics",
    "RequestMetricsMiddleware",
    "incident_metrics",
    "route_template",
]

logger = logging.getLogger("airsoc.server.metrics")

MetricHook = Callable[[Session, Clock], Iterable[Metric]]
"""Return metric families read from the store at scrape time."""


def incident_metrics(session: Session, clock: Clock) -> Iterator[Metric]:
    """Return open incidents by severity and MTTD/MTTA/MTTC/MTTR by failure mode."""
    open_by_severity = dict.fromkeys((s.value for s in Severity), 0)
    for incident in list_incidents(session, open_only=True, limit=100_000):
        open_by_severity[incident.severity] += 1
    gauge = GaugeMetricFamily(
        "airsoc_incidents_open", "Incidents not yet closed, by severity", labels=["severity"]
    )
    for severity, count in open_by_severity.items():
        gauge.add_metric([severity], count)
    yield gauge
    means = fleet_metrics(session, group_by="failure_mode", period="all")
    for short, what in (
        ("mttd", "detect (start of impact to detection)"),
        ("mtta", "acknowledge (detection to first human action)"),
        ("mttc", "contain (detection to containment)"),
        ("mttr", "recover (detection to recovery)"),
    ):
        family = GaugeMetricFamily(
            f"airsoc_{short}_seconds",
            f"Mean time to {what}, by failure mode",
            labels=["failure_mode"],
        )
        for row in means:
            value = getattr(row, f"{short}_seconds")
            if value is not None:
                family.add_metric([row.group], value)
        yield family


class HookCollector(Collector):
    """A Prometheus collector that runs every hook in one read transaction per scrape."""

    def __init__(self, store: Store, clock: Clock, hooks: Sequence[MetricHook]) -> None:
        self.store = store
        self.clock = clock
        self.hooks = list(hooks)

    def collect(self) -> Iterator[Metric]:
        """Return the hooks' metric families and whether each hook worked."""
        up = GaugeMetricFamily(
            "airsoc_metrics_hook_up",
            "1 when the metric hook ran, 0 when it failed",
            labels=["hook"],
        )
        for hook in self.hooks:
            name = getattr(hook, "__qualname__", repr(hook))
            try:
                with self.store.read() as session:
                    families = list(hook(session, self.clock))
            except Exception:
                logger.exception("metric hook %s failed", name)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


class RequestMetrics:
    """The API's own request counter and latency histogram, in the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "airsoc_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "airsoc_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["route"],
            registry=registry,
        )


def route_template(scope: Scope) -> str:
    """Return the matched route's path with its parameters as ``{name}`` (bounded label values).

    >>> route_template({"path": "/api/v1/incidents/7/notes", "endpoint": print,
    ...                 "path_params": {"incident_id": 7}})
    '/api/v1/incidents/{incident_id}/notes'
    >>> route_template({"path": "/wp-login.php"})
    'unmatched'
    """
    if scope.get("endpoint") is None:
        return "unmatched"
    params = [(name, str(value)) for name, value in scope.get("path_params", {}).items()]
    segments = []
    for segment in str(scope["path"]).split("/"):
        if params and segment == params[0][1]:
            segment = "{" + params.pop(0)[0] + "}"
        segments.append(segment)
    return "/".join(segments)


class RequestMetricsMiddleware:
    """ASGI middleware counting requests by route template (never by raw path or query)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request and record its status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}
        start = time.perf_counter()

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            template = route_template(scope)
            self.metrics.requests.labels(scope["method"], template, str(status["code"])).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - start)
