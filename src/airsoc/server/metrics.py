"""``/metrics`` for Prometheus: metrics read from the store at scrape time through *hooks*, plus the
API's own request counts and latencies.

A hook is a function ``(session, clock) -> iterable of prometheus_client metric families``. Each
domain contributes hooks (signals, gateway request rates and latencies, notification failures);
:data:`airsoc.server.app.METRIC_HOOKS` lists them. A hook that fails is reported, never hidden:
``airsoc_metrics_hook_up{hook="..."}`` drops to 0 and the error is logged.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
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
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airsoc.alerting.service import list_deliveries
from airsoc.clock import Clock
from airsoc.incidents.lifecycle import Severity
from airsoc.incidents.service import list_incidents
from airsoc.monitoring.signals import list_signals
from airsoc.reporting.timing import fleet_metrics
from airsoc.runtime.health import PartStatus
from airsoc.server.traffic import quantile
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.telemetry import read_events

__all__ = [
    "GATEWAY_WINDOW",
    "SCRAPE_LIMIT",
    "HookCollector",
    "MetricHook",
    "PartsCollector",
    "RequestMetrics",
    "RequestMetricsMiddleware",
    "gateway_metrics",
    "hook_settings",
    "incident_metrics",
    "notification_metrics",
    "route_template",
    "signal_metrics",
]

logger = logging.getLogger("airsoc.server.metrics")

MetricHook = Callable[[Session, Clock], Iterable[Metric]]
"""Return metric families read from the store at scrape time."""

#: How many of the newest stored signals and deliveries a scrape counts.
SCRAPE_LIMIT = 100_000
#: The gateway's request rates and latencies are read over this many seconds of telemetry.
GATEWAY_WINDOW = 300.0
_SETTINGS_KEY = "airsoc.settings"
_QUANTILES = (0.5, 0.9, 0.99)


def hook_settings(session: Session) -> Settings | None:
    """Return the settings of the store a hook's session reads (the telemetry folder is there)."""
    found = session.info.get(_SETTINGS_KEY)
    return found if isinstance(found, Settings) else None


def signal_metrics(session: Session, clock: Clock) -> Iterator[Metric]:
    """Return stored signals by monitor and decision, and each monitor's latest statistic and
    threshold (over the newest :data:`SCRAPE_LIMIT` signals)."""
    counts: dict[tuple[str, str, str], int] = {}
    latest: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    for sig in list_signals(session, limit=SCRAPE_LIMIT):
        key = (sig.system, sig.monitor, sig.decision)
        counts[key] = counts.get(key, 0) + 1
        latest[(sig.system, sig.monitor)] = (sig.statistic, sig.threshold)
    family = GaugeMetricFamily(
        "airsoc_signals",
        "Stored monitor verdicts, by system, monitor and decision",
        labels=["system", "monitor", "decision"],
    )
    for (system, monitor, decision), n in sorted(counts.items()):
        family.add_metric([system, monitor, decision], n)
    yield family
    statistic = GaugeMetricFamily(
        "airsoc_monitor_statistic",
        "The latest statistic of a monitor",
        labels=["system", "monitor"],
    )
    threshold = GaugeMetricFamily(
        "airsoc_monitor_threshold",
        "The latest threshold of a monitor",
        labels=["system", "monitor"],
    )
    for (system, monitor), (stat, limit) in sorted(latest.items()):
        if stat is not None:
            statistic.add_metric([system, monitor], stat)
        if limit is not None:
            threshold.add_metric([system, monitor], limit)
    yield statistic
    yield threshold


