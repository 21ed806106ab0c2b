from __future__ import annotations

import numpy as np
import pytest

from airsoc.detection.outputs import check_outputs
from airsoc.errors import InputError


def test_stable_outputs_raise_nothing() -> None:
    rng = np.random.default_rng(0)
    report = check_outputs(rng.dirichlet([4, 2, 1], 5000), rng.dirichlet([4, 2, 1], 5000))
    assert report.alarms == []


def test_confidence_decay_is_prediction_drift() -> None:
    rng = np.random.default_rng(1)
    report = check_outputs(rng.dirichlet([6, 1, 1], 4000), rng.dirichlet([2, 1.5, 1], 4000))
    methods = {v.method for v in report.alarms}
    assert {"mean_confidence", "low_margin_share"} <= methods
    assert all(v.failure_mode == "prediction_drift" for v in report.alarms)
    assert (
        report.summary["current"]["mean_confidence"]
        < report.summary["reference"]["mean_confidence"]
    )


def test_a_model_answering_the_same_thing_is_homogeneous() -> None:
    ref = np.tile(np.arange(5), 1000)
    cur = np.where(np.arange(5000) % 10 == 0, 1, 0)
    report = check_outputs(ref, cur)
    got = {v.method: v.decision for v in report.verdicts}
    assert got["homogeneity"] == "drift"
    assert got["top_class_share"] == "drift"


def test_score_outputs_use_the_drift_rule_and_bad_shapes_are_named() -> None:
    rng = np.random.default_rng(2)
    report = check_outputs(rng.beta(2, 5, 3000), rng.beta(3, 5, 3000))
    assert [v.method for v in report.alarms] == ["ks"]
    with pytest.raises(InputError, match="shape"):
        check_outputs(np.ones((3, 2)) / 2, np.ones((3, 3)) / 3)
    with pytest.raises(InputError, match="class probabilities"):
        check_outputs(np.ones((3, 2)), np.ones((3, 2)))
