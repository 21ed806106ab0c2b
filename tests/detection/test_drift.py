from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airsoc.detection import calibrate, check_drift, profile
from airsoc.detection.synthetic import numeric_window
from airsoc.errors import InputError, SchemaMismatchError


def test_no_drift_controls_stay_quiet_at_one_million_rows() -> None:
    ref = numeric_window(1_000_000, seed=1, columns=12)
    cur = numeric_window(1_000_000, seed=2, columns=12)
    report = check_drift(ref, cur)
    assert report.drifted == []
    assert report.dataset.decision == "ok"
    assert all(v.method == "ks_binned" for v in report.columns)


def test_trivial_but_real_shift_at_one_million_rows_is_not_called_drift() -> None:
    ref = numeric_window(1_000_000, seed=3, columns=3)
    cur = numeric_window(1_000_000, seed=4, columns=3, shift_sd=0.01, shifted=3)
    report = check_drift(ref, cur)
    assert report.drifted == []
    # Significant, yet far below the effect floor: the p-value alone would have alarmed.
    assert min(v.q_value or 1.0 for v in report.columns) < 0.05


def test_false_discovery_rate_is_held_over_many_null_columns() -> None:
    rng = np.random.default_rng(7)
    ref = pd.DataFrame(rng.normal(size=(20_000, 120)), columns=[f"c{i}" for i in range(120)])
    cur = pd.DataFrame(rng.normal(size=(20_000, 120)), columns=[f"c{i}" for i in range(120)])
    report = check_drift(ref, cur, min_effect=0.0)
    raw = np.array([v.p_value for v in report.columns])
    assert (raw < 0.05).mean() < 0.1  # raw p-values are roughly uniform under the null
    assert report.drifted == []


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_shifts_of_a_fifth_of_a_standard_deviation_are_caught(n: int) -> None:
    ref = numeric_window(n, seed=5)
    cur = numeric_window(n, seed=6, shift_sd=0.2, shifted=6)
    report = check_drift(ref, cur)
    assert report.drifted == [f"x{i}" for i in range(6)]
    drifted = report.column("x0")
    assert drifted.q_value is not None
    assert drifted.q_value < 0.05
    assert drifted.effect_size is not None
    assert drifted.effect_size >= 0.05
    assert drifted.failure_mode == "data_drift"
    assert report.dataset.decision == "drift"
    assert report.dataset.evidence["drifted"] == report.drifted


def test_a_stored_profile_gives_the_same_verdicts_as_the_data(tmp_path: object) -> None:
    ref = numeric_window(200_000, seed=8, columns=6)
    cur = numeric_window(200_000, seed=9, columns=6, shift_sd=0.2, shifted=2)
    saved = profile(ref).save(f"{tmp_path}/ref.profile")
    from airsoc.detection import load_profile

    fresh = check_drift(ref, cur)
    stored = check_drift(load_profile(saved), cur)
    assert [v.decision for v in fresh.columns] == [v.decision for v in stored.columns]
    assert fresh.column("x0").statistic == pytest.approx(stored.column("x0").statistic)


def test_bonferroni_is_stricter_than_bh() -> None:
    rng = np.random.default_rng(11)
    ref = {f"c{i}": rng.normal(size=400) for i in range(10)}
    cur = {f"c{i}": rng.normal(0.25 if i < 5 else 0, 1, size=400) for i in range(10)}
    bh = check_drift(ref, cur, min_effect=0.0)
    bonf = check_drift(ref, cur, min_effect=0.0, correction="bonferroni")
    assert all(
        (b.q_value or 0) >= (a.q_value or 0) for a, b in zip(bh.columns, bonf.columns, strict=True)
    )
    assert len(bonf.drifted) <= len(bh.drifted)
    assert bonf.columns[0].reason.count("Bonferroni") == 1


def test_categorical_shift_new_categories_and_psi_bands() -> None:
    rng = np.random.default_rng(12)
    levels = [f"L{i}" for i in range(10)]
    ref = {"c": rng.choice(levels, 20_000), "same": rng.choice(levels, 20_000)}
    p = np.array([0.2, 0.05] + [0.75 / 8] * 8)
    cur_levels = rng.choice(levels, 20_000, p=p).astype(object)
    cur_levels[:500] = "NEW"
    cur = {"c": cur_levels, "same": rng.choice(levels, 20_000)}
    report = check_drift(ref, cur)
    v = report.column("c")
    assert v.decision == "drift"
    assert v.method == "chi2"
    assert v.evidence["new_categories"] == ["NEW"]
    assert "new categories 'NEW'" in v.reason
    assert v.evidence["psi_band"] in ("moderate", "major")
    assert report.column("same").decision == "ok"


