"""Return model performance on delayed labels, per window, with confidence intervals.

Labels arrive late (a chargeback weeks after a transaction), so performance is computed over
windows of labelled predictions: accuracy, precision, recall, F1, false-negative rate and ROC
AUC, each with a confidence interval (Wilson for the proportions, a seeded percentile bootstrap
for F1 and AUC). :func:`check_performance` compares a current window with a reference and
raises ``concept_drift`` when a metric fell by at least ``min_drop`` and the fall is significant;
a small labelled window widens the intervals instead of raising alarms.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(4000) < 0.3
    >>> good = np.where(rng.random(4000) < 0.9, y, ~y)
    >>> bad = np.where(rng.random(4000) < 0.75, y, ~y)
    >>> m = window_metrics(y, good)
    >>> round(m.accuracy.value, 3), m.accuracy.low < m.accuracy.value < m.accuracy.high
    (0.898, True)
    >>> [v.subject for v in check_performance(y, good, y, bad) if v.decision == "drift"]
    ['accuracy', 'precision', 'recall', 'f1', 'false_negative_rate']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict
from scipy import stats as sps

from airsoc.detection._cache import FittedCache, fingerprint
from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import InputError

__all__ = [
    "Estimate",
    "WindowMetrics",
    "check_performance",
    "reference_metrics",
    "window_metrics",
    "windows",
]

DETECTOR = "performance"
BoolArray = npt.NDArray[np.bool_]


class Estimate(BaseModel):
    """Return-type of a metric: value and confidence interval (None when undefined)."""

    model_config = ConfigDict(frozen=True)

    value: float
    low: float
    high: float
    n: int


class WindowMetrics(BaseModel):
    """Return-type of :func:`window_metrics`: every metric of one window."""

    model_config = ConfigDict(frozen=True)

    n: int
    accuracy: Estimate
    precision: Estimate | None
    recall: Estimate | None
    f1: Estimate | None
    false_negative_rate: Estimate | None
    auc: Estimate | None


def _wilson(k: int, n: int, z: float) -> Estimate | None:
    if n == 0:
        return None
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Estimate(value=p, low=max(0.0, centre - half), high=min(1.0, centre + half), n=n)


def _auc(y: BoolArray, score: npt.NDArray[np.float64]) -> float:
    pos = int(y.sum())
    neg = len(y) - pos
    ranks = sps.rankdata(score)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _boot_aucs(y: BoolArray, score: npt.NDArray[np.float64], idx: npt.NDArray[Any]) -> list[float]:
    """Return the AUC of each bootstrap resample (a row of ``idx``) that has both classes, as
    :func:`_auc` computes it on ``score[i]``, without sorting each resample: the resample's
    average ranks follow from how many copies of each distinct score it holds.

    >>> rng = np.random.default_rng(0)
    >>> y, score = rng.random(300) < 0.3, np.round(rng.random(300), 1)
    >>> idx = rng.integers(0, 300, size=(5, 300))
    >>> np.allclose(_boot_aucs(y, score, idx), [_auc(y[i], score[i]) for i in idx])
    True
    """
    if len(idx) == 0:
        return []
    _, group = np.unique(score, return_inverse=True)
    n_groups = int(group.max()) + 1
    boots, n = idx.shape
    cells = (np.arange(boots)[:, None] * n_groups + group[idx]).ravel()
    copies = np.bincount(cells, minlength=boots * n_groups).reshape(boots, n_groups)
    positives = np.bincount(
        cells, weights=y[idx].ravel().astype(float), minlength=boots * n_groups
    ).reshape(boots, n_groups)
    below = np.cumsum(copies, axis=1) - copies
    # A copy's average rank: the copies below its score, plus the middle of its tie.
    rank_sum = (positives * (below + (copies + 1) / 2)).sum(axis=1)
    pos = positives.sum(axis=1)
    keep = (pos > 0) & (pos < n)
    pos, rank_sum = pos[keep], rank_sum[keep]
    return [float(a) for a in (rank_sum - pos * (pos + 1) / 2) / (pos * (n - pos))]


def _resamples(n: int, n_boot: int, seed: int) -> npt.NDArray[np.int64]:
    """Return the bootstrap resamples of ``n`` items: one row of ``n`` drawn indices each."""
    rng = np.random.default_rng(seed)
    return np.asarray(rng.integers(0, n, size=(n_boot, n)), dtype=np.int64)


#: Bootstrap multiplicity tables kept (each ``n_boot`` x ``n`` float32, at most
#: :data:`_MAX_KEPT_CELLS` cells): windows of one monitor mostly hold the same number of rows.
_MULTIPLICITIES = FittedCache(maxsize=2)
_MAX_KEPT_CELLS = 10_000_000


def _multiplicity(n: int, n_boot: int, seed: int) -> npt.NDArray[np.float32]:
    """Return how many times each item is drawn in each resample of :func:`_resamples`
    (``n_boot`` x ``n``), kept for the last sizes asked: the draws depend only on ``n``,
    ``n_boot`` and ``seed``."""

    def table() -> npt.NDArray[np.float32]:
        idx = _resamples(n, n_boot, seed)
        cells = (np.arange(n_boot, dtype=np.int64)[:, None] * n + idx).ravel()
        counts = np.bincount(cells, minlength=n_boot * n).reshape(n_boot, n)
        return counts.astype(np.float32)

    if n_boot * n > _MAX_KEPT_CELLS:
        return table()
    return _MULTIPLICITIES.get_or_fit(f"multiplicity:{n}:{n_boot}:{seed}", table)


def _boot_counts(
    y: BoolArray, p: BoolArray, n_boot: int, seed: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return the true positives, false positives and false negatives of each bootstrap
    resample of :func:`_resamples`: the resample's multiplicities times each row's cell.

    Counts are whole numbers below 2**24, so float32 sums of them are exact.

    >>> rng = np.random.default_rng(3)
    >>> y, p = rng.random(500) < 0.3, rng.random(500) < 0.3
    >>> idx = _resamples(500, 20, 0)
    >>> yb, pb = y[idx], p[idx]
    >>> expected = ((yb & pb).sum(1), (~yb & pb).sum(1), (yb & ~pb).sum(1))
    >>> all(np.array_equal(a, b) for a, b in zip(_boot_counts(y, p, 20, 0), expected))
    True
    """
    n = len(y)
    if n >= 1 << 24:  # float32 sums would round: count the drawn rows themselves
        idx = _resamples(n, n_boot, seed)
        yb, pb = y[idx], p[idx]
        return (yb & pb).sum(1), (~yb & pb).sum(1), (yb & ~pb).sum(1)
    cells = np.column_stack([y & p, ~y & p, y & ~p]).astype(np.float32)
    counts = np.rint(_multiplicity(n, n_boot, seed) @ cells).astype(np.int64)
    return counts[:, 0], counts[:, 1], counts[:, 2]


