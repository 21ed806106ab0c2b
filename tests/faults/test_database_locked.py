"""Another process holds SQLite's write lock longer than the busy timeout: ``/readyz`` fails while
the store refuses writes, the ``platform_fault`` alert reaches the webhook once the store is
writable (once, not twice), and the worker is back within two ticks without a restart."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from airsoc.testing.faults import (
    FaultPlan,
    SqliteWriteLock,
    UpProcess,
    config_text,
    platform_fault_alerts,
    wait_until,
)
from airsoc.testing.receivers import http_sink

TICK = 0.5
BUSY_TIMEOUT_MS = 1000

pytestmark = pytest.mark.slow


def test_a_database_locked_past_the_busy_timeout(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with http_sink() as sink:
        config = tmp_path / "airsoc.yaml"
        config.write_text(config_text(sink.url + "/hook"), encoding="utf-8")
        plan = FaultPlan(busy_timeout_ms=BUSY_TIMEOUT_MS)
        with UpProcess(config=config, data_dir=data, plan=plan, tick=TICK) as up:
            wait_until(lambda: up.readyz() == 200, "the platform to be ready")
            with SqliteWriteLock(data / "airsoc.db") as lock:
                wait_until(lambda: up.readyz() == 503, "/readyz to fail while the store is locked")
                status, body = up.readiness()
                down = {p["part"]: p for p in body.get("parts", []) if not p["ok"]}
                assert status != 503 or "store" in down, body
                assert status != 503 or "locked" in down["store"]["detail"], body
                held = time.monotonic() - (lock.acquired_at or 0.0)
                assert held > BUSY_TIMEOUT_MS / 1000
                # Nothing can be recorded while the lock is held, so nothing is sent yet.
                assert platform_fault_alerts(sink, part="store") == []
                lock.release()
            wait_until(lambda: up.readyz() == 200, "/readyz to recover without a restart")
            wait_until(
                lambda: any(
                    a["status"] == "resolved" for a in platform_fault_alerts(sink, part="store")
                ),
                "the store's self-alert, fired then resolved",
            )
            assert up.alive()
            assert up.stop() == 0, up.text()
    alerts = platform_fault_alerts(sink, part="store")
    assert alerts[0]["status"] == "firing"
    assert "database is locked" in alerts[0]["annotations"]["description"]
    # Each notification went out once: the fault is not applied twice by the retries.
    started = alerts[0]["startsAt"]
    sent = Counter((a["status"], a["startsAt"]) for a in alerts)
    assert sent == Counter({("firing", started): 1, ("resolved", started): 1})
