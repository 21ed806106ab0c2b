"""Monitors reading the gateway's event log and the registry's training batches."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airsoc import lineage
from airsoc.clock import SimulatedClock, SystemClock
from airsoc.detection import profile
from airsoc.errors import DetectionError
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.monitors import WindowData, threshold_evaluator, window_bounds
from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.telemetry import EventLog, LabelEvent, PredictionEvent
from airsoc.testing import CliResult
from tests.response.wiring import SYSTEM, build_registry, rows


def monitor(**reference: Any) -> MonitorConfig:
    return MonitorConfig(
        name="drift",
        system=SYSTEM,
        detector="data_drift",
        window="1h",
        every="15m",
        reference=reference,
    )


def log_traffic(root: Path, clock: Any, frame: Any, *, prefix: str = "r") -> None:
    log = EventLog(root)
    for i, row in enumerate(frame.to_dict("records")):
        for role in ("primary", "shadow"):
            log.append(
                PredictionEvent(
                    request_id=f"{prefix}{i}",
                    ts=clock.now(),
                    system=SYSTEM,
                    version="v2",
                    role=role,
                    inputs=row,
                    output=int(row["amount"] > 110),
                    score=0.5,
                )
            )
    log.append(LabelEvent(request_id=f"{prefix}0", ts=clock.now(), system=SYSTEM, label=1))
    log.close()


@pytest.fixture
def source(sqlite_store: Store, clock: SimulatedClock, tmp_path: Path) -> EventLogTelemetry:
    build_registry(sqlite_store, clock, tmp_path)
    return EventLogTelemetry(store=sqlite_store, base_dir=tmp_path)


def test_a_window_has_one_row_per_answered_input_with_its_label(
    source: EventLogTelemetry, clock: SimulatedClock
) -> None:
    log_traffic(source.root, clock, rows(3, 5))
    frame = source.window(monitor(), clock.now(), clock.now() + timedelta(minutes=1))
    assert len(frame) == 5  # shadow answers are left out
    assert {"amount", "hour", "prediction", "score", "label", "ts"} <= set(frame.columns)
    assert frame["label"].tolist()[:2] == [1, None]
    later = source.window(monitor(), clock.now() + timedelta(minutes=1), clock.now() + timedelta(1))
    assert later.empty


def test_the_reference_is_the_serving_versions_training_batches(
    source: EventLogTelemetry,
) -> None:
    training = source.reference(monitor(model_version="production"))
    assert len(training) == 800  # b1 from Parquet and b2 from CSV
    assert list(training.columns) == ["amount", "hour", "batch_id"]
    assert training["batch_id"].value_counts().to_dict() == {"b1": 400, "b2": 400}
    assert len(source.reference(monitor(model_version="v1"))) == 400


def test_profile_and_time_range_references(
    source: EventLogTelemetry, clock: SimulatedClock, tmp_path: Path
) -> None:
    profile(rows(4, 300)).save(tmp_path / "ref.profile")
    assert source.reference(monitor(profile="ref.profile")).n_rows == 300
    log_traffic(source.root, clock, rows(5, 7))
    span = {"start": clock.now().isoformat(), "end": (clock.now() + timedelta(1)).isoformat()}
    assert len(source.reference(monitor(range=span))) == 7


def test_reference_errors_name_the_monitor_and_the_problem(
    source: EventLogTelemetry, sqlite_store: Store, clock: SimulatedClock
) -> None:
    with pytest.raises(DetectionError, match="reference must be"):
        source.reference(monitor(batches="all"))
    with pytest.raises(DetectionError, match="no such profile"):
        source.reference(monitor(profile="missing.profile"))
    with sqlite_store.transaction() as s:
        lineage.register_batch(
            s, clock=clock, actor="etl", batch_id="b3", source="acme", rows=1, sha256="3" * 64
        )
        lineage.register_model_version(
            s,
            clock=clock,
            actor="ci",
            system=SYSTEM,
            version="v3",
            artifact_uri="mem://v3",
            sha256="4" * 64,
            training_batches=["b3"],
        )
    with pytest.raises(DetectionError, match="batch b3 has no data URI"):
        source.reference(monitor(model_version="v3"))


def test_monitors_run_reads_the_event_log_by_default(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    store = Store.open(Settings.resolve(data_dir=tmp_path / "airsoc-data", environ={}))
    build_registry(store, SimulatedClock(), tmp_path)
    m = monitor(model_version="production")
    start, _ = window_bounds(m, SystemClock().now())
    log_traffic(store.settings.telemetry_dir, SimulatedClock(start), rows(6, 600, mean=140))
    store.close()
    (tmp_path / "airsoc.yaml").write_text(
        "systems: {fraud: {kind: tabular-classifier, owner: risk}}\n"
        "monitors:\n"
        "  - {name: drift, system: fraud, detector: data_drift, window: 1h, every: 15m,\n"
        "     reference: {model_version: production}, severity: sev3}\n"
        "routes: {receiver: ops}\nreceivers: {ops: {}}\n"
    )
    result = cli("monitors", "run", "--once", "--json")
    assert result.exit_code == 0, result.stderr
    (run,) = json.loads(result.stdout)
    assert (run["breached"], run["error"]) == (True, None)
    assert "amount" in {v["subject"] for v in run["verdicts"] if v["decision"] == "drift"}


def test_a_latency_threshold_monitor_reads_the_latency_the_gateway_logged(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    """The event log keeps each answer's latency; the window carries it to the threshold
    monitor (it used to read "no latency_ms values in the window")."""
    log = EventLog(sqlite_store.settings.telemetry_dir)
    for i, latency in enumerate((1500.0, 2500.0, 3500.0)):
        log.append(
            PredictionEvent(
                request_id=f"r{i}", ts=clock.now(), system=SYSTEM, version="v1",
                inputs={"amount": 1.0}, output=0, score=0.1, latency_ms=latency,
            )
        )  # fmt: skip
    log.close()
    monitor = MonitorConfig(
        name="latency", system=SYSTEM, detector="threshold", metric="latency_ms",
        thresholds={"max": 2000}, window="1h", every="15m",
    )  # fmt: skip
    start, end = clock.now() - timedelta(minutes=1), clock.now() + timedelta(minutes=1)
    window = EventLogTelemetry(store=sqlite_store).window(monitor, start, end)
    (verdict,) = threshold_evaluator(
        monitor, WindowData(start=start, end=end, current=window, reference=None)
    )
    assert verdict.n_current == 3
    assert verdict.statistic == pytest.approx(2500.0)
    assert verdict.decision == "drift"
