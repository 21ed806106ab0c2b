"""Adversarial evasion at inference: off-manifold inputs, unstable predictions, low margins.

:class:`EvasionDetector` wraps a fitted classifier (anything with ``predict_proba``) and a clean
reference. Each input gets three scores, each turned into a robust z-score against held-out
clean calibration inputs:

* manifold distance: mean distance to the ``k`` nearest reference inputs (standardised space);
* instability: the largest L1 change of the predicted probabilities under small Gaussian noise
  or under quantisation of the input (feature squeezing);
* low margin: one minus the gap between the two most likely classes.

The combined score is the largest of the three; its threshold is the ``1 - fpr`` quantile on
the calibration inputs, so clean traffic is flagged at about ``fpr``. Verdicts are per client:
a client whose flagged share is significantly above ``fpr`` alarms.

Example:
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = make_classification(n_samples=1200, n_features=6, class_sep=2.0, random_state=0)
    >>> model = LogisticRegression().fit(X[:800], y[:800])
    >>> detector = EvasionDetector(model, random_state=0).fit(X[:800])
    >>> attack = X[800:840] + 6.0          # far off the training manifold
    >>> verdicts = detector.detect(np.vstack([X[840:], attack]),
    ...                            clients=["alice"] * 360 + ["mallory"] * 40)
    >>> [(v.subject, v.decision) for v in verdicts]
    [('client:alice', 'ok'), ('client:mallory', 'drift')]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from airsoc.detection.attacks._stats import tail_scale
from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import DetectionError, InputError

__all__ = ["EvasionDetector", "EvasionScores"]

EVADE = "AML.T0015"
CRAFT = "AML.T0043"


@dataclass
class EvasionScores:
    """Per-input rescaled scores of each signal, the combined score and the flags."""

    manifold: np.ndarray
    instability: np.ndarray
    margin: np.ndarray
    combined: np.ndarray
    flagged: np.ndarray


class EvasionDetector:
    """Score inference inputs for adversarial evasion; see the module docstring."""

    name = "adversarial_evasion"

    def __init__(
        self,
        model: Any,
        *,
        k: int = 5,
        noise_scale: float = 0.05,
        n_noise: int = 6,
        quantize_levels: int = 8,
        fpr: float = 0.01,
        alpha: float = 0.01,
        calibration_share: float = 0.3,
        random_state: int = 0,
    ) -> None:
        self.model = model
        self.k = k
        self.noise_scale = noise_scale
        self.n_noise = n_noise
        self.quantize_levels = quantize_levels
        self.fpr = fpr
        self.alpha = alpha
        self.calibration_share = calibration_share
        self.random_state = random_state

    def fit(self, X_ref: Any, X_cal: Any | None = None) -> EvasionDetector:
        """Learn the reference manifold and calibrate thresholds on clean inputs.

        Without ``X_cal``, ``calibration_share`` of ``X_ref`` is held out for calibration.
        """
        X_ref = self._check(X_ref, "reference")
        rng = np.random.default_rng(self.random_state)
        if X_cal is None:
            order = rng.permutation(len(X_ref))
            n_cal = max(int(self.calibration_share * len(X_ref)), 10)
            X_cal, X_ref = X_ref[order[:n_cal]], X_ref[order[n_cal:]]
        X_cal = self._check(X_cal, "calibration")
        if len(X_ref) <= self.k:
            raise DetectionError(f"the reference needs more than k={self.k} rows")
        self.scaler_ = StandardScaler().fit(X_ref)
        self.nn_ = NearestNeighbors(n_neighbors=self.k).fit(self.scaler_.transform(X_ref))
        self.low_ = X_ref.min(axis=0)
        self.span_ = np.maximum(X_ref.max(axis=0) - self.low_, 1e-12)
        self.std_ = X_ref.std(axis=0) + 1e-12
        raw = self._raw(X_cal)
        self.cal_ = raw
        combined = np.max([tail_scale(raw[i], raw[i]) for i in range(3)], axis=0)
        self.threshold_ = float(np.quantile(combined, 1 - self.fpr))
        return self

    @staticmethod
    def _check(data: Any, where: str) -> np.ndarray:
        X: np.ndarray = np.asarray(data, dtype=float)
        if X.ndim != 2 or len(X) == 0:
            raise InputError(
                f"expected a non-empty 2-D feature matrix, got shape {X.shape}", loc=where
            )
        if not np.isfinite(X).all():
            row = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
            raise InputError(f"row {row} has a missing or infinite feature value", loc=where)
        return X

    def _raw(self, X: np.ndarray) -> np.ndarray:
        """Return the raw manifold, instability and margin scores (3 x n)."""
        distances, _ = self.nn_.kneighbors(self.scaler_.transform(X))
        manifold = distances.mean(axis=1)
        proba = np.asarray(self.model.predict_proba(X))
        rng = np.random.default_rng(self.random_state)
        change = np.zeros(len(X))
        for _ in range(self.n_noise):
            noisy = X + rng.normal(0.0, self.noise_scale, X.shape) * self.std_
            change = np.maximum(change, np.abs(self.model.predict_proba(noisy) - proba).sum(1))
        levels = self.quantize_levels
        squeezed = np.round((X - self.low_) / self.span_ * levels) / levels * self.span_ + self.low_
        change = np.maximum(change, np.abs(self.model.predict_proba(squeezed) - proba).sum(1))
        top2 = np.sort(proba, axis=1)[:, -2:]
        margin = 1.0 - (top2[:, 1] - top2[:, 0])
        return np.vstack([manifold, change, margin])

    def score(self, X: Any) -> EvasionScores:
        """Return the per-input scores and flags of ``X``."""
        if not hasattr(self, "threshold_"):
            raise DetectionError("EvasionDetector.score called before fit")
        X = self._check(X, "inputs")
        raw = self._raw(X)
        z = [tail_scale(raw[i], self.cal_[i]) for i in range(3)]
        combined = np.max(z, axis=0)
        return EvasionScores(z[0], z[1], z[2], combined, combined > self.threshold_)

    def detect(
        self, X: Any, *, clients: Sequence[str] | None = None, subject: str = "traffic"
    ) -> list[Verdict]:
        """Return one verdict per client (or one for all inputs when ``clients`` is None)."""
        scores = self.score(X)
        if clients is None:
            groups = {subject: np.arange(len(scores.combined))}
        else:
            if len(clients) != len(scores.combined):
                raise InputError(
                    f"{len(clients)} client ids for {len(scores.combined)} inputs", loc="clients"
                )
            keys = np.asarray(clients, dtype=object)
            groups = {f"client:{c}": np.flatnonzero(keys == c) for c in dict.fromkeys(clients)}
        return [self._verdict(name, rows, scores) for name, rows in groups.items()]

    def _verdict(self, subject: str, rows: np.ndarray, s: EvasionScores) -> Verdict:
        n, k = len(rows), int(s.flagged[rows].sum())
        # The threshold is a quantile estimated on n_cal clean inputs; test against the upper
        # end of its sampling error so a client is not blamed for calibration noise.
        n_cal = self.cal_.shape[1]
        expected = min(self.fpr + 2 * np.sqrt(self.fpr * (1 - self.fpr) / n_cal), 1.0)
        p = float(stats.binomtest(k, n, expected, alternative="greater").pvalue)
        share = k / n
        decision: Decision = (
            "drift"
            if p < self.alpha and share >= 2 * expected
            else "warn"
            if p < 5 * self.alpha
            else "ok"
        )
        parts = {"manifold": s.manifold, "instability": s.instability, "margin": s.margin}
        flagged_rows = rows[s.flagged[rows]]
        drivers = {
            name: int((v[flagged_rows] >= self.threshold_).sum()) for name, v in parts.items()
        }
        return Verdict(
            detector=self.name,
            method="knn+squeezing+margin",
            subject=subject,
            failure_mode="adversarial_evasion",
            statistic=round(share, 4),
            p_value=p,
            threshold=self.fpr,
            threshold_source="calibrated",
            decision=decision,
            effect_size=round(share - self.fpr, 4),
            n_reference=int(self.cal_.shape[1]),
            n_current=n,
            reason=f"{k}/{n} inputs beyond the clean {1 - self.fpr:.0%} quantile "
            f"(expected {self.fpr:.1%}); driven by "
            + ", ".join(f"{name} {c}" for name, c in drivers.items() if c),
            evidence={
                "atlas": [EVADE, CRAFT] if decision != "ok" else [],
                "flagged_rows": flagged_rows[:200].tolist(),
                "drivers": drivers,
                "score_threshold": round(self.threshold_, 4),
            },
        )
