"""Click-through monitoring for recommenders: a real drop in engagement told apart from a click
logger that lost events.

Each row of a window is one impression (a recommendation shown) with its delayed outcome: did
the user click it, and did an order follow (``label: {"click": 0|1, "order": 0|1}``, or
``click`` and ``order`` columns). Orders come from the order system, clicks from the click
logger; an order needs a click, so an order without a logged click is a click the logger lost.

:func:`check_click_through` compares the window's click-through rate (clicks per impression)
with the reference's (a one-sided two-proportion test with a relative effect gate). When it
fell, the orphan-order share (orders without a logged click) decides what fell:

- the share rose significantly: clicks still happen, the logger drops them: ``pipeline_fault``;
- it did not: users click (and order) less: a real drop, ``concept_drift``.

The ``click_through`` monitor evaluator wraps it (``params.label`` names a dict label column,
default ``label``; ``thresholds.alpha`` 0.001, ``min_drop`` 0.2 relative).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> def traffic(n, ctr, logged):
    ...     click = rng.random(n) < ctr
    ...     order = click & (rng.random(n) < 0.3)
    ...     return click & (rng.random(n) < logged), order
    >>> ref = traffic(20_000, 0.06, 1.0)
    >>> check_click_through(*ref, *traffic(5_000, 0.06, 0.5)).failure_mode
    'pipeline_fault'
    >>> check_click_through(*ref, *traffic(5_000, 0.03, 1.0)).failure_mode
    'concept_drift'
    >>> check_click_through(*ref, *traffic(5_000, 0.06, 1.0)).decision
    'ok'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import DetectionError, InputError
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.monitors import WindowData

__all__ = ["check_click_through", "click_through", "outcomes"]

DETECTOR = "click_through"


def _flags(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype != bool:
        if not np.isin(array, [0, 1]).all():
            raise InputError(f"{what} must be 0 or 1 for every impression")
        array = array.astype(bool)
    return array


def _drop_p(k_ref: int, n_ref: int, k_cur: int, n_cur: int) -> float:
    """One-sided p-value that the current rate is below the reference rate."""
    pooled = (k_ref + k_cur) / (n_ref + n_cur)
    if pooled in (0.0, 1.0):
        return 1.0
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    return float(sps.norm.cdf((k_cur / n_cur - k_ref / n_ref) / se))


def check_click_through(
    reference_clicks: Any,
    reference_orders: Any,
    clicks: Any,
    orders: Any,
    *,
    alpha: float = 0.001,
    min_drop: float = 0.2,
    min_impressions: int = 500,
) -> Verdict:
    """Return one verdict on the window's click-through rate, naming what fell when it fell.

    Arguments are per-impression 0/1 flags: logged click, and order, for the reference and the
    window. ``min_drop`` is relative (0.2: the rate fell by a fifth). A window with fewer than
    ``min_impressions`` impressions is not judged.
    """
    ref_c, ref_o = _flags(reference_clicks, "clicks"), _flags(reference_orders, "orders")
    cur_c, cur_o = _flags(clicks, "clicks"), _flags(orders, "orders")
    if len(ref_c) != len(ref_o) or len(cur_c) != len(cur_o):
        raise InputError("clicks and orders need one flag per impression each")
    n_ref, n_cur = len(ref_c), len(cur_c)
    base = {"detector": DETECTOR, "subject": "click_through_rate", "method": "two_proportion"}
    if n_cur < min_impressions or n_ref < min_impressions:
        return Verdict(
            **base,
            decision="ok",
            n_current=n_cur,
            n_reference=n_ref,
            status="skipped",
            reason=f"{min(n_cur, n_ref)} impressions (at least {min_impressions} needed)",
            evidence={"status": "skipped", "accumulating": True},
        )
    k_ref, k_cur = int(ref_c.sum()), int(cur_c.sum())
    ctr_ref, ctr_cur = k_ref / n_ref, k_cur / n_cur
    p = _drop_p(k_ref, n_ref, k_cur, n_cur)
    relative = 1 - ctr_cur / ctr_ref if ctr_ref > 0 else 0.0
    orphans_ref = int((ref_o & ~ref_c).sum())
    orphans_cur = int((cur_o & ~cur_c).sum())
    orders_ref, orders_cur = int(ref_o.sum()), int(cur_o.sum())
    evidence: dict[str, Any] = {
        "ctr": round(ctr_cur, 5),
        "reference_ctr": round(ctr_ref, 5),
        "relative_drop": round(relative, 4),
        "orders_without_click": orphans_cur,
        "orders": orders_cur,
        "reference_orders_without_click": orphans_ref,
        "reference_orders": orders_ref,
        "order_rate": round(orders_cur / n_cur, 5),
        "reference_order_rate": round(orders_ref / n_ref, 5),
    }
    fell = p < alpha and relative >= min_drop
    decision: Decision = "drift" if fell else "warn" if p < alpha else "ok"
    text = f"click-through {ctr_ref:.4f} -> {ctr_cur:.4f} ({relative:+.0%} drop, p {p:.2g})"
    if not fell:
        return Verdict(
            **base,
            decision=decision,
            statistic=round(ctr_cur, 6),
            p_value=p,
            threshold=alpha,
            threshold_source="fixed",
            effect_size=round(relative, 4),
            n_current=n_cur,
            n_reference=n_ref,
            reason=text + ("; within the drop gate" if decision == "warn" else ""),
            evidence=evidence,
        )
    # An order needs a click: orders without a logged click are clicks the logger lost.
    table = [[orphans_ref, orders_ref - orphans_ref], [orphans_cur, orders_cur - orphans_cur]]
    orphan_p = (
        float(sps.fisher_exact(table, alternative="less").pvalue)
        if orders_cur and orders_ref
        else 1.0
    )
    evidence["orphan_p_value"] = orphan_p
    if orphan_p < alpha:
        mode, why = (
            "pipeline_fault",
            f"; orders did not fall with them: {orphans_cur} of {orders_cur} orders have no "
            f"logged click (reference {orphans_ref} of {orders_ref}, p {orphan_p:.2g}): the "
            "click logger is losing events, not the users their interest",
        )
    else:
        mode, why = (
            "concept_drift",
            f"; orders fell with them ({orders_ref / n_ref:.4f} -> {orders_cur / n_cur:.4f} "
            "per impression) and every order still has its click: a real drop in engagement",
        )
    return Verdict(
        **base,
        decision="drift",
        failure_mode=mode,
        statistic=round(ctr_cur, 6),
        p_value=p,
        threshold=alpha,
        threshold_source="fixed",
        effect_size=round(relative, 4),
        n_current=n_cur,
        n_reference=n_ref,
        reason=text + why,
        evidence=evidence,
    )


def outcomes(frame: pd.DataFrame, label: str = "label") -> tuple[np.ndarray, np.ndarray]:
    """Return the (click, order) flags of the impressions whose outcome arrived.

    Outcomes are ``click`` and ``order`` columns, or a ``label`` column of dicts.

    >>> outcomes(pd.DataFrame({"label": [{"click": 1, "order": 0}, None]}))
    (array([ True]), array([False]))
    """
    if {"click", "order"} <= set(frame.columns):
        known = frame[frame["click"].notna() & frame["order"].notna()]
        return _flags(known["click"].to_numpy(), "click"), _flags(
            known["order"].to_numpy(), "order"
        )
    if label not in frame.columns:
        raise InputError(f"impressions need 'click' and 'order' columns or a {label!r} column")
    known_labels = [v for v in frame[label] if isinstance(v, Mapping)]
    clicks = [int(v.get("click", 0)) for v in known_labels]
    orders = [int(v.get("order", 0)) for v in known_labels]
    return _flags(np.array(clicks, dtype=int), "click"), _flags(
        np.array(orders, dtype=int), "order"
    )


def _table(data: Any, what: str, monitor: MonitorConfig) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if data is None:
        raise DetectionError(f"monitor {monitor.name!r}: click_through needs a reference")
    try:
        return pd.DataFrame(list(data))
    except (TypeError, ValueError) as exc:
        raise DetectionError(
            f"monitor {monitor.name!r}: the {what} is not a table: {exc}"
        ) from None


def click_through(monitor: MonitorConfig, window: WindowData) -> list[Verdict]:
    """Return the click-through verdict of the window's impressions against the reference's."""
    label = str(monitor.params.get("label", "label"))
    th = monitor.thresholds
    try:
        ref = outcomes(_table(window.reference, "reference", monitor), label)
        cur = outcomes(_table(window.current, "window", monitor), label)
        verdict = check_click_through(
            *ref,
            *cur,
            alpha=th.get("alpha", 0.001),
            min_drop=th.get("min_drop", 0.2),
            min_impressions=int(th.get("min_impressions", 500)),
        )
    except InputError as exc:
        raise DetectionError(f"monitor {monitor.name!r}: {exc.message}") from None
    return [verdict]
