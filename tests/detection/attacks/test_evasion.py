from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from airsoc.detection.attacks.evasion import RAW_SCORES, EvasionDetector
from airsoc.errors import DetectionError, InputError
from tests.detection.attacks.generators import FEATURES, credit_table, fraud_batch


def detector_reference() -> np.ndarray:
    """The reference inputs the module's detector is fitted on."""
    X, _ = make_classification(n_samples=2000, n_features=8, class_sep=1.5, random_state=1)
    return np.asarray(X[:1000])


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


@pytest.mark.slow
def test_hopskipjump_on_a_fraud_detector_is_caught_at_a_measured_one_percent_rate() -> None:
    import warnings

    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ART warns that PyTorch is missing
        from art.attacks.evasion import HopSkipJump
        from art.estimators.classification import SklearnClassifier
    batch = fraud_batch(16_000, seed=3, fraud_rate=0.08)
    F = batch[FEATURES].to_numpy().copy()
    F[:, [0, 2, 5]] = np.log1p(F[:, [0, 2, 5]])
    F = StandardScaler().fit(F[:8000]).transform(F)
    labels = batch["label"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier((32, 16), max_iter=300, random_state=0).fit(F[:8000], labels[:8000])
        fraud = F[12000:][model.predict(F[12000:]) == 1][:60]
        attack = HopSkipJump(
            SklearnClassifier(model, clip_values=(F.min(0), F.max(0))),
            targeted=False,
            max_iter=20,
            max_eval=1000,
            init_eval=100,
            verbose=False,
        )
        adversarial = attack.generate(fraud)
    adversarial = adversarial[model.predict(adversarial) == 0]
    assert len(adversarial) >= 50
    # The detector sees the served model and clean traffic only, never the attack.
    detector = EvasionDetector(model).fit(F[:8000], X_cal=F[8000:12000])
    measured_fpr = detector.score(F[12000:]).flagged.mean()
    assert measured_fpr <= 0.01
    caught = detector.score(adversarial)
    assert caught.flagged.mean() >= 0.9
    # HopSkipJump moves the count and flag features off their values; it also ends near the
    # boundary, among inputs the model decides the other way.
    assert (caught.domain >= 1.0).mean() >= 0.9
    assert (caught.boundary >= 1.0).mean() >= 0.5
    verdicts = detector.detect(
        np.vstack([F[12000:12500], adversarial]),
        clients=["good"] * 500 + ["attacker"] * len(adversarial),
    )
    by = {v.subject: v for v in verdicts}
    assert by["client:attacker"].decision == "drift"
    assert by["client:attacker"].evidence["drivers"]["domain"] > 0
    assert by["client:good"].decision == "ok"


def test_a_tree_model_gets_the_boundary_probe_and_a_calibrated_rate() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = make_classification(n_samples=6000, n_features=6, class_sep=2.0, random_state=2)
    model = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X[:2000], y[:2000])
    detector = EvasionDetector(model).fit(X[:2000], X_cal=X[2000:4000])
    clean = detector.score(X[4000:])
    assert clean.flagged.mean() <= 0.025
    # Points pushed onto the model's decision boundary by bisection along a line between two
    # inputs decided differently: piecewise-constant scores give no gradient, decisions do.
    decided = model.predict(X[4000:])
    a, b = X[4000:][decided == 0][:150], X[4000:][decided == 1][:150]
    low, high = np.zeros(len(a)), np.ones(len(a))
    for _ in range(30):
        mid = (low + high) / 2
        flipped = model.predict(a + mid[:, None] * (b - a)) == 1
        high = np.where(flipped, mid, high)
        low = np.where(flipped, low, mid)
    on_boundary = a + high[:, None] * (b - a)
    scores = detector.score(on_boundary)
    assert (scores.boundary >= 1.0).mean() > 0.5
    assert scores.flagged.mean() > 0.5


def test_the_screen_keeps_few_inputs_when_a_tree_model_ties_their_margins() -> None:
    """The fleet's fraud model (boosted trees) gives almost every clean transaction one and
    the same probability: the quantile of clean margins sits on that tie, and only inputs
    strictly above it go to the costly boundary probes (at most the screen's share, not every
    input)."""
    from airsoc.fleet.systems import FRAUD_FEATURES, fraud_transactions, train_fraud_detector
    from airsoc.monitoring.security import ServedProba
    from airsoc.serving.adapters import SklearnAdapter

    model = train_fraud_detector(fraud_transactions(6000, seed=1))
    kinds = {f: "string" if f == "merchant_category" else "number" for f in FRAUD_FEATURES}
    numeric = [f for f in FRAUD_FEATURES if f != "merchant_category"]
    data = fraud_transactions(6000, seed=2)
    levels = sorted(data["merchant_category"].astype(str).unique())
    codes = data["merchant_category"].astype(str).map(levels.index).to_numpy(float)
    X = np.column_stack([data[numeric].to_numpy(float), codes])
    adapter = SklearnAdapter(model, features=kinds)
    served = ServedProba(adapter, numeric, {"merchant_category": levels})
    detector = EvasionDetector(served).fit(X[:2000], X_cal=X[2000:4000])
    proba = served.predict_proba(X[4000:])
    margins = 1.0 - np.abs(proba[:, 1] - proba[:, 0])
    assert (margins == detector.screen_).mean() > 0.5  # the quantile sits on a tie
    probed: list[int] = []
    probe = detector._probe

    def counted(X: np.ndarray, Z: np.ndarray, decided: np.ndarray) -> np.ndarray:
        probed.append(len(X))
        return probe(X, Z, decided)

    detector._probe = counted  # type: ignore[method-assign]
    RAW_SCORES.raw("screen-test", X[4000:], detector._raw)
    assert 0 < sum(probed) <= 0.15 * len(X[4000:])


