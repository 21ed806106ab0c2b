"""Return the most likely failure mode behind a window's verdicts, and why.

The order of the rules is the order a responder should rule things out in:

1. **pipeline_fault** first: a schema change, a null-rate jump, a unit change, an empty or stale
   window explains any drift it causes, and retraining on broken data is the wrong response;
2. **concept_drift**: performance on delayed labels decayed (the input-label relation changed),
   with or without input drift;
3. **prediction_drift**: the outputs moved (confidence decay, homogeneity, score distribution)
   while the inputs did not;
4. **data_drift**: the inputs moved (covariate shift);
5. otherwise nothing is wrong.

Example:
    >>> from airsoc.detection.verdict import Verdict
    >>> drift = Verdict(detector="data_drift", method="ks", subject="amount", decision="drift",
    ...                 failure_mode="data_drift", reason="KS 0.2")
    >>> fault = Verdict(detector="data_quality", method="null_rate", subject="zip",
    ...                 decision="drift", failure_mode="pipeline_fault", reason="all null")
    >>> classify_failure_mode([drift]).failure_mode
    'data_drift'
    >>> d = classify_failure_mode([drift, fault])
    >>> d.failure_mode
    'pipeline_fault'
    >>> d.reason
    'pipeline fault, not drift: zip: all null; do not retrain on this window; also seen: data_drift'
"""

from __future__ import annotations

from collections.abc import Sequence

from airsoc.detection.verdict import Decision, Verdict

__all__ = ["classify_failure_mode"]

_ORDER = ("pipeline_fault", "concept_drift", "prediction_drift", "data_drift")
_LEAD = {
    "pipeline_fault": "pipeline fault, not drift",
    "concept_drift": "concept drift: performance on labelled data decayed",
    "prediction_drift": "prediction drift: model outputs shifted",
    "data_drift": "data drift: inputs shifted",
}
_ADVICE = {
    "pipeline_fault": "do not retrain on this window",
    "concept_drift": "consider rollback or retraining",
    "prediction_drift": "investigate",
    "data_drift": "investigate; retrain if it persists",
}


_BY_DETECTOR = {
    "data_drift": "data_drift",
    "data_quality": "pipeline_fault",
    "performance": "concept_drift",
    "model_output": "prediction_drift",
}


def _mode(v: Verdict) -> str | None:
    if v.failure_mode in _ORDER:
        return v.failure_mode
    # Warnings carry no failure mode; the detector that raised them says which one they hint at.
    return _BY_DETECTOR.get(v.detector)


def classify_failure_mode(verdicts: Sequence[Verdict]) -> Verdict:
    """Return a ``diagnosis`` verdict naming the most likely failure mode in ``verdicts``.

    >>> classify_failure_mode([]).decision
    'ok'
    """
    by_mode: dict[str, list[Verdict]] = {m: [] for m in _ORDER}
    warned: dict[str, list[Verdict]] = {m: [] for m in _ORDER}
    for v in verdicts:
        mode = _mode(v)
        if mode is None or v.decision == "ok":
            continue
        (by_mode if v.decision == "drift" else warned)[mode].append(v)
    for pool, decision in ((by_mode, "drift"), (warned, "warn")):
        for mode in _ORDER:
            hits = pool[mode]
            if not hits:
                continue
            shown = "; ".join(f"{v.subject}: {v.reason}" for v in hits[:3])
            more = f" (+{len(hits) - 3} more)" if len(hits) > 3 else ""
            others = [m for m in _ORDER if m != mode and (by_mode[m] or warned[m])]
            also = f"; also seen: {', '.join(others)}" if others else ""
            dec: Decision = "drift" if decision == "drift" else "warn"
            return Verdict(
                detector="diagnosis",
                method="rules",
                subject="window",
                failure_mode=mode,
                decision=dec,
                statistic=float(len(hits)),
                reason=f"{_LEAD[mode]}: {shown}{more}; {_ADVICE[mode]}{also}",
                evidence={
                    "subjects": [v.subject for v in hits],
                    "candidates": {m: len(by_mode[m]) + len(warned[m]) for m in _ORDER},
                },
            )
    return Verdict(
        detector="diagnosis",
        method="rules",
        subject="window",
        decision="ok",
        reason=f"no failure mode indicated by {len(verdicts)} verdicts",
    )
