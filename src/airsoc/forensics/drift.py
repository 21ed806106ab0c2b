"""Drift root cause: rule out a measurement anomaly first, then say what moved, where, and
whether it hurts.

:func:`investigate_drift` compares a reference window with a current one, in this order:

1. **Measurement.** A logging or pipeline fault looks like drift but is not: a column that
   appears or disappears, a null rate that jumps, or (with an ``event_column``) one event
   kind whose count moves away from the common ratio of all kinds, e.g. clicks halved by a logging
   bug while views and purchases keep their volume.
2. **Features.** Which features moved and by how much: the Kolmogorov-Smirnov distance, the
   population stability index (PSI) and the mean shift in reference standard deviations for
   numbers; the total variation distance and PSI for categories. With an ``event_column`` every
   feature is compared within each event kind, so a changed event mix alone moves nothing.
   Tests are Bonferroni-corrected and an effect must also be material (``min_effect``).
3. **Segments.** Where the shift concentrates: a shallow decision tree learns to tell current
   rows from reference rows (a domain classifier, classes balanced, event mix re-weighted); each
   leaf is a rule over features, and the leaves holding more current than reference mass are
   the segments, ranked by the share of the shift they hold.
4. **Performance.** With delayed labels (and the predictions that were served), whether the
   error rate rose: a loss confirms concept drift; no loss with moved features is covariate
   shift.
5. **Recommendation.** Fix the pipeline (do not retrain on faulty data), roll back (a version
   changed inside the window and performance fell), retrain on recent data, or keep watching.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(0, 1, 3000), "g": rng.choice(["a", "b"], 3000)})
    >>> cur = pd.DataFrame({"x": rng.normal(0, 1, 3000), "g": rng.choice(["a", "b"], 3000)})
    >>> cur.loc[cur["g"] == "b", "x"] += 1.5
    >>> found = investigate_drift(ref, cur)
    >>> found.classification, [f.feature for f in found.features if f.moved]
    ('covariate_shift_unconfirmed', ['x'])
    >>> "g == b" in found.segments[0].rule
    True
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel
from scipy import stats
from sklearn.metrics import roc_auc_score
from sklearn.tree import DecisionTreeClassifier
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.errors import InputError
from airsoc.forensics.record import Found, InvestigationRecord, record_investigation
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import FindingKind

__all__ = [
    "Classification",
    "DriftInvestigation",
    "DriftRecommendation",
    "FeatureShift",
    "MeasurementCheck",
    "PerformanceCheck",
    "Segment",
    "drift_findings",
    "feature_shifts",
    "investigate_drift",
    "record_drift_findings",
    "two_proportion_p",
]

METHOD = "forensics.drift[measurement,ks_psi_tvd,domain_tree,delayed_labels]"

Classification = Literal[
    "pipeline_fault",
    "concept_drift",
    "covariate_shift",
    "covariate_shift_unconfirmed",
    "no_drift",
]
Action = Literal["fix_pipeline", "rollback", "retrain_recent", "monitor"]


class MeasurementCheck(BaseModel):
    """One check of the measurement itself; ``anomaly`` says whether it points at the pipeline."""

    check: Literal["event_count", "null_rate", "missing_column", "new_column", "empty"]
    subject: str
    anomaly: bool
    reference: float
    current: float
    expected: float | None = None
    p_value: float | None = None
    detail: str


class FeatureShift(BaseModel):
    """How far one feature moved (worst over event kinds when compared within kinds)."""

    feature: str
    kind: Literal["numeric", "categorical"]
    moved: bool
    effect: float
    ks: float | None = None
    psi: float
    mean_shift_sd: float | None = None
    tvd: float | None = None
    p_value: float
    within: str | None = None
    detail: str


class Segment(BaseModel):
    """A region of the feature space where current rows are over-represented."""

    rule: str
    conditions: list[str]
    score: float
    lift: float
    reference_share: float
    current_share: float
    p_value: float
    rows: int


class PerformanceCheck(BaseModel):
    """The error rate on delayed labels, reference against current."""

    metric: str
    reference: float
    current: float
    reference_rows: int
    current_rows: int
    p_value: float
    loss: bool


class DriftRecommendation(BaseModel):
    """What to do, and why."""

    action: Action
    reason: str


class DriftInvestigation(BaseModel):
    """The drift root cause: measurement, features, segments, performance, recommendation."""

    classification: Classification
    measurement: list[MeasurementCheck]
    features: list[FeatureShift]
    segments: list[Segment]
    domain_auc: float | None
    performance: PerformanceCheck | None
    recommendation: DriftRecommendation
    reference_rows: int
    current_rows: int
    method: str = METHOD
    notes: list[str] = []
    duration_s: float = 0.0

    @property
    def measurement_anomalies(self) -> list[MeasurementCheck]:
        """Return the checks that point at the pipeline."""
        return [m for m in self.measurement if m.anomaly]

    def to_json(self) -> dict[str, Any]:
        """Return the investigation as JSON-able data."""
        return self.model_dump(mode="json")


def investigate_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    event_column: str | None = None,
    label_column: str | None = None,
    prediction_column: str | None = None,
    version_changed: bool = False,
    alpha: float = 0.01,
    min_effect: float = 0.1,
    count_tolerance: float = 0.2,
    max_depth: int = 3,
    random_state: int = 0,
) -> DriftInvestigation:
    """Return the root cause of a shift between ``reference`` and ``current``.

    Parameters
    ----------
    reference, current
        One row per logged record (an event, a prediction), same columns.
    features
        The columns to judge (default: every column but the event, label and prediction).
    event_column
        The column naming each row's event kind (``view``, ``click``, ...): event counts are
        checked and features compared within each kind.
    label_column, prediction_column
        Delayed labels and the served predictions; both needed for the performance check.
    version_changed
        Whether the model version changed inside the current window (a loss then points at
        the release: roll back).
    alpha
        The family-wise error rate of each family of tests.
    min_effect
        The smallest effect that counts as a move: KS distance, total variation distance, or
        PSI / 2 (whichever the feature has largest).
    count_tolerance
        The relative departure of an event kind's count ratio from the others' common ratio
        that counts as a measurement anomaly (0.2: 20 %).
    max_depth
        Depth of the segment tree.
    random_state
        Seed of the domain classifier's cross-validation.

    Returns
    -------
    DriftInvestigation

    Raises
    ------
    InputError
        When a window is empty, a named column is missing, or no feature is left to judge.

    Examples
    --------
    >>> import pandas as pd
    >>> investigate_drift(pd.DataFrame({"x": [1.0]}), pd.DataFrame({"y": [1.0]}), features=["x"])
    Traceback (most recent call last):
    airsoc.errors.InputError: current: no column 'x'
    """
    started = time.perf_counter()
    notes: list[str] = []
    if reference.empty or current.empty:
        raise InputError(
            "the window has no rows", loc="reference" if reference.empty else "current"
        )
    special = [c for c in (event_column, label_column, prediction_column) if c is not None]
    for name, frame in (("reference", reference), ("current", current)):
        for column in [*special, *(features or [])]:
            if column not in frame.columns:
                raise InputError(f"no column {column!r}", loc=name)
    measurement = _schema_checks(reference, current, features, special)
    if features is None:
        features = [c for c in reference.columns if c not in special and c in current.columns]
    if not features:
        raise InputError("no feature to judge", loc="features")
    measurement += _null_checks(reference, current, features, alpha)
    weights: dict[str, float] = {}
    if event_column is not None:
        counts, weights = _event_counts(
            reference[event_column], current[event_column], alpha, count_tolerance
        )
        measurement += counts
    shifts = feature_shifts(reference, current, features, event_column, alpha, min_effect)
    segments, auc = _segments(
        reference, current, features, event_column, weights, alpha, max_depth, random_state, notes
    )
    performance = None
    if label_column is not None and prediction_column is not None:
        performance = _performance(reference, current, label_column, prediction_column, alpha)
    elif label_column is not None or prediction_column is not None:
        notes.append("the performance check needs both the labels and the predictions")
    anomalies = [m for m in measurement if m.anomaly]
    moved = [f for f in shifts if f.moved]
    classification: Classification
    if anomalies:
        classification = "pipeline_fault"
        if moved:
            notes.append(
                "features moved too ("
                + ", ".join(f.feature for f in moved[:5])
                + "); judge them again once the pipeline is fixed"
            )
    elif performance is not None and performance.loss:
        classification = "concept_drift"
    elif moved:
        classification = (
            "covariate_shift" if performance is not None else ("covariate_shift_unconfirmed")
        )
    else:
        classification = "no_drift"
    recommendation = _recommend(classification, anomalies, moved, performance, version_changed)
    return DriftInvestigation(
        classification=classification,
        measurement=measurement,
        features=shifts,
        segments=segments if moved or anomalies else [],
        domain_auc=auc,
        performance=performance,
        recommendation=recommendation,
        reference_rows=len(reference),
        current_rows=len(current),
        notes=notes,
        duration_s=round(time.perf_counter() - started, 3),
    )


# ------------------------------------------------------------------------------- measurement


def _schema_checks(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str] | None,
    special: Sequence[str],
) -> list[MeasurementCheck]:
    out = []
    names = set(features) if features is not None else None
    for column in reference.columns:
        if column in special or (names is not None and column not in names):
            continue
        if column not in current.columns:
            out.append(
                MeasurementCheck(
                    check="missing_column",
                    subject=str(column),
                    anomaly=True,
                    reference=1.0,
                    current=0.0,
                    detail=f"column {column} is logged in the reference but not any more",
                )
            )
    for column in current.columns:
        if column in special or column in reference.columns:
            continue
        out.append(
            MeasurementCheck(
                check="new_column",
                subject=str(column),
                anomaly=False,
                reference=0.0,
                current=1.0,
                detail=f"column {column} is new in the current window (schema change)",
            )
        )
    return out


def _null_checks(
    reference: pd.DataFrame, current: pd.DataFrame, features: Sequence[str], alpha: float
) -> list[MeasurementCheck]:
    out = []
    level = alpha / max(len(features), 1)
    for column in features:
        r = int(reference[column].isna().sum())
        c = int(current[column].isna().sum())
        nr, nc = len(reference), len(current)
        pr, pc = r / nr, c / nc
        if r == 0 and c == 0:
            continue
        p = two_proportion_p(r, nr, c, nc)
        anomaly = p < level and pc - pr > 0.02
        out.append(
            MeasurementCheck(
                check="null_rate",
                subject=str(column),
                anomaly=anomaly,
                reference=round(pr, 6),
                current=round(pc, 6),
                p_value=p,
                detail=f"null rate of {column}: {pr:.1%} -> {pc:.1%}",
            )
        )
    return out


def _event_counts(
    reference: pd.Series[Any],
    current: pd.Series[Any],
    alpha: float,
    tolerance: float,
) -> tuple[list[MeasurementCheck], dict[str, float]]:
    """Check each event kind's count against the common ratio of the others; return the checks
    and the weights that bring the current event mix back to the reference's."""
    ref = reference.astype(str).value_counts()
    cur = current.astype(str).value_counts()
    kinds = sorted(set(ref.index) | set(cur.index))
    ratios = {k: (cur.get(k, 0) + 0.5) / (ref.get(k, 0) + 0.5) for k in kinds}
    out = []
    level = alpha / max(len(kinds), 1)
    weights: dict[str, float] = {}
    n_ref, n_cur = len(reference), len(current)
    for k in kinds:
        # The common ratio: what most kinds did (the volume of the window, say); the median
        # over every kind, so one broken kind cannot drag it.
        common = math.exp(float(np.median([math.log(v) for v in ratios.values()])))
        r, c = int(ref.get(k, 0)), int(cur.get(k, 0))
        expected = r * common
        p = _poisson_p(c, expected) if expected > 0 else (0.0 if c > 0 else 1.0)
        departure = abs(ratios[k] / common - 1.0)
        anomaly = len(kinds) > 1 and p < level and departure > tolerance
        weights[k] = (r / n_ref) / (c / n_cur) if c and r else 0.0
        out.append(
            MeasurementCheck(
                check="event_count",
                subject=k,
                anomaly=anomaly,
                reference=float(r),
                current=float(c),
                expected=round(expected, 1),
                p_value=p,
                detail=(
                    f"{k}: {r} -> {c} events, {ratios[k]:.2f}x while the event kinds moved "
                    f"{common:.2f}x (expected about {expected:.0f})"
                ),
            )
        )
    return out, weights


