"""Adversarial evasion at inference: inconsistent features, unstable predictions, low margins.

:class:`EvasionDetector` wraps the served model (anything with ``predict_proba``; a surrogate
only when the served model cannot be called) and clean reference inputs. Each input gets six
scores:

* feature inconsistency: each feature is predicted from the others by an additive spline
  model fitted on the reference; the sum of squared robust residuals is large when an input
  breaks relations that clean inputs keep (a gradient step moves every feature at once);
* manifold distance: Mahalanobis distance to the reference, or with ``k`` > 0 the mean
  distance to the ``k`` nearest reference inputs (standardised space; slower);
* instability: the largest L1 change of the served model's probabilities under small Gaussian
  noise or under quantisation of the input (feature squeezing);
* low margin: one minus the gap between the two most likely classes of the served model;
* off the domain: the number of discrete features (at most ``max_levels`` distinct values in
  the reference: counts, flags, codes) whose value is neither one of the reference's values
  nor on the grid of their smallest step (so an unseen count still fits). An attack that moves
  every feature continuously leaves this lattice; one that respects it does not;
* decision boundary, for the inputs whose margin the cheap screen keeps (the least confident
  ``screen_share`` of clean traffic): the share of the served model's decisions that flip on random
  points at a few small distances around the input, and the distance to the nearest reference inputs
  the model decides the same way over the distance to those it decides otherwise (searched only
  where some decision flipped). Decision-based attacks such as HopSkipJump stop just across the
  boundary, where the decision is unstable and the input still sits among the other class; both use
  only the model's decisions, so they hold for piecewise-constant models (trees) too. The two are
  joined by Fisher's rule on their p-values among clean calibration inputs.

Each score is rescaled on one part of the clean calibration inputs (median to 0, 99th
percentile to 1). Two groups are compared with that part: the largest of the first five scores,
and the boundary score; each gets a p-value (empirical, with an exponential tail beyond the
clean 95th percentile so that size still counts), and the combined score is ``-log`` of the
smaller p-value, each divided by its group's share of the false-positive budget
(``boundary_share`` for the boundary group). The threshold is the conformal quantile of
the combined score on the other part, so a clean input is flagged with probability at most
``fpr``. Calibration inputs must be clean traffic the model was not trained on (a version's
validation rows, or a window an operator marked clean): on training rows margins are too wide
and the measured rate would be too low. Verdicts are per client: a client whose flagged share
is significantly above ``fpr`` alarms. The fit is cached by a hash of the model, reference and
calibration inputs.

Example:
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = make_classification(n_samples=1600, n_features=6, class_sep=2.0, random_state=0)
    >>> model = LogisticRegression().fit(X[:800], y[:800])
    >>> detector = EvasionDetector(model, random_state=0).fit(X[:800], X_cal=X[800:1200])
    >>> attack = X[1200:1240] + 6.0          # far off the training manifold
    >>> verdicts = detector.detect(np.vstack([X[1240:], attack]),
    ...                            clients=["alice"] * 360 + ["mallory"] * 40)
    >>> [(v.subject, v.decision) for v in verdicts]
    [('client:alice', 'ok'), ('client:mallory', 'drift')]
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import SplineTransformer, StandardScaler

from airsoc.detection._cache import FITTED, fingerprint, one_thread
from airsoc.detection.attacks._stats import tail_scale
from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import DetectionError, InputError

__all__ = ["EvasionDetector", "EvasionScores"]

EVADE = "AML.T0015"
CRAFT = "AML.T0043"


def _model_digest(model: Any) -> str:
    """Return a hash of a fitted model's pickled state (its identity when it cannot pickle)."""
    try:
        return hashlib.sha256(pickle.dumps(model)).hexdigest()
    except (pickle.PicklingError, TypeError, AttributeError):
        return f"id:{id(model)}"


SIGNALS = ("inconsistency", "manifold", "instability", "margin", "domain", "boundary")


@dataclass
class EvasionScores:
    """Per-input rescaled scores of each signal, the combined score and the flags."""

    inconsistency: np.ndarray
    manifold: np.ndarray
    instability: np.ndarray
    margin: np.ndarray
    domain: np.ndarray
    boundary: np.ndarray
    combined: np.ndarray
    flagged: np.ndarray


