"""Chaos drills on the real platform, at reduced scale: the built-in scenarios pass their own
expectations, a benign change raises no incident, and a scenario written from scratch by
following ``docs/drills.md`` runs as ``airsoc drill run PATH``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import airsoc
from airsoc.drills.runner import DrillOptions, run_drill
from airsoc.drills.scenario import load_scenario, parse_scenario
from airsoc.errors import InputError
from airsoc.incidents.service import list_incidents
from airsoc.response.runs import list_runs
from airsoc.serving import get_route
from airsoc.telemetry import read_events
from tests.drills.stores import drill_store

SPEC_KEYS = {
    "scenario",
    "passed",
    "time_to_detect_s",
    "time_to_declare_s",
    "time_to_contain_s",
    "time_to_recover_s",
    "bad_predictions_served",
    "false_alarms",
    "failure_mode_correct",
    "root_cause_correct",
    "steps",
    "reasons",
}


@pytest.mark.slow
def test_benign_week_declares_nothing(tmp_path: Path) -> None:
    store = drill_store(tmp_path)
    card = run_drill(load_scenario("benign-week"), store=store, options=DrillOptions(scale=0.1))
    assert card.passed, card.reasons
    assert card.false_alarms == 0
    assert card.incidents == []
    assert card.time_to_detect_s is None
    assert card.bad_predictions_served is None
    assert card.labels_sent > 0
    assert card.rows_sent > 0
    with store.read() as s:
        assert list_incidents(s) == []
        # The benign release happened: the clean retrain serves.
        assert get_route(s, system="fraud-detector").primary_version == "v2"
    # The data dir keeps the run; a second drill there is refused rather than mixed in.
    with pytest.raises(InputError, match="already holds a run"):
        run_drill(load_scenario("model-extraction"), store=store)
    store.close()


@pytest.mark.slow
def test_model_extraction_is_declared_throttled_then_blocked(tmp_path: Path) -> None:
    store = drill_store(tmp_path)
    card = run_drill(
        load_scenario("model-extraction"), store=store, options=DrillOptions(scale=0.25)
    )
    assert card.passed, card.reasons
    assert card.failure_mode_correct
    assert card.root_cause_correct
    assert card.time_to_detect_s is not None
    assert card.time_to_declare_s is not None
    assert card.time_to_contain_s is not None
    assert 0 <= card.time_to_detect_s <= card.time_to_declare_s <= card.time_to_contain_s
    assert card.bad_predictions_served is not None
    assert card.bad_predictions_served > 0
    taken = {s.expected.split()[0]: s for s in card.steps}
    assert taken["rate_limit_client"].at_s is not None
    assert taken["block_client"].at_s is not None
    assert taken["rate_limit_client"].at_s <= taken["block_client"].at_s
    with store.read() as s:
        (incident,) = list_incidents(s)
        actors = {r.started_by for r in list_runs(s, incident_id=incident.id)}
    assert incident.failure_mode == "model_extraction"
    assert actors == {"system:incident-rules"}  # the platform started the response
    store.close()


@pytest.mark.slow
def test_fraud_evasion_attack_names_and_throttles_the_client(tmp_path: Path) -> None:
    store = drill_store(tmp_path)
    card = run_drill(
        load_scenario("fraud-evasion-attack"), store=store, options=DrillOptions(scale=0.2)
    )
    assert card.passed, card.reasons
    assert card.failure_mode_correct
    assert card.root_cause_correct
    assert card.time_to_declare_s is not None
    assert card.time_to_contain_s is not None
    assert card.time_to_declare_s <= card.time_to_contain_s
    taken = {s.expected.split()[0]: s for s in card.steps}
    assert taken["rate_limit_client"].at_s is not None
    assert taken["block_client"].at_s is not None
    assert taken["rate_limit_client"].at_s <= taken["block_client"].at_s
    with store.read() as s:
        (incident,) = list_incidents(s)
    assert incident.failure_mode == "adversarial_evasion"
    # The monitor's alert named the client that alarmed and the incident carries it.
    assert "ring-42" in incident.labels["clients"].split(",")
    assert "checkout" not in incident.labels["clients"].split(",")
    store.close()


QUIET = """\
name: quiet-retrain
fleet:
  systems: [fraud-detector]
  monitor_every: 6h
