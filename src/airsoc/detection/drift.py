"""Return data-drift verdicts per column and for the dataset, with a rule that scales with n.

The decision rule
-----------------
A p-value alone flags trivial shifts once n reaches a million; an effect-size cut alone misses
real shifts at small n. A column is therefore judged on both:

1. **Test.** Numeric columns: two-sample Kolmogorov-Smirnov (exact when both windows are small,
   on the reference grid when large, sketch-aware when only KLL sketches are left). Categorical
   and boolean columns: two-sample chi-square contingency test.
2. **Correct.** The p-values of all columns tested together are adjusted with Benjamini-Hochberg
   (false discovery rate, the default) or Bonferroni (family-wise error, ``correction=
   "bonferroni"``). The result is the verdict's ``q_value``.
3. **Size.** The effect size is the KS distance for numeric columns and the total variation
   distance (its categorical analogue) for categorical ones; both are shares of mass that moved.
   The threshold is ``min_effect`` (0.05: 5% of the mass) unless thresholds were calibrated on
   reference chunks or by bootstrap (:func:`calibrate`).
4. **Decide.** ``drift`` when ``q <= alpha`` *and* the effect reaches the threshold; ``warn``
   when the shift is significant and at least half the threshold; ``ok`` otherwise (a large
   but insignificant effect is sampling noise at small n, not a warning).

Under no drift the false-alarm rate is held by the correction whatever n; under a trivial but
real shift at n = 1M the effect-size floor keeps the column quiet; at n = 10k a 0.2-sd shift
(KS distance about 0.08) passes both. Constant columns, all-null columns, empty windows, missing
and retyped columns get an explicit verdict with a reason instead of a NaN.

The dataset verdict is ``drift`` when the share of drifted columns exceeds ``drift_share``
(default 0: any drifted column), and lists them.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> ref = pd.DataFrame({"a": rng.normal(size=5000), "b": rng.normal(size=5000)})
    >>> cur = pd.DataFrame({"a": rng.normal(0.3, 1, 5000), "b": rng.normal(size=5000)})
    >>> report = check_drift(ref, cur)
    >>> [(v.subject, v.decision) for v in report.columns]
    [('a', 'drift'), ('b', 'ok')]
    >>> report.dataset.decision, report.drifted
    ('drift', ['a'])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from airsoc.detection import stats
from airsoc.detection.classify import classify_failure_mode
from airsoc.detection.inputs import TableLike, read_table
from airsoc.detection.profiles import (
    ColumnProfile,
    DatasetProfile,
    Grid,
    profile,
)
from airsoc.detection.quality import compare_profiles, schema_changes
from airsoc.detection.verdict import Decision, ThresholdSource, Verdict
from airsoc.errors import InputError, SchemaMismatchError

__all__ = [
    "Calibration",
    "Correction",
    "DriftReport",
    "calibrate",
    "check_drift",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
Correction: TypeAlias = Literal["bh", "bonferroni"]
Step: TypeAlias = Callable[[str], None]

DETECTOR = "data_drift"
_CHART_BINS = 30


@dataclass(frozen=True)
class Calibration:
    """Return-type of :func:`calibrate`: per-column effect thresholds and how they were found."""

    thresholds: dict[str, float]
    source: ThresholdSource
    quantile: float
    rounds: int


class DriftReport(BaseModel):
    """Return-type of :func:`check_drift`: column and dataset verdicts, quality, diagnosis."""

    model_config = ConfigDict(frozen=True)

    columns: list[Verdict]
    dataset: Verdict
    quality: list[Verdict] = []
    diagnosis: Verdict | None = None

    @property
    def drifted(self) -> list[str]:
        """Return the names of the columns judged ``drift``."""
        return [v.subject for v in self.columns if v.decision == "drift"]

    def column(self, name: str) -> Verdict:
        """Return the verdict on column ``name``."""
        for v in self.columns:
            if v.subject == name:
                return v
        raise InputError(f"no verdict for column {name!r}")

    def to_json_dict(self) -> dict[str, Any]:
        """Return the report as the JSON document the CLI prints (one entry per column)."""

        def entry(v: Verdict) -> dict[str, Any]:
            return {"name": v.subject, **v.model_dump(mode="json")}

        return {
            "dataset": entry(self.dataset),
            "columns": [entry(v) for v in self.columns],
            "quality": [entry(v) for v in self.quality],
            "diagnosis": None if self.diagnosis is None else entry(self.diagnosis),
        }


@dataclass
class _Pending:
    """A column that needs a test; p-values are corrected together before deciding."""

    name: str
    method: str
    statistic: float
    p_value: float
    effect: float
    n_ref: int
    n_cur: int
    sketch_error: float | None
    evidence: dict[str, Any]
    note: str = ""


def _verdict(name: str, decision: Decision, reason: str, **kw: Any) -> Verdict:
    failure = kw.pop("failure_mode", DETECTOR if decision == "drift" else None)
    return Verdict(
        detector=DETECTOR,
        subject=name,
        decision=decision,
        reason=reason,
        failure_mode=failure,
        **kw,
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _special_case(
    name: str, ref: ColumnProfile, cur: ColumnProfile, n_cur_rows: int
) -> Verdict | None:
    """Return a verdict for columns a test cannot judge (empty, null, constant), else None."""
    common = {"n_reference": ref.count, "n_current": cur.count, "method": "none"}
    evidence = {"null_rate_reference": ref.null_rate, "null_rate_current": cur.null_rate}
    if n_cur_rows == 0:
        return _verdict(name, "warn", "current window is empty (0 rows); nothing to test", **common)
    if ref.count == 0:
        return _verdict(
            name,
            "warn",
            f"reference has no non-null values in {ref.n_rows} rows; nothing to compare against",
            evidence=evidence,
            **common,
        )
    if cur.count == 0:
        return _verdict(
            name,
            "drift",
            f"all {cur.n_rows} current values are null (reference {ref.null_rate:.1%} null); "
            "likely a pipeline fault",
            failure_mode="pipeline_fault",
            evidence=evidence,
            **common,
        )
    if ref.is_constant and cur.is_constant:
        a = ref.min if ref.is_numeric else next(iter(ref.category_counts or {}), None)
        b = cur.min if cur.is_numeric else next(iter(cur.category_counts or {}), None)
        if a == b:
            return _verdict(
                name, "ok", f"constant in both windows (value {a!r})", evidence=evidence, **common
            )
        return _verdict(
            name,
            "drift",
            f"constant value changed from {a!r} to {b!r}",
            statistic=1.0,
            effect_size=1.0,
            evidence=evidence,
            **common,
        )
    return None


def _numeric_cdfs(
    ref: ColumnProfile, cur: ColumnProfile
) -> tuple[FloatArray, FloatArray, Grid, float | None, str, float]:
    """Return (cdf_ref, cdf_cur, grid, exact D or None, method, rank error) of a column."""
    if ref.values is not None and cur.values is not None:
        grid = ref.grid or Grid.for_values(ref.values)
        points = grid.upper_edges
        cdf_ref = np.searchsorted(ref.values, points, side="right") / ref.count
        cdf_cur = np.searchsorted(cur.values, points, side="right") / cur.count
        return cdf_ref, cdf_cur, grid, stats.ks_exact(ref.values, cur.values), "ks", 0.0
    if (
        ref.grid is not None
        and ref.grid == cur.grid
        and ref.counts is not None
        and cur.counts is not None
    ):
        cdf_ref = np.cumsum(ref.counts[:-1]) / ref.count
        cdf_cur = np.cumsum(cur.counts[:-1]) / cur.count
        bound = max(ref.rank_error(), cur.rank_error())
        return cdf_ref, cdf_cur, ref.grid, None, "ks_binned", bound
    grid = ref.grid or Grid.for_values(ref.quantiles(np.linspace(0, 1, 2001).tolist()))
    points = grid.upper_edges
    error = ref.rank_error() + cur.rank_error()
    return ref.cdf_at(points), cur.cdf_at(points), grid, None, "ks_sketch", error


def _decile_counts(cdf_ref: FloatArray, cdf_cur: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return reference-decile bin shares of both CDF rows (for PSI, JS and Hellinger)."""
    cuts = np.array([np.searchsorted(row, np.arange(1, 10) / 10) for row in cdf_ref])
    cuts = np.minimum(cuts, cdf_ref.shape[1] - 1)
    ref_cut = np.take_along_axis(cdf_ref, cuts, axis=1)
    cur_cut = np.take_along_axis(cdf_cur, cuts, axis=1)
    ones = np.ones((cdf_ref.shape[0], 1))
    zeros = np.zeros((cdf_ref.shape[0], 1))
    return (
        np.diff(np.hstack([zeros, ref_cut, ones]), axis=1),
        np.diff(np.hstack([zeros, cur_cut, ones]), axis=1),
    )


