"""One conventions test, run over every registered streaming detector."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from airsoc.detection.streaming import STREAMING_DETECTORS, StreamingDetector
from airsoc.errors import InputError

DETECTORS = sorted(STREAMING_DETECTORS.items())


def _stream(cls: type[StreamingDetector], *, changed: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if cls.input_kind == "binary":
        after = 0.35 if changed else 0.1
        return np.concatenate([rng.random(2000) < 0.1, rng.random(1000) < after]).astype(float)
    # Scores on the scale of the defaults (river's): sd 0.3, a one-sd shift after 2000 values.
    after = 0.3 if changed else 0.0
    return np.concatenate([rng.normal(0, 0.3, 2000), rng.normal(after, 0.3, 1000)])


def _first_alarm(det: StreamingDetector, stream: np.ndarray) -> int | None:
    for i, x in enumerate(stream):
        det.update(float(x))
        if det.drift_detected:
            return i
    return None


@pytest.mark.parametrize(("name", "cls"), DETECTORS)
def test_defaults_construct_and_params_are_stored_unchanged(
    name: str, cls: type[StreamingDetector]
) -> None:
    det = cls()
    assert det.name == name
    params = det.get_params()
    sig = inspect.signature(cls.__init__).parameters
    assert set(params) == {p for p in sig if p != "self"}
    for key, param in sig.items():
        if key != "self":
            assert params[key] == param.default
    assert repr(det).startswith(cls.__name__ + "(")
    module = inspect.getmodule(cls)
    assert cls.__doc__
    assert module is not None
    assert (module.__doc__ or "").count(">>>") >= 1


@pytest.mark.parametrize(("name", "cls"), DETECTORS)
def test_quiet_on_a_stationary_stream(name: str, cls: type[StreamingDetector]) -> None:
    alarms = sum(
        _first_alarm(cls(), _stream(cls, changed=False, seed=s)) is not None for s in range(5)
    )
    assert alarms <= 1, f"{name} fired on {alarms} of 5 stationary streams"


@pytest.mark.parametrize(("name", "cls"), DETECTORS)
def test_detects_a_change_soon_after_it_happens(name: str, cls: type[StreamingDetector]) -> None:
    for seed in range(3):
        det = cls()
        first = _first_alarm(det, _stream(cls, changed=True, seed=10 + seed))
        assert first is not None, f"{name} missed the change"
        assert 2000 <= first < 2600, (name, first)
        verdict = det.verdict(subject="error_rate")
        assert verdict.decision == "drift"
        assert verdict.detector == name
        assert verdict.failure_mode == cls.failure_mode


@pytest.mark.parametrize(("name", "cls"), DETECTORS)
def test_reset_forgets_and_bad_values_are_rejected(name: str, cls: type[StreamingDetector]) -> None:
    det = cls()
    _first_alarm(det, _stream(cls, changed=True, seed=20))
    det.reset()
    assert not det.drift_detected
    assert not det.warning_detected
    assert det.n_seen_ == 0
    with pytest.raises(InputError, match="NaN"):
        det.update(float("nan"))
    if cls.input_kind == "binary":
        with pytest.raises(InputError, match="0/1"):
            det.update(0.5)
