"""The ``monitors`` section of ``airsoc.yaml``.

Example:
    >>> m = MonitorConfig(name="lat", system="bot", detector="threshold", window="1h",
    ...                   every="15m", metric="latency_ms", thresholds={"max": 500})
    >>> m.every
    datetime.timedelta(seconds=900)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from airsoc.incidents.config import FailureModeName, SeverityValue
from airsoc.types import Duration, StrictModel

__all__ = ["MonitorConfig", "MonitoringSection"]


class MonitorConfig(StrictModel):
    """A detector run on a window of a system's telemetry on a schedule (``every`` or ``cron``)."""

    name: str
    system: str
    detector: str
    window: Duration
    window_kind: Literal["tumbling", "sliding"] = "tumbling"
    reference: dict[str, Any] = Field(default_factory=dict)
    every: Duration | None = None
    cron: str | None = None
    thresholds: dict[str, float] = Field(default_factory=dict)
    metric: str | None = Field(default=None, description="The telemetry field a threshold reads")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Detector options, e.g. {group: gender} for fairness_regression",
    )
    failure_mode: FailureModeName = None
    severity: SeverityValue = None
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            from croniter import croniter

            if not croniter.is_valid(value):
                raise ValueError(
                    f"invalid cron expression {value!r} (five fields: m h dom mon dow)"
                )
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> MonitorConfig:
        if (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one schedule: every (e.g. 15m) or cron")
        if self.every is not None and self.every.total_seconds() <= 0:
            raise ValueError("every must be a positive duration")
        return self


class MonitoringSection(StrictModel):
    """The sections of ``airsoc.yaml`` monitoring owns."""

    monitors: list[MonitorConfig] = Field(default_factory=list)