def _chart_numeric(ref: ColumnProfile, cur: ColumnProfile) -> dict[str, Any]:
    lo, hi = (float(v) for v in ref.quantiles([0.005, 0.995]))
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, _CHART_BINS + 1)

    def shares(p: ColumnProfile) -> list[float]:
        cdf = np.concatenate([[0.0], p.cdf_at(edges), [1.0]])
        return [round(float(v), 6) for v in np.clip(np.diff(cdf), 0, 1)]

    return {
        "kind": "numeric",
        "edges": [round(float(e), 6) for e in edges],
        "reference": shares(ref),
        "current": shares(cur),
    }


def _test_numeric(
    names: Sequence[str], pairs: Sequence[tuple[ColumnProfile, ColumnProfile]]
) -> list[_Pending]:
    """Return pending results for numeric columns, all statistics computed as matrices."""
    if not names:
        return []
    rows = [_numeric_cdfs(r, c) for r, c in pairs]
    width = max(len(r[0]) for r in rows)
    cdf_ref = np.ones((len(rows), width))
    cdf_cur = np.ones((len(rows), width))
    for i, (f, g, *_rest) in enumerate(rows):
        cdf_ref[i, : len(f)] = f
        cdf_cur[i, : len(g)] = g
    n = np.array([r.count for r, _ in pairs], dtype=np.float64)
    m = np.array([c.count for _, c in pairs], dtype=np.float64)
    d_grid = stats.ks_statistic(cdf_ref, cdf_cur)
    d = np.array([r[3] if r[3] is not None else d_grid[i] for i, r in enumerate(rows)])
    errors = np.array([r[5] for r in rows])
    sketch = np.array([r[4] == "ks_sketch" for r in rows])
    p = stats.ks_pvalue(d, n.astype(np.int64), m.astype(np.int64), np.where(sketch, errors, 0.0))
    pr, pc = _decile_counts(cdf_ref, cdf_cur)
    psi = stats.psi(pr, pc)
    js = stats.jensen_shannon(pr, pc)
    hel = stats.hellinger(pr, pc)
    widths = np.array([[r[2].width] for r in rows])
    sd = np.array([r.std or 0.0 for r, _ in pairs])
    wass = stats.wasserstein(cdf_ref, cdf_cur, widths, sd)
    cvm = stats.cramer_von_mises(cdf_ref, cdf_cur, n, m)
    ad = stats.anderson_darling(cdf_ref, cdf_cur, n, m)
    out = []
    for i, name in enumerate(names):
        ref, cur = pairs[i]
        method = rows[i][4]
        evidence: dict[str, Any] = {
            "psi": round(float(psi[i]), 6),
            "psi_band": stats.psi_band(float(psi[i])),
            "jensen_shannon": round(float(js[i]), 6),
            "hellinger": round(float(hel[i]), 6),
            "wasserstein_normalised": None if np.isnan(wass[i]) else round(float(wass[i]), 6),
            "cramer_von_mises": round(float(cvm[i]), 4),
            "anderson_darling": round(float(ad[i]), 4),
            "mean_reference": ref.mean,
            "mean_current": cur.mean,
            "std_reference": ref.std,
            "std_current": cur.std,
            "null_rate_reference": ref.null_rate,
            "null_rate_current": cur.null_rate,
            "chart": _chart_numeric(ref, cur),
        }
        note = " (reference is constant)" if ref.is_constant else ""
        out.append(
            _Pending(
                name=name,
                method=method,
                statistic=float(d[i]),
                p_value=float(p[i]),
                effect=float(d[i]),
                n_ref=ref.count,
                n_cur=cur.count,
                sketch_error=None if method == "ks" else float(errors[i]),
                evidence=evidence,
                note=note,
            )
        )
    return out


