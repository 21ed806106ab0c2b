"""Monitors: a detector run on a window of telemetry, on a schedule, judged against a reference.

The scheduler finds the monitors due on the :class:`~airsoc.clock.Clock` (``every: 15m`` or a
cron expression), loads the window's data from a :class:`TelemetrySource`, and calls the
evaluator registered under the monitor's ``detector`` name: ``(monitor, window) -> verdicts``.
Every verdict is stored as a signal; an alarm (``decision == "drift"``) fires the monitor's alert
and a clean run resolves it.

Evaluators are an open registry (:func:`register_evaluator`): the detectors of every failure
mode plug in by name. The built-in ``threshold`` evaluator compares the mean of a numeric
telemetry field with ``thresholds.max`` / ``thresholds.min`` (and ``warn_max`` / ``warn_min``).

Example:
    >>> from datetime import datetime, timezone
    >>> from airsoc.monitoring.config import MonitorConfig
    >>> m = MonitorConfig(name="latency", system="bot", detector="threshold", window="1h",
    ...                   every="15m", metric="latency_ms", thresholds={"max": 500})
    >>> t = datetime(2026, 1, 1, 1, tzinfo=timezone.utc)
    >>> window = WindowData(start=t, end=t, current=[{"latency_ms": 900}], reference=None)
    >>> [v.decision for v in threshold_evaluator(m, window)]
    ['drift']
    >>> window_bounds(m, datetime(2026, 1, 1, 1, 20, tzinfo=timezone.utc))[0].isoformat()
    '2026-01-01T00:00:00+00:00'
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from croniter import croniter
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.clock import Clock, ensure_utc
from airsoc.detection.verdict import RunStatus, Verdict
from airsoc.errors import AirsocError, ConflictError, DetectionError, NotFoundError
from airsoc.monitoring.alerts import Alert
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.models import MonitorStateRow
from airsoc.monitoring.signals import record_signal
from airsoc.store import Store

logger = logging.getLogger(__name__)

__all__ = [
    "WANTS_MODEL",
    "EvaluatorRegistry",
    "InMemoryTelemetry",
    "MonitorEvaluator",
    "MonitorRun",
    "MonitorScheduler",
    "MonitorStatus",
    "ServedModel",
    "TelemetrySource",
    "WindowData",
    "monitor_status",
    "next_run_after",
    "threshold_evaluator",
    "window_bounds",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ServedModel:
    """The model a system serves, as a monitor judges it: the version and its loaded adapter.

    ``adapter`` is None when there is no local model to call (an HTTP or chat upstream) or it
    could not be loaded; ``reason`` says why, and the monitor falls back to a surrogate.

    >>> ServedModel(system="fraud", version="v2", reason="http upstream").adapter is None
    True
    """

    system: str
    version: str | None
    adapter: Any = None
    reason: str | None = None


@dataclass(frozen=True)
class WindowData:
    """The data one monitor run judges: the current window and the reference.

    ``model`` is the :class:`ServedModel` for detectors that judge the served model's own
    outputs (:data:`WANTS_MODEL`), when the telemetry source can give it.
    """

    start: datetime
    end: datetime
    current: Any
    reference: Any
    model: Any = None


class MonitorEvaluator(Protocol):
    """Judges a window of data for a monitor: ``(monitor, window) -> verdicts``."""

    def __call__(self, monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
        """Return the verdicts on ``window``."""
        ...


class TelemetrySource(Protocol):
    """Where monitors read data: the current window and the reference the monitor names."""

    def window(self, monitor: MonitorConfig, start: datetime, end: datetime) -> Any:
        """Return the system's telemetry between ``start`` (included) and ``end`` (excluded)."""
        ...

    def reference(self, monitor: MonitorConfig) -> Any:
        """Return the reference data of ``monitor`` (a profile, training batches, a range)."""
        ...

    # A source may also offer ``served_model(monitor) -> ServedModel | None``: the model the
    # monitor's system serves, for the detectors in WANTS_MODEL (looked up with getattr).


