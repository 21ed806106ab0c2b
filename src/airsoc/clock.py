"""Time sources: the only place in airsoc that reads the system time.

Every component takes a :class:`Clock`. Production uses :class:`SystemClock`; tests and drills use
:class:`SimulatedClock`, which only moves when told to, so a week of traffic runs in seconds.

Example:
    >>> from datetime import datetime, timedelta, timezone
    >>> clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> clock.now().isoformat()
    '2026-01-01T00:00:00+00:00'
    >>> clock.advance(timedelta(minutes=15))
    >>> clock.now().isoformat()
    '2026-01-01T00:15:00+00:00'
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SimulatedClock", "SystemClock", "ensure_utc"]


@runtime_checkable
class Clock(Protocol):
    """A source of the current time (timezone-aware UTC) that can also wait."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Return seconds on a clock that never goes backwards (for measuring durations)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""
        ...


class SystemClock:
    """The real wall clock.

    >>> SystemClock().now().tzinfo is not None
    True
    """

    def now(self) -> datetime:
        """Return the system time in UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Return :func:`time.monotonic`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        if seconds > 0:
            time.sleep(seconds)


class SimulatedClock:
    """A clock that moves only when advanced; ``sleep`` advances it instantly.

    Thread-safe, so a simulated scheduler and the code under test can share it.

    >>> from datetime import datetime, timezone
    >>> clock = SimulatedClock(datetime(2026, 3, 1, 12, tzinfo=timezone.utc))
    >>> clock.sleep(90)
    >>> clock.now().strftime("%H:%M:%S"), clock.monotonic()
    ('12:01:30', 90.0)
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.start = ensure_utc(start) if start else datetime(2026, 1, 1, tzinfo=UTC)
        self._now = self.start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the simulated time."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Return seconds since the simulation started."""
        with self._lock:
            return (self._now - self.start).total_seconds()

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` without waiting."""
        self.advance(timedelta(seconds=max(seconds, 0.0)))

    def advance(self, delta: timedelta) -> None:
        """Move time forward by ``delta``; moving backwards is refused."""
        if delta < timedelta(0):
            raise ValueError(f"a simulated clock only moves forward, got {delta}")
        with self._lock:
            self._now = self._now + delta

    def set(self, when: datetime) -> None:
        """Jump to ``when``, which must not be earlier than now."""
        self.advance(ensure_utc(when) - self.now())


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; a naive value is taken to be UTC already.

    >>> from datetime import datetime
    >>> ensure_utc(datetime(2026, 1, 1)).isoformat()
    '2026-01-01T00:00:00+00:00'
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