def _test_categorical(name: str, ref: ColumnProfile, cur: ColumnProfile) -> _Pending:
    rc, cc = ref.category_counts or {}, cur.category_counts or {}
    labels = sorted(set(rc) | set(cc))
    r = np.array([rc.get(k, 0) for k in labels] + [ref.other_count], dtype=np.float64)
    c = np.array([cc.get(k, 0) for k in labels] + [cur.other_count], dtype=np.float64)
    stat, p, dof = stats.chi2_contingency(r, c)
    tvd = float(stats.total_variation(r[None], c[None])[0])
    psi = float(stats.psi(r[None], c[None])[0])
    new = [k for k in labels if k not in rc and ref.other_count == 0]
    new_share = sum(cc[k] for k in new) / max(cur.count, 1)
    top = sorted(labels, key=lambda k: -(rc.get(k, 0) + cc.get(k, 0)))[:_CHART_BINS]
    evidence: dict[str, Any] = {
        "dof": dof,
        "psi": round(psi, 6),
        "psi_band": stats.psi_band(psi),
        "jensen_shannon": round(float(stats.jensen_shannon(r[None], c[None])[0]), 6),
        "hellinger": round(float(stats.hellinger(r[None], c[None])[0]), 6),
        "new_categories": new[:20],
        "new_category_share": round(new_share, 6),
        "missing_categories": [k for k in labels if k not in cc and cur.other_count == 0][:20],
        "null_rate_reference": ref.null_rate,
        "null_rate_current": cur.null_rate,
        "chart": {
            "kind": "categorical",
            "labels": top,
            "reference": [round(rc.get(k, 0) / max(ref.count, 1), 6) for k in top],
            "current": [round(cc.get(k, 0) / max(cur.count, 1), 6) for k in top],
        },
    }
    note = ""
    if new:
        shown = ", ".join(repr(k) for k in new[:3]) + (" ..." if len(new) > 3 else "")
        note = f"; new categories {shown} ({new_share:.1%} of current)"
    return _Pending(
        name=name,
        method="chi2",
        statistic=stat,
        p_value=p,
        effect=tvd,
        n_ref=ref.count,
        n_cur=cur.count,
        sketch_error=None if ref.frequent is None and cur.frequent is None else 0.0,
        evidence=evidence,
        note=note,
    )


