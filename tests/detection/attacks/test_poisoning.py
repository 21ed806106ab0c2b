from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.metrics import roc_auc_score

from airsoc.detection.attacks.poisoning import PoisoningScreen
from airsoc.errors import DetectionError, InputError


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(
        n_samples=800, n_features=6, n_informative=4, class_sep=2.0, random_state=3
    )
    return np.asarray(X), np.asarray(y)


@pytest.fixture(scope="module")
def screen(blobs: tuple[np.ndarray, np.ndarray]) -> PoisoningScreen:
    X, y = blobs
    return PoisoningScreen(random_state=0).fit(X[:400], y[:400])


def test_clean_batch_passes(screen: PoisoningScreen, blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = blobs
    result = screen.screen(X[400:600], y[400:600], batch_id="clean")
    assert result.verdict.decision == "ok", result.verdict.evidence["signals"]
    assert result.verdict.failure_mode == "data_poisoning"
    assert result.scores.shape == (200,)


def test_flipped_labels_are_found_per_sample_and_per_batch(
    screen: PoisoningScreen, blobs: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = blobs
    y_bad = y[600:].copy()
    y_bad[:30] = 1 - y_bad[:30]
    result = screen.screen(X[600:], y_bad, batch_id="vendor-x")
    truth = np.arange(200) < 30
    assert result.verdict.decision == "drift"
    assert result.signals["label_disagreement"].decision == "drift"
    assert roc_auc_score(truth, result.scores) > 0.95
    assert result.flagged[truth].mean() > 0.7
    assert result.flagged[~truth].mean() < 0.05
    assert result.verdict.evidence["atlas"][:2] == ["AML.T0020", "AML.T0010.002"]


def test_label_prior_shift_alone_alarms(
    screen: PoisoningScreen, blobs: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = blobs
    rows = np.flatnonzero(y[400:] == 1)[:150] + 400
    result = screen.screen(X[rows], y[rows], batch_id="only-ones")
    assert result.signals["label_prior"].decision == "drift"


def test_backdoor_cluster_is_found_on_digits() -> None:
    digits = load_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(digits.target))
    X, y = digits.data[order] / 16.0, digits.target[order].copy()
    poison = np.flatnonzero(y[600:1200] != 0)[:25] + 600
    X[poison, -2:] = 1.0  # two bright pixels in the corner
    X[poison, -9] = 1.0
    y[poison] = 0
    result = PoisoningScreen(random_state=0).fit(X[:600], y[:600]).screen(X[600:1200], y[600:1200])
    truth = np.isin(np.arange(600, 1200), poison)
    assert result.verdict.decision == "drift"
    assert roc_auc_score(truth, result.scores) > 0.97
    assert "AML.T0018" in result.verdict.evidence["atlas"]


def test_bad_input_is_named(screen: PoisoningScreen, blobs: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = blobs
    with pytest.raises(InputError, match="batch-7: batch has 5 features"):
        screen.screen(X[:10, :5], y[:10], batch_id="batch-7")
    with pytest.raises(InputError, match=r"labels not in the reference: \[7\]"):
        screen.screen(X[:10], np.full(10, 7))
    broken = X[:10].copy()
    broken[4, 2] = np.nan
    with pytest.raises(InputError, match="row 4 has a missing"):
        screen.screen(broken, y[:10])
    with pytest.raises(DetectionError, match="before fit"):
        PoisoningScreen().screen(X, y)
    assert screen.screen(X[:1], y[:1]).verdict.reason == "batch too small to screen"
