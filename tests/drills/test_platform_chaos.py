"""Chaos on the platform itself, through the drill runner: the store locked beyond its busy
timeout, and the playbook worker killed mid-step. Nothing is narrated: the platform's own
self-monitoring must notice, report (alert, ``/readyz``), lose nothing and recover."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airsoc.clock import ensure_utc
from airsoc.drills.runner import DEFAULT_START, DrillOptions, run_drill
from airsoc.drills.scenario import parse_scenario
from airsoc.incidents.service import list_incidents
from airsoc.monitoring.signals import list_signals
from airsoc.response.incident_alerts import incident_alerts
from airsoc.response.runs import list_runs
from airsoc.store import Store
from airsoc.telemetry import read_events
from tests.drills.stores import drill_store

#: Wall seconds each write waits for the locked store before it fails (the default is 60).
BUSY = 0.2

STREAM = """\
fleet:
  systems: [recommender]
  monitor_every: 1h
traffic:
  duration: 6h
  step: 30m
  label_delay: 30m
  streams:
    - {system: recommender, client: storefront, rate: 500, rows_per_request: 250}
"""

LOCKED = (
    "name: store-locked\n"
    + STREAM
    + """\
injects:
  - {id: lock, at: 2h, kind: database_lock, params: {rounds: 3}}
expectations:
  incident: {failure_mode: platform_fault, within: 3h}
  steps:
    - {action: open_task}
    - {action: rollback, forbidden: true}
"""
)

KILLED = (
    "name: worker-killed\n"
    + STREAM
    + """\
injects:
  - {id: kill, at: 2h, kind: worker_kill, params: {action: open_task, after_effect: AFTER}}
  - {id: disk, at: 2h, kind: telemetry_write_errors, params: {rounds: 2}}
expectations:
  incident: {failure_mode: platform_fault, within: 2h}
  steps:
    - {action: open_task}
    - {action: notify}
"""
)


def _store(tmp_path: Path) -> Store:
    return drill_store(tmp_path, store_busy_timeout=BUSY)


@pytest.mark.slow
def test_a_store_locked_beyond_its_busy_timeout_is_reported_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    lines: list[str] = []
    card = run_drill(parse_scenario(LOCKED), store=store, options=DrillOptions(log=lines.append))
    assert card.passed, card.reasons
    (incident,) = card.incidents
    assert (incident.system, incident.failure_mode) == ("airsoc", "platform_fault")
    # /readyz failed while the lock lasted, naming the store, and passed again after it.
    readiness = [line.split("/readyz ", 1)[1] for line in lines if "/readyz" in line]
    assert readiness[0].startswith("503: ")
    assert "store: the store refuses writes" in readiness[0]
    assert "database is locked" in readiness[0]
    assert readiness[-1] == "200: ready"
    released = next(i for i, line in enumerate(lines) if "lock is released" in line)
    assert any("/readyz 503" in line for line in lines[:released])
    with store.read() as s:
        (declared,) = list_incidents(s)
        parts = {a.labels.get("part") for a in incident_alerts(s, incident_id=declared.id)}
        signals = list_signals(s, system="recommender", limit=10_000)
    assert "store" in parts
    # The monitors ran again once the store was back (released after 2h + 3 rounds of 30m).
    released_at = DEFAULT_START + timedelta(hours=3, minutes=30)
    assert any(ensure_utc(sig.at) > released_at for sig in signals)
    # Every answered row and every label the gateway accepted reached the event log.
    written = read_events(store.settings.telemetry_dir, "prediction", system="recommender")
    labels = read_events(store.settings.telemetry_dir, "label", system="recommender")
    assert card.rows_sent > 0
    assert written.num_rows == card.rows_sent
    assert labels.num_rows == card.labels_sent
    store.close()


@pytest.mark.slow
@pytest.mark.parametrize("after_effect", [True, False])
def test_a_worker_killed_mid_step_resumes_the_step_exactly_once(
    tmp_path: Path, after_effect: bool
) -> None:
    store = _store(tmp_path)
    lines: list[str] = []
    scenario = parse_scenario(KILLED.replace("AFTER", str(after_effect).lower()))
    card = run_drill(scenario, store=store, options=DrillOptions(log=lines.append))
    assert card.passed, card.reasons
    moment = "after" if after_effect else "before"
    assert any(f"killed during open_task, {moment} its effect" in line for line in lines)
    with store.read() as s:
        (incident,) = list_incidents(s)
        (run,) = list_runs(s, incident_id=incident.id)
        alerts = incident_alerts(s, incident_id=incident.id)
    # The run finished under the restarted worker; the task it opened is there once.
    assert run.status == "succeeded"
    tasks = [t for t in incident.next_steps if t.startswith("Restore the part of airsoc")]
    assert len(tasks) == 1
    (task,) = [st for st in run.steps if st.step_id == "task"]
    assert task.status == "succeeded"
    # Killed after its effect: the stored effect is reused, no second attempt acts; killed
    # before: the step runs once more, and only that attempt acts.
    assert task.attempts == (1 if after_effect else 2)
    # The platform noticed by itself: its self-monitor reported the stopped worker.
    assert "worker" in {a.labels.get("part") for a in alerts}
    store.close()