def _decide(
    pending: Sequence[_Pending],
    *,
    alpha: float,
    correction: Correction,
    thresholds: Mapping[str, float],
    threshold_source: ThresholdSource,
    group: str,
) -> list[Verdict]:
    if not pending:
        return []
    raw = np.array([x.p_value for x in pending])
    q = stats.benjamini_hochberg(raw) if correction == "bh" else stats.bonferroni(raw)
    out = []
    label = "BH" if correction == "bh" else "Bonferroni"
    for x, qv in zip(pending, q, strict=True):
        thr = thresholds[x.name]
        significant = qv <= alpha
        size = "distance" if x.method.startswith("ks") else "total variation"
        if significant and x.effect >= thr:
            decision: Decision = "drift"
            why = f"{size} {x.effect:.3f} >= {thr:.3f} and {label} q {_fmt(qv)} <= {alpha}"
        elif significant and x.effect >= thr / 2:
            decision = "warn"
            why = f"significant ({label} q {_fmt(qv)}) but {size} {x.effect:.3f} < {thr:.3f}"
        else:
            decision = "ok"
            why = (
                f"{size} {x.effect:.3f} below {thr:.3f}"
                if significant
                else f"no significant shift ({label} q {_fmt(qv)}); {size} {x.effect:.3f}"
            )
        out.append(
            _verdict(
                x.name,
                decision,
                f"{x.method}: {why}{x.note}",
                method=x.method,
                statistic=x.statistic,
                p_value=x.p_value,
                q_value=float(qv),
                threshold=thr,
                threshold_source=threshold_source,
                effect_size=x.effect,
                n_reference=x.n_ref,
                n_current=x.n_cur,
                sketch_error=x.sketch_error,
                correction_group=group,
                evidence=x.evidence,
            )
        )
    return out


def _profiles(
    reference: TableLike | DatasetProfile,
    current: TableLike | DatasetProfile,
    *,
    columns: Sequence[str] | None,
    kinds: Mapping[str, str] | None,
    step: Step,
) -> tuple[DatasetProfile, DatasetProfile]:
    step("profiling reference")
    ref = profile(reference, kinds=kinds, columns=columns, sketches=False)
    step("profiling current")
    if isinstance(current, DatasetProfile):
        cur = current
    else:
        # Categorical reference columns stay categorical in the current window even when the
        # current values happen to look numeric (zip codes, ids).
        forced: dict[str, str] = {n: c.kind for n, c in ref.columns.items() if not c.is_numeric}
        forced.update(kinds or {})
        cur = profile(current, kinds=forced or None, grid_from=ref, sketches=False)
    if columns:
        missing = [c for c in columns if c not in ref.columns]
        if missing:
            raise InputError(f"reference has no column {missing[0]!r}")
        ref = DatasetProfile({c: ref[c] for c in columns}, ref.n_rows, ref.source, ref.meta)
        cur = DatasetProfile(
            {c: cur.columns[c] for c in columns if c in cur.columns}, cur.n_rows, cur.source
        )
    if not set(ref.columns) & set(cur.columns):
        raise SchemaMismatchError(
            f"reference and current share no columns (reference: {', '.join(ref.names)}; "
            f"current: {', '.join(cur.names)})"
        )
    return ref, cur