@dataclass(frozen=True)
class _Reference:
    """What a fit learns from the reference and calibration inputs (cached by their hash)."""

    scaler: StandardScaler
    nn: NearestNeighbors
    precision: np.ndarray
    consistency: _Consistency | None
    residual_scale: np.ndarray
    low: np.ndarray
    span: np.ndarray
    std: np.ndarray
    levels: tuple[np.ndarray | None, ...]


@dataclass(frozen=True)
class _Consistency:
    """Each feature predicted from the others by an additive spline model.

    One cubic B-spline basis per feature (8 knots, linear beyond the reference's range) is
    computed once; the model of feature ``j`` is a ridge regression on the basis of the other
    features. All models are applied with one matrix product.
    """

    splines: SplineTransformer
    coef: np.ndarray  # (d * n_splines, d), zero on each target's own block
    intercept: np.ndarray  # (d,)

    @classmethod
    def fit(cls, Z: np.ndarray, ridge: float = 1e-3) -> _Consistency:
        splines = SplineTransformer(n_knots=8, degree=3, extrapolation="linear").fit(Z)
        H = splines.transform(Z)
        d = Z.shape[1]
        width = H.shape[1] // d
        mean_h, mean_z = H.mean(axis=0), Z.mean(axis=0)
        Hc, Zc = H - mean_h, Z - mean_z
        coef = np.zeros((H.shape[1], d))
        for j in range(d):
            keep = np.ones(H.shape[1], dtype=bool)
            keep[j * width : (j + 1) * width] = False
            A = Hc[:, keep]
            coef[keep, j] = np.linalg.solve(A.T @ A + ridge * np.eye(A.shape[1]), A.T @ Zc[:, j])
        return cls(splines, coef, mean_z - mean_h @ coef)

    def residuals(self, Z: np.ndarray) -> np.ndarray:
        return np.asarray(Z - (self.splines.transform(Z) @ self.coef + self.intercept))


