from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy.spatial import cKDTree
from sklearn.linear_model import LogisticRegression

from airsoc.detection.attacks.extraction import ExtractionDetector
from airsoc.errors import DetectionError, InputError

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _score(X: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-2 * X[:, 0] + X[:, 1])))


@pytest.fixture(scope="module")
def detector() -> ExtractionDetector:
    X = np.random.default_rng(0).normal(size=(1000, 5))
    return ExtractionDetector().fit(X, _score(X))


def _log(*groups: tuple[str, np.ndarray, float]) -> dict:  # type: ignore[type-arg]
    clients, X, times = [], [], []
    for name, rows, every in groups:
        clients += [name] * len(rows)
        X.append(rows)
        times += [T0 + timedelta(seconds=every * i) for i in range(len(rows))]
    Xs = np.vstack(X)
    return {"clients": clients, "X": Xs, "scores": _score(Xs), "times": times}


def test_boundary_probing_and_sweeps_alarm(detector: ExtractionDetector) -> None:
    rng = np.random.default_rng(1)
    normal = [(f"user{i}", rng.normal(size=(50, 5)), 60.0) for i in range(5)]
    base = rng.normal(size=(400, 5))
    base[:, 1] = 2 * base[:, 0] + rng.normal(0, 0.02, 400)  # walks the decision boundary
    verdicts = {v.subject: v for v in detector.detect(**_log(*normal, ("prober", base, 1.0)))}
    prober = verdicts["client:prober"]
    assert prober.decision == "drift"
    assert prober.evidence["signals"]["boundary_probing"]
    assert prober.evidence["signals"]["volume"]
    assert prober.evidence["atlas"] == ["AML.T0024.002", "AML.T0040"]
    assert all(verdicts[f"client:user{i}"].decision == "ok" for i in range(5))


def test_near_duplicate_sweep_is_noticed(detector: ExtractionDetector) -> None:
    point = np.random.default_rng(2).normal(size=(1, 5)) + np.array([[3.0, 0, 0, 0, 0]])
    sweep = np.repeat(point, 100, axis=0)
    sweep[:, 4] += np.linspace(0, 0.01, 100)
    verdict = detector.detect(**_log(("sweeper", sweep, 5.0)))[0]
    assert verdict.evidence["signals"]["near_duplicates"]
    assert verdict.decision == "warn"


def test_small_clients_and_bad_logs(detector: ExtractionDetector) -> None:
    few = detector.detect(**_log(("tiny", np.zeros((3, 5)), 1.0)))[0]
    assert few.reason == "only 3 queries: too few to judge"
    log = _log(("a", np.zeros((30, 5)), 1.0))
    log["scores"] = log["scores"][:-1]
    with pytest.raises(InputError, match="differ in length"):
        detector.detect(**log)
    assert detector.detect(clients=[], X=np.zeros((0, 5)), scores=np.zeros(0), times=[]) == []
    with pytest.raises(DetectionError, match="before fit"):
        ExtractionDetector().detect(**log)


def test_a_grid_sweep_of_the_input_space_alarms(detector: ExtractionDetector) -> None:
    rng = np.random.default_rng(3)
    normal = [(f"user{i}", rng.normal(size=(60, 5)), 60.0) for i in range(4)]
    axis = np.linspace(-2.5, 2.5, 12)
    grid = np.array(np.meshgrid(axis, axis)).reshape(2, -1).T
    sweep = np.column_stack([grid, np.zeros((len(grid), 3))])
    verdicts = {v.subject: v for v in detector.detect(**_log(*normal, ("mapper", sweep, 20.0)))}
    mapper = verdicts["client:mapper"]
    assert mapper.evidence["signals"]["grid_probing"]
    assert mapper.evidence["grid_features"][:2] == [0, 1]
    assert mapper.decision == "drift"
    assert all(verdicts[f"client:user{i}"].decision == "ok" for i in range(4))


def test_the_reference_fit_is_reused() -> None:
    X = np.random.default_rng(4).normal(size=(3000, 5))
    first = ExtractionDetector().fit(X, _score(X))
    again = ExtractionDetector().fit(X, _score(X))
    assert again.scaler_ is first.scaler_


