"""Self-monitoring: airsoc watches its own parts and says when one stops.

:class:`SelfMonitor` reads the event-log writer's health, the worker's heartbeat and whether the
store accepted the worker's last round. Any part that is not ``ok`` raises a ``platform_fault``
alert through the normal routing tree (resolved when the part recovers); a part that stopped or
stalled, a writer that keeps failing, or a store that refuses writes (locked past its busy
timeout, unreachable) also makes :meth:`SelfMonitor.ready` false, which fails ``/readyz``. A
worker whose rounds fail for another reason goes on with backoff and stays ready. While the store
itself is unwritable the fault is logged at once and the alert is delivered as soon as the store
accepts it; a part that recovers before its alert was delivered still has its firing alert sent
first, and the resolved one after it.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> monitor = SelfMonitor(clock=SimulatedClock(), stall_after=60.0)
    >>> monitor.beat()
    >>> [(p.part, p.ok) for p in monitor.parts()]
    [('worker', True), ('store', True)]
    >>> monitor.worker_failed(RuntimeError("database is locked"))
    >>> [(p.part, p.status, p.ok) for p in monitor.parts()][0]
    ('worker', 'failing', True)
    >>> monitor.ready(), [a.labels["part"] for a in monitor.alerts()]
    (True, ['worker'])
    >>> monitor.store_failed(RuntimeError("database is locked"))
    >>> monitor.ready(), sorted(a.labels["part"] for a in monitor.alerts())
    (False, ['store', 'worker'])
    >>> monitor.worker_stopped("the thread ended")
    >>> monitor.ready(), sorted(a.labels["part"] for a in monitor.alerts())
    (False, ['store', 'worker'])
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from airsoc.clock import Clock
from airsoc.monitoring.alerts import Alert

__all__ = ["PartStatus", "SelfMonitor"]

logger = logging.getLogger(__name__)

PartState = Literal["ok", "failing", "stopped", "stalled"]


@dataclass(frozen=True)
class PartStatus:
    """How one part of airsoc is doing; ``ok`` is False when it fails readiness."""

    part: str
    status: PartState
    ok: bool
    detail: str = ""
    data: dict[str, Any] | None = None


class SelfMonitor:
    """The health of the worker (heartbeat, errors) and, when given, the event-log writer."""

    def __init__(
        self,
        *,
        clock: Clock,
        stall_after: float,
        writer: Callable[[], Any] | None = None,
        system: str = "airsoc",
    ) -> None:
        self.clock = clock
        self.stall_after = stall_after
        self.writer = writer
        self.system = system
        self._lock = threading.Lock()
        self._last_beat: float | None = None
        self._errors = 0
        self._consecutive = 0
        self._last_error = ""
        self._stopped: str | None = None
        self._store_error: str | None = None
        self._firing: dict[str, Alert] = {}
        self._pending: list[Alert] = []

    def beat(self) -> None:
        """Record that the worker finished a round."""
        with self._lock:
            self._last_beat = time.monotonic()
            self._consecutive = 0
            self._store_error = None

    def worker_failed(self, exc: BaseException) -> None:
        """Record an unexpected error of the worker (it goes on, with backoff)."""
        with self._lock:
            self._errors += 1
            self._consecutive += 1
            self._last_error = f"{type(exc).__name__}: {exc}"

    def store_failed(self, exc: BaseException) -> None:
        """Record that the store refused the worker's round (it is locked or unreachable); the
        store counts as down until a round succeeds."""
        with self._lock:
            self._store_error = f"{type(exc).__name__}: {exc}"

    def worker_stopped(self, why: str) -> None:
        """Record that the worker is gone for good."""
        with self._lock:
            self._stopped = why

    def worker_started(self) -> None:
        """Record that a stopped worker was started again (it counts as running from now)."""
        with self._lock:
            self._stopped = None
            self._last_beat = time.monotonic()

    @property
    def worker_errors(self) -> int:
        """Return how many unexpected errors the worker has had."""
        return self._errors

    def _worker(self) -> PartStatus:
        with self._lock:
            data: dict[str, Any] = {"errors": self._errors, "consecutive_errors": self._consecutive}
            if self._stopped is not None:
                return PartStatus("worker", "stopped", False, self._stopped, data)
            if self._last_beat is not None:
                age = time.monotonic() - self._last_beat
                data["seconds_since_round"] = round(age, 3)
                if age > self.stall_after:
                    detail = f"no round finished for {age:.0f} s; last error: {self._last_error}"
                    return PartStatus("worker", "stalled", False, detail, data)
            if self._consecutive:
                detail = f"{self._consecutive} rounds failed in a row: {self._last_error}"
                return PartStatus("worker", "failing", True, detail, data)
        return PartStatus("worker", "ok", True, "", data)

    def _store(self) -> PartStatus:
        with self._lock:
            error = self._store_error
        if error is None:
            return PartStatus("store", "ok", True)
        return PartStatus("store", "failing", False, f"the store refuses writes: {error}")

    def _writer(self) -> PartStatus | None:
        if self.writer is None:
            return None
        health = self.writer()
        data = health.to_dict() if hasattr(health, "to_dict") else dict(health)
        status = str(data.get("status", "ok"))
        detail = str(data.get("last_error") or "")
        if status == "ok":
            return PartStatus("event-log writer", "ok", True, detail, data)
        state: PartState = "stopped" if status == "stopped" else "failing"
        return PartStatus("event-log writer", state, False, detail, data)

    def parts(self) -> list[PartStatus]:
        """Return the status of every watched part."""
        writer = self._writer()
        return [self._worker(), self._store(), *([writer] if writer else [])]

    def ready(self) -> bool:
        """Return whether every part works (``/readyz`` answers 503 otherwise)."""
        return all(p.ok for p in self.parts())

    def alerts(self) -> list[Alert]:
        """Return the ``platform_fault`` alerts to send now: a firing alert for each part that
        is down, a resolved one for each part that came back; alerts not yet accepted by the
        store (see :meth:`undelivered`) are returned again."""
        now = self.clock.now()
        pending, self._pending = self._pending, []
        unsent = {a.labels["part"] for a in pending if not a.is_resolved(now)}
        out: list[Alert] = []
        for part in self.parts():
            previous = self._firing.get(part.part)
            if part.status != "ok":
                alert = Alert(
                    labels={
                        "alertname": "PlatformPartDown",
                        "system": self.system,
                        "part": part.part,
                        "failure_mode": "platform_fault",
                        "severity": "sev2",
                    },
                    annotations={
                        "summary": f"airsoc's {part.part} is {part.status}",
                        "description": part.detail[:2000],
                    },
                    starts_at=previous.starts_at if previous else now,
                )
                if previous is None:
                    logger.error("airsoc's %s is %s: %s", part.part, part.status, part.detail)
                self._firing[part.part] = alert
                out.append(alert)
            elif previous is not None:
                if part.part in unsent:
                    # Its firing alert goes out first (it is in ``pending``): resolving it in
                    # the same breath would leave the receivers nothing to notify.
                    continue
                logger.warning("airsoc's %s recovered", part.part)
                del self._firing[part.part]
                out.append(previous.resolved_at(now))
        # One alert per part and state: a newer one replaces an older one not yet delivered.
        latest = {(a.labels["part"], a.is_resolved(now)): a for a in [*pending, *out]}
        return list(latest.values())

    def undelivered(self, alerts: list[Alert]) -> None:
        """Keep ``alerts`` to send again: the store did not accept them."""
        self._pending = [*alerts, *self._pending]
