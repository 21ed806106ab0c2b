"""Wiring alerting and response from one checked configuration.

:func:`load_checked_config` validates ``airsoc.yaml`` whole: the schema, every reference (routes
and escalation to receivers, monitors to systems) and every playbook it lists; any error rejects
the whole file, so nothing running changes. :class:`ResponseLoop` puts the parts together:
monitors feed the alerting engine, flushed groups become incidents, playbooks run, escalations and
status updates go out; ``tick()`` does one round of all of it.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "airsoc.yaml").write_text(
    ...     "routes: {receiver: ops, routes: [{matchers: [severity=sev1], receiver: pager}]}\\n"
    ...     "receivers: {ops: {}}\\n")
    >>> load_checked_config(folder / "airsoc.yaml")
    Traceback (most recent call last):
    ...
    airsoc.errors.ConfigError: ...airsoc.yaml: routes.routes[0].receiver: unknown receiver; ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from airsoc.alerting.dispatcher import NotifyTarget
from airsoc.alerting.engine import AlertingEngine
from airsoc.alerting.notification import Delivery, Notification
from airsoc.alerting.service import firing_monitor_alert
from airsoc.clock import Clock
from airsoc.monitoring.alerts import Alert
from airsoc.monitoring.monitors import (
    MonitorEvaluator,
    MonitorRun,
    MonitorScheduler,
    TelemetrySource,
)
from airsoc.reporting.regulatory import send_reminders, sync_profiles
from airsoc.response.actions import ActionRegistry, ResponseServices
from airsoc.response.controlplane import ControlPlane
from airsoc.response.declaration import IncidentDeclarer
from airsoc.response.escalation import run_escalations, send_due_status_updates
from airsoc.response.ocsf import IncidentFindingsPublisher
from airsoc.response.playbooks import Playbook
from airsoc.response.runner import PlaybookRunner
from airsoc.runtime.config import AirsocConfig, load_checked_config
from airsoc.runtime.control import live_control_plane
from airsoc.runtime.registries import build_action_registry, build_registries
from airsoc.store import Store

__all__ = ["LoopReport", "ResponseLoop"]


@dataclass
class LoopReport:
    """What one round of the loop did."""

    monitor_runs: list[MonitorRun] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    runs_advanced: list[int] = field(default_factory=list)
    pages: int = 0
    status_updates: int = 0
    findings: list[Delivery] = field(default_factory=list)
    regulatory_reminders: int = 0


class ResponseLoop:
    """Monitors, alerting, incident declaration, playbooks and escalation, driven by ``tick``.

    Without ``control_plane`` actions act on the real gateway, registry and retrieval controls
    in ``store`` (:func:`~airsoc.runtime.control.live_control_plane`).
    """

    def __init__(
        self,
        *,
        config: AirsocConfig,
        playbooks: Sequence[Playbook],
        store: Store,
        clock: Clock,
        source: TelemetrySource | None = None,
        control_plane: ControlPlane | None = None,
        receivers: Mapping[str, Sequence[NotifyTarget]] | None = None,
        registry: ActionRegistry | None = None,
        evaluators: Mapping[str, MonitorEvaluator] | None = None,
        environ: Mapping[str, str] | None = None,
        worker_id: str = "loop",
    ) -> None:
        self.store = store
        self.evaluators = evaluators if evaluators is not None else build_registries().evaluators
        self.clock = clock
        self.source = source
        self._receivers = receivers
        self._environ = environ
        self.runner = PlaybookRunner(
            store=store,
            clock=clock,
            registry=registry if registry is not None else build_action_registry(),
            worker_id=worker_id,
            services=ResponseServices(
                store=store,
                settings=store.settings,
                control_plane=control_plane or live_control_plane(store=store, clock=clock),
            ),
        )
        self.findings = IncidentFindingsPublisher(store=store, clock=clock)
        self._apply(config, playbooks)

    def _apply(self, config: AirsocConfig, playbooks: Sequence[Playbook]) -> None:
        # Everything is built before anything is swapped: a failure leaves the old parts running.
        engine = AlertingEngine(
            config=config,
            store=self.store,
            clock=self.clock,
            receivers=self._receivers,
            environ=self._environ,
        )
        declarer = IncidentDeclarer(
            config=config, store=self.store, clock=self.clock, playbooks=playbooks
        )
        engine.flush_hooks.append(declarer)
        scheduler = (
            MonitorScheduler(
                monitors=config.monitors,
                store=self.store,
                clock=self.clock,
                source=self.source,
                sink=engine.submit,
                evaluators=self.evaluators,
                firing=self._firing,
            )
            if self.source is not None
            else None
        )
        with self.store.transaction() as s:
            # Where each system is placed for regulatory reporting, for the API and CLI.
            sync_profiles(s, clock=self.clock, config=config.regulatory)
        previous: AlertingEngine | None = getattr(self, "engine", None)
        if previous is not None:
            engine.dispatcher.adopt(previous.dispatcher)
        self.config = config
        self.playbooks = list(playbooks)
        self.engine = engine
        self.declarer = declarer
        self.scheduler = scheduler
        self.runner.governance = config.governance
        self.runner.services.receivers = engine.receivers
        self.runner.services.templates = engine.templates
        self.runner.services.monitors = list(config.monitors)
        self.runner.services.telemetry = self.source
        self.runner.services.systems = dict(config.systems)

    def _firing(self, monitor: str) -> Alert | None:
        with self.store.read() as s:
            return firing_monitor_alert(s, monitor=monitor)

    def reload(self, path: str | Path) -> None:
        """Apply the configuration in ``path`` if it is valid whole; otherwise raise and keep
        everything running as it was. Active alerts carry over to the new routing tree."""
        config, playbooks = load_checked_config(
            path, registry=self.runner.registry, evaluators=self.evaluators
        )
        self._apply(config, playbooks)

    def tick(self, *, flush_now: bool = False) -> LoopReport:
        """Run due monitors, flush due groups, advance playbooks, escalate; return what happened.

        ``flush_now`` flushes every alert group at once (a one-shot run does not wait for
        ``group_wait``).
        """
        report = LoopReport()
        if self.scheduler is not None:
            report.monitor_runs = self.scheduler.run_due()
        report.notifications = self.engine.flush_all() if flush_now else self.engine.tick()
        report.runs_advanced = self.runner.run_until_idle()
        receivers = self.engine.receivers
        report.pages = len(
            run_escalations(
                store=self.store,
                clock=self.clock,
                config=self.config.escalation,
                receivers=receivers,
                templates=self.engine.templates,
            )
        )
        report.status_updates = len(
            send_due_status_updates(
                store=self.store,
                clock=self.clock,
                config=self.config.escalation,
                receivers=receivers,
                templates=self.engine.templates,
            )
        )
        engine = self.engine
        report.regulatory_reminders = len(
            send_reminders(
                self.store,
                clock=self.clock,
                submit=lambda alert: engine.submit(alert, source="regulatory"),
                lead_times=self.config.regulatory.reminders,
            )
        )
        # Incident updates as OCSF findings, to the SIEM/SOAR sinks their labels route to.
        report.findings = self.findings.publish(self.engine, self.playbooks)
        return report
