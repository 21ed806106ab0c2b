"""Faults in playbook workers, injected into real worker processes on SQLite and PostgreSQL.

Three workers race over runs whose first step lasts three times their lease. Each step's side
effect is a row nobody dedups, so a step applied twice, or never, shows in the count:

- the lease runs out during a long step unless a heartbeat renews it;
- a worker killed with ``SIGKILL`` mid-step is taken over once its lease expired;
- a worker stopped with ``SIGSTOP`` mid-step is taken over, and when it wakes its stale fencing
  token is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airsoc.settings import Settings
from airsoc.testing.workers import LeaseRaceResult, run_lease_race

pytestmark = pytest.mark.slow

LEASE = 1.0
STEP = 3.0


def _race(settings: Settings, **fault: bool) -> LeaseRaceResult:
    return run_lease_race(
        settings.database_url,
        data_dir=settings.data_dir,
        workers=3,
        runs=4,
        lease_seconds=LEASE,
        step_seconds=STEP,
        deadline_seconds=240,
        **fault,
    )


def _logs(settings: Settings) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text()[-3000:]}"
        for p in sorted(Path(settings.data_dir).glob("*.log"))
    )


def test_a_lease_shorter_than_a_long_step_applies_every_side_effect_once(
    store_settings: Settings,
) -> None:
    result = _race(store_settings)
    assert result.exactly_once, (result, _logs(store_settings))
    assert (result.planned, result.executed, result.duplicated) == (8, 8, 0)
    assert result.crashed == ()


def test_a_worker_killed_mid_step_is_taken_over_and_its_step_applied_once(
    store_settings: Settings,
) -> None:
    result = _race(store_settings, kill_one=True)
    assert result.exactly_once, (result, _logs(store_settings))
    assert any(line.startswith("killed") for line in result.fault_log), result.fault_log
    assert result.recovery_seconds is not None
    # The killed attempt was counted when it started, and the step ran again elsewhere.
    assert result.attempts >= result.planned + 1
    assert result.crashed == ()


def test_a_stalled_worker_that_wakes_after_a_takeover_is_refused_by_the_fence(
    store_settings: Settings,
) -> None:
    result = _race(store_settings, stall_one=True)
    assert result.exactly_once, (result, _logs(store_settings))
    assert any(line.endswith("taken over") for line in result.fault_log), result.fault_log
    assert result.recovery_seconds is not None
    assert result.leases_lost >= 1  # the woken worker found its run taken and stopped
    assert result.crashed == ()
