"""Return model-output verdicts: prediction drift, confidence decay and output homogeneity.

A model's outputs can fail while its inputs look fine (a bad deploy, a stuck feature, a
degenerate model), and they are available at once, long before labels. From the predicted class
probabilities (or scores, or labels) of a reference and a current window this module reports:

* **prediction drift**: the distribution of the confidence (max probability) or score, and of
  the predicted class, tested with the same rule as :func:`~airsoc.detection.drift.check_drift`;
* **confidence decay**: the mean max-probability fell and the share of low-margin predictions
  (top-two probabilities closer than ``margin``) rose, each judged with a significance test and
  a minimum change;
* **output homogeneity**: the entropy of the predicted classes fell, the top class took over,
  or the ratio of distinct outputs collapsed (a model answering the same thing to everyone).

Every alarm carries ``failure_mode="prediction_drift"``.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.dirichlet([5, 1, 1], 3000)
    >>> cur = rng.dirichlet([1.2, 1, 1], 3000)   # much less confident
    >>> report = check_outputs(ref, cur)
    >>> sorted({v.method for v in report.verdicts if v.decision == "drift"})
    ['chi2', 'ks', 'low_margin_share', 'mean_confidence']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict
from scipy import stats as sps

from airsoc.detection.drift import check_drift
from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import InputError

__all__ = ["OutputReport", "check_outputs"]

DETECTOR = "model_output"
MODE = "prediction_drift"


class OutputReport(BaseModel):
    """Return-type of :func:`check_outputs`: the verdicts and a summary of both windows."""

    model_config = ConfigDict(frozen=True)

    verdicts: list[Verdict]
    summary: dict[str, dict[str, float]]

    @property
    def alarms(self) -> list[Verdict]:
        """Return the verdicts that are alarms."""
        return [v for v in self.verdicts if v.decision == "drift"]


def _summary(outputs: npt.NDArray[Any], margin: float) -> dict[str, float]:
    out: dict[str, float] = {"n": float(len(outputs))}
    if outputs.ndim == 2:
        top2 = np.sort(outputs, axis=1)[:, -2:]
        labels = outputs.argmax(axis=1)
        out["mean_confidence"] = float(top2[:, 1].mean())
        out["low_margin_share"] = float(np.mean(top2[:, 1] - top2[:, 0] < margin))
        k = outputs.shape[1]
    else:
        labels = outputs
        k = max(len(np.unique(outputs)), 2)
    _, counts = np.unique(labels, return_counts=True)
    shares = counts / counts.sum()
    out["entropy"] = float(-(shares * np.log(shares)).sum() / math.log(k)) if k > 1 else 0.0
    out["top_class_share"] = float(shares.max())
    out["distinct_ratio"] = float(len(counts) / len(labels))
    return out


def _v(method: str, decision: Decision, reason: str, **kw: Any) -> Verdict:
    return Verdict(
        detector=DETECTOR,
        method=method,
        subject=kw.pop("subject", "outputs"),
        decision=decision,
        failure_mode=MODE if decision == "drift" else None,
        reason=reason,
        threshold_source="default",
        **kw,
    )


def _proportion_change(
    name: str, a: float, b: float, n_a: int, n_b: int, min_change: float, alpha: float, up: bool
) -> Verdict:
    """Judge a change in a share (or a mean in [0, 1]) with a z-test and a minimum change."""
    pooled = (a * n_a + b * n_b) / (n_a + n_b)
    se = math.sqrt(max(pooled * (1 - pooled) * (1 / n_a + 1 / n_b), 1e-12))
    change = b - a if up else a - b
    p = float(sps.norm.sf(change / se))
    word = "rose" if up else "fell"
    if p <= alpha and change >= min_change:
        decision: Decision = "drift"
    elif p <= alpha and change >= min_change / 2:
        decision = "warn"
    else:
        decision = "ok"
    return _v(
        name,
        decision,
        f"{name.replace('_', ' ')} {word if change > 0 else 'moved'} from {a:.3f} to {b:.3f} "
        f"(p {p:.2g}, minimum change {min_change})",
        statistic=b,
        p_value=p,
        threshold=min_change,
        effect_size=change,
        n_reference=n_a,
        n_current=n_b,
    )


def check_outputs(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    margin: float = 0.1,
    min_change: float = 0.05,
    alpha: float = 0.05,
) -> OutputReport:
    """Return output-monitor verdicts for two windows of probabilities (n x k), scores or labels.

    >>> import numpy as np
    >>> same = np.tile([0, 1, 2, 3], 500)
    >>> [v.decision for v in check_outputs(same, np.zeros(2000, dtype=int)).alarms][:1]
    ['drift']
    """
    ref, cur = np.asarray(reference), np.asarray(current)
    if ref.ndim != cur.ndim or (ref.ndim == 2 and ref.shape[1] != cur.shape[1]):
        raise InputError(f"reference outputs have shape {ref.shape}, current {cur.shape}")
    if len(ref) == 0 or len(cur) == 0:
        raise InputError("both windows need at least one output")
    if ref.ndim == 2 and not (np.all(ref >= 0) and np.allclose(ref.sum(axis=1), 1, atol=1e-3)):
        raise InputError("2-D outputs must be class probabilities: rows of non-negative shares")
    sa, sb = _summary(ref, margin), _summary(cur, margin)
    n_a, n_b = len(ref), len(cur)
    verdicts: list[Verdict] = []
    if ref.ndim == 2:
        drift = check_drift(
            {"confidence": ref.max(axis=1), "predicted_class": ref.argmax(axis=1).astype(str)},
            {"confidence": cur.max(axis=1), "predicted_class": cur.argmax(axis=1).astype(str)},
            quality=False,
        )
        verdicts += [
            v.model_copy(
                update={"detector": DETECTOR, "failure_mode": MODE if v.is_alarm else None}
            )
            for v in drift.columns
        ]
        verdicts.append(
            _proportion_change(
                "mean_confidence",
                sa["mean_confidence"],
                sb["mean_confidence"],
                n_a,
                n_b,
                min_change,
                alpha,
                up=False,
            )
        )
        verdicts.append(
            _proportion_change(
                "low_margin_share",
                sa["low_margin_share"],
                sb["low_margin_share"],
                n_a,
                n_b,
                min_change,
                alpha,
                up=True,
            )
        )
    elif np.issubdtype(ref.dtype, np.floating):
        drift = check_drift({"score": ref}, {"score": cur}, quality=False)
        verdicts += [
            v.model_copy(
                update={"detector": DETECTOR, "failure_mode": MODE if v.is_alarm else None}
            )
            for v in drift.columns
        ]
    verdicts.append(
        _proportion_change(
            "top_class_share",
            sa["top_class_share"],
            sb["top_class_share"],
            n_a,
            n_b,
            4 * min_change,
            alpha,
            up=True,
        )
    )
    drop = sa["entropy"] - sb["entropy"]
    collapsed = sb["distinct_ratio"] < 0.5 * sa["distinct_ratio"] and sa["distinct_ratio"] > 0.01
    homogeneity: Decision = "drift" if drop >= 0.3 or collapsed else "warn" if drop >= 0.1 else "ok"
    verdicts.append(
        _v(
            "homogeneity",
            homogeneity,
            f"output entropy {sa['entropy']:.2f} -> {sb['entropy']:.2f}, distinct ratio "
            f"{sa['distinct_ratio']:.3f} -> {sb['distinct_ratio']:.3f}",
            statistic=sb["entropy"],
            threshold=0.3,
            effect_size=drop,
            n_reference=n_a,
            n_current=n_b,
        )
    )
    return OutputReport(verdicts=verdicts, summary={"reference": sa, "current": sb})
