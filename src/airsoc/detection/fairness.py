"""Return fairness verdicts per protected group, with sample sizes and significance.

For each group the report gives the selection rate (share of favourable predictions), the
disparate impact ratio against the reference group (the four-fifths rule flags ratios below
0.8), the demographic parity difference and, when labels are given, the equal opportunity
difference (true-positive rates) and the equalised odds difference (the larger of the TPR and
FPR gaps).

A ratio alone raises false alarms: 30 rows with 9 instead of 12 approvals give a ratio of 0.75
by chance alone, and a monitor that checks a sliding window every few minutes sees a group whose
true ratio is 0.89 dip below 0.8 sooner or later (the reference group, the one with the highest
rate in the window, is itself lucky). The decision is therefore made by statistics: each group is
tested for a ratio *below the threshold* (the null hypothesis is a ratio of ``threshold`` or
more: Farrington and Manning's score test for a ratio of proportions, :func:`below_ratio_p`), and
the p-values are Benjamini-Hochberg corrected across groups; a group is flagged (``drift``,
failure mode ``fairness_regression``) when its q-value is at most ``alpha`` and its observed
ratio is below ``threshold``. ``min_group_size`` is a reporting floor, not a
veto: below it a significant breach is a ``warn``, unless the evidence is overwhelming
(q-value at most ``strong_evidence``), as for a 99-row group with no approval at all. A breach
that is not significant is a ``warn`` that says so and raises no alert.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> group = np.repeat(["a", "b"], 2000)
    >>> approve = np.concatenate([rng.random(2000) < 0.5, rng.random(2000) < 0.35])
    >>> report = check_fairness({"group": group, "approved": approve},
    ...                         group="group", prediction="approved")
    >>> [(v.subject, v.decision, round(v.statistic, 2)) for v in report.groups]
    [('group=a', 'ok', 1.0), ('group=b', 'drift', 0.7)]
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats as sps

from airsoc.detection.inputs import TableLike, read_table
from airsoc.detection.stats import benjamini_hochberg
from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import InputError

__all__ = ["FairnessReport", "check_fairness"]

DETECTOR = "fairness"


class FairnessReport(BaseModel):
    """Return-type of :func:`check_fairness`: one verdict per group and an overall verdict."""

    model_config = ConfigDict(frozen=True)

    groups: list[Verdict]
    overall: Verdict
    reference_group: str


def _labels(table: Any, name: str) -> list[str]:
    col = table[name]
    if col.codes is not None:
        cats = np.array([*col.categories, "<null>"], dtype=object)
        return list(cats[col.codes])
    assert col.values is not None
    return [("<null>" if np.isnan(v) else f"{v:g}") for v in col.values]


def _binary(table: Any, name: str, positive: Any) -> np.ndarray[Any, np.dtype[np.bool_]]:
    col = table[name]
    pos = str(positive)
    if col.codes is not None:
        cats = col.categories
        if pos == "1" and "True" in cats and "1" not in cats:
            pos = "True"
        if pos not in cats and len(cats) > 2:
            raise InputError(
                f"column {name!r} has no value {positive!r}; values: {', '.join(cats[:10])}"
            )
        hit = np.array([c == pos for c in cats] + [False])
        return cast(np.ndarray[Any, np.dtype[np.bool_]], hit[col.codes])
    assert col.values is not None
    if np.isnan(col.values).any():
        raise InputError(f"column {name!r} has nulls; fairness needs a value in every row")
    return cast(np.ndarray[Any, np.dtype[np.bool_]], col.values == float(positive))


def below_ratio_p(selected: int, n: int, selected_ref: int, n_ref: int, threshold: float) -> float:
    """Return the one-sided p-value that a group's selection rate is below ``threshold`` times
    the reference group's (null hypothesis: the ratio is ``threshold`` or more).

    Farrington and Manning's score test for a ratio of two proportions (Statistics in Medicine,
    1990): the rates are re-estimated under the null hypothesis, so a group with no approvals
    at all still gets a usable variance.

    >>> below_ratio_p(350, 1000, 500, 1000, 0.8) < 0.01             # ratio 0.70: below
    True
    >>> round(below_ratio_p(79, 100, 100, 100, 0.8), 2)              # ratio 0.79: no evidence
    0.4
    >>> below_ratio_p(0, 99, 80, 100, 0.8) < 1e-6                    # no approval at all
    True
    """
    if n <= 0 or n_ref <= 0:
        raise InputError("each group needs at least one row")
    x1, x2, theta = float(selected), float(selected_ref), float(threshold)
    p1, p2 = x1 / n, x2 / n_ref
    a = (n + n_ref) * theta
    b = -(theta * (n + x2) + x1 + n_ref)
    c = x1 + x2
    if c == 0:
        return 1.0  # nobody selected anywhere: no evidence of a ratio below the threshold
    r2 = (-b - np.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
    r1 = min(theta * r2, 1.0)
    variance = r1 * (1 - r1) / n + theta**2 * r2 * (1 - r2) / n_ref
    diff = p1 - theta * p2
    if variance <= 0:
        return 0.0 if diff < 0 else 1.0
    return float(sps.norm.cdf(diff / np.sqrt(variance)))


def check_fairness(
    data: TableLike,
    *,
    group: str,
    prediction: str,
    label: str | None = None,
    positive: Any = 1,
    reference_group: str | None = None,
    threshold: float = 0.8,
    alpha: float = 0.05,
    min_group_size: int = 100,
    strong_evidence: float = 1e-6,
) -> FairnessReport:
    """Return per-group fairness verdicts for ``data`` (a table with group/prediction columns).

    ``positive`` is the favourable prediction (and label) value. The reference group defaults to
    the group with the highest selection rate. ``alpha`` is the false discovery rate across
    groups, ``threshold`` the effect-size gate on the impact ratio, ``min_group_size`` the
    reporting floor and ``strong_evidence`` the q-value that alarms below it.

    >>> data = {"g": ["x"] * 60 + ["y"] * 30, "p": [1, 0] * 30 + [1, 0, 0] * 10}
    >>> check_fairness(data, group="g", prediction="p").overall.decision
    'warn'
    """
    cols = [group, prediction] + ([label] if label else [])
    table = read_table(data, columns=cols, kinds={group: "categorical"})
    if table.n_rows == 0:
        raise InputError("no rows to judge fairness on")
    groups = np.array(_labels(table, group), dtype=object)
    pred = _binary(table, prediction, positive)
    truth = _binary(table, label, positive) if label else None
    names = sorted(set(groups.tolist()))
    idx = {g: groups == g for g in names}
    n = {g: int(m.sum()) for g, m in idx.items()}
    sel = {g: int(pred[m].sum()) for g, m in idx.items()}
    rate = {g: sel[g] / n[g] for g in names}
    ref = reference_group or max(names, key=lambda g: (rate[g], n[g]))
    if ref not in idx:
        raise InputError(f"reference group {ref!r} not in column {group!r}")

    def tpr_fpr(g: str) -> tuple[float | None, float | None]:
        if truth is None:
            return None, None
        m = idx[g]
        pos, neg = truth[m], ~truth[m]
        tpr = float(pred[m][pos].mean()) if pos.any() else None
        fpr = float(pred[m][neg].mean()) if neg.any() else None
        return tpr, fpr

    pvals = [
        1.0 if g == ref else below_ratio_p(sel[g], n[g], sel[ref], n[ref], threshold) for g in names
    ]
    qvals = benjamini_hochberg(np.array(pvals))
    ref_tpr, ref_fpr = tpr_fpr(ref)
    verdicts = []
    for g, p, q in zip(names, pvals, qvals, strict=True):
        di = rate[g] / rate[ref] if rate[ref] > 0 else 1.0
        tpr, fpr = tpr_fpr(g)
        evidence: dict[str, Any] = {
            "selection_rate": rate[g],
            "reference_selection_rate": rate[ref],
            "demographic_parity_difference": rate[g] - rate[ref],
        }
        if truth is not None:
            eo = None if tpr is None or ref_tpr is None else tpr - ref_tpr
            fd = None if fpr is None or ref_fpr is None else fpr - ref_fpr
            evidence["equal_opportunity_difference"] = eo
            evidence["equalised_odds_difference"] = max(
                (abs(x) for x in (eo, fd) if x is not None), default=None
            )
        breach = di < threshold
        decision: Decision = "ok"
        if g == ref:
            why = "reference group"
        elif not breach:
            why = f"disparate impact {di:.2f} >= {threshold}"
        elif q > alpha:
            decision = "warn"
            why = (
                f"disparate impact {di:.2f} < {threshold} but not significant (BH q {q:.3g}) "
                f"with {n[g]} rows"
            )
        elif n[g] < min_group_size and q > strong_evidence:
            decision = "warn"
            why = (
                f"disparate impact {di:.2f} < {threshold} (q {q:.3g}) but only {n[g]} rows, "
                f"below the {min_group_size}-row reporting floor and q above {strong_evidence:g}"
            )
        elif n[g] < min_group_size:
            decision = "drift"
            why = (
                f"disparate impact {di:.2f} < {threshold} with overwhelming evidence (BH q "
                f"{q:.3g} <= {strong_evidence:g}) despite only {n[g]} rows"
            )
        else:
            decision = "drift"
            why = f"disparate impact {di:.2f} < {threshold} (four-fifths rule), BH q {q:.3g}"
        verdicts.append(
            Verdict(
                detector=DETECTOR,
                method="disparate_impact",
                subject=f"{group}={g}",
                failure_mode="fairness_regression" if decision == "drift" else None,
                statistic=di,
                p_value=p,
                q_value=float(q),
                threshold=threshold,
                threshold_source="default" if threshold == 0.8 else "fixed",
                decision=decision,
                effect_size=rate[g] - rate[ref],
                n_reference=n[ref],
                n_current=n[g],
                correction_group=f"fairness:{group}",
                reason=f"selection rate {rate[g]:.1%} vs {rate[ref]:.1%} for {ref}: {why}",
                evidence=evidence,
            )
        )
    flagged = [v.subject for v in verdicts if v.decision == "drift"]
    warned = [v.subject for v in verdicts if v.decision == "warn"]
    overall_decision: Decision = "drift" if flagged else "warn" if warned else "ok"
    overall = Verdict(
        detector=DETECTOR,
        method="disparate_impact",
        subject=group,
        failure_mode="fairness_regression" if flagged else None,
        statistic=min(v.statistic or 1.0 for v in verdicts),
        threshold=threshold,
        decision=overall_decision,
        n_current=table.n_rows,
        reason=(
            f"{len(flagged)} group(s) below the four-fifths rule: {', '.join(flagged)}"
            if flagged
            else f"{len(warned)} group(s) to watch: {', '.join(warned)}"
            if warned
            else f"all {len(names)} groups within the four-fifths rule"
        ),
        evidence={"flagged": flagged, "warned": warned, "groups": {g: n[g] for g in names}},
    )
    return FairnessReport(groups=verdicts, overall=overall, reference_group=ref)
