from __future__ import annotations

import numpy as np
import pytest

from airsoc.detection.release import check_release
from airsoc.errors import InputError


def test_a_retrain_that_behaves_as_validated_is_ok_however_different_from_its_predecessor() -> None:
    rng = np.random.default_rng(0)
    predecessor_live = rng.beta(5, 2, 3000)  # very different scores
    validation = rng.beta(2, 5, 3000)
    live = rng.beta(2, 5, 2000)
    assert check_release(live, predecessor_live, version="v2").decision == "drift"
    verdict = check_release(
        live,
        validation,
        version="v2",
        live_metrics={"recall": (92, 100)},
        validation_metrics={"recall": 0.94},
    )
    assert verdict.decision == "ok"
    assert verdict.failure_mode is None
    assert "behaves as validated" in verdict.reason


def test_a_version_whose_recall_collapses_after_promotion_alarms() -> None:
    rng = np.random.default_rng(1)
    validation = rng.beta(2, 5, 3000)
    verdict = check_release(
        rng.beta(2, 5, 800),
        validation,
        version="v3",
        live_metrics={"recall": (5, 30)},
        validation_metrics={"recall": 1.0},
    )
    assert verdict.decision == "drift"
    assert verdict.failure_mode == "release_regression"
    assert verdict.evidence["checks"]["recall"]["decision"] == "drift"


def test_a_score_shift_needs_an_effect_as_well_as_significance() -> None:
    rng = np.random.default_rng(2)
    validation = rng.normal(0.3, 0.1, 50_000)
    tiny = check_release(rng.normal(0.305, 0.1, 50_000), validation)
    assert tiny.decision in ("ok", "warn")
    big = check_release(rng.normal(0.45, 0.1, 2_000), validation)
    assert big.decision == "drift"


def test_without_validation_evidence_the_check_is_skipped_not_ok() -> None:
    verdict = check_release(np.ones(500), None, version="v9")
    assert verdict.evidence["status"] == "skipped"
    assert verdict.status == "skipped"
    assert verdict.reason == "no validation evidence for version v9"
    few = check_release(np.ones(10), np.ones(100))
    assert few.evidence["status"] == "skipped"
    assert few.status == "skipped"
    assert not few.is_alarm
    with pytest.raises(InputError, match="metric recall"):
        check_release(
            np.ones(500),
            np.ones(500),
            live_metrics={"recall": (5, 3)},
            validation_metrics={"recall": 0.9},
        )