@dataclass
class InMemoryTelemetry:
    """Telemetry records (dicts with ``system`` and a ``ts`` datetime) kept in memory.

    A :class:`TelemetrySource` for tests, drills and small set-ups; references are records too,
    registered per system.

    >>> from datetime import datetime, timedelta, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> tel = InMemoryTelemetry()
    >>> tel.append({"system": "bot", "ts": t, "x": 1.0})
    >>> m = MonitorConfig(name="m", system="bot", detector="threshold", window="1h", every="1h")
    >>> len(tel.window(m, t, t + timedelta(hours=1)))
    1
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    references: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one record."""
        self.records.append(dict(record))

    def extend(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Add several records."""
        self.records.extend(dict(r) for r in records)

    def window(self, monitor: MonitorConfig, start: datetime, end: datetime) -> Any:
        """Return the records of the monitor's system in ``[start, end)``."""
        return [
            r
            for r in self.records
            if r.get("system") == monitor.system and start <= ensure_utc(r["ts"]) < end
        ]

    def reference(self, monitor: MonitorConfig) -> Any:
        """Return the reference: a time range of records (``reference: {start, end}``), or the
        records registered for the monitor's system (a profile or training batches)."""
        ref = monitor.reference
        if "start" in ref and "end" in ref:
            start = ensure_utc(datetime.fromisoformat(str(ref["start"])))
            end = ensure_utc(datetime.fromisoformat(str(ref["end"])))
            return self.window(monitor, start, end)
        return self.references.get(monitor.system, [])


class EvaluatorRegistry(Mapping[str, "MonitorEvaluator"]):
    """Evaluators by the detector name monitors use, plus plugins that failed to load.

    The runtime builds it: the built-ins (:data:`airsoc.monitoring.builtin.BUILTIN_EVALUATORS`),
    then entry points. Nothing registers itself on import.

    >>> registry = EvaluatorRegistry({"threshold": threshold_evaluator})
    >>> registry.register("threshold", threshold_evaluator)
    Traceback (most recent call last):
    ...
    airsoc.errors.ConflictError: an evaluator named 'threshold' is already registered
    >>> registry["nosuch"]
    Traceback (most recent call last):
    ...
    airsoc.errors.NotFoundError: no detector named 'nosuch' is registered; known: threshold
    """

    def __init__(self, evaluators: Mapping[str, MonitorEvaluator] | None = None) -> None:
        self._evaluators: dict[str, MonitorEvaluator] = dict(evaluators or {})
        self.disabled: dict[str, str] = {}

    def register(self, name: str, evaluator: MonitorEvaluator, *, replace: bool = False) -> None:
        """Add ``evaluator`` as ``name``; a second one of the same name needs ``replace``."""
        if name in self._evaluators and not replace:
            raise ConflictError(f"an evaluator named {name!r} is already registered")
        self._evaluators[name] = evaluator
        self.disabled.pop(name, None)

    def disable(self, name: str, message: str) -> None:
        """Mark the plugin ``name`` as unusable, with the reason its monitors will report."""
        self._evaluators.pop(name, None)
        self.disabled[name] = message

    def __getitem__(self, name: str) -> MonitorEvaluator:
        if name in self.disabled:
            raise DetectionError(f"detector {name!r} is disabled: {self.disabled[name]}")
        try:
            return self._evaluators[name]
        except KeyError:
            known = ", ".join(sorted(self._evaluators))
            raise NotFoundError(
                f"no detector named {name!r} is registered; known: {known}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._evaluators

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._evaluators))

    def __len__(self) -> int:
        return len(self._evaluators)


