"""Training-data poisoning screening, run on every new batch before it reaches training.

A batch alarms only on evidence in its rows, never on a change of its label rate alone. The
trusted reference is what an operator marked as trusted (earlier batches, a known-good
version's training data); its fit is cached by a hash of the data, so a repeated screen only
scores the new batch. Signals:

* ``label_disagreement`` (row evidence): a model fitted on the trusted rows predicts each row of
  the batch; a label is suspect when its probability is below ``flag_prob`` and, measured
  against each class's own self-confidence, another class is likelier (confident learning). The
  batch's share of suspect labels, class by class, is compared with the trusted rows' own
  out-of-fold share (Fisher's exact test). The batch never trains the model that judges it, so
  a consistent flip of one pattern cannot teach itself;
* ``spectral_signature`` (row evidence): per class, rows are whitened with the trusted class's
  covariance and projected on the top singular vector of the batch's class; a poison cluster
  dominates that direction. Rows beyond a robust z of ``z_flag`` are counted against the trusted
  rows beyond it;
* ``near_duplicates`` (row evidence): rows that (nearly) repeat a row of another source, above
  the rate at which the trusted rows repeat each other, and repeats whose labels conflict;
* ``label_prior`` (reported, never the alarm): chi-square of the label counts against the trusted
  shares; a label-rate change with consistent labels is drift of the label prior;
* ``feature_drift`` (reported, never the alarm): Kolmogorov-Smirnov per feature, BH-corrected.

Every row gets a suspicion score in [0, 1]. The functions behind the signals
(:func:`fit_trusted`, :func:`label_disagreement`, :func:`spectral_signature`,
:func:`near_duplicates`) return per-row values and serve forensics as well.

Example:
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=900, n_features=8, class_sep=2.0, random_state=1)
    >>> screen = PoisoningScreen(random_state=0).fit(X[:500], y[:500])
    >>> clean = screen.screen(X[500:700], y[500:700], batch_id="vendor-a")
    >>> flipped = y[700:].copy(); flipped[:60] = 1 - flipped[:60]
    >>> bad = screen.screen(X[700:], flipped, batch_id="vendor-b")
    >>> clean.verdict.decision, bad.verdict.decision
    ('ok', 'drift')
    >>> float(bad.scores[:60].mean()) > float(bad.scores[60:].mean())
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats
from sklearn.base import ClassifierMixin, clone
from sklearn.covariance import ledoit_wolf
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from airsoc.detection._cache import FITTED, fingerprint, one_thread
from airsoc.detection.attacks._stats import robust_z
from airsoc.detection.stats import benjamini_hochberg
from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import DetectionError, InputError

__all__ = [
    "LabelDisagreement",
    "PoisoningScreen",
    "ScreeningResult",
    "TrustedModel",
    "fit_trusted",
    "label_disagreement",
    "near_duplicates",
    "read_frame",
    "screen_batch",
    "spectral_signature",
]

POISON = "AML.T0020"
SUPPLY_DATA = "AML.T0010.002"
BACKDOOR = "AML.T0018"
#: Signals whose evidence lies in the rows; only these can make a batch ``drift``.
ROW_SIGNALS = ("label_disagreement", "spectral_signature", "near_duplicates")
#: Trusted sets at least this large get a gradient-boosted model by default (else logistic).
BOOSTING_MIN_ROWS = 1000


def _as_arrays(X: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise InputError(
            f"expected a 2-D feature matrix and one label per row, got {X.shape} and {y.shape}",
            loc=where,
        )
    if not np.isfinite(X).all():
        row = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise InputError(f"row {row} has a missing or infinite feature value", loc=where)
    return X, y


# ----------------------------------------------------------------------------- trusted model


@dataclass(frozen=True)
class TrustedModel:
    """A model fitted on trusted rows, with what the screen compares a batch against.

    ``oof_proba`` are out-of-fold class probabilities of the trusted rows (the null behaviour
    of label disagreement); ``self_confidence`` the mean out-of-fold probability of each class
    on its own rows; ``whitening`` per class index, the trusted class mean and whitening matrix.
    """

    key: str
    classes: np.ndarray
    X: np.ndarray
    y_index: np.ndarray
    scaler: StandardScaler
    shape: _SignedLog
    model: Any
    oof_proba: np.ndarray
    self_confidence: np.ndarray
    flag_prob: float
    whitening: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]
    sorted_columns: np.ndarray
    oof_flags: np.ndarray

    @property
    def prior(self) -> np.ndarray:
        """Return the trusted share of each class."""
        return np.bincount(self.y_index, minlength=len(self.classes)) / len(self.y_index)

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Return class probabilities of ``X`` in the order of ``classes``."""
        out = np.zeros((len(X), len(self.classes)))
        cols = np.searchsorted(self.classes, self.model.classes_)
        # One thread: the screen runs beside other work, and OpenMP threads that wait for a busy
        # core cost more than they save on a batch.
        with one_thread():
            out[:, cols] = self.model.predict_proba(X)
        return out