def test_a_hopskipjump_attacker_is_caught_by_its_query_stream() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from art.attacks.evasion import HopSkipJump
        from art.estimators.classification import SklearnClassifier
    rng = np.random.default_rng(5)
    X = rng.normal(size=(4000, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] > 1.0).astype(int)
    model = LogisticRegression().fit(X[:2000], y[:2000])
    classifier = SklearnClassifier(model, clip_values=(X.min(0), X.max(0)))
    logged: list[np.ndarray] = []
    predict = classifier.predict

    def served(x: np.ndarray, **kwargs: Any) -> np.ndarray:
        logged.append(np.array(x))
        return np.asarray(predict(x, **kwargs))

    classifier.predict = served
    attack = HopSkipJump(classifier, max_iter=5, max_eval=200, init_eval=20, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attack.generate(X[2000:][y[2000:] == 1][:2])
    queries = np.vstack(logged)
    detector = ExtractionDetector().fit(X[:2000], model.predict_proba(X[:2000])[:, 1])
    log = _log(
        *[(f"user{i}", X[2000 + 200 * i : 2200 + 200 * i], 60.0) for i in range(5)],
        ("hsj", queries, 0.5),
    )
    log["scores"] = model.predict_proba(log["X"])[:, 1]
    verdicts = {v.subject: v for v in detector.detect(**log)}
    assert verdicts["client:hsj"].decision == "drift"
    assert verdicts["client:hsj"].evidence["signals"]["boundary_probing"]
    assert all(verdicts[f"client:user{i}"].decision == "ok" for i in range(5))


def test_traffic_that_sits_near_the_boundary_for_every_client_blames_none() -> None:
    """A high-volume honest client whose share near the boundary is a little above the
    reference's (harder cases this week, or a new model) is not a prober; alone it needs a
    material excess, and among peers that share the shift it needs to stand out."""
    reference = np.random.default_rng(0).normal(size=(1000, 5))
    detector = ExtractionDetector(margin=0.02).fit(reference, _score(reference))
    rng = np.random.default_rng(5)
    rows = rng.normal(size=(6000, 5))
    near = np.abs(2 * _score(rows) - 1) < detector.margin
    # Two and a half times the reference's share near the boundary: a few points more.
    k = int(2.5 * detector.boundary_rate_ * 3000)
    honest = np.vstack([rows[~near][: 3000 - k], rows[near][:k]])
    alone = detector.detect(**_log(("checkout", honest, 1.0)))[0]
    assert alone.evidence["boundary_share"] >= 2 * detector.boundary_rate_
    assert alone.evidence["boundary_share"] < detector.boundary_rate_ + detector.min_excess
    assert not alone.evidence["signals"]["boundary_probing"]
    assert alone.decision == "ok"
    # With min_excess 0 the same client is called a prober: the floor is what spares it.
    strict = ExtractionDetector(margin=0.02, min_excess=0.0).fit(reference, _score(reference))
    assert strict.detect(**_log(("checkout", honest, 1.0)))[0].decision == "drift"
    shops = [(f"shop{i}", honest[i::4], 4.0) for i in range(4)]
    verdicts = detector.detect(**_log(*shops))
    assert all(v.decision == "ok" for v in verdicts)
    assert all(v.evidence["boundary_expected"] > detector.boundary_rate_ for v in verdicts)


def test_extraction_min_excess_is_checked() -> None:
    with pytest.raises(InputError, match="min_excess"):
        ExtractionDetector(min_excess=-0.1)


def test_near_duplicates_are_those_of_the_full_neighbour_search(
    detector: ExtractionDetector,
) -> None:
    rng = np.random.default_rng(5)
    base = rng.normal(size=(300, 5))
    # Some inputs at, just within and just beyond the duplicate radius of another.
    step = np.zeros(5)
    step[0] = detector.dup_radius_ / detector.scaler_.scale_[0]
    X = np.vstack([base, base[:40], base[40:80] + 0.5 * step, base[80:120] + 1.5 * step])
    verdict = detector.detect(**_log(("mixed", X, 1.0)))[0]
    Z = detector.scaler_.transform(X)
    dist, _ = cKDTree(Z).query(Z, k=2)
    expected = int((dist[:, 1] <= detector.dup_radius_).sum())
    assert 120 <= expected < len(X)
    assert verdict.evidence["near_duplicate_share"] == round(expected / len(X), 4)