def check_drift(
    reference: TableLike | DatasetProfile,
    current: TableLike | DatasetProfile,
    *,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    min_effect: float = 0.05,
    correction: Correction = "bh",
    calibration: Calibration | None = None,
    drift_share: float = 0.0,
    quality: bool = True,
    on_step: Step | None = None,
) -> DriftReport:
    """Return drift verdicts comparing ``current`` with ``reference`` (data or saved profiles).

    ``alpha`` is the false discovery rate (or family-wise error with ``correction=
    "bonferroni"``); ``min_effect`` the smallest share of moved mass that counts as drift;
    ``calibration`` replaces ``min_effect`` with thresholds from :func:`calibrate`. With
    ``quality=True`` the report also carries data-quality verdicts and a failure-mode
    diagnosis (pipeline fault or data drift).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = {"x": rng.normal(size=10_000)}
    >>> check_drift(ref, {"x": rng.normal(size=10_000)}).dataset.decision
    'ok'
    >>> r = check_drift(ref, {"x": rng.normal(0.2, 1, size=10_000)})
    >>> r.column("x").decision, r.column("x").method
    ('drift', 'ks')
    """
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}")
    if not 0 <= min_effect <= 1:
        raise InputError(f"min_effect must be between 0 and 1, got {min_effect}")
    if correction not in ("bh", "bonferroni"):
        raise InputError(f"correction must be 'bh' or 'bonferroni', got {correction!r}")
    step = on_step or (lambda _msg: None)
    ref, cur = _profiles(reference, current, columns=columns, kinds=kinds, step=step)
    step("testing columns")
    verdicts: dict[str, Verdict] = {
        v.subject: v for v in schema_changes(ref, cur, detector=DETECTOR)
    }
    numeric_names: list[str] = []
    numeric_pairs: list[tuple[ColumnProfile, ColumnProfile]] = []
    pending: list[_Pending] = []
    for name in ref.names:
        if name in verdicts or name not in cur.columns:
            continue
        r, c = ref[name], cur[name]
        special = _special_case(name, r, c, cur.n_rows)
        if special is not None:
            verdicts[name] = special
        elif r.is_numeric:
            numeric_names.append(name)
            numeric_pairs.append((r, c))
        else:
            pending.append(_test_categorical(name, r, c))
    pending = _test_numeric(numeric_names, numeric_pairs) + pending
    if calibration is not None:
        thresholds = {x.name: calibration.thresholds.get(x.name, min_effect) for x in pending}
        source: ThresholdSource = calibration.source
    else:
        thresholds = {x.name: min_effect for x in pending}
        source = "default" if min_effect == 0.05 else "fixed"
    group = f"data_drift:{ref.source}->{cur.source}"
    for v in _decide(
        pending,
        alpha=alpha,
        correction=correction,
        thresholds=thresholds,
        threshold_source=source,
        group=group,
    ):
        verdicts[v.subject] = v
    ordered = [verdicts[n] for n in ref.names if n in verdicts]
    ordered += [v for n, v in verdicts.items() if n not in ref.columns]
    dataset = _dataset_verdict(ordered, ref, cur, drift_share)
    quality_verdicts: list[Verdict] = []
    diagnosis = None
    if quality:
        step("checking data quality")
        quality_verdicts = compare_profiles(ref, cur)
        diagnosis = classify_failure_mode([*ordered, *quality_verdicts])
    return DriftReport(
        columns=ordered, dataset=dataset, quality=quality_verdicts, diagnosis=diagnosis
    )