@dataclass(frozen=True)
class _Decisions:
    """Reference inputs grouped by the served model's decision, for nearest-neighbour search."""

    classes: np.ndarray
    members: tuple[np.ndarray, ...]  # the standardised reference inputs of each class
    k: int

    def nearest(self, Z: np.ndarray, i: int) -> np.ndarray:
        """Return the mean distance of each input to its ``k`` nearest members of class ``i``."""
        members = self.members[i].astype(np.float32)
        k = min(self.k, len(members))
        norms = (members**2).sum(axis=1)
        out = np.empty(len(Z))
        for start in range(0, len(Z), 1024):
            block = Z[start : start + 1024].astype(np.float32)
            squared = (block**2).sum(axis=1)[:, None] - 2 * block @ members.T + norms
            closest = np.partition(squared, k - 1, axis=1)[:, :k]
            out[start : start + 1024] = np.sqrt(np.maximum(closest, 0.0)).mean(axis=1)
        return out

    def ratio(self, Z: np.ndarray, decided: np.ndarray) -> np.ndarray:
        """Return the distance to the same decision's neighbours over the other decisions'."""
        far = np.full((len(self.classes), len(Z)), np.inf)
        for i in range(len(self.classes)):
            far[i] = self.nearest(Z, i)
        own = np.searchsorted(self.classes, decided)
        known = (own < len(self.classes)) & (
            self.classes[np.minimum(own, len(self.classes) - 1)] == decided
        )
        rows = np.arange(len(Z))
        same = np.where(known, far[np.minimum(own, len(self.classes) - 1), rows], np.inf)
        if known.any():
            far[np.minimum(own, len(self.classes) - 1)[known], rows[known]] = np.inf
        other = far.min(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(np.isinf(other), 0.0, same / other)
        return np.asarray(np.minimum(np.nan_to_num(ratio, nan=0.0, posinf=1e9), 1e9))


class _RawScores:
    """The raw scores of inputs already scored by a fitted detector, by the input's bytes.

    A monitor's sliding window overlaps the last one, so most of its inputs were scored an hour
    ago by the same fit (same model, reference and calibration: the key); only the new ones are
    probed. At most ``max_rows`` inputs are kept per fit, and the last ``max_fits`` fits.

    >>> memo = _RawScores(max_rows=10, max_fits=2)
    >>> calls = []
    >>> def raw(X):
    ...     calls.append(len(X))
    ...     return np.vstack([X[:, 0] * 2, X[:, 0] * 3])
    >>> memo.raw("fit-1", np.array([[1.0], [2.0]]), raw).tolist()
    [[2.0, 4.0], [3.0, 6.0]]
    >>> memo.raw("fit-1", np.array([[2.0], [5.0]]), raw).tolist(), calls
    ([[4.0, 10.0], [6.0, 15.0]], [2, 1])
    """

    def __init__(self, *, max_rows: int = 200_000, max_fits: int = 4) -> None:
        self.max_rows = max_rows
        self.max_fits = max_fits
        self._fits: OrderedDict[str, dict[bytes, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, key: str, X: np.ndarray) -> np.ndarray:
        """Return which rows of ``X`` were scored under ``key`` already (a boolean mask).

        >>> memo = _RawScores()
        >>> _ = memo.raw("fit-1", np.array([[1.0]]), lambda X: X.T)
        >>> memo.known("fit-1", np.array([[1.0], [2.0]])).tolist()
        [True, False]
        """
        rows = np.ascontiguousarray(X, dtype=float)
        with self._lock:
            seen = self._fits.get(key)
            if not seen or len(seen) > self.max_rows:
                return np.zeros(len(rows), dtype=bool)
            return np.array([r.tobytes() in seen for r in rows], dtype=bool)

    def raw(self, key: str, X: np.ndarray, compute: Callable[[np.ndarray], np.ndarray]) -> Any:
        """Return ``compute(X)``, computing it only for the rows not seen under ``key``."""
        rows = np.ascontiguousarray(X, dtype=float)
        keys = [r.tobytes() for r in rows]
        with self._lock:
            seen = self._fits.pop(key, None)
            if seen is None or len(seen) > self.max_rows:
                seen = {}
            self._fits[key] = seen
            while len(self._fits) > self.max_fits:
                self._fits.popitem(last=False)
            known = [seen.get(k) for k in keys]
        missing = [i for i, v in enumerate(known) if v is None]
        if missing:
            fresh = compute(rows[missing])
            for j, i in enumerate(missing):
                known[i] = fresh[:, j]
            with self._lock:
                seen.update((keys[i], fresh[:, j]) for j, i in enumerate(missing))
        return np.column_stack([v for v in known if v is not None])


#: The raw scores of inputs each fitted evasion detector has scored.
RAW_SCORES = _RawScores()


def _p_values(values: np.ndarray, sorted_reference: np.ndarray) -> np.ndarray:
    """Return each row's conformal p-values: the share of the (sorted) reference at or above."""
    n = sorted_reference.shape[1]
    above = np.vstack(
        [
            n - np.searchsorted(sorted_reference[i], values[i], side="left")
            for i in range(len(values))
        ]
    )
    return np.asarray((1.0 + above) / (n + 1.0))


def _tail_surprise(values: np.ndarray, sorted_reference: np.ndarray) -> np.ndarray:
    """Return ``-log`` of conformal p-values with an exponential tail beyond the 95th percentile.

    The tail, fitted to the reference's excesses over that percentile, keeps the size of an
    extreme value: an input far beyond every clean input gets a far smaller p-value than one
    just beyond them.
    """
    surprise: np.ndarray = -np.log(_p_values(values, sorted_reference))
    for i, ref in enumerate(sorted_reference):
        start = float(np.quantile(ref, 0.95))
        excess = ref[ref > start] - start
        scale = max(float(excess.mean()) if excess.size else 0.0, 1e-9)
        tail = -np.log(0.05) + np.maximum(values[i] - start, 0.0) / scale
        surprise[i] = np.maximum(surprise[i], tail)
    return surprise


def _levels(column: np.ndarray, max_levels: int) -> np.ndarray | None:
    """Return the sorted distinct values of a discrete feature, or None for a continuous one."""
    seen = np.unique(column)
    if len(seen) < 2 or len(seen) > max_levels or len(column) < 10 * len(seen):
        return None
    return np.asarray(seen)


def _off_lattice(values: np.ndarray, seen: np.ndarray, tolerance: float) -> np.ndarray:
    """Return which values are neither a seen value nor on the grid of the smallest seen step.

    The grid lets a count the reference never reached (9 when it saw 0 to 8) pass.
    """
    at = np.clip(np.searchsorted(seen, values), 1, len(seen) - 1)
    gap = np.minimum(np.abs(values - seen[at - 1]), np.abs(values - seen[at]))
    step = float(np.diff(seen).min())
    steps = (values - seen[0]) / step
    off_grid = np.abs(steps - np.round(steps)) * step > tolerance
    return np.asarray((gap > tolerance) & off_grid)


def _low_margin(proba: np.ndarray) -> np.ndarray:
    """Return one minus the gap between the two most likely classes."""
    if proba.shape[1] < 2:
        return np.zeros(len(proba))
    top2 = np.sort(proba, axis=1)[:, -2:]
    return np.asarray(1.0 - (top2[:, 1] - top2[:, 0]))


class EvasionDetector:
    """Score inference inputs for adversarial evasion; see the module docstring.

    ``fpr`` is the share of clean inputs that may be flagged (the threshold is calibrated to
    it); ``alpha`` the significance of a client's excess of flagged inputs; ``noise_scale`` the
    noise, in reference standard deviations, of the instability probe; ``max_consistency``
    the most features modelled for the consistency score (the first ones);
    ``max_reference`` the most reference rows searched for nearest neighbours; ``min_excess``
    the least excess of a client's flagged share over the expected share that alarms, and
    ``min_peer_inputs`` the fewest inputs of the other clients that set an expectation. The boundary
    probe runs on the inputs whose low margin is above the clean ``1 - screen_share`` quantile:
    ``n_directions`` random points at each distance of ``radii`` (the norm of the step, in
    reference standard deviations per feature), and the ``n_neighbours`` nearest reference
    inputs of each decision. ``max_per_client`` (None: no bound) is the most inputs of one
    client :meth:`detect` scores: a client with more is judged on a uniform random sample of
    that many (the probes cost about a dozen model calls per input).
    """

    name = "adversarial_evasion"

    def __init__(
        self,
        model: Any,
        *,
        k: int = 0,
        noise_scale: float = 0.05,
        n_noise: int = 3,
        quantize_levels: int = 8,
        fpr: float = 0.01,
        alpha: float = 0.01,
        calibration_share: float = 0.3,
        max_consistency: int = 32,
        max_reference: int = 2000,
        screen_share: float = 0.1,
        radii: Sequence[float] = (0.2, 0.4, 0.7, 1.0),
        n_directions: int = 16,
        n_neighbours: int = 5,
        max_levels: int = 32,
        boundary_share: float = 0.85,
        min_excess: float = 0.05,
        min_peer_inputs: int = 100,
        random_state: int = 0,
        max_per_client: int | None = None,
    ) -> None:
        if max_per_client is not None and max_per_client < 1:
            raise InputError(
                f"max_per_client must be at least 1, got {max_per_client}", loc="max_per_client"
            )
        self.max_per_client = max_per_client
        if not 0 <= min_excess < 1:
            raise InputError(f"min_excess must be in [0, 1), got {min_excess}", loc="min_excess")
        self.min_excess = min_excess
        self.min_peer_inputs = min_peer_inputs
        if not 0 < screen_share <= 1:
            raise InputError(
                f"screen_share must be in (0, 1], got {screen_share}", loc="screen_share"
            )
        if not radii or min(radii) <= 0:
            raise InputError(f"radii must be positive distances, got {list(radii)}", loc="radii")
        if not 0 < boundary_share < 1:
            raise InputError(
                f"boundary_share must be in (0, 1), got {boundary_share}", loc="boundary_share"
            )
        self.boundary_share = boundary_share
        self.max_levels = max_levels
        self.screen_share = screen_share
        self.radii = tuple(float(r) for r in radii)
        self.n_directions = n_directions
        self.n_neighbours = n_neighbours
        self.max_reference = max_reference
        self.model = model
        self.k = k
        self.noise_scale = noise_scale
        self.n_noise = n_noise
        self.quantize_levels = quantize_levels
        self.fpr = fpr
        self.alpha = alpha
        self.calibration_share = calibration_share
        self.max_consistency = max_consistency
        self.random_state = random_state

    def fit(self, X_ref: Any, X_cal: Any | None = None) -> EvasionDetector:
        """Learn the reference and calibrate the threshold on clean calibration inputs.

        ``X_cal`` should be clean inputs the model was not trained on. Without it,
        ``calibration_share`` of ``X_ref`` is held out (fine when ``X_ref`` is itself clean
        traffic rather than training data).
        """
        X_ref = self._check(X_ref, "reference")
        rng = np.random.default_rng(self.random_state)
        if X_cal is None:
            order = rng.permutation(len(X_ref))
            n_cal = max(int(self.calibration_share * len(X_ref)), 10)
            X_cal, X_ref = X_ref[order[:n_cal]], X_ref[order[n_cal:]]
        X_cal = self._check(X_cal, "calibration")
        if len(X_ref) <= max(self.k, 2):
            raise DetectionError(f"the reference needs more than k={self.k} rows")
        if len(X_cal) < 20:
            raise DetectionError("the calibration needs at least 20 clean inputs")
        key = fingerprint(
            "evasion",
            X_ref,
            self.k,
            self.max_consistency,
            self.max_reference,
            self.max_levels,
            self.random_state,
        )
        self.reference_ = FITTED.get_or_fit(key, lambda: self._fit_reference(X_ref))
        digest = _model_digest(self.model)
        self.decisions_ = FITTED.get_or_fit(
            fingerprint(key, digest, self.n_neighbours),
            lambda: self._fit_decisions(X_ref),
        )
        calibration_key = fingerprint(
            key,
            X_cal,
            digest,
            self.screen_share,
            self.boundary_share,
            self.radii,
            self.n_directions,
            self.fpr,
            self.noise_scale,
            self.n_noise,
            self.quantize_levels,
        )
        calibrated = FITTED.get_or_fit(calibration_key, lambda: self._calibrate(X_cal, rng))
        self.memo_key_ = calibration_key
        (
            self.screen_,
            self.cal_decision_,
            self.cal_,
            self.cal_groups_,
            self.threshold_,
            self.n_calibration_,
            self.calibrated_fpr_,
        ) = calibrated
        return self

    def _calibrate(
        self, X_cal: np.ndarray, rng: np.random.Generator
    ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float, int, float]:
        # Half the calibration inputs set each signal's scale, the other half the threshold,
        # so the threshold is a conformal quantile of scores it did not shape.
        order = rng.permutation(len(X_cal))
        half = len(X_cal) // 2
        scale_rows, threshold_rows = X_cal[order[:half]], X_cal[order[half:]]
        # The screen keeps (at most) the least confident screen_share of clean inputs for the
        # probes: those whose margin is above this quantile.
        self.screen_ = float(
            np.quantile(_low_margin(self._proba(scale_rows)), 1 - self.screen_share)
        )
        raw = self._raw(scale_rows)
        self.cal_decision_ = np.sort(raw[5:7], axis=1)
        self.cal_ = np.vstack([raw[:5], self._fisher(raw[5:7])])
        self.cal_groups_ = np.sort(self._groups(self._scaled(raw)), axis=1)
        combined = self._combine(self._raw(threshold_rows))
        n = len(combined)
        rank = min(int(np.ceil((n + 1) * (1 - self.fpr))), n)
        threshold = float(np.sort(combined)[rank - 1])
        # The share of the threshold rows above it: at most fpr, by construction.
        measured = float((combined > threshold).mean())
        return self.screen_, self.cal_decision_, self.cal_, self.cal_groups_, threshold, n, measured

    def _fisher(self, raw: np.ndarray) -> np.ndarray:
        """Join the flip share and the neighbour ratio: ``-log`` of their clean p-values, summed."""
        return np.asarray(-np.log(_p_values(raw, self.cal_decision_)).sum(axis=0))

    @staticmethod
    def _groups(z: list[np.ndarray]) -> np.ndarray:
        """Return the two group scores: the largest of the first four signals, the boundary."""
        return np.vstack([np.max(z[:5], axis=0), z[5]])

    def _proba(self, X: np.ndarray) -> np.ndarray:
        proba = np.asarray(self.model.predict_proba(X), dtype=float)
        if proba.ndim != 2 or len(proba) != len(X):
            raise DetectionError(
                f"the model's predict_proba returned shape {proba.shape} for {len(X)} inputs"
            )
        return proba

    def _fit_decisions(self, X_ref: np.ndarray) -> _Decisions:
        ref = self.reference_
        rows = np.random.default_rng(self.random_state).permutation(len(X_ref))
        X = X_ref[rows[: self.max_reference]]
        decided = self._proba(X).argmax(axis=1)
        Z = ref.scaler.transform(X)
        classes = np.unique(decided)
        # At most half the searched rows per decision: the majority's neighbours stay dense.
        members = tuple(Z[decided == c][: max(self.max_reference // 2, 1)] for c in classes)
        return _Decisions(classes, members, self.n_neighbours)

    def _probe(self, X: np.ndarray, Z: np.ndarray, decided: np.ndarray) -> np.ndarray:
        """Return the flip share and the neighbour ratio of each input (2 x n)."""
        n, d = X.shape
        if n == 0:
            return np.zeros((2, 0))
        # The same random directions for every input: one model call for all probe points.
        rng = np.random.default_rng(self.random_state + 1)
        radii = np.repeat(self.radii, self.n_directions)
        steps = rng.normal(size=(len(radii), d))
        steps *= (radii / np.linalg.norm(steps, axis=1))[:, None] * self.reference_.std
        points = (X[:, None, :] + steps[None]).reshape(n * len(radii), d)
        moved = self._proba(points).argmax(axis=1).reshape(n, len(radii))
        flips = (moved != decided[:, None]).mean(axis=1)
        # Neighbours only where the decision flipped at all: a stable input is not near a
        # boundary, and the search is the costly part.
        ratio = np.zeros(n)
        near = np.flatnonzero(flips > 0)
        with one_thread():
            ratio[near] = self.decisions_.ratio(Z[near], decided[near])
        return np.vstack([flips, ratio])

    def _fit_reference(self, X_ref: np.ndarray) -> _Reference:
        with one_thread():
            scaler = StandardScaler().fit(X_ref)
            Z = scaler.transform(X_ref)
            rows = np.random.default_rng(self.random_state).permutation(len(Z))
            nn = NearestNeighbors(n_neighbors=max(self.k, 1)).fit(Z[rows[: self.max_reference]])
            precision = np.linalg.pinv(np.cov(Z, rowvar=False).reshape(Z.shape[1], Z.shape[1]))
            keep = Z[:, : self.max_consistency]
            models = _Consistency.fit(keep) if Z.shape[1] > 1 else None
            residual = models.residuals(keep) if models else np.zeros((len(Z), 0))
        scale = 1.4826 * np.median(np.abs(residual), axis=0) + 1e-3
        return _Reference(
            scaler=scaler,
            nn=nn,
            precision=precision,
            consistency=models,
            residual_scale=np.asarray(scale),
            low=X_ref.min(axis=0),
            span=np.maximum(X_ref.max(axis=0) - X_ref.min(axis=0), 1e-12),
            std=X_ref.std(axis=0) + 1e-12,
            levels=tuple(_levels(X_ref[:, j], self.max_levels) for j in range(X_ref.shape[1])),
        )

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
        """Return the raw inconsistency, manifold, instability and margin scores (4 x n)."""
        ref = self.reference_
        Z = ref.scaler.transform(X)
        with one_thread():
            keep = Z[:, : self.max_consistency]
            residual = ref.consistency.residuals(keep) if ref.consistency else np.zeros((len(Z), 0))
            if self.k:
                manifold = ref.nn.kneighbors(Z)[0].mean(axis=1)
            else:
                manifold = np.einsum("ij,jk,ik->i", Z, ref.precision, Z)
        inconsistency = ((residual / ref.residual_scale) ** 2).sum(axis=1)
        rng = np.random.default_rng(self.random_state)
        noisy = [
            X + rng.normal(0.0, self.noise_scale, X.shape) * ref.std for _ in range(self.n_noise)
        ]
        levels = self.quantize_levels
        squeezed = np.round((X - ref.low) / ref.span * levels) / levels * ref.span + ref.low
        # One model call for the inputs, their noisy copies and their squeezed copies: a served
        # pipeline costs milliseconds per call before it costs anything per row.
        stacked = self._proba(np.vstack([X, *noisy, squeezed]))
        proba, *moved = np.split(stacked, self.n_noise + 2)
        change = np.zeros(len(X))
        for other in moved:
            change = np.maximum(change, np.abs(other - proba).sum(1))
        margin = _low_margin(proba)
        probes = np.zeros((2, len(X)))
        # Strictly above: a tree ensemble gives most confident inputs one and the same margin,
        # and ties at the quantile would send every input to the costly probes.
        kept = np.flatnonzero(margin > self.screen_)
        probes[:, kept] = self._probe(X[kept], Z[kept], proba[kept].argmax(axis=1))
        domain = np.zeros(len(X))
        for j, seen in enumerate(ref.levels):
            if seen is not None:
                domain += _off_lattice(X[:, j], seen, 1e-6 * float(ref.std[j]))
        return np.vstack([inconsistency, manifold, change, margin, domain, probes])

    def _scaled(self, raw: np.ndarray) -> list[np.ndarray]:
        joined = np.vstack([raw[:5], self._fisher(raw[5:7])])
        # A domain count that clean inputs never reach scales to a huge value: hard evidence.
        return [tail_scale(joined[i], self.cal_[i]) for i in range(len(SIGNALS))]

    def _combine(self, raw: np.ndarray) -> np.ndarray:
        return self._joined(self._scaled(raw))

    def _joined(self, z: list[np.ndarray]) -> np.ndarray:
        # Each group's clean p-value; the combined score is -log of the smaller one, so the
        # boundary group is not drowned by heavy-tailed distances in a plain maximum.
        surprise = _tail_surprise(self._groups(z), self.cal_groups_)
        share = np.array([[1.0 - self.boundary_share], [self.boundary_share]])
        return np.asarray((surprise + np.log(share)).max(axis=0))

    def score(self, X: Any) -> EvasionScores:
        """Return the per-input scores and flags of ``X``."""
        if not hasattr(self, "threshold_"):
            raise DetectionError("EvasionDetector.score called before fit")
        X = self._check(X, "inputs")
        z = self._scaled(RAW_SCORES.raw(self.memo_key_, X, self._raw))
        combined = self._joined(z)
        flagged = combined > self.threshold_
        return EvasionScores(z[0], z[1], z[2], z[3], z[4], z[5], combined, flagged)

    def detect(
        self, X: Any, *, clients: Sequence[str] | None = None, subject: str = "traffic"
    ) -> list[Verdict]:
        """Return one verdict per client (or one for all inputs when ``clients`` is None).

        With ``max_per_client``, a client with more inputs is judged on a uniform random
        sample of that many (see :meth:`sample`); its verdict says so.
        """
        X = self._check(X, "inputs")
        if clients is None:
            groups = {subject: np.arange(len(X))}
        else:
            if len(clients) != len(X):
                raise InputError(f"{len(clients)} client ids for {len(X)} inputs", loc="clients")
            keys = np.asarray(clients, dtype=object)
            groups = {f"client:{c}": np.flatnonzero(keys == c) for c in dict.fromkeys(clients)}
        sizes = {name: len(rows) for name, rows in groups.items()}
        if self.max_per_client is not None and any(n > self.max_per_client for n in sizes.values()):
            known = RAW_SCORES.known(self.memo_key_, X)
            rng = np.random.default_rng(self.random_state)
            groups = {name: self.sample(rows, known, rng) for name, rows in groups.items()}
        picked = np.sort(np.concatenate(list(groups.values())))
        scores = self._spread(self.score(X[picked]), picked, len(X))
        total_k, total_n = int(scores.flagged.sum()), len(picked)
        return [
            self._verdict(name, rows, scores, total_k, total_n, sizes[name])
            for name, rows in groups.items()
        ]

    def sample(self, rows: np.ndarray, known: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return at most ``max_per_client`` of ``rows`` (indices of one client's inputs),
        drawn uniformly at random, the inputs already scored by this fit (``known``) first.

        Which inputs are drawn does not depend on their scores, so the client's flagged share
        in the sample estimates its share in the window without bias, and the binomial test
        of :meth:`detect` stays exact on the sample. Taking the inputs a sliding window shares
        with the last one first means a window probes about half a sample of new inputs.

        >>> d = EvasionDetector(model=None, max_per_client=3)
        >>> rows = np.arange(10)
        >>> known = np.isin(rows, [1, 2])
        >>> picked = d.sample(rows, known, np.random.default_rng(0))
        >>> len(picked), {1, 2} <= set(picked.tolist())
        (3, True)
        >>> d.sample(rows[:2], known, np.random.default_rng(0)).tolist()
        [0, 1]
        """
        cap = self.max_per_client
        if cap is None or len(rows) <= cap:
            return rows
        scored, fresh = rows[known[rows]], rows[~known[rows]]
        order = np.concatenate([rng.permutation(scored), rng.permutation(fresh)])
        return np.sort(order[:cap])

    @staticmethod
    def _spread(s: EvasionScores, picked: np.ndarray, n: int) -> EvasionScores:
        """Return ``s`` (scores of the inputs ``picked``) at their places among ``n`` inputs;
        the inputs not picked score 0 and are not flagged."""

        def spread(values: np.ndarray) -> np.ndarray:
            full = np.zeros(n, dtype=values.dtype)
            full[picked] = values
            return full

        return EvasionScores(
            spread(s.inconsistency),
            spread(s.manifold),
            spread(s.instability),
            spread(s.margin),
            spread(s.domain),
            spread(s.boundary),
            spread(s.combined),
            spread(s.flagged),
        )

    def expected_share(self, peers_flagged: int, peers_n: int) -> tuple[float, str]:
        """Return the flagged share expected of a client, and where it comes from.

        The calibrated rate, at the upper end of its sampling error (the threshold is a
        quantile estimated on the calibration inputs), or the upper 99% bound of the other
        clients' flagged share when they sent at least ``min_peer_inputs`` inputs and it is
        higher.

        >>> import numpy as np
        >>> d = EvasionDetector(model=None, fpr=0.01)
        >>> d.n_calibration_ = 1000
        >>> round(d.expected_share(0, 0)[0], 4), d.expected_share(0, 0)[1]
        (0.0163, 'calibration')
        >>> round(d.expected_share(100, 1000)[0], 3), d.expected_share(100, 1000)[1]
        (0.124, 'other clients')
        """
        n_cal = self.n_calibration_
        expected = float(min(self.fpr + 2 * np.sqrt(self.fpr * (1 - self.fpr) / n_cal), 1.0))
        if peers_n >= self.min_peer_inputs:
            upper = float(stats.beta.ppf(0.99, peers_flagged + 1, peers_n - peers_flagged))
            if upper > expected:
                return upper, "other clients"
        return expected, "calibration"

    def _verdict(
        self,
        subject: str,
        rows: np.ndarray,
        s: EvasionScores,
        total_k: int,
        total_n: int,
        inputs: int,
    ) -> Verdict:
        n, k = len(rows), int(s.flagged[rows].sum())
        sampled = f" (a random sample of its {inputs})" if inputs > n else ""
        expected, basis = self.expected_share(total_k - k, total_n - n)
        p = float(stats.binomtest(k, n, expected, alternative="greater").pvalue)
        share = k / n
        large = share >= max(2 * expected, expected + self.min_excess)
        decision: Decision = (
            "drift"
            if p < self.alpha and large
            else "warn"
            if p < 5 * self.alpha and large
            else "ok"
        )
        parts = {
            "inconsistency": s.inconsistency,
            "manifold": s.manifold,
            "instability": s.instability,
            "margin": s.margin,
            "domain": s.domain,
            "boundary": s.boundary,
        }
        flagged_rows = rows[s.flagged[rows]]
        # A signal drives a flagged input when it is beyond its own clean 99th percentile.
        drivers = {name: int((v[flagged_rows] >= 1.0).sum()) for name, v in parts.items()}
        return Verdict(
            detector=self.name,
            method="consistency+knn+squeezing+margin+domain+boundary",
            subject=subject,
            failure_mode="adversarial_evasion",
            statistic=round(share, 4),
            p_value=p,
            threshold=self.fpr,
            threshold_source="calibrated",
            decision=decision,
            effect_size=round(share - expected, 4),
            n_reference=self.n_calibration_,
            n_current=n,
            reason=f"{k}/{n} inputs{sampled} beyond the clean {1 - self.fpr:.0%} quantile "
            f"(expected at most {expected:.1%}, from the {basis}); driven by "
            + ", ".join(f"{name} {c}" for name, c in drivers.items() if c),
            evidence={
                "atlas": [EVADE, CRAFT] if decision != "ok" else [],
                "flagged_rows": flagged_rows[:200].tolist(),
                "drivers": drivers,
                "score_threshold": round(self.threshold_, 4),
                "expected_share": round(expected, 4),
                "expected_from": basis,
                "calibrated_fpr": round(self.calibrated_fpr_, 4),
                "inputs": inputs,
                "sampled": n,
            },
        )
