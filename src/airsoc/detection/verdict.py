"""The ``Verdict``: what every detector returns, for every failure mode.

A detector never opens an incident; it returns verdicts, and alerting turns them into alerts.
``decision`` is ``ok``, ``warn`` or ``drift``; ``drift`` is the detector's alarm whatever the
failure mode (an injection found, a poisoned batch, a fairness breach).

Example:
    >>> v = Verdict(detector="data_drift", method="ks", subject="amount", statistic=0.21,
    ...             p_value=1e-9, threshold=0.1, threshold_source="fixed", decision="drift",
    ...             effect_size=0.21, n_reference=10_000, n_current=10_000,
    ...             reason="KS 0.21 above 0.1 with q < 0.05")
    >>> v.is_alarm, v.decision
    (True, 'drift')
    >>> Verdict.model_validate_json(v.model_dump_json()) == v
    True
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Decision", "RunStatus", "ThresholdSource", "Verdict"]

Decision = Literal["ok", "warn", "drift"]
#: Whether the detector ran, was skipped (``reason`` says why) or failed (``reason`` says how).
RunStatus = Literal["ran", "skipped", "failed"]
ThresholdSource = Literal["fixed", "calibrated", "bootstrap", "default"]


class Verdict(BaseModel):
    """One detector's judgement on one subject (a column, a dataset, a batch, a text, a client)."""

    model_config = ConfigDict(frozen=True)

    detector: str = Field(description="Registered detector name, e.g. data_drift")
    method: str = Field(description="Statistic or rule used, e.g. ks, chi2, psi, rules")
    subject: str = Field(default="dataset", description="What was judged: a column, batch, ...")
    failure_mode: str | None = Field(default=None, description="Failure mode the alarm points at")
    statistic: float | None = None
    p_value: float | None = Field(default=None, description="Raw p-value, when the method has one")
    q_value: float | None = Field(
        default=None, description="p-value after multiple-testing correction"
    )
    threshold: float | None = None
    threshold_source: ThresholdSource = "default"
    decision: Decision
    effect_size: float | None = None
    n_reference: int | None = None
    n_current: int | None = None
    sketch_error: float | None = Field(
        default=None, description="Rank-error bound of the sketch when the result is approximate"
    )
    correction_group: str | None = Field(
        default=None, description="Verdicts corrected together for multiple testing"
    )
    reason: str = Field(description="Why this decision, in a sentence a responder can read")
    evidence: dict[str, Any] = Field(default_factory=dict)
    status: RunStatus = Field(
        default="ran", description="ran, skipped (reason says why) or failed (reason says how)"
    )
    duration_ms: float | None = Field(default=None, description="How long the check took")

    @property
    def is_alarm(self) -> bool:
        """Return whether this verdict should raise an alert."""
        return self.status == "ran" and self.decision == "drift"

    @classmethod
    def skipped(cls, *, detector: str, subject: str, reason: str) -> Verdict:
        """Return the verdict of a check that did not run, and why (never an ``ok``).

        >>> v = Verdict.skipped(detector="data_drift", subject="window", reason="no data")
        >>> v.status, v.decision, v.is_alarm
        ('skipped', 'ok', False)
        """
        return cls(
            detector=detector,
            method="none",
            subject=subject,
            decision="ok",
            status="skipped",
            reason=reason,
        )