def _poisson_p(observed: int, expected: float) -> float:
    """Two-sided p-value of ``observed`` under a Poisson with mean ``expected``."""
    low = float(stats.poisson.cdf(observed, expected))
    high = float(stats.poisson.sf(observed - 1, expected))
    return min(1.0, 2 * min(low, high))


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Return the chi-square p-value that ``k1/n1`` and ``k2/n2`` are the same proportion.

    >>> two_proportion_p(50, 100, 50, 100)
    1.0
    >>> two_proportion_p(10, 1000, 100, 1000) < 1e-10
    True
    """
    table = np.array([[k1, n1 - k1], [k2, n2 - k2]])
    if (table.sum(axis=0) == 0).any():
        return 1.0
    return float(stats.chi2_contingency(table)[1])


# ---------------------------------------------------------------------------------- features


def _is_numeric(series: pd.Series[Any]) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series)) and not pd.api.types.is_bool_dtype(series)


def _psi(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> float:
    eps = 1e-4
    p = np.clip(ref / max(ref.sum(), 1), eps, None)
    q = np.clip(cur / max(cur.sum(), 1), eps, None)
    return float(np.sum((q - p) * np.log(q / p)))


def _numeric_shift(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> dict[str, float]:
    d, p = stats.ks_2samp(ref, cur)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)))
    if len(edges) < 3:
        values = np.unique(np.concatenate([ref, cur]))
        rc = np.array([(ref == v).sum() for v in values], dtype=float)
        cc = np.array([(cur == v).sum() for v in values], dtype=float)
    else:
        inner = edges[1:-1]
        rc = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=len(edges) - 1)
        cc = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=len(edges) - 1)
    sd = float(np.std(ref)) or 1.0
    return {
        "ks": float(d),
        "p": float(p),
        "psi": _psi(np.asarray(rc, float), np.asarray(cc, float)),
        "mean_shift_sd": (float(np.mean(cur)) - float(np.mean(ref))) / sd,
    }


def _categorical_shift(ref: pd.Series[Any], cur: pd.Series[Any]) -> dict[str, float]:
    rc = ref.astype(str).value_counts()
    cc = cur.astype(str).value_counts()
    values = sorted(set(rc.index) | set(cc.index))
    r = np.array([rc.get(v, 0) for v in values], dtype=float)
    c = np.array([cc.get(v, 0) for v in values], dtype=float)
    if len(values) < 2:
        return {"tvd": 0.0, "p": 1.0, "psi": 0.0}
    p = float(stats.chi2_contingency(np.vstack([r, c]) + 0.5)[1])
    tvd = 0.5 * float(np.abs(r / r.sum() - c / c.sum()).sum())
    return {"tvd": tvd, "p": p, "psi": _psi(r, c)}


def feature_shifts(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    event_column: str | None,
    alpha: float,
    min_effect: float,
) -> list[FeatureShift]:
    """Return how far each feature moved, most moved first (within event kinds if given).

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> a = pd.DataFrame({"x": rng.normal(0, 1, 500)})
    >>> b = pd.DataFrame({"x": rng.normal(1, 1, 500)})
    >>> [(f.feature, f.moved) for f in feature_shifts(a, b, ["x"], None, 0.01, 0.1)]
    [('x', True)]
    """
    if event_column is None:
        strata: list[tuple[str | None, pd.DataFrame, pd.DataFrame]] = [(None, reference, current)]
    else:
        rk, ck = reference[event_column].astype(str), current[event_column].astype(str)
        strata = [
            (k, reference[rk == k], current[ck == k])
            for k in sorted(set(rk) & set(ck))
            if (rk == k).sum() >= 20 and (ck == k).sum() >= 20
        ]
    level = alpha / max(len(features) * len(strata), 1)
    out = []
    for feature in features:
        numeric = _is_numeric(reference[feature]) and _is_numeric(current[feature])
        best: FeatureShift | None = None
        for within, ref, cur in strata:
            r, c = ref[feature].dropna(), cur[feature].dropna()
            if len(r) < 2 or len(c) < 2:
                continue
            if numeric:
                m = _numeric_shift(r.to_numpy(float), c.to_numpy(float))
                effect = max(m["ks"], m["psi"] / 2)
                shift = FeatureShift(
                    feature=feature,
                    kind="numeric",
                    moved=m["p"] < level and effect >= min_effect,
                    effect=round(min(effect, 1.0), 6),
                    ks=round(m["ks"], 6),
                    psi=round(m["psi"], 6),
                    mean_shift_sd=round(m["mean_shift_sd"], 4),
                    p_value=m["p"],
                    within=within,
                    detail=(
                        f"{feature}{f' ({within})' if within else ''}: KS {m['ks']:.3f}, "
                        f"PSI {m['psi']:.3f}, mean moved {m['mean_shift_sd']:+.2f} sd"
                    ),
                )
            else:
                m = _categorical_shift(r, c)
                effect = max(m["tvd"], m["psi"] / 2)
                shift = FeatureShift(
                    feature=feature,
                    kind="categorical",
                    moved=m["p"] < level and effect >= min_effect,
                    effect=round(min(effect, 1.0), 6),
                    tvd=round(m["tvd"], 6),
                    psi=round(m["psi"], 6),
                    p_value=m["p"],
                    within=within,
                    detail=(
                        f"{feature}{f' ({within})' if within else ''}: total variation "
                        f"{m['tvd']:.3f}, PSI {m['psi']:.3f}"
                    ),
                )
            if best is None or (shift.moved, shift.effect) > (best.moved, best.effect):
                best = shift
        if best is not None:
            out.append(best)
    out.sort(key=lambda f: (not f.moved, -f.effect, f.feature))
    return out


# ---------------------------------------------------------------------------------- segments


def _design(
    reference: pd.DataFrame, current: pd.DataFrame, features: Sequence[str]
) -> tuple[np.ndarray[Any, Any], list[tuple[str, str, str | None]]]:
    """Return the stacked design matrix and, per column, (feature, kind, category)."""
    both = pd.concat([reference[list(features)], current[list(features)]], ignore_index=True)
    columns: list[np.ndarray[Any, Any]] = []
    names: list[tuple[str, str, str | None]] = []
    for feature in features:
        series = both[feature]
        if _is_numeric(series):
            values = series.to_numpy(float)
            fill = np.nanmedian(values) if np.isfinite(values).any() else 0.0
            columns.append(np.where(np.isnan(values), fill, values))
            names.append((feature, "numeric", None))
        else:
            text = series.astype(str)
            for category in text.value_counts().index[:20]:
                columns.append((text == category).to_numpy(float))
                names.append((feature, "categorical", str(category)))
    return np.column_stack(columns), names


def _segments(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    event_column: str | None,
    weights: Mapping[str, float],
    alpha: float,
    max_depth: int,
    random_state: int,
    notes: list[str],
) -> tuple[list[Segment], float | None]:
    x, names = _design(reference, current, features)
    n_ref, n_cur = len(reference), len(current)
    y = np.r_[np.zeros(n_ref), np.ones(n_cur)]
    w = np.r_[np.full(n_ref, 1 / n_ref), np.full(n_cur, 1 / n_cur)]
    if event_column is not None and weights:
        kinds = current[event_column].astype(str).map(dict(weights)).fillna(0.0).to_numpy(float)
        w[n_ref:] *= kinds
        w[n_ref:] /= max(w[n_ref:].sum(), 1e-12)
    tree = DecisionTreeClassifier(
        max_depth=max_depth, min_weight_fraction_leaf=0.02, random_state=random_state
    )
    # Out-of-fold AUC says whether the windows can be told apart at all.
    rng = np.random.default_rng(random_state)
    fold = rng.random(len(y)) < 0.5
    scores = np.zeros(len(y))
    for train in (fold, ~fold):
        model = DecisionTreeClassifier(
            max_depth=max_depth, min_weight_fraction_leaf=0.02, random_state=random_state
        ).fit(x[train], y[train], sample_weight=w[train])
        scores[~train] = model.predict_proba(x[~train])[:, 1]
    auc = _weighted_auc(y, scores, w)
    tree.fit(x, y, sample_weight=w)
    leaves = tree.apply(x)
    found: list[tuple[float, Segment]] = []
    candidates = np.unique(leaves)
    level = alpha / max(len(candidates), 1)
    total_excess = 0.0
    rows: list[tuple[int, float, float, float, int]] = []
    for leaf in candidates:
        in_leaf = leaves == leaf
        ref_share = float(w[:n_ref][in_leaf[:n_ref]].sum())
        cur_share = float(w[n_ref:][in_leaf[n_ref:]].sum())
        k_ref, k_cur = int(in_leaf[:n_ref].sum()), int(in_leaf[n_ref:].sum())
        p = two_proportion_p(k_ref, n_ref, k_cur, n_cur)
        if cur_share > ref_share:
            total_excess += cur_share - ref_share
        rows.append((int(leaf), ref_share, cur_share, p, k_ref + k_cur))
    rules = _leaf_rules(tree, names)
    for leaf, ref_share, cur_share, p, count in rows:
        lift = cur_share / max(ref_share, 1e-9)
        if cur_share <= ref_share or p >= level or lift < 1.25:
            continue
        conditions = rules.get(leaf, [])
        score = (cur_share - ref_share) / total_excess if total_excess else 0.0
        found.append(
            (
                score,
                Segment(
                    rule=" and ".join(conditions) or "all rows",
                    conditions=conditions,
                    score=round(min(score, 1.0), 6),
                    lift=round(min(lift, 1e6), 4),
                    reference_share=round(ref_share, 6),
                    current_share=round(cur_share, 6),
                    p_value=p,
                    rows=count,
                ),
            )
        )
    if auc < 0.55:
        notes.append(f"the windows are hard to tell apart (domain AUC {auc:.3f})")
    found.sort(key=lambda t: -t[0])
    return [s for _, s in found], round(auc, 6)


def _weighted_auc(
    y: np.ndarray[Any, Any], score: np.ndarray[Any, Any], w: np.ndarray[Any, Any]
) -> float:
    if len(np.unique(y)) < 2:
        return 0.5
    return float(roc_auc_score(y, score, sample_weight=w))


def _leaf_rules(
    tree: DecisionTreeClassifier, names: Sequence[tuple[str, str, str | None]]
) -> dict[int, list[str]]:
    """Return each leaf's path as simplified conditions (``x > 3.2``, ``g == b``)."""
    t = tree.tree_
    out: dict[int, list[str]] = {}

    def walk(node: int, lower: dict[str, float], upper: dict[str, float], cats: list[str]) -> None:
        left, right = int(t.children_left[node]), int(t.children_right[node])
        if left == right:  # a leaf
            conditions = [*cats]
            for feature in sorted(set(lower) | set(upper)):
                low, high = lower.get(feature), upper.get(feature)
                if low is not None and high is not None:
                    conditions.append(f"{low:.4g} < {feature} <= {high:.4g}")
                elif low is not None:
                    conditions.append(f"{feature} > {low:.4g}")
                elif high is not None:
                    conditions.append(f"{feature} <= {high:.4g}")
            out[node] = conditions
            return
        feature, kind, category = names[int(t.feature[node])]
        threshold = float(t.threshold[node])
        if kind == "numeric":
            walk(
                left, lower, {**upper, feature: min(upper.get(feature, math.inf), threshold)}, cats
            )
            walk(
                right,
                {**lower, feature: max(lower.get(feature, -math.inf), threshold)},
                upper,
                cats,
            )
        else:
            positive = f"{feature} == {category}"
            kept = [c for c in cats if not c.startswith(f"{feature} != ")]
            walk(left, lower, upper, [*cats, f"{feature} != {category}"])
            walk(right, lower, upper, [*kept, positive])

    walk(0, {}, {}, [])
    return out