@dataclass(frozen=True)
class _SignedLog:
    scaler: StandardScaler

    def transform(self, X: np.ndarray) -> np.ndarray:
        Z = self.scaler.transform(X)
        return np.asarray(np.sign(Z) * np.log1p(np.abs(Z)))


def _default_model(n_rows: int) -> Any:
    if n_rows >= BOOSTING_MIN_ROWS:
        return HistGradientBoostingClassifier(
            max_iter=50, learning_rate=0.2, early_stopping=False, random_state=0
        )
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))


def _whitening(Z: np.ndarray, idx: np.ndarray, k: int, min_rows: int) -> dict[int, Any]:
    """Return per class: the trusted mean, the whitening matrix and the whitened trusted rows."""
    out: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for j in range(k):
        rows = Z[idx == j]
        if len(rows) < min_rows:
            continue
        if len(rows) < 5 * Z.shape[1]:
            # Too few trusted rows to estimate the covariance: standardised space only.
            white = np.eye(Z.shape[1])
        else:
            # Shrunk covariance: a class may have few trusted rows for its features.
            vals, vecs = np.linalg.eigh(ledoit_wolf(rows)[0] + 1e-6 * np.eye(Z.shape[1]))
            white = vecs / np.sqrt(vals)
        mean = rows.mean(axis=0)
        out[j] = (mean, white, (rows - mean) @ white)
    return out


def fit_trusted(
    X: Any,
    y: Any,
    *,
    estimator: ClassifierMixin | None = None,
    n_folds: int = 5,
    flag_prob: float = 0.3,
    min_class_size: int = 8,
    random_state: int = 0,
) -> TrustedModel:
    """Return the trusted model of ``(X, y)``, fitted once per data and settings (cached).

    The default model is a gradient-boosted tree ensemble from 1,000 trusted rows on, a
    standardised logistic regression below.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] > 0).astype(int)
    >>> trusted = fit_trusted(X, y)
    >>> trusted.classes.tolist(), fit_trusted(X, y) is trusted
    ([0, 1], True)
    """
    X, y = _as_arrays(X, y, "trusted")
    classes = np.unique(y)
    if len(classes) < 2:
        raise DetectionError("the trusted rows need at least two classes")
    key = fingerprint("trusted", X, y, repr(estimator), n_folds, flag_prob, random_state)

    def fit() -> TrustedModel:
        with one_thread():
            return _fit()

    def _fit() -> TrustedModel:
        base = estimator if estimator is not None else _default_model(len(X))
        idx = np.searchsorted(classes, y)
        counts = np.bincount(idx, minlength=len(classes))
        folds = max(2, min(n_folds, int(counts.min())))
        oof = np.zeros((len(X), len(classes)))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        for train, test in splitter.split(X, idx):
            model = clone(base).fit(X[train], y[train])
            cols = np.searchsorted(classes, model.classes_)
            oof[np.ix_(test, cols)] = model.predict_proba(X[test])
        confidence = np.array(
            [oof[idx == j, j].mean() if counts[j] else 0.5 for j in range(len(classes))]
        )
        flags = _cl_flags(oof, idx, confidence, flag_prob)
        scaler = StandardScaler().fit(X)
        # Spectral signatures work on standardised features with tails compressed (signed
        # log): heavy tails would otherwise dominate the top direction of clean rows, while a
        # value the trusted rows never take stays far out.
        shape = _SignedLog(scaler)
        return TrustedModel(
            key=key,
            classes=classes,
            X=X,
            y_index=idx,
            scaler=scaler,
            shape=shape,
            model=clone(base).fit(X, y),
            oof_proba=oof,
            self_confidence=confidence,
            flag_prob=flag_prob,
            sorted_columns=np.sort(X, axis=0),
            oof_flags=flags,
            whitening=_whitening(shape.transform(X), idx, len(classes), min_class_size),
        )

    return FITTED.get_or_fit(key, fit)


@dataclass(frozen=True)
class LabelDisagreement:
    """Per-row label disagreement: probability of the given label, a score in [0, 1], flags."""

    given_proba: np.ndarray
    score: np.ndarray
    flagged: np.ndarray


