"""Release regressions: a version judged against its own validation evidence.

A newly promoted version is compared with what its own validation said (the score
distribution on the validation set and the metrics measured there), never with the version it
replaced: a retrain that behaves as validated is not an incident, however different its scores
are from its predecessor's.

:func:`check_release` returns one :class:`~airsoc.detection.verdict.Verdict`:

* scores: two-sample Kolmogorov-Smirnov of the live scores against the validation scores, with
  an effect-size gate (``min_effect`` on the KS statistic);
* metrics, when delayed labels arrived: for each metric given as live ``(successes, trials)``
  (e.g. recall as true positives over positives), a one-sided binomial test that the live rate
  is below the validated value minus ``tolerance``, Bonferroni-corrected over the metrics.

Without validation evidence the verdict is ``skipped`` (``no validation evidence``) (decision
``ok``, ``evidence.status == "skipped"``): nothing reads "ok" because it had nothing to compare.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> validation = rng.beta(2, 5, 3000)
    >>> check_release(rng.beta(2, 5, 2000), validation, version="v3").decision
    'ok'
    >>> check_release(rng.beta(2, 5, 2000), validation, version="v3",
    ...               live_metrics={"recall": (17, 100)},
    ...               validation_metrics={"recall": 0.95}).decision
    'drift'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats as sps

from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import InputError

__all__ = ["check_release"]

DETECTOR = "release_regression"


def _scores(values: Any, where: str) -> np.ndarray:
    array = np.asarray(values if values is not None else [], dtype=float).ravel()
    if array.size and not np.isfinite(array).all():
        raise InputError(f"{where} scores contain a missing or infinite value", loc=where)
    return array


def check_release(
    live_scores: Any,
    validation_scores: Any | None,
    *,
    live_metrics: Mapping[str, tuple[int, int]] | None = None,
    validation_metrics: Mapping[str, float] | None = None,
    version: str = "candidate",
    alpha: float = 0.01,
    min_effect: float = 0.1,
    tolerance: float = 0.05,
    min_live: int = 100,
) -> Verdict:
    """Return the release-regression verdict of ``version`` from its own validation evidence.

    ``live_scores`` are the version's scores since its promotion; ``validation_scores`` the
    scores it gave its validation set at registration (None when it has none).
    ``live_metrics`` maps a metric to live ``(successes, trials)``; ``validation_metrics`` maps
    it to the validated value. Fewer than ``min_live`` live scores are not judged.

    >>> skipped = check_release([0.2] * 500, None)
    >>> skipped.status, skipped.reason
    ('skipped', 'no validation evidence for version candidate')
    """
    live = _scores(live_scores, "live")
    validation = _scores(validation_scores, "validation")
    metrics_given = {
        k: v for k, v in (live_metrics or {}).items() if k in (validation_metrics or {})
    }
    base = {"detector": DETECTOR, "subject": f"version:{version}"}
    if validation.size == 0 and not metrics_given:
        return Verdict(
            **base,
            method="validation_evidence",
            decision="ok",
            n_current=int(live.size),
            status="skipped",
            reason=f"no validation evidence for version {version}",
            evidence={"status": "skipped", "why": "no validation evidence"},
        )
    checks: dict[str, dict[str, Any]] = {}
    if validation.size and live.size >= min_live:
        result = sps.ks_2samp(live, validation, method="asymp")
        d, p = float(result.statistic), float(result.pvalue)
        decision: Decision = (
            "drift" if p < alpha and d >= min_effect else "warn" if p < alpha else "ok"
        )
        checks["scores"] = {
            "method": "ks",
            "statistic": round(d, 4),
            "p_value": p,
            "decision": decision,
            "live_mean": round(float(live.mean()), 4),
            "validation_mean": round(float(validation.mean()), 4),
        }
    level = alpha / max(len(metrics_given), 1)
    for name, (successes, trials) in metrics_given.items():
        if trials <= 0 or not 0 <= successes <= trials:
            raise InputError(f"metric {name}: {successes} successes out of {trials} trials")
        promised = float((validation_metrics or {})[name])
        bound = min(max(promised - tolerance, 1e-9), 1.0)
        p = float(sps.binom.cdf(successes, trials, bound))
        rate = successes / trials
        checks[name] = {
            "method": "binomial",
            "statistic": round(rate, 4),
            "validated": promised,
            "p_value": p,
            "decision": "drift" if p < level else "warn" if p < 5 * level else "ok",
        }
    if not checks:
        return Verdict(
            **base,
            method="validation_evidence",
            decision="ok",
            n_current=int(live.size),
            status="skipped",
            reason=f"only {live.size} live scores for version {version} "
            f"(at least {min_live} needed)",
            evidence={"status": "skipped", "why": "too few live scores", "accumulating": True},
        )
    alarms = [k for k, c in checks.items() if c["decision"] == "drift"]
    warned = [k for k, c in checks.items() if c["decision"] == "warn"]
    final: Decision = "drift" if alarms else "warn" if warned else "ok"
    parts = [
        f"{k} {c['statistic']} (validated {c.get('validated', c.get('validation_mean'))}, "
        f"p {c['p_value']:.2g})"
        for k, c in checks.items()
    ]
    worst = min(checks.values(), key=lambda c: c["p_value"])
    return Verdict(
        **base,
        method="+".join(c["method"] for c in checks.values()),
        failure_mode=DETECTOR if final == "drift" else None,
        statistic=worst["statistic"],
        p_value=worst["p_value"],
        threshold=alpha,
        threshold_source="fixed",
        decision=final,
        effect_size=checks["scores"]["statistic"] if "scores" in checks else None,
        n_reference=int(validation.size),
        n_current=int(live.size),
        correction_group=f"{DETECTOR}:{version}",
        reason=(
            f"version {version} departs from its own validation: {', '.join(alarms)}; "
            if alarms
            else f"version {version} behaves as validated; "
        )
        + "; ".join(parts),
        evidence={"status": "ran", "checks": checks},
    )
