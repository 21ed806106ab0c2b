"""Return data-quality verdicts: the pipeline faults that must be ruled out before calling drift.

A shifted column is not always a changed world. A broken join turns a column to nulls, a
unit change multiplies it by 100, an upstream job stops and the window shrinks or goes stale.
Retraining on such data makes things worse, so these checks run first and their verdicts
carry ``failure_mode="pipeline_fault"``:

* schema changes: missing, new or retyped columns;
* null-rate jumps (a two-proportion test and at least 5 points more nulls);
* values rescaled by a power of ten (a unit change): standard deviation and mean both move by
  the same factor close to 10^k;
* out-of-range values (outside the reference's min and max) and new non-finite values;
* volume drops (against ``expected_rows``), empty windows;
* stale timestamps (the newest value older than ``max_age`` on the given clock);
* duplicated rows (when the current data, not just its profile, is given).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = {"price": rng.lognormal(3, 0.5, 2000), "qty": rng.integers(1, 5, 2000)}
    >>> cur = {"price": rng.lognormal(3, 0.5, 2000) * 100, "qty": rng.integers(1, 5, 2000)}
    >>> report = check_quality(ref, cur)
    >>> [(v.subject, v.method) for v in report.faults]
    [('price', 'unit_change'), ('price', 'out_of_range')]
    >>> report.diagnosis.failure_mode
    'pipeline_fault'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats as sps

from airsoc.clock import Clock
from airsoc.detection.classify import classify_failure_mode
from airsoc.detection.inputs import Table, TableLike, read_table
from airsoc.detection.profiles import ColumnProfile, DatasetProfile, profile
from airsoc.detection.verdict import Decision, Verdict

__all__ = [
    "QualityReport",
    "check_quality",
    "compare_profiles",
    "duplicate_share",
    "schema_changes",
]

DETECTOR = "data_quality"
FAULT = "pipeline_fault"


class QualityReport(BaseModel):
    """Return-type of :func:`check_quality`: the quality verdicts and the failure-mode diagnosis."""

    model_config = ConfigDict(frozen=True)

    verdicts: list[Verdict]
    diagnosis: Verdict

    @property
    def faults(self) -> list[Verdict]:
        """Return the verdicts that are alarms (decision ``drift``)."""
        return [v for v in self.verdicts if v.decision == "drift"]


def _v(subject: str, method: str, decision: Decision, reason: str, **kw: Any) -> Verdict:
    detector = kw.pop("detector", DETECTOR)
    failure = FAULT if decision != "ok" else None
    return Verdict(
        detector=detector,
        method=method,
        subject=subject,
        decision=decision,
        reason=reason,
        failure_mode=failure,
        **kw,
    )


def schema_changes(
    ref: DatasetProfile, cur: DatasetProfile, *, detector: str = DETECTOR
) -> list[Verdict]:
    """Return one verdict per missing, retyped or new column (nothing when schemas agree).

    >>> a, b = profile({"x": [1.0], "y": [2.0]}), profile({"x": ["a"], "z": [1.0]})
    >>> [(v.subject, v.decision, v.reason.split(":")[0]) for v in schema_changes(a, b)]
    [('x', 'drift', 'retyped'), ('y', 'drift', 'missing'), ('z', 'warn', 'new column')]
    """
    out = []
    for name in ref.names:
        r = ref[name]
        if name not in cur.columns:
            out.append(
                _v(
                    name,
                    "schema",
                    "drift",
                    "missing: column absent from the current window",
                    detector=detector,
                    n_reference=r.count,
                )
            )
        elif r.is_numeric != cur[name].is_numeric:
            c = cur[name]
            sample = next(iter(c.category_counts or {}), None)
            shown = f" (values like {sample!r})" if sample is not None else ""
            out.append(
                _v(
                    name,
                    "schema",
                    "drift",
                    f"retyped: {r.kind} in reference, {c.kind} in current{shown}",
                    detector=detector,
                    n_reference=r.count,
                    n_current=c.count,
                )
            )
    out.sort(key=lambda v: (not v.reason.startswith("retyped"), v.subject))
    for name in cur.names:
        if name not in ref.columns:
            out.append(
                _v(
                    name,
                    "schema",
                    "warn",
                    "new column: not in the reference",
                    detector=detector,
                    n_current=cur[name].count,
                )
            )
    return out


def _null_jump(name: str, r: ColumnProfile, c: ColumnProfile) -> Verdict | None:
    if c.n_rows == 0 or r.n_rows == 0:
        return None
    jump = c.null_rate - r.null_rate
    if jump < 0.05:
        return None
    pooled = (r.nulls + c.nulls) / (r.n_rows + c.n_rows)
    se = math.sqrt(max(pooled * (1 - pooled) * (1 / r.n_rows + 1 / c.n_rows), 1e-300))
    p = float(sps.norm.sf(jump / se))
    if p > 0.001:
        return None
    decision: Decision = "drift" if jump >= 0.2 or c.count == 0 else "warn"
    return _v(
        name,
        "null_rate",
        decision,
        f"null rate rose from {r.null_rate:.1%} to {c.null_rate:.1%} (p {p:.2g})",
        statistic=jump,
        p_value=p,
        threshold=0.05,
        effect_size=jump,
        n_reference=r.n_rows,
        n_current=c.n_rows,
    )


def _unit_change(name: str, r: ColumnProfile, c: ColumnProfile) -> Verdict | None:
    if not (r.std and c.std and r.count >= 30 and c.count >= 30):
        return None
    ratio = c.std / r.std
    power = math.log10(ratio)
    k = round(power)
    if k == 0 or abs(power - k) > 0.1:
        return None
    assert r.mean is not None
    assert c.mean is not None
    if abs(r.mean) > 0.1 * r.std:
        mean_ratio = c.mean / r.mean
        if mean_ratio <= 0 or abs(math.log10(mean_ratio) - k) > 0.1:
            return None
    factor = 10.0**k
    shown = f"x{factor:g}" if k > 0 else f"/{1 / factor:g}"
    return _v(
        name,
        "unit_change",
        "drift",
        f"values look rescaled {shown} (sd {r.std:.4g} -> {c.std:.4g}): a unit change "
        "upstream, not drift",
        statistic=ratio,
        threshold=0.1,
        effect_size=abs(power),
        n_reference=r.count,
        n_current=c.count,
        evidence={"std_ratio": ratio, "factor": factor},
    )


def _out_of_range(name: str, r: ColumnProfile, c: ColumnProfile) -> Verdict | None:
    if r.min is None or r.max is None or c.min is None or c.max is None or r.count < 30:
        return None
    if c.min >= r.min and c.max <= r.max:
        return None
    if c.out_of_range is not None:
        share = c.out_of_range / max(c.count, 1)
    else:
        below = c.cdf_at(np.array([np.nextafter(r.min, -np.inf)]))[0]
        upto_max = c.cdf_at(np.array([r.max]))[0]
        share = float(below + (1 - upto_max))
    if share < 0.01:
        return None
    decision: Decision = "drift" if share >= 0.1 else "warn"
    return _v(
        name,
        "out_of_range",
        decision,
        f"{share:.1%} of current values outside the reference range "
        f"[{r.min:.4g}, {r.max:.4g}] (current [{c.min:.4g}, {c.max:.4g}])",
        statistic=share,
        threshold=0.01,
        effect_size=share,
        n_reference=r.count,
        n_current=c.count,
    )


def _non_finite(name: str, r: ColumnProfile, c: ColumnProfile) -> Verdict | None:
    if c.n_infinite == 0 or r.n_infinite > 0:
        return None
    return _v(
        name,
        "non_finite",
        "warn",
        f"{c.n_infinite} infinite values in current, none in reference",
        statistic=float(c.n_infinite),
        n_current=c.count,
    )


def _stale(
    name: str, c: ColumnProfile, clock: Clock | None, max_age: timedelta | None
) -> Verdict | None:
    if c.kind != "datetime" or clock is None or max_age is None or c.max is None:
        return None
    age = clock.now().timestamp() - c.max
    if age <= max_age.total_seconds():
        return None
    return _v(
        name,
        "staleness",
        "drift",
        f"newest timestamp is {timedelta(seconds=round(age))} old (limit {max_age})",
        statistic=age,
        threshold=max_age.total_seconds(),
        threshold_source="fixed",
        n_current=c.count,
    )


def compare_profiles(
    ref: DatasetProfile,
    cur: DatasetProfile,
    *,
    expected_rows: int | None = None,
    clock: Clock | None = None,
    max_age: timedelta | None = None,
) -> list[Verdict]:
    """Return the quality verdicts found by comparing two profiles (alarms and warnings only).

    >>> a = profile({"x": [1.0, 2.0, 3.0] * 20})
    >>> b = profile({"x": [None, None, 3.0] * 20})
    >>> [(v.method, v.decision) for v in compare_profiles(a, b)]
    [('null_rate', 'drift')]
    """
    out = schema_changes(ref, cur)
    if cur.n_rows == 0:
        out.append(
            _v("dataset", "volume", "drift", "current window is empty (0 rows)", n_current=0)
        )
    elif expected_rows and cur.n_rows < 0.5 * expected_rows:
        share = cur.n_rows / expected_rows
        out.append(
            _v(
                "dataset",
                "volume",
                "drift" if share < 0.1 else "warn",
                f"volume dropped to {cur.n_rows} rows ({share:.0%} of {expected_rows} expected)",
                statistic=share,
                threshold=0.5,
                threshold_source="fixed",
                n_current=cur.n_rows,
            )
        )
    for name in ref.names:
        if name not in cur.columns:
            continue
        r, c = ref[name], cur[name]
        checks: list[Verdict | None] = [_null_jump(name, r, c), _stale(name, c, clock, max_age)]
        if r.is_numeric and c.is_numeric:
            unit = _unit_change(name, r, c)
            checks += [unit, _out_of_range(name, r, c), _non_finite(name, r, c)]
        out.extend(v for v in checks if v is not None)
    return out


def duplicate_share(table: Table) -> float:
    """Return the share of rows that repeat an earlier row exactly.

    >>> duplicate_share(read_table({"a": [1, 1, 2], "b": ["x", "x", "y"]}))
    0.3333333333333333
    """
    if table.n_rows == 0:
        return 0.0
    h = np.zeros(table.n_rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in table.columns:
            if col.values is not None:
                part = np.where(np.isnan(col.values), np.nan, col.values).view(np.uint64)
            else:
                assert col.codes is not None
                part = col.codes.astype(np.uint64)
            h = h * np.uint64(1_000_003) ^ part
    return 1.0 - len(np.unique(h)) / table.n_rows


def check_quality(
    reference: TableLike | DatasetProfile,
    current: TableLike,
    *,
    columns: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    expected_rows: int | None = None,
    clock: Clock | None = None,
    max_age: timedelta | None = None,
    max_duplicate_share: float = 0.05,
) -> QualityReport:
    """Return quality verdicts for ``current`` against ``reference`` and the likely failure mode.

    >>> rng = np.random.default_rng(0)
    >>> check_quality({"x": rng.normal(size=500)}, {"x": rng.normal(size=500)}).diagnosis.decision
    'ok'
    """
    ref = profile(reference, kinds=kinds, columns=columns, sketches=False)
    forced: dict[str, str] = {n: c.kind for n, c in ref.columns.items() if not c.is_numeric}
    forced.update(kinds or {})
    table = read_table(current, kinds=forced or None)
    cur = profile(table, grid_from=ref, sketches=False)
    verdicts = compare_profiles(ref, cur, expected_rows=expected_rows, clock=clock, max_age=max_age)
    dup = duplicate_share(table)
    if dup > max_duplicate_share:
        verdicts.append(
            _v(
                "dataset",
                "duplicates",
                "drift" if dup > 4 * max_duplicate_share else "warn",
                f"{dup:.1%} of current rows are exact duplicates",
                statistic=dup,
                threshold=max_duplicate_share,
                threshold_source="default" if max_duplicate_share == 0.05 else "fixed",
                n_current=table.n_rows,
            )
        )
    return QualityReport(verdicts=verdicts, diagnosis=classify_failure_mode(verdicts))
