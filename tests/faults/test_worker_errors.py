"""Plugins that raise errors that are not airsoc errors, loaded from entry points by a real
``airsoc up``: a detector that fails every run, then a playbook action that fails once. The worker
goes on, says so with a ``platform_fault`` alert at a webhook, recovers when the plugin does, and
applies the action's side effect exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from airsoc.monitoring.models import MonitorStateRow
from airsoc.response.runs import RunView, list_runs
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.testing.faults import (
    FLAKY_MONITOR_CONFIG,
    LEDGER_PLAYBOOK,
    FaultPlan,
    LoadClients,
    UpProcess,
    config_text,
    ledger_keys,
    platform_fault_alerts,
    prepare_system,
    wait_until,
    write_plugin_dist,
)
from airsoc.testing.receivers import http_sink

pytestmark = pytest.mark.slow


def _state(data: Path) -> tuple[list[RunView], datetime | None]:
    """Return the playbook runs and when the monitor last ran, read from the store."""
    store = Store.open(Settings.resolve(data_dir=data, environ={}), migrate=False)
    try:
        with store.read() as s:
            state = s.get(MonitorStateRow, "flaky")
            return list_runs(s), state.last_run_at if state else None
    finally:
        store.close()


def _finished(data: Path) -> bool:
    return [(r.playbook, r.status) for r in _state(data)[0]] == [("record", "succeeded")]


def test_plugins_that_raise_are_alerted_recovered_and_never_act_twice(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepare_system(data)
    raising, once, ledger = tmp_path / "raise", tmp_path / "raise-once", tmp_path / "ledger"
    raising.touch()
    once.touch()
    plan = FaultPlan(
        evaluator_raises_while=str(raising), action_raises_once=str(once), ledger=str(ledger)
    )
    with http_sink() as sink:
        config = tmp_path / "airsoc.yaml"
        text = config_text(sink.url + "/hook", extra=FLAKY_MONITOR_CONFIG)
        config.write_text(text, encoding="utf-8")
        (tmp_path / "record.yaml").write_text(LEDGER_PLAYBOOK, encoding="utf-8")
        plugins = write_plugin_dist(tmp_path / "plugins")
        with UpProcess(config=config, data_dir=data, plan=plan, plugin_path=plugins) as up:
            clients = LoadClients(up.gateway_url, threads=1, prefix="p").start()
            wait_until(lambda: clients.count() >= 5, "telemetry in the monitor's window")
            clients.stop()
            part = "monitor/flaky"
            wait_until(lambda: bool(platform_fault_alerts(sink, part=part)), "a self-alert")
            alert = platform_fault_alerts(sink, part=part)[0]
            assert "RuntimeError: injected evaluator failure" in alert["annotations"]["description"]
            assert up.readyz() == 200  # a failing plugin is alerted; the platform stays up
            raising.unlink()
            wait_until(
                lambda: any(
                    a["status"] == "resolved" for a in platform_fault_alerts(sink, part=part)
                ),
                "the detector's self-alert to resolve",
            )
            wait_until(lambda: _finished(data), "the playbook to finish")
            finished_at = _state(data)[1]
            assert finished_at is not None
            # Later rounds (the monitor keeps firing every second) must not act again.
            wait_until(
                lambda: (_state(data)[1] or finished_at) >= finished_at + timedelta(seconds=3),
                "three more seconds of monitor rounds",
            )
            assert up.readyz() == 200
            assert up.alive()
            assert up.stop() == 0, up.text()
    keys = ledger_keys(ledger)
    assert len(keys) == 2, keys
    assert set(keys.values()) == {1}, keys
    (run,) = _state(data)[0]
    assert run.status == "succeeded"
    assert [(step.step_id, step.attempts) for step in run.steps] == [("first", 2), ("second", 1)]
    assert not once.exists(), "the action never raised"