def test_off_lattice_values_of_discrete_features_are_scored() -> None:
    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, 3000).astype(float)
    flag = (rng.random(3000) < 0.3).astype(float)
    X = np.column_stack([rng.normal(size=3000), counts, flag])
    y = (X[:, 0] + 0.5 * counts + flag > 1.5).astype(int)
    model = LogisticRegression().fit(X[:1000], y[:1000])
    detector = EvasionDetector(model).fit(X[:1000], X_cal=X[1000:2000])
    moved = X[2000:2100].copy()
    moved[:, 1] += 0.37  # a count of 2.37 never occurs
    assert (detector.score(moved).domain >= 1.0).all()
    higher = X[2000:2100].copy()
    higher[:, 1] = counts.max() + 3  # a count never seen, but still a count
    assert detector.score(higher).domain.max() < 1.0
    assert detector.score(X[2000:]).domain.max() < 1.0
    with pytest.raises(InputError, match="screen_share"):
        EvasionDetector(model, screen_share=0.0)
    with pytest.raises(InputError, match="radii"):
        EvasionDetector(model, radii=())


def test_a_shift_every_client_shares_blames_no_client(setup: tuple) -> None:  # type: ignore[type-arg]
    """Traffic that sits further from the reference for every client (the traffic or the
    model changed) alarms on none of them; a client far above its peers still does."""
    detector, _model, X, _ = setup
    rng = np.random.default_rng(0)
    shifted = X + rng.normal(0, 0.02, X.shape)  # small noise breaks the features' relations
    assert detector.score(shifted).flagged.mean() > 0.2
    clients = [f"shop{i % 4}" for i in range(len(shifted))]
    verdicts = detector.detect(shifted, clients=clients)
    assert [v.decision for v in verdicts] == ["ok"] * 4
    assert all(v.evidence["expected_from"] == "other clients" for v in verdicts)
    # An attacker whose inputs are all off the manifold stands out against those peers.
    attack = X[:60] + 6.0
    verdicts = detector.detect(np.vstack([shifted, attack]), clients=[*clients, *["ring"] * 60])
    by = {v.subject: v.decision for v in verdicts}
    assert by["client:ring"] == "drift"
    assert [by[f"client:shop{i}"] for i in range(4)] == ["ok"] * 4


def test_one_honest_client_a_little_above_the_calibration_is_not_blamed(setup: tuple) -> None:  # type: ignore[type-arg]
    """The only client, a little further from the reference than the calibration (a few
    points more flagged: significant at its volume, but no attack) is not blamed; without the
    ``min_excess`` floor it would be."""
    detector, model, X, _ = setup
    near = X + np.random.default_rng(0).normal(0, 0.012, X.shape)
    alone = detector.detect(near, clients=["checkout"] * len(near))[0]
    expected = alone.evidence["expected_share"]
    assert 2 * expected < alone.statistic < expected + detector.min_excess
    assert alone.p_value < detector.alpha
    assert alone.decision == "ok"
    assert alone.evidence["expected_from"] == "calibration"
    strict = EvasionDetector(model, random_state=0, min_excess=0.0).fit(detector_reference())
    assert strict.detect(near, clients=["checkout"] * len(near))[0].decision == "drift"


def test_min_excess_is_checked() -> None:
    with pytest.raises(InputError, match="min_excess"):
        EvasionDetector(None, min_excess=1.5)


def test_a_client_past_max_per_client_is_judged_on_a_sample(setup: tuple) -> None:  # type: ignore[type-arg]
    _, model, X, _ = setup
    ref = detector_reference()
    attack = X[900:1000] + 6.0  # far off the reference, as in the module's example
    inputs = np.vstack([X[:900], attack])
    clients = ["shop"] * 900 + ["ring"] * 100
    whole = EvasionDetector(model, random_state=0).fit(ref).detect(inputs, clients=clients)
    sampled = EvasionDetector(model, random_state=0, max_per_client=300).fit(ref)
    verdicts = {v.subject: v for v in sampled.detect(inputs, clients=clients)}
    shop, ring = verdicts["client:shop"], verdicts["client:ring"]
    # The shop's 900 inputs are judged on 300 of them; the ring, under the bound, on all.
    assert (shop.n_current, shop.evidence["inputs"], shop.evidence["sampled"]) == (300, 900, 300)
    assert "a random sample of its 900" in shop.reason
    assert (ring.n_current, ring.evidence["inputs"]) == (100, 100)
    assert [v.decision for v in whole] == ["ok", "drift"]
    assert (shop.decision, ring.decision) == ("ok", "drift")
    # Flagged rows are named by their place in the window, not in the sample.
    assert all(900 <= r < 1000 for r in ring.evidence["flagged_rows"])


def test_the_sample_takes_inputs_already_scored_first(setup: tuple) -> None:  # type: ignore[type-arg]
    _, model, X, _ = setup
    detector = EvasionDetector(model, random_state=3, max_per_client=200).fit(detector_reference())
    first = X[:400]
    detector.detect(first, clients=["shop"] * 400)
    # The next window shares the last 200 inputs of this one, half of them scored before.
    window = X[200:600]
    known = RAW_SCORES.known(detector.memo_key_, window)
    assert 0 < known.sum() < 200
    picked = detector.sample(np.arange(400), known, np.random.default_rng(0))
    assert len(picked) == 200
    assert set(np.flatnonzero(known)) <= set(picked.tolist())
    with pytest.raises(InputError, match="max_per_client"):
        EvasionDetector(model, max_per_client=0)
