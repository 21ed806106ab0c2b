"""The alerting engine: configuration in, a dispatcher that persists what it does.

:class:`AlertingEngine` ties the routing tree, receivers, inhibition rules and silences (from the
configuration and from the store) to a :class:`~airsoc.alerting.dispatcher.Dispatcher`; every
alert it takes is saved, every delivery recorded. :func:`ingest_alertmanager` takes the webhook
body an existing Prometheus Alertmanager sends, so its alerts flow in as signals and alerts.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.runtime.config import parse_config
    >>> from airsoc.alerting.receivers import RecordingReceiver
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> cfg = parse_config("routes: {receiver: ops, group_wait: 0s}\\nreceivers: {ops: {}}")
    >>> ops = RecordingReceiver("ops")
    >>> engine = AlertingEngine(config=cfg, store=store, clock=SimulatedClock(),
    ...                         receivers={"ops": [ops]})
    >>> alerts = ingest_alertmanager({"version": "4", "status": "firing", "alerts": [
    ...     {"status": "firing", "labels": {"alertname": "HighLatency", "system": "bot"},
    ...      "startsAt": "2026-01-01T00:00:00Z"}]}, engine=engine)
    >>> [n.status for n in engine.tick()], ops.notifications[0].common_labels["alertname"]
    (['firing'], 'HighLatency')
    >>> store.close()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from airsoc.alerting.config import AlertingSection, RouteConfig
from airsoc.alerting.dispatcher import Dispatcher, GroupFlush, LogEntry, LogKey, NotifyTarget
from airsoc.alerting.matchers import parse_matchers
from airsoc.alerting.notification import Delivery, Notification
from airsoc.alerting.receivers import build_receivers
from airsoc.alerting.routing import Route, build_route_tree
from airsoc.alerting.service import (
    active_silences,
    load_notification_log,
    record_delivery,
    save_alert,
    save_notification_log_entry,
)
from airsoc.alerting.suppression import Inhibitor, InhibitRule, Silence
from airsoc.alerting.templates import Templates
from airsoc.clock import Clock, ensure_utc
from airsoc.detection.verdict import Verdict
from airsoc.errors import AirsocError, ConfigError, InputError
from airsoc.monitoring.alerts import Alert
from airsoc.monitoring.signals import record_signal
from airsoc.store import Store

__all__ = [
    "AlertingEngine",
    "StoreNotificationLog",
    "ingest_alertmanager",
    "parse_alertmanager_payload",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_log = logging.getLogger(__name__)


class AlertingEngine:
    """Routes, groups, mutes and notifies alerts as configured; persists alerts and deliveries."""

    def __init__(
        self,
        *,
        config: AlertingSection,
        store: Store,
        clock: Clock,
        receivers: Mapping[str, Sequence[NotifyTarget]] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        issues = config.receiver_issues()
        if issues:
            raise ConfigError(issues)
        self.config = config
        self.store = store
        self.clock = clock
        self.templates = Templates(config.templates) if config.templates else Templates()
        if receivers is None:
            receivers = build_receivers(
                config.receivers, clock=clock, templates=self.templates, environ=environ
            )
        self.receivers = receivers
        self.route: Route = build_route_tree(
            config.routes or RouteConfig(receiver=next(iter(config.receivers), ""))
        )
        self.config_silences = [
            Silence(
                id=f"config-{i}",
                matchers=parse_matchers(s.matchers),
                starts_at=ensure_utc(s.starts_at or _EPOCH),
                ends_at=ensure_utc(s.ends_at),
                created_by=s.created_by,
                comment=s.comment,
            )
            for i, s in enumerate(config.silences)
        ]
        self.flush_hooks: list[Callable[[GroupFlush], object]] = []
        self.dispatcher = Dispatcher(
            route=self.route,
            receivers=receivers,
            clock=clock,
            inhibitor=Inhibitor([InhibitRule.from_config(r) for r in config.inhibit_rules]),
            silences=self._silences,
            on_delivery=self._record_delivery,
            on_flush=self._on_flush,
            notification_log=StoreNotificationLog(store),
        )

    def _silences(self) -> list[Silence]:
        with self.store.read() as s:
            stored = active_silences(s, clock=self.clock)
        return self.config_silences + stored

    def _record_delivery(self, delivery: Delivery) -> None:
        with self.store.transaction() as s:
            record_delivery(s, delivery=delivery)

    def _on_flush(self, flush: GroupFlush) -> None:
        for hook in self.flush_hooks:
            try:
                hook(flush)
            except AirsocError:
                # Notifications still go out; the failure is logged loudly, never swallowed.
                _log.exception("handling alert group %s failed", flush.group_key)

    def submit(self, alert: Alert, *, source: str = "monitor") -> None:
        """Save ``alert`` and hand it to the dispatcher."""
        with self.store.transaction() as s:
            save_alert(s, clock=self.clock, alert=alert, source=source)
        self.dispatcher.put(alert)

    def tick(self) -> list[Notification]:
        """Flush the groups that are due; return the notifications sent."""
        return self.dispatcher.tick()

    def flush_all(self) -> list[Notification]:
        """Flush every group now (a one-shot run)."""
        return self.dispatcher.flush_all()

    def receivers_for(self, labels: Mapping[str, str]) -> list[str]:
        """Return the receivers an alert with ``labels`` reaches, in tree order."""
        return [r.receiver for r in self.route.match(labels)]


class StoreNotificationLog:
    """The dispatcher's notification log, kept in the state store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self) -> dict[LogKey, LogEntry]:
        """Return every stored entry."""
        with self.store.read() as s:
            return load_notification_log(s)

    def save(self, key: LogKey, entry: LogEntry | None) -> None:
        """Store or delete one entry."""
        with self.store.transaction() as s:
            save_notification_log_entry(s, key=key, entry=entry)