def _cl_flags(
    proba: np.ndarray, idx: np.ndarray, confidence: np.ndarray, flag_prob: float
) -> np.ndarray:
    """Return confident-learning flags: the given label is improbable and, each class measured
    against its own self-confidence, another class is likelier."""
    rows = np.arange(len(idx))
    norm = proba / np.maximum(confidence, 1e-6)
    other = norm.copy()
    other[rows, idx] = -np.inf
    return np.asarray((proba[rows, idx] < flag_prob) & (other.max(axis=1) > norm[rows, idx]))


def _disagreement(trusted: TrustedModel, proba: np.ndarray, idx: np.ndarray) -> LabelDisagreement:
    given = proba[np.arange(len(idx)), idx]
    flagged = _cl_flags(proba, idx, trusted.self_confidence, trusted.flag_prob)
    score = np.clip(1.0 - given / np.maximum(trusted.self_confidence[idx], 1e-6), 0.0, 1.0)
    return LabelDisagreement(given, score, flagged)


def label_disagreement(trusted: TrustedModel, X: Any, y: Any) -> LabelDisagreement:
    """Return how strongly the trusted model contradicts each row's label.

    ``score`` is 0 when the given label is as probable as the class's own rows are on average
    and 1 when the model gives it no probability; ``flagged`` marks labels that confident
    learning finds wrong.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); y = (X[:, 0] > 0).astype(int)
    >>> trusted = fit_trusted(X, y)
    >>> found = label_disagreement(trusted, [[2.0, 0.0], [2.0, 0.0]], [1, 0])
    >>> found.flagged.tolist(), bool(found.score[1] > 0.9)
    ([False, True], True)
    """
    X, y = _as_arrays(X, y, "rows")
    idx = _class_index(trusted, y, "rows")
    return _disagreement(trusted, trusted.proba(X), idx)


def _class_index(trusted: TrustedModel, y: np.ndarray, where: str) -> np.ndarray:
    unknown = sorted(set(np.unique(y).tolist()) - set(trusted.classes.tolist()))
    if unknown:
        raise InputError(f"labels not in the reference: {unknown}", loc=where)
    return np.searchsorted(trusted.classes, y)


