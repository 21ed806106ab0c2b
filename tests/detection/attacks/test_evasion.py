from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from airsoc.detection.attacks.evasion import EvasionDetector
from airsoc.errors import DetectionError, InputError
from tests.detection.attacks.generators import credit_table


@pytest.fixture(scope="module")
def setup() -> tuple[EvasionDetector, LogisticRegression, np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=2000, n_features=8, class_sep=1.5, random_state=1)
    model = LogisticRegression().fit(X[:1000], y[:1000])
    return EvasionDetector(model, random_state=0).fit(X[:1000]), model, X[1000:], y[1000:]


def test_clean_traffic_is_flagged_near_the_target_rate(setup: tuple) -> None:  # type: ignore[type-arg]
    detector, _, X, _ = setup
    scores = detector.score(X)
    assert scores.flagged.mean() < 0.04
    assert detector.detect(X)[0].decision == "ok"


def test_gradient_sign_attack_is_detected(setup: tuple) -> None:  # type: ignore[type-arg]
    detector, model, X, y = setup
    # Minimal FGSM for a linear model: step against the true class until the label flips.
    w = model.coef_[0] / np.abs(model.coef_[0]).max()
    sign = np.where(y[:100] == 1, -1.0, 1.0)[:, None]
    adv = X[:100] + 0.0
    for _ in range(40):
        still = model.predict(adv) == y[:100]
        adv[still] += 0.1 * sign[still] * np.sign(w)
    flipped = model.predict(adv) != y[:100]
    assert flipped.mean() > 0.9
    scores = detector.score(adv[flipped])
    assert scores.flagged.mean() > 0.5
    verdicts = detector.detect(
        np.vstack([X[100:400], adv[flipped]]), clients=["good"] * 300 + ["bad"] * int(flipped.sum())
    )
    by = {v.subject: v for v in verdicts}
    assert by["client:bad"].decision == "drift"
    assert by["client:bad"].evidence["atlas"] == ["AML.T0015", "AML.T0043"]
    assert by["client:good"].decision == "ok"


def test_bad_input(setup: tuple) -> None:  # type: ignore[type-arg]
    detector, model, X, _ = setup
    with pytest.raises(InputError, match="row 1 has a missing"):
        detector.score(np.vstack([X[:1], [np.inf] * 8]))
    with pytest.raises(InputError, match="3 client ids for 2 inputs"):
        detector.detect(X[:2], clients=["a", "b", "c"])
    with pytest.raises(DetectionError, match="before fit"):
        EvasionDetector(model).score(X)


def test_fgm_on_a_credit_scorer_is_caught_at_a_measured_one_percent_false_positive_rate() -> None:
    X, y = credit_table(14_000, seed=0)
    scaler = StandardScaler().fit(X[:6000])
    Xs = scaler.transform(X)
    scorer = LogisticRegression().fit(Xs[:6000], y[:6000])
    # Calibrated on clean validation rows the scorer never trained on.
    detector = EvasionDetector(scorer).fit(Xs[:6000], X_cal=Xs[6000:9000])
    clean = Xs[9000:]
    measured_fpr = detector.score(clean).flagged.mean()
    assert measured_fpr <= 0.015
    # FGM for logistic regression in closed form: the sign of the loss gradient is the sign of
    # the weights; denied applicants step towards approval.
    denied = clean[scorer.predict(clean) == 1][:400]
    adversarial = denied - 0.3 * np.sign(scorer.coef_[0])
    adversarial = adversarial[scorer.predict(adversarial) == 0]
    assert len(adversarial) > 100
    assert detector.score(adversarial).flagged.mean() >= 0.9


def test_a_repeated_fit_on_the_same_reference_is_cached(setup: tuple) -> None:  # type: ignore[type-arg]
    detector, model, _, _ = setup
    X, _ = make_classification(n_samples=2000, n_features=8, class_sep=1.5, random_state=1)
    again = EvasionDetector(model, random_state=0).fit(X[:1000])
    assert again.reference_ is detector.reference_
    assert again.threshold_ == detector.threshold_
