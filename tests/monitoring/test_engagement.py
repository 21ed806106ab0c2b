"""Click-through monitoring: a logging bug that halves clicks is not a real drop, and back."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pandas as pd
import pytest

from airsoc.errors import DetectionError
from airsoc.fleet.recommender import impressions
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.engagement import click_through
from airsoc.monitoring.monitors import WindowData

T = datetime(2026, 3, 1, tzinfo=UTC)
MONITOR = MonitorConfig(
    name="ctr", system="recommender", detector="click_through", window="1h", every="1h"
)


def _judge(**fault: float) -> Counter[str]:
    reference = impressions(30_000, seed=0)
    seen: Counter[str] = Counter()
    for seed in range(1, 21):
        window = impressions(4_000, seed=seed, **fault)
        (verdict,) = click_through(MONITOR, WindowData(T, T, window, reference))
        seen[verdict.failure_mode or verdict.decision] += 1
    return seen


def test_a_logging_bug_is_a_pipeline_fault_and_a_real_drop_is_concept_drift() -> None:
    assert _judge() == Counter({"ok": 20})
    assert _judge(click_logging=0.5) == Counter({"pipeline_fault": 20})
    assert _judge(engagement=0.5) == Counter({"concept_drift": 20})


def test_outcomes_arrive_as_delayed_label_dicts() -> None:
    reference = impressions(5_000, seed=0)
    window = impressions(5_000, seed=1, click_logging=0.4)
    labels = [
        {"click": c, "order": o} for c, o in zip(window["click"], window["order"], strict=True)
    ]
    as_telemetry = window.drop(columns=["click", "order"])
    as_telemetry["label"] = pd.Series(labels, dtype=object)
    as_telemetry.loc[:99, "label"] = None  # not arrived yet
    (verdict,) = click_through(MONITOR, WindowData(T, T, as_telemetry, reference))
    assert verdict.failure_mode == "pipeline_fault"
    assert verdict.n_current == 4_900
    assert "click logger is losing events" in (verdict.reason or "")
    with pytest.raises(DetectionError, match="needs a reference"):
        click_through(MONITOR, WindowData(T, T, as_telemetry, None))
    with pytest.raises(DetectionError, match="0 or 1"):
        click_through(MONITOR, WindowData(T, T, reference.assign(click=2), reference))