def spectral_signature(
    trusted: TrustedModel, X: Any, y: Any
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """Return per-row spectral robust z-scores, and per class the trusted rows' own z-scores.

    Rows of each class are whitened with the trusted class's covariance and projected on the
    top singular vector of the batch's rows of that class; the absolute projection is a robust
    z-score against the trusted rows' projections. Classes with too few trusted rows score 0.
    The second array holds the class index of each row.

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(600, 4)); y = (X[:, 0] > 0).astype(int)
    >>> trusted = fit_trusted(X, y)
    >>> batch = rng.normal(size=(300, 4)); batch[:15] = [1.0, 6.0, 6.0, 0.0]
    >>> z, _, _ = spectral_signature(trusted, batch, (batch[:, 0] > 0).astype(int))
    >>> bool(z[:15].min() > np.quantile(z[15:], 0.99))
    True
    """
    X, y = _as_arrays(X, y, "rows")
    idx = _class_index(trusted, y, "rows")
    Xs = trusted.shape.transform(X)
    out = np.zeros(len(X))
    ref_z: dict[int, np.ndarray] = {}
    for j, (mean, white, R) in trusted.whitening.items():
        rows = idx == j
        if rows.sum() < 3:
            continue
        Z = (Xs[rows] - mean) @ white
        centre = Z.mean(axis=0)
        # The top right singular vector of the centred rows, from the small d x d scatter matrix.
        top = np.linalg.eigh((Z - centre).T @ (Z - centre))[1][:, -1]
        score = np.abs((Z - centre) @ top)
        ref_score = np.abs((R - centre) @ top)
        # Each set against its own median and spread: a poison minority barely moves them,
        # and the batch is judged on the direction its own rows chose, as the trusted rows are.
        out[rows] = robust_z(score, score)
        ref_z[j] = robust_z(ref_score, ref_score)
    return out, idx, ref_z


def _trigger(X: np.ndarray, flagged: np.ndarray, trusted: np.ndarray) -> dict[int, float]:
    """Return features that half the flagged rows or more share one value of, rare in the trusted
    rows: the stamp of a backdoor trigger (feature index to value)."""
    rows = X[flagged]
    if len(rows) < 5:
        return {}
    out: dict[int, float] = {}
    for j in range(X.shape[1]):
        values, counts = np.unique(np.round(rows[:, j], 9), return_counts=True)
        mode = float(values[np.argmax(counts)])
        if counts.max() >= 0.5 * len(rows) and np.mean(np.isclose(trusted[:, j], mode)) < 0.05:
            out[j] = mode
    return out


def _grid_keys(Z: np.ndarray, resolution: float) -> np.ndarray:
    """Return one int64 hash per row of the grid cell it falls in."""
    cells = np.floor(Z / resolution).astype(np.int64)
    weights = np.random.default_rng(12345).integers(1, 2**61, size=Z.shape[1]) | 1
    return np.asarray((cells * weights).sum(axis=1), dtype=np.int64)


@dataclass(frozen=True)
class _Cells:
    """Grid cells of one source: its cells, its (cell, label) pairs, cells with several labels."""

    keys: np.ndarray
    pairs: np.ndarray
    mixed: np.ndarray
    repeat_rate: float

    @classmethod
    def of(cls, keys: np.ndarray, labels: np.ndarray) -> _Cells:
        pairs = np.unique(np.column_stack([keys, labels.astype(np.int64)]), axis=0)
        uniq, counts = np.unique(pairs[:, 0], return_counts=True)
        _, inverse, per_key = np.unique(keys, return_inverse=True, return_counts=True)
        return cls(
            keys=np.unique(keys),
            pairs=np.unique(pairs[:, 0] * 1_000_003 + pairs[:, 1]),
            mixed=uniq[counts > 1],
            repeat_rate=float((per_key[inverse] > 1).mean()) if len(keys) else 0.0,
        )

    def match(self, keys: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return which rows repeat a cell of this source, and which of those disagree on label."""
        hit = _member(keys, self.keys)
        same = _member(keys * 1_000_003 + labels.astype(np.int64), self.pairs)
        return hit, hit & (~same | _member(keys, self.mixed))


def _member(values: np.ndarray, sorted_unique: np.ndarray) -> np.ndarray:
    """Return which values are in a sorted array of unique values."""
    if not len(sorted_unique):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_unique, values), len(sorted_unique) - 1)
    return np.asarray(sorted_unique[at] == values)


def near_duplicates(
    X: Any,
    others: Mapping[str, Any],
    *,
    scaler: StandardScaler | None = None,
    resolution: float = 0.02,
) -> dict[str, np.ndarray]:
    """Return, per other source, which rows of ``X`` fall in the same grid cell as one of its rows.

    Features are standardised (with ``scaler``, else on ``X``) and cut into cells of
    ``resolution`` standard deviations, so exact and near repeats meet in one cell.

    >>> import numpy as np
    >>> a = np.array([[0.0, 1.0], [5.0, 5.0], [2.0, 3.0]])
    >>> near_duplicates(a, {"vendor-b": np.array([[5.0, 5.0001], [9.0, 9.0]])})["vendor-b"].tolist()
    [False, True, False]
    """
    X = np.asarray(X, dtype=float)
    scaler = scaler or StandardScaler().fit(X)
    keys = _grid_keys(scaler.transform(X), resolution)
    return {
        name: np.isin(keys, _grid_keys(scaler.transform(np.asarray(o, dtype=float)), resolution))
        for name, o in others.items()
    }


# ----------------------------------------------------------------------------- the screen


@dataclass
class ScreeningResult:
    """A batch's verdict, the per-signal verdicts, and per-row suspicion scores and flags."""

    verdict: Verdict
    scores: np.ndarray
    flagged: np.ndarray
    signals: dict[str, Verdict] = field(default_factory=dict)
    signal_scores: dict[str, np.ndarray] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{decision, signals: [{name, statistic, p_value, decision}], rows}``.

        ``rows`` holds one ``{row, score}`` per row of the batch (0-based, score in [0, 1]).
        """
        return {
            "batch": self.verdict.subject,
            "decision": self.verdict.decision,
            "reason": self.verdict.reason,
            "signals": [
                {
                    "name": name,
                    "statistic": v.statistic,
                    "p_value": v.p_value,
                    "decision": v.decision,
                    "counts_toward_decision": name in ROW_SIGNALS,
                }
                for name, v in self.signals.items()
            ],
            "rows": [{"row": i, "score": round(float(s), 6)} for i, s in enumerate(self.scores)],
        }


class PoisoningScreen:
    """Screen training batches against trusted rows; see the module docstring.

    ``estimator`` is the model for label disagreement (default: see :func:`fit_trusted`);
    ``alpha`` the family-wise error rate of a batch alarm over the row-evidence signals;
    ``z_flag`` the robust z-score at which a spectral score flags a row; ``flag_prob`` the
    model probability of the given label below which a disagreeing label is flagged;
    ``resolution`` the grid cell, in standard deviations, of near-duplicates; ``min_excess``
    the effect-size gate: a row signal alarms only when the rows above the trusted rate number
    at least this share of the batch (and at least 3).
    """

    name = "data_poisoning"

    def __init__(
        self,
        *,
        estimator: ClassifierMixin | None = None,
        n_folds: int = 5,
        alpha: float = 0.01,
        z_flag: float = 6.0,
        flag_prob: float = 0.3,
        min_class_size: int = 8,
        resolution: float = 0.02,
        min_excess: float = 0.005,
        random_state: int = 0,
    ) -> None:
        self.min_excess = min_excess
        self.estimator = estimator
        self.n_folds = n_folds
        self.alpha = alpha
        self.z_flag = z_flag
        self.flag_prob = flag_prob
        self.min_class_size = min_class_size
        self.resolution = resolution
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> PoisoningScreen:
        """Fit (or fetch from the cache) the trusted model of ``(X, y)``."""
        self.trusted_ = fit_trusted(
            X,
            y,
            estimator=self.estimator,
            n_folds=self.n_folds,
            flag_prob=self.flag_prob,
            min_class_size=self.min_class_size,
            random_state=self.random_state,
        )
        t = self.trusted_
        self.classes_ = t.classes
        self.oof_flags_ = t.oof_flags
        self.trusted_cells_ = FITTED.get_or_fit(
            fingerprint(t.key, "cells", self.resolution),
            lambda: _Cells.of(_grid_keys(t.scaler.transform(t.X), self.resolution), t.y_index),
        )
        return self

    def screen(
        self,
        X: Any,
        y: Any,
        *,
        batch_id: str = "batch",
        others: Mapping[str, tuple[Any, Any]] | None = None,
    ) -> ScreeningResult:
        """Return the screening result of one batch (verdict, scores and flags per row).

        ``others`` maps other sources (vendors, batches) to their ``(X, y)``; rows that repeat
        theirs are near-duplicates. The trusted rows always count as one other source.
        """
        if not hasattr(self, "trusted_"):
            raise DetectionError("PoisoningScreen.screen called before fit")
        t = self.trusted_
        X, y = _as_arrays(X, y, batch_id)
        if X.shape[1] != t.X.shape[1]:
            raise InputError(
                f"batch has {X.shape[1]} features, the reference {t.X.shape[1]}", loc=batch_id
            )
        idx = _class_index(t, y, batch_id)
        if len(X) < 2:
            verdict = Verdict(
                detector=self.name,
                method="screen",
                subject=batch_id,
                failure_mode="data_poisoning",
                decision="ok",
                n_current=len(X),
                n_reference=len(t.X),
                reason="batch too small to screen",
            )
            return ScreeningResult(verdict, np.zeros(len(X)), np.zeros(len(X), dtype=bool))
        signals: dict[str, Verdict] = {}
        found = _disagreement(t, t.proba(X), idx)
        signals["label_disagreement"] = self._excess_flags(found.flagged, idx, batch_id)
        spectral, _, ref_z = spectral_signature(t, X, y)
        signals["spectral_signature"] = self._spectral_verdict(spectral, idx, ref_z, batch_id)
        dup_score, dup_verdict = self._duplicates(X, y, others or {}, batch_id)
        signals["near_duplicates"] = dup_verdict
        signals["label_prior"] = self._label_prior(idx, found.flagged, batch_id)
        signals["feature_drift"] = self._drift(X, batch_id)
        spectral_score = np.clip((spectral - self.z_flag / 2) / self.z_flag, 0.0, 1.0)
        stacked = np.vstack([found.score, spectral_score, dup_score])
        scores = 1.0 - np.prod(1.0 - stacked, axis=0)
        flagged = found.flagged | (spectral >= self.z_flag) | (dup_score >= 1.0)
        return self._result(batch_id, X, signals, scores, flagged, found, spectral, dup_score)

    def _result(
        self,
        batch_id: str,
        X: np.ndarray,
        signals: dict[str, Verdict],
        scores: np.ndarray,
        flagged: np.ndarray,
        found: LabelDisagreement,
        spectral: np.ndarray,
        dup_score: np.ndarray,
    ) -> ScreeningResult:
        row_signals = {k: signals[k] for k in ROW_SIGNALS}
        alarms = [k for k, v in row_signals.items() if v.decision == "drift"]
        warned = [k for k, v in row_signals.items() if v.decision == "warn"]
        decision: Decision = "drift" if alarms else "warn" if warned else "ok"
        atlas = [POISON, SUPPLY_DATA] if alarms else []
        trigger = _trigger(X, flagged, self.trusted_.X) if alarms else {}
        if trigger or ("spectral_signature" in alarms and "label_disagreement" not in alarms):
            atlas.append(BACKDOOR)
        notes = [
            f"{name.replace('_', ' ')} ({signals[name].reason})"
            for name in ("label_prior", "feature_drift")
            if signals[name].decision != "ok"
        ]
        if alarms:
            reason = (
                f"batch {batch_id}: {', '.join(alarms)} significant; {int(flagged.sum())} of "
                f"{len(X)} rows flagged"
            )
        else:
            reason = f"batch {batch_id}: no evidence of poisoning in the rows" + (
                f" ({', '.join(warned)} to watch)" if warned else ""
            )
        if notes:
            reason += "; reported, not poisoning: " + "; ".join(notes)
        p_values = [v.p_value for v in row_signals.values() if v.p_value is not None]
        verdict = Verdict(
            detector=self.name,
            method="screen[label_disagreement,spectral_signature,near_duplicates]",
            subject=batch_id,
            failure_mode="data_poisoning",
            statistic=float(flagged.mean()),
            p_value=min(p_values) if p_values else None,
            threshold=self.alpha,
            threshold_source="fixed",
            decision=decision,
            effect_size=float(found.flagged.mean() - self.oof_flags_.mean()),
            n_reference=len(self.trusted_.X),
            n_current=len(X),
            reason=reason,
            evidence={
                "atlas": atlas,
                "signals": {
                    k: {"decision": v.decision, "p_value": v.p_value, "reason": v.reason}
                    for k, v in signals.items()
                },
                "flagged_rows": np.flatnonzero(flagged)[:200].tolist(),
                "top_suspects": np.argsort(-scores, kind="stable")[:20].tolist(),
                "reference": self.trusted_.key[:16],
                "trigger": trigger,
            },
        )
        return ScreeningResult(
            verdict,
            scores,
            flagged,
            signals,
            {
                "label_disagreement": found.score,
                "spectral_signature": spectral,
                "near_duplicates": dup_score,
            },
        )

    def _signal(
        self,
        name: str,
        batch_id: str,
        p: float,
        statistic: float,
        reason: str,
        *,
        n_current: int,
        counts: bool = True,
        excess: float | None = None,
        **extra: Any,
    ) -> Verdict:
        # Row-evidence signals share alpha (Bonferroni); reported signals get alpha each.
        level = self.alpha / len(ROW_SIGNALS) if counts else self.alpha
        decision: Decision = "drift" if p < level else "warn" if p < 5 * level else "ok"
        if excess is not None and excess < max(3.0, self.min_excess * n_current):
            # Effect-size gate: a handful of odd rows is not evidence of poisoning.
            decision = "ok"
            reason += f"; only {excess:.1f} rows above the trusted rate"
        return Verdict(
            detector=f"{self.name}.{name}",
            method=name,
            subject=batch_id,
            failure_mode=("data_poisoning" if counts else "data_drift")
            if decision == "drift"
            else None,
            statistic=statistic,
            p_value=p,
            threshold=level,
            threshold_source="fixed",
            decision=decision,
            n_reference=len(self.trusted_.X),
            n_current=n_current,
            correction_group=f"{self.name}:{batch_id}" if counts else None,
            reason=reason,
            evidence=extra,
        )

    def _excess_flags(self, flags: np.ndarray, idx: np.ndarray, batch_id: str) -> Verdict:
        """Fisher's exact test of the batch's flag rate against the trusted out-of-fold rate,
        overall and class by class (Bonferroni over the tests)."""
        ref_idx = self.trusted_.y_index
        groups = [("all", np.ones(len(idx), bool), np.ones(len(ref_idx), bool))]
        groups += [
            (str(c), idx == j, ref_idx == j) for j, c in enumerate(self.trusted_.classes.tolist())
        ]
        p, worst, excess = 1.0, "all", 0.0
        per_class: dict[str, Any] = {}
        for name, rows, ref_rows in groups:
            kb, nb = int(flags[rows].sum()), int(rows.sum())
            kr, nr = int(self.oof_flags_[ref_rows].sum()), int(ref_rows.sum())
            if nb and nr:
                table = [[kb, nb - kb], [kr, nr - kr]]
                pg = float(stats.fisher_exact(table, alternative="greater").pvalue)
                per_class[name] = {"batch": f"{kb}/{nb}", "trusted": f"{kr}/{nr}", "p": pg}
                if pg < p:
                    p, worst, excess = pg, name, kb - nb * kr / nr
        p = min(1.0, p * len(groups))
        k, n = int(flags.sum()), len(flags)
        ref_rate = float(self.oof_flags_.mean())
        return self._signal(
            "label_disagreement",
            batch_id,
            p,
            k / n,
            f"{k}/{n} labels contradicted by the trusted model (trusted rows: {ref_rate:.2%}); "
            f"strongest in label {worst}",
            n_current=n,
            excess=excess,
            by_label=per_class,
        )

    def _spectral_verdict(
        self, z: np.ndarray, idx: np.ndarray, ref_z: dict[int, np.ndarray], batch_id: str
    ) -> Verdict:
        p, k_total, excess = 1.0, 0, 0.0
        for j, rz in ref_z.items():
            kb, nb = int((z[idx == j] >= self.z_flag).sum()), int((idx == j).sum())
            kr, nr = int((rz >= self.z_flag).sum()), len(rz)
            k_total += kb
            table = [[kb, nb - kb], [kr, nr - kr]]
            pj = float(stats.fisher_exact(table, alternative="greater").pvalue)
            if pj < p:
                p, excess = pj, kb - nb * kr / max(nr, 1)
        p = min(1.0, p * max(len(ref_z), 1))
        return self._signal(
            "spectral_signature",
            batch_id,
            p,
            k_total / len(z),
            f"{k_total}/{len(z)} rows beyond robust z {self.z_flag} on their class's top "
            "spectral direction",
            n_current=len(z),
            excess=excess,
        )

    def _duplicates(
        self,
        X: np.ndarray,
        y: np.ndarray,
        others: Mapping[str, tuple[Any, Any]],
        batch_id: str,
    ) -> tuple[np.ndarray, Verdict]:
        t = self.trusted_
        keys = _grid_keys(t.scaler.transform(X), self.resolution)
        own = _class_index(t, y, batch_id)
        sources = {"trusted": self.trusted_cells_}
        pool = len(t.X)
        for name, (Xo, yo) in others.items():
            Xo = np.asarray(Xo, dtype=float)
            if Xo.ndim != 2 or Xo.shape[1] != X.shape[1]:
                raise InputError(
                    f"source {name} has not the batch's {X.shape[1]} features", loc=name
                )
            codes = {c: i for i, c in enumerate(t.classes.tolist())}
            labels = np.array([codes.get(v, -1) for v in np.asarray(yo).tolist()], dtype=np.int64)
            sources[name] = _Cells.of(_grid_keys(t.scaler.transform(Xo), self.resolution), labels)
            pool += len(Xo)
        repeated = np.zeros(len(X), dtype=bool)
        clash = np.zeros(len(X), dtype=bool)
        by_source: dict[str, int] = {}
        for name, cells in sources.items():
            hit, conflict = cells.match(keys, own)
            by_source[name] = int(hit.sum())
            repeated |= hit
            clash |= conflict
        score = np.where(clash, 1.0, np.where(repeated, 0.5, 0.0))
        # The trusted rows repeat each other at repeat_rate; a pool of another size is repeated
        # in proportion to its size.
        n_ref = len(t.X)
        expected = min(max(self.trusted_cells_.repeat_rate * pool / n_ref, 1.0 / (n_ref + 1)), 1.0)
        k, conflicts = int(repeated.sum()), int(clash.sum())
        p = float(stats.binomtest(k, len(X), expected, alternative="greater").pvalue)
        if conflicts:
            # A repeat with another label is poisoning evidence in itself when repeats are rare.
            p = min(
                p, float(stats.binomtest(conflicts, len(X), expected, alternative="greater").pvalue)
            )
        return score, self._signal(
            "near_duplicates",
            batch_id,
            p,
            k / len(X),
            f"{k}/{len(X)} rows repeat a row of another source ({conflicts} with a different "
            f"label); expected {expected:.2%}",
            n_current=len(X),
            excess=max(k - expected * len(X), float(conflicts)),
            by_source=by_source,
            conflicting_labels=conflicts,
        )

    def _label_prior(self, idx: np.ndarray, flags: np.ndarray, batch_id: str) -> Verdict:
        t = self.trusted_
        counts = np.bincount(idx, minlength=len(t.classes))
        ref_counts = np.bincount(t.y_index, minlength=len(t.classes))
        keep = (counts + ref_counts) > 0
        table = np.vstack([ref_counts[keep], counts[keep]])
        p = float(stats.chi2_contingency(table).pvalue) if keep.sum() > 1 else 1.0
        shares = (counts / counts.sum()).round(4).tolist()
        return self._signal(
            "label_prior",
            batch_id,
            p,
            float(np.abs(counts / counts.sum() - t.prior).max()),
            f"label shares {shares} vs trusted {t.prior.round(4).tolist()}",
            n_current=int(counts.sum()),
            counts=False,
            batch_shares=shares,
        )

    def _drift(self, X: np.ndarray, batch_id: str) -> Verdict:
        R = self.trusted_.sorted_columns
        n, m = len(R), len(X)
        p = np.ones(X.shape[1])
        for j in range(X.shape[1]):
            # Two-sample KS from the pooled sorted values, asymptotic p-value.
            cur = np.sort(X[:, j])
            grid = np.concatenate([R[:, j], cur])
            d = np.abs(
                np.searchsorted(R[:, j], grid, side="right") / n
                - np.searchsorted(cur, grid, side="right") / m
            ).max()
            p[j] = float(special.kolmogorov(d * np.sqrt(n * m / (n + m))))
        q = benjamini_hochberg(np.nan_to_num(p, nan=1.0))
        worst = int(np.argmin(q))
        return self._signal(
            "feature_drift",
            batch_id,
            float(q[worst]),
            float(q[worst]),
            f"KS q={q[worst]:.2g} on feature {worst}; {int((q < self.alpha).sum())} "
            "feature(s) drifted",
            n_current=len(X),
            counts=False,
            drifted=np.flatnonzero(q < self.alpha).tolist(),
        )


# ----------------------------------------------------------------------------- service


def read_frame(path: str | Path) -> pd.DataFrame:
    """Return the rows of a CSV or Parquet file; errors name the file and what went wrong.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "b.csv"; _ = p.write_text("x,label\\n1,0\\n")
    >>> read_frame(p).shape
    (1, 2)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError(f"{path}: not a .csv or .parquet file", loc=str(path))
    if not path.is_file():
        raise InputError(f"{path}: no such file", loc=str(path))
    try:
        return pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read: {exc}", loc=str(path)) from None


def _features(
    frame: pd.DataFrame, label_column: str, columns: Sequence[str], where: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if label_column not in frame.columns:
        raise InputError(f"{where} has no label column {label_column!r}", loc=where)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{where} has no column(s) {missing}", loc=where)
    if frame[label_column].isna().any():
        row = int(np.flatnonzero(frame[label_column].isna().to_numpy())[0])
        raise InputError(f"{where}: row {row} has no label", loc=where)
    try:
        X = frame[list(columns)].to_numpy(dtype=float)
    except (TypeError, ValueError):
        bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
        raise InputError(f"{where}: column(s) {bad} are not numeric", loc=where) from None
    return X, frame[label_column].to_numpy(), list(columns)


def screen_batch(
    batch: pd.DataFrame,
    trusted: Sequence[pd.DataFrame] | pd.DataFrame,
    label_column: str,
    *,
    columns: Sequence[str] | None = None,
    others: Mapping[str, pd.DataFrame] | None = None,
    batch_id: str = "batch",
    alpha: float = 0.01,
    z_flag: float = 6.0,
    estimator: ClassifierMixin | None = None,
    random_state: int = 0,
) -> ScreeningResult:
    """Return the screening of ``batch`` against the trusted frames (a validation checkpoint).

    Feature columns default to the numeric columns the batch and the trusted frames share,
    except ``label_column``. ``others`` are frames of other sources checked for repeated rows.
    ``result.to_dict()`` gives ``{decision, signals, rows}``.

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> def frame(n):
    ...     x = rng.normal(size=(n, 3))
    ...     return pd.DataFrame(x, columns=["a", "b", "c"]).assign(label=(x[:, 0] > 0).astype(int))
    >>> result = screen_batch(frame(300), [frame(400), frame(400)], "label", batch_id="v1")
    >>> report = result.to_dict()
    >>> report["decision"], len(report["rows"]), report["signals"][0]["name"]
    ('ok', 300, 'label_disagreement')
    """
    frames = [trusted] if isinstance(trusted, pd.DataFrame) else list(trusted)
    if not frames:
        raise InputError("at least one trusted batch is needed", loc="trusted")
    if columns is None:
        shared = [c for c in batch.columns if c != label_column]
        for f in frames:
            shared = [c for c in shared if c in f.columns]
        columns = [c for c in shared if pd.api.types.is_numeric_dtype(batch[c])]
        if not columns:
            raise InputError("the batch and the trusted batches share no numeric column")
    X, y, cols = _features(batch, label_column, columns, batch_id)
    parts = [_features(f, label_column, cols, f"trusted[{i}]") for i, f in enumerate(frames)]
    X_ref = np.vstack([p[0] for p in parts])
    y_ref = np.concatenate([p[1] for p in parts])
    other_arrays = {
        name: _features(f, label_column, cols, name)[:2] for name, f in (others or {}).items()
    }
    screen = PoisoningScreen(
        alpha=alpha, z_flag=z_flag, estimator=estimator, random_state=random_state
    ).fit(X_ref, y_ref)
    return screen.screen(X, y, batch_id=batch_id, others=other_arrays)