traffic:
  duration: 2d
  step: 6h
  label_delay: 2h
  streams:
    - {system: fraud-detector, client: checkout, rate: 400, rows_per_request: 200}
injects:
  - id: retrain
    at: 1d
    kind: release
    benign: true
    params: {release: retrain}
    message: The weekly retrain is promoted.
expectations:
  no_incident: true
"""


@pytest.mark.slow
def test_a_scenario_written_from_the_docs_runs_from_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "quiet-retrain.yaml"
    path.write_text(QUIET, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRSOC_")}
    source = str(Path(airsoc.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "airsoc.cli", "drill", "run", str(path)]
    data = tmp_path / "data"
    result = subprocess.run(
        [*command, "--data-dir", str(data), "--format", "json", "--output", "card.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    card = json.loads((tmp_path / "card.json").read_text(encoding="utf-8"))
    assert set(card) >= SPEC_KEYS
    assert card["scenario"] == "quiet-retrain"
    assert card["passed"] is True
    assert card["data_dir"] == str(data)
    assert (data / "airsoc.db").exists()
    # The same data dir again is bad input: exit 2, one line naming the data dir.
    again = subprocess.run(
        [*command, "--data-dir", str(data)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert again.returncode == 2
    assert "already holds a run" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.slow
def test_a_click_logging_bug_is_a_pipeline_fault_and_nothing_retrains(tmp_path: Path) -> None:
    store = drill_store(tmp_path)
    card = run_drill(
        load_scenario("ctr-logging-bug"), store=store, options=DrillOptions(scale=0.25)
    )
    assert card.passed, card.reasons
    assert card.failure_mode_correct
    forbidden = [s for s in card.steps if s.expected.startswith("no ")]
    assert forbidden
    assert all(s.taken is None for s in forbidden)
    store.close()


@pytest.mark.slow
def test_slang_in_reviews_is_declared_as_drift_and_investigated(tmp_path: Path) -> None:
    store = drill_store(tmp_path)
    card = run_drill(
        load_scenario("sentiment-slang-drift"), store=store, options=DrillOptions(scale=0.25)
    )
    assert card.passed, card.reasons
    assert [i.failure_mode for i in card.incidents] == ["data_drift"]
    store.close()


@pytest.mark.slow
def test_a_fairness_shift_in_one_region_is_declared(tmp_path: Path) -> None:
    store = drill_store(tmp_path)
    card = run_drill(
        load_scenario("credit-fairness-shift"), store=store, options=DrillOptions(scale=0.25)
    )
    assert card.passed, card.reasons
    assert [i.failure_mode for i in card.incidents] == ["fairness_regression"]
    store.close()


WRITER_DOWN = """\
name: telemetry-writer-down
fleet:
  systems: [recommender]
  monitor_every: 1h
traffic:
  duration: 6h
  step: 30m
  label_delay: 30m
  streams:
    - {system: recommender, client: storefront, rate: 500, rows_per_request: 250}
injects:
  - {id: disk, at: 2h, kind: telemetry_write_errors, params: {rounds: 3}}
expectations:
  incident: {failure_mode: platform_fault, within: 2h}
  steps:
    - {action: open_task}
    - {action: notify}
    - {action: rollback, forbidden: true}
"""


@pytest.mark.slow
def test_a_failing_event_log_pages_the_platform_owner(tmp_path: Path) -> None:
    store = drill_store(tmp_path)
    card = run_drill(parse_scenario(WRITER_DOWN), store=store)
    assert card.passed, card.reasons
    (incident,) = card.incidents
    assert (incident.system, incident.failure_mode) == ("airsoc", "platform_fault")
    assert card.time_to_detect_s is not None
    with store.read() as s:
        assert list_incidents(s)[0].labels["part"] == "event-log writer"
    # Every answered row reached the disk once the writer recovered: nothing was lost.
    written = read_events(store.settings.telemetry_dir, "prediction", system="recommender")
    assert card.rows_sent > 0
    assert written.num_rows == card.rows_sent
    store.close()