class _AMAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str = "firing"
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime  # noqa: N815 - Alertmanager's field name
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815


class _AMPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str = "4"
    status: str = "firing"
    alerts: list[_AMAlert]


def parse_alertmanager_payload(payload: Mapping[str, Any]) -> list[Alert]:
    """Return the alerts of an Alertmanager webhook body (version 4).

    Alertmanager writes ``0001-01-01T00:00:00Z`` for "no end"; a firing alert has no end.

    >>> parse_alertmanager_payload({"alerts": [{"labels": {}, "startsAt": "x"}]})
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: alertmanager payload: alerts[0].labels: ...
    """
    try:
        parsed = _AMPayload.model_validate(payload)
    except ValidationError as exc:
        from airsoc.config.loader import issues_from_validation

        first = issues_from_validation(exc)[0]
        raise InputError(f"alertmanager payload: {first.loc}: {first.message}") from None
    out = []
    for item in parsed.alerts:
        ends = item.endsAt if item.endsAt and item.endsAt.year > 1 else None
        if item.status == "firing":
            ends = None
        out.append(
            Alert(
                labels=item.labels,
                annotations=item.annotations,
                starts_at=item.startsAt,
                ends_at=ends,
                generator_url=item.generatorURL,
            )
        )
    return out


def ingest_alertmanager(
    payload: Mapping[str, Any], *, engine: AlertingEngine | None = None
) -> list[Alert]:
    """Take an Alertmanager webhook body: store each alert as a signal and submit it.

    Without an engine, only parse and validate (what a dry run or a test needs).
    """
    alerts = parse_alertmanager_payload(payload)
    if engine is None:
        return alerts
    now = engine.clock.now()
    with engine.store.transaction() as s:
        for alert in alerts:
            firing = not alert.is_resolved(now)
            record_signal(
                s,
                clock=engine.clock,
                monitor=alert.labels.get("alertname", "alertmanager"),
                system=alert.labels.get("system", ""),
                source="alertmanager",
                verdict=Verdict(
                    detector="alertmanager",
                    method="external",
                    subject=alert.labels.get("alertname", "alert"),
                    failure_mode=alert.labels.get("failure_mode"),
                    decision="drift" if firing else "ok",
                    reason=alert.annotations.get("summary", "alert from Alertmanager"),
                    evidence={"labels": alert.labels},
                ),
            )
    for alert in alerts:
        engine.submit(alert, source="alertmanager")
    return alerts
