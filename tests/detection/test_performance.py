from __future__ import annotations

import numpy as np
import pytest

from airsoc.detection.performance import (
    check_performance,
    reference_metrics,
    window_metrics,
    windows,
)
from airsoc.errors import InputError


def _predictions(n: int, accuracy: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    pred = np.where(rng.random(n) < accuracy, y, ~y)
    score = np.where(y, rng.normal(1, 1, n), rng.normal(0, 1, n)) * accuracy
    return y, pred, score


def test_intervals_cover_the_truth_and_shrink_with_n() -> None:
    small = window_metrics(*_predictions(200, 0.85, 1))
    large = window_metrics(*_predictions(20_000, 0.85, 2))
    for m in (small, large):
        assert m.accuracy.low <= 0.85 <= m.accuracy.high
        assert m.f1 is not None
        assert m.f1.low <= m.f1.value <= m.f1.high
        assert m.auc is not None
        assert 0.5 < m.auc.value < 1
    assert large.accuracy.high - large.accuracy.low < small.accuracy.high - small.accuracy.low
    assert small.false_negative_rate is not None
    assert small.recall is not None
    assert small.false_negative_rate.value == pytest.approx(1 - small.recall.value)


def test_a_real_decay_is_concept_drift_and_a_tiny_window_only_warns() -> None:
    y, p, s = _predictions(5_000, 0.9, 3)
    y2, p2, s2 = _predictions(5_000, 0.8, 4)
    verdicts = check_performance(y, p, y2, p2, ref_score=s, cur_score=s2)
    acc = verdicts[0]
    assert acc.subject == "accuracy"
    assert acc.decision == "drift"
    assert acc.failure_mode == "concept_drift"
    y3, p3, _ = _predictions(40, 0.8, 5)
    small = check_performance(y, p, y3, p3)[0]
    assert small.decision != "drift"


def test_windows_split_by_id_and_bad_input_is_named() -> None:
    y, p, _ = _predictions(300, 0.9, 6)
    days = np.repeat(["d1", "d2", "d3"], 100)
    got = windows(y, p, days)
    assert list(got) == ["d1", "d2", "d3"]
    assert all(m.n == 100 for m in got.values())
    with pytest.raises(InputError, match="y_true has 3 values but y_pred has 2"):
        window_metrics([1, 0, 1], [1, 0])
    with pytest.raises(InputError, match="positive="):
        window_metrics(["a", "b"], ["a", "a"])


def test_reference_metrics_are_the_window_metrics_of_the_same_values() -> None:
    y, pred, score = _predictions(3000, 0.85, 7)
    first = reference_metrics(y, pred, score)
    assert first == window_metrics(y, pred, score)
    # The same values (even as another array type) give the kept metrics; other values not.
    assert reference_metrics(y.astype(int), pred.astype(int), score.tolist()) is first
    flipped = pred.copy()
    flipped[0] = ~flipped[0]
    other = reference_metrics(y, flipped, score)
    assert other is not first
    assert other == window_metrics(y, flipped, score)
    assert reference_metrics(y, pred) == window_metrics(y, pred)


def test_f1_interval_is_the_percentile_of_resampled_f1_for_each_window_of_a_size() -> None:
    # Windows of one size share their resamples (the draws depend on the size and the seed);
    # each window's interval is still the one of its own labels and predictions.
    for seed in (11, 12):
        y, pred, _ = _predictions(1500, 0.8, seed)
        idx = np.random.default_rng(0).integers(0, len(y), size=(200, len(y)))
        yb, pb = y[idx], pred[idx]
        tp, fp, fn = (yb & pb).sum(1), (~yb & pb).sum(1), (yb & ~pb).sum(1)
        f1 = 2 * tp / (2 * tp + fp + fn)
        low, high = np.percentile(f1, [2.5, 97.5])
        metrics = window_metrics(y, pred)
        assert metrics.f1 is not None
        assert (metrics.f1.low, metrics.f1.high) == (float(low), float(high))