def threshold_evaluator(monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
    """Return one verdict: the mean of ``monitor.metric`` against the monitor's thresholds."""
    if not monitor.metric:
        raise DetectionError(f"monitor {monitor.name!r}: the threshold detector needs a metric")
    values: list[float] = []
    current = window.current
    metric_values: Iterable[Any] = ()
    if hasattr(current, "to_dict") and hasattr(current, "columns"):  # a table
        # Only the metric's column (every record of a wide window costs far more).
        series = current[monitor.metric] if monitor.metric in current.columns else None
        if series is not None and series.dtype.kind in "iuf":  # numbers: none to refuse
            array = series.to_numpy(dtype=float)
            values = array[~np.isnan(array)].tolist()
        elif series is not None:
            metric_values = series.tolist()
    else:
        metric_values = (record.get(monitor.metric) for record in current)
    for i, value in enumerate(metric_values):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise DetectionError(
                f"monitor {monitor.name!r}: record {i} has a non-numeric {monitor.metric!r}: "
                f"{value!r}"
            )
        values.append(float(value))
    th = monitor.thresholds
    if not values:
        return [
            Verdict(
                detector="threshold",
                method="mean",
                subject=monitor.metric,
                decision="ok",
                status="skipped",
                n_current=0,
                reason=f"no {monitor.metric} values in the window",
            )
        ]
    mean = sum(values) / len(values)
    decision: Any = "ok"
    bound = None
    if "max" in th and mean > th["max"]:
        decision, bound = "drift", th["max"]
    elif "min" in th and mean < th["min"]:
        decision, bound = "drift", th["min"]
    elif ("warn_max" in th and mean > th["warn_max"]) or (
        "warn_min" in th and mean < th["warn_min"]
    ):
        decision = "warn"
        bound = th.get("warn_max", th.get("warn_min"))
    return [
        Verdict(
            detector="threshold",
            method="mean",
            subject=monitor.metric,
            failure_mode=monitor.failure_mode,
            statistic=mean,
            threshold=bound if bound is not None else th.get("max", th.get("min")),
            threshold_source="fixed",
            decision=decision,
            n_current=len(values),
            reason=f"mean {monitor.metric} {mean:.4g} "
            + ("within thresholds" if decision == "ok" else f"beyond {bound}"),
        )
    ]


def window_bounds(monitor: MonitorConfig, now: datetime) -> tuple[datetime, datetime]:
    """Return the window a run at ``now`` judges: the last full tumbling window, or sliding,
    ending ``monitor.lag`` before ``now``."""
    size = monitor.window
    now = now - monitor.lag
    if monitor.window_kind == "sliding":
        return now - size, now
    elapsed = (now - _EPOCH) // size
    end = _EPOCH + elapsed * size
    return end - size, end


def next_run_after(monitor: MonitorConfig, when: datetime) -> datetime:
    """Return the first scheduled time strictly after ``when``.

    >>> from datetime import datetime, timezone
    >>> m = MonitorConfig(name="m", system="s", detector="threshold", window="1h",
    ...                   cron="0 * * * *")
    >>> next_run_after(m, datetime(2026, 1, 1, 9, 15, tzinfo=timezone.utc)).isoformat()
    '2026-01-01T10:00:00+00:00'
    """
    if monitor.cron:
        nxt = croniter(monitor.cron, when.astimezone(UTC)).get_next(datetime)
        return ensure_utc(nxt)
    assert monitor.every is not None
    return when + monitor.every


@dataclass(frozen=True)
class MonitorStatus:
    """When a monitor last ran, what it decided, and when it is next due."""

    last_run_at: datetime | None
    next_run_at: datetime
    last_decision: str | None


def monitor_status(session: Session) -> dict[str, MonitorStatus]:
    """Return the stored schedule state of every monitor that has run, by name."""
    return {
        r.monitor: MonitorStatus(r.last_run_at, r.next_run_at, r.last_decision)
        for r in session.execute(select(MonitorStateRow)).scalars()
    }


@dataclass(frozen=True)
class MonitorRun:
    """The outcome of one monitor evaluation."""

    monitor: str
    at: datetime
    window: tuple[datetime, datetime]
    verdicts: tuple[Verdict, ...]
    alert: Alert | None
    resolved: bool = False
    error: str | None = None
    status: RunStatus = "ran"
    duration_ms: float = 0.0
    blind: Alert | None = None
    #: The run alarmed, but fewer runs in a row than the monitor's ``confirm_runs``: no alert.
    pending: bool = False

    @property
    def breached(self) -> bool:
        """Return whether a verdict raised the alarm."""
        return any(v.is_alarm for v in self.verdicts)


AlertSink = Callable[[Alert], None]

#: Failed runs in a row after which a monitor raises a ``platform_fault`` alert.
FAILURES_BEFORE_ALERT = 3
#: Detectors whose data arrive now and then (a new data batch): a window without any is quiet,
#: not blind, unless the monitor says it ``expects_data``.
EVENT_DRIVEN = frozenset({"data_poisoning"})
#: Detectors that judge the served model's own outputs: the scheduler asks the telemetry source
#: for it (an optional ``served_model(monitor)`` method) before running them.
WANTS_MODEL = frozenset({"adversarial_evasion"})


def _is_empty(data: Any) -> bool:
    if data is None:
        return True
    try:
        return len(data) == 0
    except TypeError:
        return False


class MonitorScheduler:
    """Runs due monitors, stores every verdict as a signal, fires and resolves their alerts."""

    def __init__(
        self,
        *,
        monitors: Sequence[MonitorConfig],
        store: Store,
        clock: Clock,
        source: TelemetrySource,
        sink: AlertSink,
        evaluators: Mapping[str, MonitorEvaluator],
        firing: Callable[[str], Alert | None] | None = None,
    ) -> None:
        self.monitors = list(monitors)
        self.store = store
        self.clock = clock
        self.source = source
        self.sink = sink
        self.evaluators = evaluators
        # Where the monitor's firing alert is kept (the alerting store, across restarts);
        # without it, what this scheduler fired itself.
        self.firing = firing
        self._fired: dict[str, Alert] = {}
        self._blind: dict[str, Alert] = {}
        self._failures: dict[str, int] = {}
        # Alarming runs in a row, per monitor (see MonitorConfig.confirm_runs).
        self._streak: dict[str, int] = {}

    def due(self) -> list[MonitorConfig]:
        """Return the monitors due now (a monitor never run is due at once)."""
        now = self.clock.now()
        with self.store.read() as s:
            next_run = {
                r.monitor: r.next_run_at for r in s.execute(select(MonitorStateRow)).scalars()
            }
        return [m for m in self.monitors if m.name not in next_run or next_run[m.name] <= now]

    def run_due(self) -> list[MonitorRun]:
        """Run every due monitor once; return the runs."""
        return [self.run(m) for m in self.due()]

    def run_all(self) -> list[MonitorRun]:
        """Run every monitor now, due or not."""
        return [self.run(m) for m in self.monitors]

    def get(self, name: str) -> MonitorConfig:
        """Return the monitor called ``name``."""
        for monitor in self.monitors:
            if monitor.name == name:
                return monitor
        raise NotFoundError(f"no monitor named {name!r}")

    def run(self, monitor: MonitorConfig) -> MonitorRun:
        """Evaluate ``monitor`` now: store its verdicts, fire or resolve its alert.

        A window without data is ``skipped``, never ``ok``; when the monitor expects data (its
        config says so, or an earlier run had some) or keeps failing, a ``platform_fault``
        alert says it is blind.
        """
        now = self.clock.now()
        started = time.perf_counter()
        start, end = window_bounds(monitor, now)
        error = None
        skipped_reason: str | None = None  # why data that came could not be judged
        accumulating = False
        status: RunStatus = "ran"
        verdicts: list[Verdict] = []
        try:
            evaluator = self.evaluators[monitor.detector]
        except AirsocError as exc:
            error = str(exc)
        except KeyError:
            known = ", ".join(sorted(self.evaluators))
            error = f"no detector named {monitor.detector!r} is registered; known: {known}"
        else:
            try:
                data = WindowData(
                    start=start,
                    end=end,
                    current=self.source.window(monitor, start, end),
                    reference=self.source.reference(monitor),
                )
                if _is_empty(data.current):
                    status = "skipped"
                    verdicts = [
                        Verdict.skipped(
                            detector=monitor.detector,
                            subject="window",
                            reason=f"no data in the window {start.isoformat()} to "
                            f"{end.isoformat()}",
                        )
                    ]
                else:
                    served = getattr(self.source, "served_model", None)
                    if served is not None and monitor.detector in WANTS_MODEL:
                        data = replace(data, model=served(monitor))
                    verdicts = list(evaluator(monitor, data))
                    if verdicts and all(v.status == "skipped" for v in verdicts):
                        # e.g. turns whose traces carried no text: nothing judged, never "ok"
                        status = "skipped"
                        skipped_reason = verdicts[0].reason
                        # Data is arriving but not enough of it yet (a version promoted a
                        # minute ago, labels still due): recorded as skipped, not blind.
                        accumulating = all(v.evidence.get("accumulating") for v in verdicts)
            except DetectionError as exc:
                error = str(exc)
            except Exception as exc:  # a broken detector is recorded and logged, never fatal
                error = f"detector {monitor.detector!r} failed: {type(exc).__name__}: {exc}"
                logger.exception("monitor %s: %s", monitor.name, error)
        if error:
            status = "failed"
        duration_ms = (time.perf_counter() - started) * 1000
        verdicts = [
            v if v.duration_ms is not None else v.model_copy(update={"duration_ms": duration_ms})
            for v in verdicts
        ]
        alarm = [v for v in verdicts if v.is_alarm]
        decision = {"failed": "error", "skipped": "skipped"}.get(status, "drift" if alarm else "ok")
        with self.store.transaction() as s:
            row = s.get(MonitorStateRow, monitor.name)
            had_data = row is not None and row.last_decision in ("ok", "drift")
            for verdict in verdicts:
                record_signal(
                    s,
                    clock=self.clock,
                    monitor=monitor.name,
                    system=monitor.system,
                    verdict=verdict,
                    window=(start, end),
                )
            if row is None:
                row = MonitorStateRow(monitor=monitor.name, next_run_at=now)
                s.add(row)
            row.last_run_at = now
            row.next_run_at = next_run_after(monitor, now)
            # A skipped run keeps the memory that this monitor has seen data before.
            row.last_decision = "ok" if status == "skipped" and had_data else decision
        alert = None
        resolved = False
        previous = self._stored_firing(monitor.name)
        if status == "ran":
            self._streak[monitor.name] = self._streak.get(monitor.name, 0) + 1 if alarm else 0
        # An alarm not yet confirmed by enough runs in a row is pending: its verdicts are
        # recorded, no alert fires (an alert already firing stays firing).
        pending = bool(alarm) and previous is None
        pending = pending and self._streak.get(monitor.name, 0) < monitor.confirm_runs
        if alarm and not pending:
            alert = self._alert(monitor, alarm, now, previous)
            self._fired[monitor.name] = alert
            self.sink(alert)
        elif status == "ran" and previous is not None:
            self._fired.pop(monitor.name, None)
            self.sink(previous.resolved_at(now))
            resolved = True
        blind = self._watch_blindness(
            monitor, status, had_data, error, now, skipped=skipped_reason, accumulating=accumulating
        )
        return MonitorRun(
            monitor=monitor.name,
            at=now,
            window=(start, end),
            verdicts=tuple(verdicts),
            alert=alert,
            resolved=resolved,
            error=error,
            status=status,
            duration_ms=duration_ms,
            blind=blind,
            pending=pending,
        )

    def _watch_blindness(
        self,
        monitor: MonitorConfig,
        status: RunStatus,
        had_data: bool,
        error: str | None,
        now: datetime,
        *,
        skipped: str | None = None,
        accumulating: bool = False,
    ) -> Alert | None:
        """Raise (or resolve) the ``platform_fault`` alert of a monitor that cannot see. A run
        whose every check waits for more of the data that is arriving (``accumulating``) is
        recorded as skipped with its reason, but is not blindness."""
        failures = self._failures[monitor.name] = (
            self._failures.get(monitor.name, 0) + 1 if status == "failed" else 0
        )
        reason = None
        watched = monitor.detector not in EVENT_DRIVEN
        if status == "skipped" and accumulating:
            return self._blind.get(monitor.name)
        if status == "skipped" and skipped is not None and had_data and watched:
            reason = f"judged nothing in its last window: {skipped}"
        elif status == "skipped" and (monitor.expects_data or (had_data and watched)):
            reason = "sees no data although its system sent some before"
        elif failures >= FAILURES_BEFORE_ALERT:
            reason = f"failed {failures} runs in a row: {error}"
        previous = self._blind.get(monitor.name)
        if reason is None:
            if previous is not None and status == "ran":
                del self._blind[monitor.name]
                self.sink(previous.resolved_at(now))
            return None
        alert = Alert(
            labels={
                "alertname": "MonitorBlind",
                "system": monitor.system,
                "part": f"monitor/{monitor.name}",
                "failure_mode": "platform_fault",
                "severity": "sev3",
            },
            annotations={
                "summary": f"monitor {monitor.name} is blind",
                "description": f"monitor {monitor.name} {reason}"[:2000],
            },
            starts_at=previous.starts_at if previous else now,
        )
        self._blind[monitor.name] = alert
        self.sink(alert)
        return alert

    def _stored_firing(self, name: str) -> Alert | None:
        if self.firing is not None:
            return self.firing(name)
        return self._fired.get(name)

    def _alert(
        self, monitor: MonitorConfig, alarm: list[Verdict], now: datetime, previous: Alert | None
    ) -> Alert:
        failure = monitor.failure_mode or next(
            (v.failure_mode for v in alarm if v.failure_mode), monitor.detector
        )
        version = next(
            (str(v.evidence["model_version"]) for v in alarm if v.evidence.get("model_version")),
            None,
        )
        # A batch screen names the batches it flagged, so the incident can act on them before
        # any version was trained on them.
        batches = sorted(
            {str(v.evidence["batch_id"]) for v in alarm if v.evidence.get("batch_id") is not None}
        )
        # A per-client monitor names the clients whose windows alarmed, so the incident's
        # playbook can throttle or block them (``client`` when there is only one).
        clients = sorted(
            {v.subject.removeprefix("client:") for v in alarm if v.subject.startswith("client:")}
        )
        labels = {
            **({"model_version": version} if version else {}),
            **({"data_batches": ",".join(batches)} if batches else {}),
            **({"clients": ",".join(clients)} if clients else {}),
            **({"client": clients[0]} if len(clients) == 1 else {}),
            "alertname": f"{monitor.name}",
            "system": monitor.system,
            "monitor": monitor.name,
            "failure_mode": failure,
            "severity": monitor.severity or "sev3",
            **monitor.labels,
        }
        subjects = ", ".join(sorted({v.subject for v in alarm}))
        return Alert(
            labels=labels,
            annotations={
                "summary": f"{monitor.detector} breached on {subjects}",
                "description": "; ".join(v.reason for v in alarm)[:2000],
            },
            starts_at=previous.starts_at if previous else now,
            ends_at=None,
        )
