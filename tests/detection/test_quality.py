from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from airsoc.clock import SimulatedClock
from airsoc.detection import check_drift, check_quality, merge, profile
from airsoc.detection.quality import compare_profiles
from airsoc.detection.synthetic import numeric_window


def test_a_column_turned_to_nulls_is_a_pipeline_fault() -> None:
    ref = numeric_window(20_000, seed=1, columns=4)
    cur = numeric_window(20_000, seed=2, columns=4)
    cur["x1"] = np.nan
    report = check_quality(ref, cur)
    assert report.diagnosis.failure_mode == "pipeline_fault"
    assert "x1" in report.diagnosis.reason
    assert "do not retrain" in report.diagnosis.reason
    drift = check_drift(ref, cur)
    assert drift.diagnosis is not None
    assert drift.diagnosis.failure_mode == "pipeline_fault"


def test_a_unit_change_of_a_hundred_is_a_pipeline_fault_not_drift() -> None:
    ref = numeric_window(200_000, seed=3, columns=4)
    cur = numeric_window(200_000, seed=4, columns=4)
    cur["x1"] = cur["x1"] * 100
    drift = check_drift(ref, cur)
    assert drift.column("x1").decision == "drift"  # the values did move...
    assert drift.diagnosis is not None
    assert drift.diagnosis.failure_mode == "pipeline_fault"  # ...but the cause is upstream
    unit = [v for v in drift.quality if v.method == "unit_change"]
    assert [v.subject for v in unit] == ["x1"]
    assert "rescaled x100" in unit[0].reason
    assert check_quality(ref, cur).diagnosis.failure_mode == "pipeline_fault"


def test_plain_drift_is_not_mistaken_for_a_pipeline_fault() -> None:
    ref = numeric_window(20_000, seed=5, columns=3)
    cur = numeric_window(20_000, seed=6, columns=3, shift_sd=0.3, shifted=1)
    report = check_drift(ref, cur)
    assert report.diagnosis is not None
    assert report.diagnosis.failure_mode == "data_drift"
    assert check_quality(ref, cur).diagnosis.decision == "ok"


def test_null_rate_jump_volume_drop_duplicates_and_range() -> None:
    rng = np.random.default_rng(7)
    ref = pd.DataFrame({"a": rng.normal(size=5_000), "b": rng.normal(size=5_000)})
    cur = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    cur.loc[:59, "a"] = np.nan  # 15% nulls
    cur.loc[200:299] = cur.loc[100:199].to_numpy()  # 25% duplicated rows
    cur.loc[300:339, "b"] = 50.0  # 10% far out of range
    report = check_quality(ref, cur, expected_rows=2_000)
    got = {(v.subject, v.method): v.decision for v in report.verdicts}
    assert got[("a", "null_rate")] == "warn"
    assert got[("dataset", "volume")] == "warn"
    assert got[("dataset", "duplicates")] == "drift"
    assert got[("b", "out_of_range")] == "drift"


def test_stale_timestamps_use_the_given_clock(clock: SimulatedClock) -> None:
    now = pd.Timestamp(clock.now())
    ref = {"ts": pd.date_range(now - pd.Timedelta(days=30), periods=100, freq="h")}
    cur = {"ts": pd.date_range(now - pd.Timedelta(days=3), periods=10, freq="h")}
    report = check_quality(ref, cur, clock=clock, max_age=timedelta(days=1))
    stale = [v for v in report.verdicts if v.method == "staleness"]
    assert stale
    assert stale[0].decision == "drift"
    assert "old" in stale[0].reason
    fresh = check_quality(ref, cur, clock=clock, max_age=timedelta(days=5))
    assert not [v for v in fresh.verdicts if v.method == "staleness"]


def test_schema_changes_are_pipeline_faults() -> None:
    ref = {"a": np.arange(50.0), "b": np.arange(50.0)}
    cur = {"a": np.arange(50.0)}
    report = check_quality(ref, cur)
    assert [(v.subject, v.decision) for v in report.faults] == [("b", "drift")]
    assert report.diagnosis.failure_mode == "pipeline_fault"


def test_out_of_range_share_from_merged_profiles_counts_only_values_beyond() -> None:
    ref = profile({"x": np.arange(100.0)})
    assert check_quality(ref, {"x": np.arange(100.0)}).verdicts == []
    # Two current partitions profiled without the reference: no exact out-of-range count.
    cur = merge(profile({"x": np.arange(100.0)}), profile({"x": np.full(100, 99.0)}))
    assert [v.method for v in compare_profiles(ref, cur)] == []
    beyond = merge(profile({"x": np.arange(100.0)}), profile({"x": np.full(100, 500.0)}))
    verdicts = compare_profiles(ref, beyond)
    assert [(v.method, v.statistic) for v in verdicts] == [("out_of_range", 0.5)]