# ------------------------------------------------------------------------------- performance


def _performance(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    label_column: str,
    prediction_column: str,
    alpha: float,
) -> PerformanceCheck | None:
    def errors(frame: pd.DataFrame) -> tuple[int, int]:
        known = frame[[label_column, prediction_column]].dropna()
        wrong = known[label_column].astype(str) != known[prediction_column].astype(str)
        return int(wrong.sum()), len(known)

    e_ref, n_ref = errors(reference)
    e_cur, n_cur = errors(current)
    if n_ref == 0 or n_cur == 0:
        return None
    p = two_proportion_p(e_ref, n_ref, e_cur, n_cur)
    r, c = e_ref / n_ref, e_cur / n_cur
    return PerformanceCheck(
        metric="error_rate",
        reference=round(r, 6),
        current=round(c, 6),
        reference_rows=n_ref,
        current_rows=n_cur,
        p_value=p,
        loss=p < alpha and c > r,
    )


def _recommend(
    classification: Classification,
    anomalies: Sequence[MeasurementCheck],
    moved: Sequence[FeatureShift],
    performance: PerformanceCheck | None,
    version_changed: bool,
) -> DriftRecommendation:
    if classification == "pipeline_fault":
        what = "; ".join(a.detail for a in anomalies[:3])
        return DriftRecommendation(
            action="fix_pipeline",
            reason=f"a measurement anomaly, not drift: {what}. Do not retrain on this data.",
        )
    names = ", ".join(f.feature for f in moved[:5]) or "no feature"
    if classification == "concept_drift":
        assert performance is not None
        loss = (
            f"error rate {performance.reference:.3f} -> {performance.current:.3f} on delayed "
            f"labels (p={performance.p_value:.2g})"
        )
        if version_changed:
            return DriftRecommendation(
                action="rollback",
                reason=f"{loss} after a version change: roll back to the last known-good version",
            )
        return DriftRecommendation(
            action="retrain_recent",
            reason=f"{loss}; moved: {names}. Retrain on recent labelled data.",
        )
    if classification == "covariate_shift":
        assert performance is not None
        return DriftRecommendation(
            action="retrain_recent",
            reason=(
                f"{names} moved but the error rate held ({performance.reference:.3f} -> "
                f"{performance.current:.3f}): covariate shift; retrain on recent data at the "
                "next cycle, no containment needed"
            ),
        )
    if classification == "covariate_shift_unconfirmed":
        return DriftRecommendation(
            action="retrain_recent",
            reason=(
                f"{names} moved; no delayed labels yet to tell concept drift from covariate "
                "shift: retrain on recent data once labels confirm"
            ),
        )
    return DriftRecommendation(action="monitor", reason="nothing moved beyond chance")


