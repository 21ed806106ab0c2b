"""Monitors over the gateway's event log: windows, references, and the score-drift verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from airsoc.fleet.monitoring import MIN_ROWS, DemoTelemetry, score_drift
from airsoc.monitoring import WindowData
from airsoc.monitoring.config import MonitorConfig
from airsoc.store import Store
from airsoc.telemetry import EventLog, PredictionEvent

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _monitor(**extra: object) -> MonitorConfig:
    return MonitorConfig.model_validate(
        {"name": "shift", "system": "fraud", "detector": "score_drift", "window": "1m",
         "every": "30s", "failure_mode": "data_poisoning", **extra}
    )  # fmt: skip


def test_window_reads_answered_predictions_and_references_fall_back(sqlite_store: Store) -> None:
    log = EventLog(sqlite_store.settings.telemetry_dir)
    for i in range(6):
        log.append(
            PredictionEvent(
                request_id=f"r{i}",
                ts=T0 + timedelta(seconds=10 * i),
                system="fraud" if i != 3 else "credit",
                score=0.1 * i,
                status="refused" if i == 4 else "ok",
            )
        )
    log.close()
    source = DemoTelemetry(store=sqlite_store, references={"fraud": [{"score": 0.5}]})
    window = source.window(_monitor(), T0 + timedelta(seconds=10), T0 + timedelta(seconds=60))
    assert list(window["request_id"]) == ["r1", "r2", "r5"]
    ranged = _monitor(reference={"start": T0.isoformat(), "end": "2026-11-20T12:00:15+00:00"})
    assert list(source.reference(ranged)["request_id"]) == ["r0", "r1"]
    assert list(source.reference(_monitor())["score"]) == [0.5]


def test_score_drift_fires_on_a_swapped_model_not_on_noise() -> None:
    rng = np.random.default_rng(3)
    reference = [{"score": float(x)} for x in rng.beta(1, 40, 1500)]
    same = [{"score": float(x)} for x in rng.beta(1, 40, 300)]
    swapped = [{"score": float(x)} for x in rng.beta(1, 4, 300)]
    judge = [
        score_drift(_monitor(), WindowData(T0, T0, current, reference))[0]
        for current in (same, swapped, same[: MIN_ROWS - 1])
    ]
    assert [v.decision for v in judge] == ["ok", "drift", "ok"]
    assert judge[1].failure_mode == "data_poisoning"
    assert "waiting" in (judge[2].reason or "")
