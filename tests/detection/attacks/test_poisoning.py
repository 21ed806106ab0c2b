from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.metrics import roc_auc_score

from airsoc.detection.attacks.poisoning import (
    PoisoningScreen,
    ScreeningResult,
    read_frame,
    screen_batch,
)
from airsoc.errors import DetectionError, InputError
from tests.detection.attacks.generators import (
    FEATURES,
    add_backdoor,
    flip_pattern,
    fraud_batch,
    vendor_batches,
)


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
    # Reported as drift of the label prior; with consistent labels it is not poisoning.
    assert result.verdict.decision != "drift"


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


# --------------------------------------------------------------- vendor batches (fraud patterns)

VENDORS = ("acme", "bolt", "cobalt")


@pytest.fixture(scope="module")
def weekly() -> dict[tuple[str, int], pd.DataFrame]:
    return vendor_batches(16, vendors=VENDORS, n=2000, seed=0)


@pytest.fixture(scope="module")
def trusted(weekly: dict[tuple[str, int], pd.DataFrame]) -> list[pd.DataFrame]:
    return [weekly[(v, w)].drop(columns="pattern") for v in VENDORS for w in range(4)]


def _screen(batch: pd.DataFrame, trusted: list[pd.DataFrame], name: str) -> ScreeningResult:
    return screen_batch(batch.drop(columns="pattern"), trusted, "label", batch_id=name)


def test_a_three_percent_backdoor_alarms_and_the_same_batch_without_it_is_ok(
    weekly: dict[tuple[str, int], pd.DataFrame], trusted: list[pd.DataFrame]
) -> None:
    poisoned, rows = add_backdoor(weekly[("acme", 5)], share=0.03, seed=1)
    result = _screen(poisoned, trusted, "acme-5")
    assert result.verdict.decision == "drift"
    assert "AML.T0018" in result.verdict.evidence["atlas"]
    truth = np.isin(np.arange(len(poisoned)), rows)
    assert roc_auc_score(truth, result.scores) > 0.99
    report = result.to_dict()
    assert [r["row"] for r in report["rows"]] == list(range(len(poisoned)))
    assert all(0.0 <= r["score"] <= 1.0 for r in report["rows"])
    cleaned = poisoned.drop(index=rows.tolist()).reset_index(drop=True)
    assert _screen(cleaned, trusted, "acme-5-clean").verdict.decision == "ok"


def test_a_targeted_flip_of_one_fraud_pattern_alarms_on_every_poisoned_batch(
    weekly: dict[tuple[str, int], pd.DataFrame], trusted: list[pd.DataFrame]
) -> None:
    for week in range(4, 10):
        flipped, rows = flip_pattern(weekly[("bolt", week)], "account_takeover")
        result = _screen(flipped, trusted, f"bolt-{week}")
        assert result.verdict.decision == "drift", result.verdict.reason
        assert result.signals["label_disagreement"].decision == "drift"
        top = np.argsort(-result.scores)[: len(rows)]
        assert np.isin(top, rows).mean() > 0.8


def test_no_clean_batch_of_thirty_alarms(
    weekly: dict[tuple[str, int], pd.DataFrame], trusted: list[pd.DataFrame]
) -> None:
    decisions = [
        _screen(weekly[(v, w)], trusted, f"{v}-{w}").verdict.decision
        for v in VENDORS
        for w in range(6, 16)
    ]
    assert len(decisions) == 30
    assert decisions.count("drift") == 0


def test_twice_the_fraud_rate_with_consistent_labels_is_label_prior_drift_not_poisoning(
    trusted: list[pd.DataFrame],
) -> None:
    batch = fraud_batch(2000, seed=777, fraud_rate=0.10)
    result = _screen(batch, trusted, "busy-week")
    assert result.signals["label_prior"].decision == "drift"
    assert result.verdict.decision != "drift"
    assert "label prior" in result.verdict.reason
    named = {s["name"]: s for s in result.to_dict()["signals"]}
    assert named["label_prior"]["counts_toward_decision"] is False


def test_repeats_of_another_vendors_rows_with_other_labels_alarm(
    weekly: dict[tuple[str, int], pd.DataFrame], trusted: list[pd.DataFrame]
) -> None:
    source = weekly[("cobalt", 7)]
    batch = weekly[("acme", 7)].copy()
    copied = source[source["label"] == 1].head(40)
    batch.iloc[:40] = copied.assign(label=0).to_numpy()
    batch["label"] = batch["label"].astype(int)
    result = screen_batch(
        batch.drop(columns="pattern").astype(dict.fromkeys(FEATURES, float)),
        trusted,
        "label",
        others={"cobalt-7": source.drop(columns="pattern")},
        batch_id="acme-7",
    )
    assert result.signals["near_duplicates"].decision == "drift"
    assert result.signals["near_duplicates"].evidence["conflicting_labels"] >= 40
    assert result.scores[:40].min() == 1.0


def test_screen_batch_names_what_is_wrong(trusted: list[pd.DataFrame], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no label column 'fraud'"):
        screen_batch(trusted[0], trusted[1:], "fraud")
    with pytest.raises(InputError, match="at least one trusted batch"):
        screen_batch(trusted[0], [], "label")
    bad = tmp_path / "vendor.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match=r"vendor\.csv"):
        read_frame(bad)
    with pytest.raises(InputError, match=r"not a \.csv or \.parquet"):
        read_frame(tmp_path / "batch.xlsx")
    with pytest.raises(InputError, match="no such file"):
        read_frame(tmp_path / "missing.parquet")
    trusted[0].to_parquet(tmp_path / "t.parquet")
    assert read_frame(tmp_path / "t.parquet").shape == trusted[0].shape


def test_a_repeated_screen_reuses_the_trusted_fit(trusted: list[pd.DataFrame]) -> None:
    batch = trusted[0].head(500)
    first = screen_batch(batch, trusted[1:], "label")
    started = time.perf_counter()
    again = screen_batch(batch, trusted[1:], "label")
    assert time.perf_counter() - started < 1.0
    assert np.array_equal(first.scores, again.scores)
    assert first.verdict.evidence["reference"] == again.verdict.evidence["reference"]