def notification_metrics(session: Session, clock: Clock) -> Iterator[Metric]:
    """Return recorded deliveries by receiver, integration and status, and the failed ones."""
    counts: dict[tuple[str, str, str], int] = {}
    for d in list_deliveries(session, limit=SCRAPE_LIMIT):
        key = (d.receiver, d.integration, d.status)
        counts[key] = counts.get(key, 0) + 1
    family = GaugeMetricFamily(
        "airsoc_notification_deliveries",
        "Recorded notification deliveries, by receiver, integration and status",
        labels=["receiver", "integration", "status"],
    )
    failures = GaugeMetricFamily(
        "airsoc_notification_failures",
        "Notification deliveries that failed after every retry, by receiver and integration",
        labels=["receiver", "integration"],
    )
    failed: dict[tuple[str, str], int] = {}
    for (receiver, integration, status), n in sorted(counts.items()):
        family.add_metric([receiver, integration, status], n)
        if status == "failed":
            failed[receiver, integration] = failed.get((receiver, integration), 0) + n
    for (receiver, integration), n in sorted(failed.items()):
        failures.add_metric([receiver, integration], n)
    yield family
    yield failures


def gateway_metrics(session: Session, clock: Clock) -> Iterator[Metric]:
    """Return the gateway's request rate (by system and status) and latency quantiles (by system)
    over the last :data:`GATEWAY_WINDOW` seconds of the telemetry event log."""
    settings = hook_settings(session)
    rate = GaugeMetricFamily(
        "airsoc_gateway_request_rate",
        f"Gateway requests per second over the last {GATEWAY_WINDOW:.0f}s, by system and status",
        labels=["system", "status"],
    )
    latency = GaugeMetricFamily(
        "airsoc_gateway_latency_seconds",
        f"Gateway answer latency quantiles over the last {GATEWAY_WINDOW:.0f}s, by system",
        labels=["system", "quantile"],
    )
    if settings is not None:
        now = clock.now()
        start = now - timedelta(seconds=GATEWAY_WINDOW)
        requests: dict[tuple[str, str], set[str]] = {}
        latencies: dict[str, dict[str, float]] = {}
        for kind in ("prediction", "llm_turn"):
            table = read_events(settings.telemetry_dir, kind, start=start, end=now)
            columns = table.select(["system", "request_id", "status", "latency_ms"]).to_pydict()
            for system, request_id, status, ms in zip(
                columns["system"],
                columns["request_id"],
                columns["status"],
                columns["latency_ms"],
                strict=True,
            ):
                requests.setdefault((system, status), set()).add(request_id)
                per_request = latencies.setdefault(system, {})
                per_request[request_id] = max(per_request.get(request_id, 0.0), ms or 0.0)
        for (system, status), ids in sorted(requests.items()):
            rate.add_metric([system, status], len(ids) / GATEWAY_WINDOW)
        for system, per_request in sorted(latencies.items()):
            values = sorted(per_request.values())
            for q in _QUANTILES:
                latency.add_metric([system, str(q)], quantile(values, q) / 1000)
    yield rate
    yield latency


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
                    session.info[_SETTINGS_KEY] = self.store.settings
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


#: Methods counted by name; any other a client makes up is counted as "other" (bounded labels).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


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
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.requests.labels(method, template, str(status["code"])).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - start)


class PartsCollector(Collector):
    """The running platform's parts at scrape time: up or not, and the writer's counters."""

    def __init__(self, readiness: Callable[[], Sequence[PartStatus]]) -> None:
        self.readiness = readiness

    def collect(self) -> Iterator[Metric]:
        """Return ``airsoc_platform_part_up`` per part, and the event-log writer's lag, pending,
        dropped and error counts."""
        up = GaugeMetricFamily(
            "airsoc_platform_part_up", "1 while a part of airsoc works, by part", labels=["part"]
        )
        writer = GaugeMetricFamily(
            "airsoc_event_log_writer",
            "The telemetry writer: lag_seconds, pending, dropped, errors, restarts",
            labels=["measure"],
        )
        for part in self.readiness():
            up.add_metric([part.part], 1.0 if part.ok else 0.0)
            if part.part == "event-log writer" and part.data:
                for key in ("lag_seconds", "pending", "dropped", "errors", "restarts"):
                    value = part.data.get(key)
                    if isinstance(value, int | float):
                        writer.add_metric([key], float(value))
        yield up
        yield writer
