"""Clocks: the simulated one moves only when told, never backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from airsoc.clock import Clock, SimulatedClock, SystemClock, ensure_utc


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(SystemClock(), Clock)
    assert isinstance(SimulatedClock(), Clock)


def test_simulated_clock_never_goes_back() -> None:
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.sleep(3600)
    assert clock.now() == datetime(2026, 1, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="only moves forward"):
        clock.set(datetime(2025, 12, 31, tzinfo=UTC))


def test_times_are_normalised_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    assert ensure_utc(datetime(2026, 1, 1, 1, tzinfo=cet)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert SimulatedClock(datetime(2026, 1, 1, 1, tzinfo=cet)).now().tzinfo == UTC
