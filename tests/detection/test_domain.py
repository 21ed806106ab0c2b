from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airsoc.detection.domain import domain_classifier
from airsoc.errors import SchemaMismatchError


def test_same_windows_are_not_told_apart() -> None:
    rng = np.random.default_rng(0)
    a = pd.DataFrame({"x": rng.normal(size=1500), "c": rng.choice(["a", "b"], 1500)})
    b = pd.DataFrame({"x": rng.normal(size=1500), "c": rng.choice(["a", "b"], 1500)})
    report = domain_classifier(a, b)
    assert report.verdict.decision != "drift"
    assert report.verdict.statistic is not None
    assert report.verdict.statistic < 0.56


def test_a_joint_shift_is_found_and_the_moved_feature_ranks_first() -> None:
    rng = np.random.default_rng(1)
    a = pd.DataFrame({"noise": rng.normal(size=2000), "moved": rng.normal(size=2000)})
    b = pd.DataFrame({"noise": rng.normal(size=2000), "moved": rng.normal(0.8, 1, 2000)})
    report = domain_classifier(a, b)
    assert report.verdict.decision == "drift"
    assert report.verdict.failure_mode == "data_drift"
    assert next(iter(report.feature_importance)) == "moved"
    assert "moved" in report.verdict.reason


def test_windows_without_shared_columns_are_refused() -> None:
    with pytest.raises(SchemaMismatchError):
        domain_classifier({"a": [1.0] * 20}, {"b": [1.0] * 20})
