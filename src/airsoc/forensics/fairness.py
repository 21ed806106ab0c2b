"""Fairness root cause: which group lost, whether the data or the model moved, and which features
and segments explain it.

:func:`investigate_fairness` compares a reference window (before the gap opened) with the
current one; each row holds a person's features, their protected group and the decision the
model served (and, where known, the true label):

1. **Groups.** The favourable-decision rate of every group in both windows, the disparate
   impact ratio of each group against the best-served one, and the group whose ratio fell most.
2. **Decomposition.** The reference decisions are learnt as a policy (a gradient-boosted model of
   decision given features, without the group) and applied to the current rows: the rate the
   group *would* have had under the old policy. The gap's change splits into a **data** part
   (old policy, new rows: the group's representation, label rate or features shifted) and a
   **model** part (new decisions against old policy on the same rows).
3. **Features.** Which features moved within the group (Kolmogorov-Smirnov / total variation).
4. **Segments.** Where within the group the new decisions depart most from the old policy: each
   feature is cut in quartiles (or its categories) and the cells with the largest shortfall
   are listed.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> def rows(n, seed):
    ...     r = np.random.default_rng(seed)
    ...     f = pd.DataFrame({"income": r.normal(50, 10, n), "group": r.choice(["A", "B"], n)})
    ...     f["approved"] = (f["income"] > 50).astype(int)
    ...     return f
    >>> ref, cur = rows(4000, 1), rows(4000, 2)
    >>> cur.loc[(cur["group"] == "B") & (cur["income"] < 60), "approved"] = 0
    >>> found = investigate_fairness(ref, cur, group_column="group", outcome_column="approved")
    >>> found.group, found.source
    ('B', 'model')
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel
from sklearn.ensemble import HistGradientBoostingClassifier
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from airsoc.clock import Clock
from airsoc.errors import InputError
from airsoc.forensics.drift import FeatureShift, feature_shifts, two_proportion_p
from airsoc.forensics.record import Found, InvestigationRecord, record_investigation
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import FindingKind

__all__ = [
    "FairnessInvestigation",
    "GroupRates",
    "GroupSegment",
    "fairness_findings",
    "investigate_fairness",
    "record_fairness_findings",
]

METHOD = "forensics.fairness[group_rates,old_policy_decomposition,feature_shift,segment_scan]"


class GroupRates(BaseModel):
    """One group's favourable rate and share, before and now, and its rate under the old policy."""

    group: str
    reference_rate: float
    current_rate: float
    old_policy_rate: float
    reference_share: float
    current_share: float
    reference_ratio: float
    current_ratio: float
    reference_label_rate: float | None = None
    current_label_rate: float | None = None


class GroupSegment(BaseModel):
    """A cell of the disadvantaged group where the new decisions fall short of the old policy."""

    rule: str
    rows: int
    current_rate: float
    old_policy_rate: float
    shortfall: float
    score: float


