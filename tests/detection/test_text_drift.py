from __future__ import annotations

import numpy as np
import pytest

from airsoc.detection.text_drift import check_text_drift, embedding_drift, vocabulary_drift
from airsoc.errors import InputError
from tests.detection.text_generators import SLANG, reviews

REFERENCE = reviews(10_000, seed=0)


def test_new_slang_in_thirty_percent_of_a_daily_window_is_named() -> None:
    window = reviews(2_000, seed=1, slang_share=0.3)
    report = check_text_drift(REFERENCE, window, subject="review")
    assert report.overall.decision == "drift"
    assert report.vocabulary.decision == "drift"
    named = list(report.vocabulary.evidence["emerging_terms"])
    assert set(named[:5]) <= set(SLANG)
    assert len(named) >= 8
    assert report.vocabulary.evidence["oov_document_rate"] > 0.25
    assert report.embedding.decision == "drift"
    assert "bussin" in report.overall.reason or set(named[:5]) & set(report.overall.reason.split())


def test_windows_without_a_shift_stay_quiet() -> None:
    alarms = [
        check_text_drift(REFERENCE, reviews(2_000, seed=100 + i)).overall.decision == "drift"
        for i in range(5)
    ]
    assert sum(alarms) == 0


def test_confidence_decay_of_the_model_is_reported() -> None:
    rng = np.random.default_rng(0)
    confident = rng.dirichlet([8, 1], 2_000)
    unsure = rng.dirichlet([1.5, 1], 2_000)
    report = check_text_drift(
        REFERENCE[:2000],
        reviews(2_000, seed=5),
        reference_outputs=confident,
        current_outputs=unsure,
    )
    assert {v.method for v in report.confidence} == {"mean_confidence", "low_margin_share"}
    assert report.overall.decision == "drift"
    assert "mean_confidence" in report.overall.reason


def test_a_custom_embedder_and_empty_windows() -> None:
    class Letters:
        name = "letters"

        def embed(self, texts: list[str]) -> np.ndarray:
            return np.array([[t.count(c) for c in "aeiou"] for t in texts], dtype=float)

    verdict = embedding_drift(REFERENCE[:500], REFERENCE[500:1000], embedder=Letters())
    assert verdict.method == "mmd[letters]"
    assert verdict.decision == "ok"
    with pytest.raises(InputError, match="no texts in the current window"):
        vocabulary_drift(REFERENCE, [])
