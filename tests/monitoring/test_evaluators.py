"""The monitor detectors over the detection engine: what each one alarms on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from airsoc.detection import profile
from airsoc.errors import DetectionError
from airsoc.monitoring import evaluators as detectors
from airsoc.monitoring.builtin import BUILTIN_EVALUATORS
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.monitors import WindowData
from tests.detection.text_generators import reviews

T = datetime(2026, 1, 1, tzinfo=UTC)


def monitor(detector: str, **options: Any) -> MonitorConfig:
    return MonitorConfig(
        name="m", system="fraud", detector=detector, window="1h", every="1h", **options
    )


def window(current: Any, reference: Any) -> WindowData:
    return WindowData(start=T, end=T, current=current, reference=reference)


def features(seed: int, n: int, *, mean: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.normal(mean, 1, n), "hour": rng.uniform(0, 24, n)})


def alarms(verdicts: list[Any]) -> set[tuple[str, str | None]]:
    return {(v.subject, v.failure_mode) for v in verdicts if v.is_alarm}


def test_every_failure_mode_detector_is_registered() -> None:
    import airsoc.runtime.loop  # noqa: F401  (what the CLI and the loop load)

    for name in (
        "data_drift",
        "prediction_drift",
        "concept_drift",
        "pipeline_fault",
        "fairness_regression",
    ):
        assert BUILTIN_EVALUATORS[name] is getattr(detectors, name)


def test_data_drift_flags_the_shifted_feature_only() -> None:
    current = features(2, 2000, mean=0.5).assign(score=0.3, prediction=1, label=None, version="v7")
    verdicts = detectors.data_drift(monitor("data_drift"), window(current, features(1, 2000)))
    assert ("amount", "data_drift") in alarms(verdicts)
    assert {v.evidence["model_version"] for v in verdicts if v.is_alarm} == {"v7"}
    assert "hour" not in {s for s, _ in alarms(verdicts)}
    # Telemetry fields (score, prediction, label) are not judged as features.
    assert not {"score", "prediction", "label"} & {v.subject for v in verdicts}


def test_data_drift_against_a_stored_profile_and_on_a_quiet_window() -> None:
    m = monitor("data_drift")
    same = detectors.data_drift(m, window(features(2, 2000), profile(features(1, 2000))))
    assert alarms(same) == set()
    (empty,) = detectors.data_drift(m, window([], features(1, 10)))
    assert (empty.decision, "no telemetry" in empty.reason) == ("warn", True)


def test_data_drift_names_a_feature_the_reference_lacks() -> None:
    current = features(2, 100).assign(zip="x")
    with pytest.raises(DetectionError, match=r"\['zip'\] are not in the reference"):
        detectors.data_drift(monitor("data_drift"), window(current, features(1, 100)))


def test_prediction_drift_on_scores() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"score": rng.beta(2, 5, 2000)})
    cur = pd.DataFrame({"score": rng.beta(5, 2, 2000)})
    verdicts = detectors.prediction_drift(monitor("prediction_drift"), window(cur, ref))
    assert any(mode == "prediction_drift" for _, mode in alarms(verdicts))
    quiet = detectors.prediction_drift(monitor("prediction_drift"), window(ref, ref))
    assert alarms(quiet) == set()


def test_concept_drift_on_delayed_labels() -> None:
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, 3000)
    ref = pd.DataFrame({"label": label, "prediction": label})
    flipped = np.where(rng.random(3000) < 0.3, 1 - label, label)
    cur = pd.DataFrame({"label": label, "prediction": flipped})
    cur.loc[:99, "label"] = None  # labels still to come are left out
    verdicts = detectors.concept_drift(monitor("concept_drift"), window(cur, ref))
    assert ("accuracy", "concept_drift") in alarms(verdicts)
    with pytest.raises(DetectionError, match="time-range reference"):
        detectors.concept_drift(monitor("concept_drift"), window(cur, features(1, 10)))


def test_pipeline_fault_on_a_unit_change() -> None:
    ref = features(1, 2000, mean=100)
    cur = features(2, 2000, mean=100)
    cur["amount"] = cur["amount"] * 100  # dollars became cents
    verdicts = detectors.pipeline_fault(monitor("pipeline_fault"), window(cur, ref))
    diagnosis = verdicts[-1]
    assert (diagnosis.decision, diagnosis.failure_mode) == ("drift", "pipeline_fault")


def test_fairness_regression_needs_the_group_column() -> None:
    rng = np.random.default_rng(0)
    group = np.array(["a"] * 1000 + ["b"] * 1000)
    prediction = np.concatenate([rng.random(1000) < 0.6, rng.random(1000) < 0.3]).astype(int)
    data = pd.DataFrame({"gender": group, "prediction": prediction})
    m = monitor("fairness_regression", params={"group": "gender"})
    verdicts = detectors.fairness_regression(m, window(data, None))
    assert ("gender=b", "fairness_regression") in alarms(verdicts)
    with pytest.raises(DetectionError, match=r"needs params\.group"):
        detectors.fairness_regression(monitor("fairness_regression"), window(data, None))


def test_text_drift_names_the_new_slang_and_stays_quiet_without_it() -> None:
    m = MonitorConfig(
        name="reviews",
        system="sentiment",
        detector="text_drift",
        window="1d",
        every="1d",
        params={"column": "review", "embedder": "tfidf"},
    )
    reference = [{"review": r} for r in reviews(2000, seed=1)]
    slang = [{"review": r} for r in reviews(2000, seed=2, slang_share=0.3)]
    calm = [{"review": r} for r in reviews(2000, seed=3)]
    drifted = detectors.text_drift(
        m, WindowData(start=T, end=T, current=slang, reference=reference)
    )
    overall = drifted[-1]
    assert overall.is_alarm
    vocabulary = next(v for v in drifted if v.method.startswith("vocab"))
    assert vocabulary.is_alarm
    quiet = detectors.text_drift(m, WindowData(start=T, end=T, current=calm, reference=reference))
    assert not any(v.is_alarm for v in quiet)


def test_a_check_that_cannot_judge_says_skipped_never_ran() -> None:
    """Too few impressions, no values of the metric, a canary without delayed labels: each
    verdict's status is ``skipped`` with the reason why (they used to read ``ran``)."""
    from airsoc.fleet.recommender import impressions
    from airsoc.monitoring.engagement import click_through
    from airsoc.monitoring.monitors import threshold_evaluator

    t = datetime(2026, 3, 1, tzinfo=UTC)
    ctr = MonitorConfig(name="ctr", system="rec", detector="click_through", window="1h", every="1h")
    few = impressions(50, seed=1)
    (clicks,) = click_through(ctr, WindowData(t, t, few, impressions(1_000, seed=0)))
    latency = MonitorConfig(
        name="lat", system="s", detector="threshold", metric="latency_ms",
        thresholds={"max": 100}, window="1h", every="1h",
    )  # fmt: skip
    (empty,) = threshold_evaluator(latency, WindowData(t, t, [{"amount": 1.0}], None))
    release = MonitorConfig(
        name="rel", system="s", detector="release_regression", window="1h", every="1h"
    )
    traffic = pd.DataFrame(
        {"role": ["primary", "canary"] * 50, "version": ["v1", "v2"] * 50,
         "prediction": [1] * 100, "score": [0.9] * 100, "label": [None] * 100}
    )  # fmt: skip
    (canary,) = detectors._canary(release, traffic)
    for verdict, why in (
        (clicks, "50 impressions (at least 500 needed)"),
        (empty, "no latency_ms values in the window"),
        (canary, "no delayed labels yet to compare canary v2 with the primary"),
    ):
        assert (verdict.status, verdict.reason) == ("skipped", why)
        assert not verdict.is_alarm