def test_edge_cases_get_explicit_verdicts_never_nan() -> None:
    ref = pd.DataFrame(
        {
            "const": [3.0] * 100,
            "const_moved": [1.0] * 100,
            "all_null_now": np.arange(100.0),
            "never_seen": [np.nan] * 100,
        }
    )
    cur = pd.DataFrame(
        {
            "const": [3.0] * 100,
            "const_moved": [2.0] * 100,
            "all_null_now": [np.nan] * 100,
            "never_seen": np.arange(100.0),
        }
    )
    report = check_drift(ref, cur)
    got = {v.subject: (v.decision, v.reason) for v in report.columns}
    assert got["const"] == ("ok", "constant in both windows (value 3.0)")
    assert got["const_moved"][0] == "drift"
    assert "changed from 1.0 to 2.0" in got["const_moved"][1]
    assert got["all_null_now"][0] == "drift"
    assert "all 100 current values are null" in got["all_null_now"][1]
    assert got["never_seen"][0] == "warn"
    for v in report.columns:
        assert v.p_value is None or not np.isnan(v.p_value)
    assert report.diagnosis is not None
    assert report.diagnosis.failure_mode == "pipeline_fault"


def test_empty_current_window_is_a_verdict_with_a_reason() -> None:
    ref = {"x": np.arange(100.0), "c": ["a", "b"] * 50}
    cur = pd.DataFrame({"x": pd.Series([], dtype=float), "c": pd.Series([], dtype=str)})
    report = check_drift(ref, cur)
    assert report.dataset.decision == "warn"
    assert "current window is empty" in report.dataset.reason
    assert {v.decision for v in report.columns} == {"warn"}
    assert report.diagnosis is not None
    assert report.diagnosis.failure_mode == "pipeline_fault"


def test_schema_changes_are_verdicts_and_no_shared_column_is_an_error() -> None:
    ref = {"a": np.arange(100.0), "b": np.arange(100.0)}
    cur = {"a": np.arange(100.0), "b": ["x"] * 100, "extra": np.arange(100.0)}
    report = check_drift(ref, cur)
    got = {v.subject: (v.decision, v.reason) for v in report.columns}
    assert got["b"][0] == "drift"
    assert got["b"][1].startswith("retyped: numerical")
    assert got["extra"] == ("warn", "new column: not in the reference")
    assert report.column("b").failure_mode == "pipeline_fault"
    with pytest.raises(SchemaMismatchError, match="share no columns"):
        check_drift({"a": [1.0]}, {"z": [1.0]})


def test_bad_parameters_are_named() -> None:
    with pytest.raises(InputError, match="alpha must be between 0 and 1"):
        check_drift({"a": [1.0]}, {"a": [1.0]}, alpha=2)
    with pytest.raises(InputError, match="no column 'zz'"):
        check_drift({"a": [1.0]}, {"a": [1.0]}, columns=["zz"])


def test_calibrated_thresholds_absorb_natural_variation_between_periods() -> None:
    rng = np.random.default_rng(13)
    # Each "day" has its own level: the reference varies between periods by design.
    days = np.repeat(rng.normal(0, 0.3, 20), 2_000)
    ref = {"x": days + rng.normal(size=40_000)}
    cur = {"x": rng.normal(0.3, 1, 2_000)}  # one more day like the others
    assert check_drift(ref, cur).column("x").decision == "drift"
    cal = calibrate(ref, n_current=2_000, method="chunks")
    v = check_drift(ref, cur, calibration=cal).column("x")
    assert v.threshold_source == "calibrated"
    assert v.threshold == pytest.approx(cal.thresholds["x"])
    assert v.decision != "drift"
    boot = calibrate(ref, n_current=2_000, method="bootstrap", rounds=20)
    assert boot.source == "bootstrap"
    assert boot.thresholds["x"] < cal.thresholds["x"]
    with pytest.raises(InputError, match="use bootstrap"):
        calibrate(ref, n_current=30_000, method="chunks")


def test_report_json_lists_one_entry_per_column() -> None:
    rng = np.random.default_rng(15)
    doc = check_drift({"x": rng.normal(size=500)}, {"x": rng.normal(size=500)}).to_json_dict()
    entry = doc["columns"][0]
    for key in ("name", "method", "statistic", "p_value", "effect_size", "threshold", "decision"):
        assert key in entry
    assert entry["name"] == "x"
    assert doc["dataset"]["decision"] == "ok"