def _f1(tp: Any, fp: Any, fn: Any) -> Any:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)


def _as_bool(values: npt.ArrayLike, positive: Any, name: str) -> BoolArray:
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind in "fiu" and set(np.unique(arr).tolist()) <= {0, 1}:
        return arr.astype(bool)
    if positive is None:
        raise InputError(f"{name}: give positive= to say which value is the positive class")
    return np.asarray(arr == positive, dtype=bool)


def window_metrics(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    y_score: npt.ArrayLike | None = None,
    *,
    positive: Any = None,
    confidence: float = 0.95,
    n_boot: int = 200,
    seed: int = 0,
) -> WindowMetrics:
    """Return the metrics of one window of labelled binary predictions, with intervals.

    >>> window_metrics([1, 0, 1, 1], [1, 0, 0, 1]).recall.value
    0.6666666666666666
    """
    y = _as_bool(y_true, positive, "y_true")
    p = _as_bool(y_pred, positive, "y_pred")
    if len(y) != len(p):
        raise InputError(f"y_true has {len(y)} values but y_pred has {len(p)}")
    if len(y) == 0:
        raise InputError("a window needs at least one labelled prediction")
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    tp = int((y & p).sum())
    fp = int((~y & p).sum())
    fn = int((y & ~p).sum())
    correct = int((y == p).sum())
    tp_b, fp_b, fn_b = _boot_counts(y, p, n_boot, seed)
    f1_boot = _f1(tp_b, fp_b, fn_b)
    f1_value = float(_f1(np.array(tp), np.array(fp), np.array(fn)))
    lo_q, hi_q = (1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100
    f1 = None
    if not math.isnan(f1_value):
        finite = f1_boot[~np.isnan(f1_boot)]
        lo, hi = np.percentile(finite, [lo_q, hi_q]) if len(finite) else (f1_value, f1_value)
        f1 = Estimate(value=f1_value, low=float(lo), high=float(hi), n=len(y))
    auc = None
    if y_score is not None and 0 < y.sum() < len(y):
        score = np.asarray(y_score, dtype=np.float64)
        value = _auc(y, score)
        idx = _resamples(len(y), n_boot, seed)
        boots = _boot_aucs(y, score, idx[: min(n_boot, 100)])
        lo, hi = np.percentile(boots, [lo_q, hi_q]) if boots else (value, value)
        auc = Estimate(value=value, low=float(lo), high=float(hi), n=len(y))
    recall = _wilson(tp, tp + fn, z)
    fnr = _wilson(fn, tp + fn, z)
    return WindowMetrics(
        n=len(y),
        accuracy=_wilson(correct, len(y), z) or Estimate(value=0, low=0, high=0, n=0),
        precision=_wilson(tp, tp + fp, z),
        recall=recall,
        f1=f1,
        false_negative_rate=fnr,
        auc=auc,
    )


def windows(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    window_ids: Sequence[Any] | npt.ArrayLike,
    y_score: npt.ArrayLike | None = None,
    **kw: Any,
) -> dict[Any, WindowMetrics]:
    """Return :func:`window_metrics` per window id (e.g. the day each label arrived).

    >>> sorted(windows([1, 0, 1, 0], [1, 0, 0, 0], ["mon", "mon", "tue", "tue"]))
    ['mon', 'tue']
    """
    ids = np.asarray(window_ids)
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    ys = None if y_score is None else np.asarray(y_score)
    out = {}
    for wid in dict.fromkeys(ids.tolist()):
        m = ids == wid
        out[wid] = window_metrics(yt[m], yp[m], None if ys is None else ys[m], **kw)
    return out


#: Reference windows whose metrics :func:`reference_metrics` keeps.
REFERENCES_KEPT = 8
_REFERENCES = FittedCache(maxsize=REFERENCES_KEPT)


def reference_metrics(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    y_score: npt.ArrayLike | None = None,
    *,
    positive: Any = None,
) -> WindowMetrics:
    """Return :func:`window_metrics` of a reference, computed once per content.

    A monitor judges every window against the same reference (a version's validation
    evidence) until another version is the reference; the metrics and their bootstrap
    intervals depend only on the labels, predictions and scores (the bootstrap is seeded), so
    the ones computed for the same values are the same.

    >>> a = reference_metrics([1, 0, 1, 1], [1, 0, 0, 1])
    >>> a is reference_metrics(np.array([1, 0, 1, 1]), np.array([1, 0, 0, 1]))
    True
    >>> a == window_metrics([1, 0, 1, 1], [1, 0, 0, 1])
    True
    """
    y = _as_bool(y_true, positive, "y_true")
    p = _as_bool(y_pred, positive, "y_pred")
    score = None if y_score is None else np.asarray(y_score, dtype=np.float64)
    key = fingerprint("reference", y, p, score)
    metrics: WindowMetrics = _REFERENCES.get_or_fit(key, lambda: window_metrics(y, p, score))
    return metrics


def check_performance(
    ref_true: npt.ArrayLike,
    ref_pred: npt.ArrayLike,
    cur_true: npt.ArrayLike,
    cur_pred: npt.ArrayLike,
    *,
    ref_score: npt.ArrayLike | None = None,
    cur_score: npt.ArrayLike | None = None,
    positive: Any = None,
    min_drop: float = 0.05,
    alpha: float = 0.05,
) -> list[Verdict]:
    """Return one verdict per metric: ``drift`` when it fell by ``min_drop`` and significantly.

    Significance: a one-sided two-proportion z-test for accuracy, precision, recall and FNR;
    for F1 and AUC, the current interval's upper end below the reference value.

    >>> ref_true, ref_pred = [1, 0] * 50, [1, 0] * 45 + [0, 1] * 5
    >>> cur_true, cur_pred = [1, 0] * 5, [1, 0] * 4 + [0, 1]
    >>> v = check_performance(ref_true, ref_pred, cur_true, cur_pred)
    >>> v[0].subject, v[0].decision, "not significant with 10" in v[0].reason
    ('accuracy', 'warn', True)
    """
    ref = reference_metrics(ref_true, ref_pred, ref_score, positive=positive)
    cur = window_metrics(cur_true, cur_pred, cur_score, positive=positive)
    out = []
    for name in ("accuracy", "precision", "recall", "f1", "false_negative_rate", "auc"):
        a, b = getattr(ref, name), getattr(cur, name)
        if a is None or b is None:
            continue
        worse_up = name == "false_negative_rate"
        drop = (b.value - a.value) if worse_up else (a.value - b.value)
        if name in ("f1", "auc"):
            significant = (b.low > a.value) if worse_up else (b.high < a.value)
            p = None
        else:
            pooled = (a.value * a.n + b.value * b.n) / (a.n + b.n)
            se = math.sqrt(max(pooled * (1 - pooled) * (1 / a.n + 1 / b.n), 1e-12))
            p = float(sps.norm.sf(drop / se))
            significant = p <= alpha
        decision: Decision
        if significant and drop >= min_drop:
            decision = "drift"
        elif drop >= min_drop:
            decision = "warn"
        else:
            decision = "ok"
        why = "significant" if significant else f"not significant with {b.n} labelled predictions"
        out.append(
            Verdict(
                detector=DETECTOR,
                method=name,
                subject=name,
                failure_mode="concept_drift" if decision == "drift" else None,
                statistic=b.value,
                p_value=p,
                threshold=min_drop,
                threshold_source="default" if min_drop == 0.05 else "fixed",
                decision=decision,
                effect_size=drop,
                n_reference=a.n,
                n_current=b.n,
                reason=(
                    f"{name.replace('_', ' ')} {a.value:.3f} -> {b.value:.3f} "
                    f"(current {confidence_text(b)}); change {drop:+.3f} in the bad direction, "
                    f"{why}"
                ),
                evidence={"reference": a.model_dump(), "current": b.model_dump()},
            )
        )
    return out


def confidence_text(e: Estimate) -> str:
    """Return ``[low, high]`` as text.

    >>> confidence_text(Estimate(value=0.5, low=0.4, high=0.6, n=100))
    '95% CI [0.400, 0.600]'
    """
    return f"95% CI [{e.low:.3f}, {e.high:.3f}]"