class FairnessInvestigation(BaseModel):
    """The fairness root cause."""

    group: str
    favored_group: str
    gap_reference: float
    gap_current: float
    data_part: float
    model_part: float
    source: Literal["data", "model", "both", "none"]
    groups: list[GroupRates]
    data_signals: list[str]
    features: list[FeatureShift]
    segments: list[GroupSegment]
    recommendation: str
    method: str = METHOD
    notes: list[str] = []
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Return the investigation as JSON-able data."""
        return self.model_dump(mode="json")


def investigate_fairness(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    group_column: str,
    outcome_column: str,
    favorable: Any = 1,
    label_column: str | None = None,
    features: Sequence[str] | None = None,
    alpha: float = 0.01,
    min_part: float = 0.02,
    random_state: int = 0,
) -> FairnessInvestigation:
    """Return which group lost, whether data or model explains it, and where.

    Parameters
    ----------
    reference, current
        One row per decision: features, ``group_column``, ``outcome_column`` (and labels).
    favorable
        The favourable decision (approved, hired).
    label_column
        The true outcome, where known; its rate per group is a data signal.
    features
        The features the model decides on (default: every other column).
    alpha
        Significance level of the data signals and feature shifts.
    min_part
        The smallest change of the gap (in rate points) that counts for data or model.

    Raises
    ------
    InputError
        When a column is missing, a window is empty, or there are fewer than two groups.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"x": [1.0], "g": ["a"], "y": [1]})
    >>> investigate_fairness(f, f, group_column="g", outcome_column="y")
    Traceback (most recent call last):
    airsoc.errors.InputError: g: fewer than two groups to compare
    """
    started = time.perf_counter()
    special = [c for c in (group_column, outcome_column, label_column) if c is not None]
    for name, frame in (("reference", reference), ("current", current)):
        if frame.empty:
            raise InputError("the window has no rows", loc=name)
        for column in [*special, *(features or [])]:
            if column not in frame.columns:
                raise InputError(f"no column {column!r}", loc=name)
    if features is None:
        features = [c for c in reference.columns if c not in special and c in current.columns]
    if not features:
        raise InputError("no feature to judge", loc="features")
    rg = reference[group_column].astype(str)
    cg = current[group_column].astype(str)
    names = sorted(set(rg) | set(cg))
    if len(names) < 2:
        raise InputError("fewer than two groups to compare", loc=group_column)
    ry = _favorable(reference[outcome_column], favorable)
    cy = _favorable(current[outcome_column], favorable)
    expected = _old_policy(reference, current, features, ry, random_state)
    rates: dict[str, GroupRates] = {}
    for g in names:
        r, c = (rg == g).to_numpy(), (cg == g).to_numpy()
        rates[g] = GroupRates(
            group=g,
            reference_rate=_mean(ry[r]),
            current_rate=_mean(cy[c]),
            old_policy_rate=_mean(expected[c]),
            reference_share=round(float(r.mean()), 6),
            current_share=round(float(c.mean()), 6),
            reference_ratio=0.0,
            current_ratio=0.0,
            reference_label_rate=(
                _mean(_favorable(reference.loc[r, label_column], favorable))
                if label_column
                else None
            ),
            current_label_rate=(
                _mean(_favorable(current.loc[c, label_column], favorable)) if label_column else None
            ),
        )
    best_ref = max(v.reference_rate for v in rates.values()) or 1.0
    best_cur = max(v.current_rate for v in rates.values()) or 1.0
    for v in rates.values():
        v.reference_ratio = round(v.reference_rate / best_ref, 6)
        v.current_ratio = round(v.current_rate / best_cur, 6)
    group = min(names, key=lambda g: (rates[g].current_ratio - rates[g].reference_ratio, g))
    favored = max(names, key=lambda g: (rates[g].current_rate, g))
    lo, hi = rates[group], rates[favored]
    gap_ref = hi.reference_rate - lo.reference_rate
    gap_cur = hi.current_rate - lo.current_rate
    gap_old = hi.old_policy_rate - lo.old_policy_rate
    data_part, model_part = gap_old - gap_ref, gap_cur - gap_old
    source: Literal["data", "model", "both", "none"]
    data_moved, model_moved = data_part >= min_part, model_part >= min_part
    source = (
        "both"
        if data_moved and model_moved
        else "data"
        if data_moved
        else "model"
        if model_moved
        else "none"
    )
    signals = _data_signals(reference, current, rg, cg, group, label_column, favorable, alpha)
    in_ref, in_cur = (rg == group).to_numpy(), (cg == group).to_numpy()
    shifts = feature_shifts(
        reference[in_ref], current[in_cur], features, None, alpha, min_effect=0.1
    )
    segments = _segments(current[in_cur], cy[in_cur], expected[in_cur], features)
    notes: list[str] = []
    if source == "model" and signals:
        notes.append("data signals are present but the old policy does not turn them into a gap")
    what = {
        "model": (
            f"the new decisions treat group {group} worse than the old policy would on the same "
            "rows: roll back to the last known-good version and review the new one"
        ),
        "data": (
            f"the old policy already gives group {group} less on the new rows: review the data "
            "(representation, labels, features) and retrain with it fixed"
        ),
        "both": f"both the data and the model moved against group {group}: roll back, then fix "
        "the data before retraining",
        "none": "the gap did not widen beyond the noise",
    }[source]
    return FairnessInvestigation(
        group=group,
        favored_group=favored,
        gap_reference=round(gap_ref, 6),
        gap_current=round(gap_cur, 6),
        data_part=round(data_part, 6),
        model_part=round(model_part, 6),
        source=source,
        groups=list(rates.values()),
        data_signals=signals,
        features=shifts,
        segments=segments,
        recommendation=what,
        notes=notes,
        duration_s=round(time.perf_counter() - started, 3),
    )


def _mean(values: np.ndarray[Any, Any]) -> float:
    return round(float(values.mean()), 6) if len(values) else 0.0


def _favorable(series: pd.Series[Any], favorable: Any) -> np.ndarray[Any, Any]:
    return (series.astype(str) == str(favorable)).to_numpy(dtype=float)


def _matrix(frame: pd.DataFrame, features: Sequence[str], categories: dict[str, list[str]]) -> Any:
    parts = []
    for f in features:
        if f in categories:
            text = frame[f].astype(str)
            parts.append(np.column_stack([(text == c).to_numpy(float) for c in categories[f]]))
        else:
            parts.append(frame[f].to_numpy(float).reshape(-1, 1))
    return np.hstack(parts)


def _old_policy(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    y: np.ndarray[Any, Any],
    random_state: int,
) -> np.ndarray[Any, Any]:
    """Return, for each current row, the chance the reference decisions would favour it."""
    categories = {
        f: [str(v) for v in reference[f].astype(str).value_counts().index[:20]]
        for f in features
        if not pd.api.types.is_numeric_dtype(reference[f])
    }
    if len(np.unique(y)) < 2:
        return np.full(len(current), float(y[0]) if len(y) else 0.0)
    with threadpool_limits(limits=1):
        model = HistGradientBoostingClassifier(max_iter=100, random_state=random_state).fit(
            _matrix(reference, features, categories), y
        )
        proba: np.ndarray[Any, Any] = model.predict_proba(_matrix(current, features, categories))
    return proba[:, 1]


def _data_signals(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    rg: pd.Series[Any],
    cg: pd.Series[Any],
    group: str,
    label_column: str | None,
    favorable: Any,
    alpha: float,
) -> list[str]:
    out = []
    k1, n1, k2, n2 = int((rg == group).sum()), len(rg), int((cg == group).sum()), len(cg)
    p = two_proportion_p(k1, n1, k2, n2)
    if p < alpha:
        out.append(f"group {group} share {k1 / n1:.1%} -> {k2 / n2:.1%} (p={p:.2g})")
    if label_column is not None:
        r = _favorable(reference.loc[(rg == group).to_numpy(), label_column], favorable)
        c = _favorable(current.loc[(cg == group).to_numpy(), label_column], favorable)
        if len(r) and len(c):
            p = two_proportion_p(int(r.sum()), len(r), int(c.sum()), len(c))
            if p < alpha:
                out.append(f"group {group} label rate {r.mean():.1%} -> {c.mean():.1%} (p={p:.2g})")
    return out


def _segments(
    rows: pd.DataFrame,
    actual: np.ndarray[Any, Any],
    expected: np.ndarray[Any, Any],
    features: Sequence[str],
) -> list[GroupSegment]:
    if len(rows) == 0:
        return []
    shortfall = expected - actual
    total = float(np.clip(shortfall, 0, None).sum()) or 1.0
    out = []
    for f in features:
        series = rows[f]
        if pd.api.types.is_numeric_dtype(series):
            edges = np.unique(np.quantile(series.to_numpy(float), [0, 0.25, 0.5, 0.75, 1]))
            if len(edges) < 2:
                continue
            cells = np.clip(np.searchsorted(edges[1:-1], series.to_numpy(float), "right"), 0, None)
            names = [f"{edges[i]:.4g} <= {f} <= {edges[i + 1]:.4g}" for i in range(len(edges) - 1)]
        else:
            text = series.astype(str).to_numpy()
            values = sorted(set(text))[:50]
            cells = np.array([values.index(t) if t in values else -1 for t in text])
            names = [f"{f} == {v}" for v in values]
        for i, name in enumerate(names):
            mask = cells == i
            if mask.sum() < 20:
                continue
            gap = float(shortfall[mask].sum())
            if gap <= 0:
                continue
            out.append(
                GroupSegment(
                    rule=name,
                    rows=int(mask.sum()),
                    current_rate=round(float(actual[mask].mean()), 6),
                    old_policy_rate=round(float(expected[mask].mean()), 6),
                    shortfall=round(gap / mask.sum(), 6),
                    score=round(min(gap / total, 1.0), 6),
                )
            )
    out.sort(key=lambda s: (-s.score, s.rule))
    return out[:10]


def fairness_findings(found: FairnessInvestigation) -> list[Found]:
    """Return the findings: the root cause (data or model), moved features, segments."""
    out = [
        Found(
            kind=FindingKind.ROOT_CAUSE if found.source != "none" else FindingKind.OBSERVATION,
            subject_type="group",
            subject=found.group,
            score=min(1.0, max(0.0, found.gap_current - found.gap_reference)),
            title=(
                f"Group {found.group}: gap to {found.favored_group} {found.gap_reference:.1%} -> "
                f"{found.gap_current:.1%}; from the {found.source} "
                f"(data {found.data_part:+.1%}, model {found.model_part:+.1%})"
            ),
            detail="; ".join(found.data_signals) or "no data signal",
            recommendation=found.recommendation,
            data={
                "source": found.source,
                "data_part": found.data_part,
                "model_part": found.model_part,
            },
        )
    ]
    for f in [f for f in found.features if f.moved][:5]:
        out.append(
            Found(
                kind=FindingKind.CONTRIBUTING_FACTOR,
                subject_type="feature",
                subject=f.feature,
                score=f.effect,
                title=f"Within group {found.group}: {f.detail}",
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
                    f"Group {found.group}, {s.rule}: favourable {s.current_rate:.1%} against "
                    f"{s.old_policy_rate:.1%} under the old policy"
                ),
            )
        )
    return out


def record_fairness_findings(
    session: Session,
    *,
    clock: Clock,
    blobs: BlobStore,
    incident_id: int,
    investigation: FairnessInvestigation,
    actor: str,
) -> InvestigationRecord:
    """Attach the fairness investigation (as evidence) and its findings to the incident."""
    return record_investigation(
        session,
        clock=clock,
        blobs=blobs,
        incident_id=incident_id,
        actor=actor,
        name="fairness-investigation.json",
        body=investigation.to_json(),
        method=investigation.method,
        findings=fairness_findings(investigation),
    )