def _dataset_verdict(
    verdicts: Sequence[Verdict], ref: DatasetProfile, cur: DatasetProfile, drift_share: float
) -> Verdict:
    drifted = [v.subject for v in verdicts if v.decision == "drift"]
    warned = [v.subject for v in verdicts if v.decision == "warn"]
    share = len(drifted) / max(len(verdicts), 1)
    common = {
        "method": "share_of_columns",
        "statistic": share,
        "threshold": drift_share,
        "threshold_source": "default" if drift_share == 0.0 else "fixed",
        "effect_size": share,
        "n_reference": ref.n_rows,
        "n_current": cur.n_rows,
        "evidence": {"drifted": drifted, "warned": warned, "columns": len(verdicts)},
    }
    if cur.n_rows == 0:
        return _verdict(
            "dataset", "warn", "current window is empty (0 rows); nothing was tested", **common
        )
    listed = ", ".join(drifted[:10]) + (" ..." if len(drifted) > 10 else "")
    if drifted and share > drift_share:
        return _verdict(
            "dataset",
            "drift",
            f"{len(drifted)} of {len(verdicts)} columns drifted ({share:.0%}): {listed}",
            **common,
        )
    if drifted or warned:
        return _verdict(
            "dataset",
            "warn",
            f"{len(drifted)} drifted and {len(warned)} warned of {len(verdicts)} columns"
            + (f": {', '.join((drifted + warned)[:10])}" if drifted or warned else ""),
            **common,
        )
    return _verdict("dataset", "ok", f"no drift in {len(verdicts)} columns", **common)


def calibrate(
    reference: TableLike,
    *,
    n_current: int,
    method: Literal["chunks", "bootstrap"] = "bootstrap",
    rounds: int = 50,
    quantile: float = 0.99,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    seed: int = 0,
) -> Calibration:
    """Return effect-size thresholds calibrated on the reference itself.

    ``chunks`` cuts the reference, in its order, into windows of ``n_current`` rows and measures
    each against the rest: the threshold then absorbs the natural variation between periods
    (seasonality, batches) that a p-value ignores. ``bootstrap`` draws ``rounds`` random windows
    of ``n_current`` rows instead. The threshold is the ``quantile`` of the effects seen.

    >>> import numpy as np
    >>> ref = {"x": np.random.default_rng(0).normal(size=20_000)}
    >>> cal = calibrate(ref, n_current=1_000, method="chunks")
    >>> cal.source, 0.02 < cal.thresholds["x"] < 0.08
    ('calibrated', True)
    """
    if method not in ("chunks", "bootstrap"):
        raise InputError(f"calibration method must be 'chunks' or 'bootstrap', got {method!r}")
    table = read_table(reference, kinds=kinds, columns=columns)
    n = table.n_rows
    if n_current < 1:
        raise InputError(f"n_current must be positive, got {n_current}")
    rng = np.random.default_rng(seed)
    if method == "chunks":
        k = n // n_current
        if k < 2:
            raise InputError(
                f"reference has {n} rows: too few for chunks of {n_current}; use bootstrap"
            )
        windows = [np.arange(i * n_current, (i + 1) * n_current) for i in range(min(k, rounds))]
    else:
        windows = [rng.integers(0, n, n_current) for _ in range(rounds)]
    thresholds: dict[str, float] = {}
    for col in table.columns:
        if col.values is not None:
            valid = ~np.isnan(col.values)
            grid = Grid.for_values(col.values[valid])
            cells = np.full(n, -1, dtype=np.intp)
            cells[valid] = grid.cells(col.values[valid])
            size = grid.size
        else:
            assert col.codes is not None
            cells = col.codes.astype(np.intp)
            size = len(col.categories)
        total = np.bincount(cells[cells >= 0], minlength=size).astype(np.float64)
        effects = []
        for w in windows:
            wc = cells[w]
            part = np.bincount(wc[wc >= 0], minlength=size).astype(np.float64)
            rest = total - part if method == "chunks" else total
            if part.sum() == 0 or rest.sum() == 0:
                continue
            if col.values is not None:
                cdf_ref = np.cumsum(rest) / rest.sum()
                cdf_cur = np.cumsum(part) / part.sum()
                effects.append(float(np.abs(cdf_ref - cdf_cur).max()))
            else:
                effects.append(float(stats.total_variation(rest[None], part[None])[0]))
        if effects:
            thresholds[col.name] = float(np.quantile(effects, quantile))
    source: ThresholdSource = "calibrated" if method == "chunks" else "bootstrap"
    return Calibration(thresholds=thresholds, source=source, quantile=quantile, rounds=len(windows))