# ---------------------------------------------------------------------------------- findings


def drift_findings(found: DriftInvestigation) -> list[Found]:
    """Return the findings of a drift investigation: the root cause first (the measurement
    anomaly, or the kind of drift), then each moved feature and each segment.

    >>> from airsoc.forensics.drift import DriftInvestigation, DriftRecommendation
    >>> empty = DriftInvestigation(classification="no_drift", measurement=[], features=[],
    ...     segments=[], domain_auc=0.5, performance=None, reference_rows=1, current_rows=1,
    ...     recommendation=DriftRecommendation(action="monitor", reason="nothing moved"))
    >>> [f.title for f in drift_findings(empty)]
    ['No drift beyond chance: nothing moved']
    """
    rec = found.recommendation
    out: list[Found] = []
    anomalies = found.measurement_anomalies
    if found.classification == "pipeline_fault":
        for a in anomalies:
            out.append(
                Found(
                    kind=FindingKind.ROOT_CAUSE,
                    subject_type="feature" if a.check != "event_count" else "event",
                    subject=a.subject,
                    score=1.0 - min(a.p_value or 0.0, 1.0),
                    title=f"Pipeline fault, not drift: {a.detail}",
                    detail=a.detail,
                    recommendation=rec.reason,
                    data={"check": a.check, "classification": found.classification},
                )
            )
    elif found.classification != "no_drift":
        perf = found.performance
        said = (
            f"error rate {perf.reference:.3f} -> {perf.current:.3f}"
            if perf is not None
            else "no delayed labels"
        )
        moved = [f.feature for f in found.features if f.moved]
        out.append(
            Found(
                kind=FindingKind.ROOT_CAUSE,
                subject_type="segment",
                subject=found.segments[0].rule if found.segments else "all rows",
                score=max((f.effect for f in found.features if f.moved), default=0.0),
                title=(
                    f"{found.classification.replace('_', ' ').capitalize()}: "
                    f"{', '.join(moved[:4]) or 'performance'} ({said})"
                ),
                detail=rec.reason,
                recommendation=rec.reason,
                data={"classification": found.classification, "domain_auc": found.domain_auc},
            )
        )
    else:
        out.append(
            Found(
                kind=FindingKind.OBSERVATION,
                subject_type="segment",
                subject="all rows",
                score=0.0,
                title=f"No drift beyond chance: {rec.reason}",
                data={"classification": found.classification},
            )
        )
    for f in [f for f in found.features if f.moved][:10]:
        out.append(
            Found(
                kind=FindingKind.CONTRIBUTING_FACTOR,
                subject_type="feature",
                subject=f.feature,
                score=f.effect,
                title=f"Feature {f.feature} moved: {f.detail}",
                data={"psi": f.psi, "ks": f.ks, "tvd": f.tvd, "p_value": f.p_value},
            )
        )
    for s in found.segments[:5]:
        out.append(
            Found(
                kind=FindingKind.CONTRIBUTING_FACTOR,
                subject_type="segment",
                subject=s.rule,
                score=s.score,
                title=(
                    f"Shift concentrates in {s.rule}: {s.current_share:.1%} of current rows "
                    f"against {s.reference_share:.1%} of reference rows "
                    f"({s.score:.0%} of the shift)"
                ),
                data={"lift": s.lift, "p_value": s.p_value},
            )
        )
    return out


def record_drift_findings(
    session: Session,
    *,
    clock: Clock,
    blobs: BlobStore,
    incident_id: int,
    investigation: DriftInvestigation,
    actor: str,
) -> InvestigationRecord:
    """Attach the drift investigation (as evidence) and its findings to the incident."""
    return record_investigation(
        session,
        clock=clock,
        blobs=blobs,
        incident_id=incident_id,
        actor=actor,
        name="drift-investigation.json",
        body=investigation.to_json(),
        method=investigation.method,
        findings=drift_findings(investigation),
    )
