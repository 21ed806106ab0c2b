"""The ``monitors`` section of ``airsoc.yaml``.

Example:
    >>> m = MonitorConfig(name="lat", system="bot", detector="threshold", window="1h",
    ...                   every="15m", metric="latency_ms", thresholds={"max": 500})
    >>> m.every
    datetime.timedelta(seconds=900)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from airsoc.incidents.config import FailureModeName, SeverityValue
from airsoc.types import Duration, StrictModel

__all__ = [
    "DETECTOR_NEEDS",
    "MonitorConfig",
    "MonitorSource",
    "MonitoringSection",
    "SparkSourceConfig",
    "missing_needs",
]


class SparkSourceConfig(StrictModel):
    """A table too large for one machine: a Parquet dataset read and profiled on Spark.

    ``path`` is a Parquet file or folder (any URL Spark reads: ``s3a://``, ``hdfs://``, a local
    path); ``time_column`` holds each row's time (the window filters on it);
    ``system_column``, when set, keeps the rows whose value is the monitor's system.
    """

    path: str = Field(min_length=1)
    time_column: str = "ts"
    system_column: str | None = None


class MonitorSource(StrictModel):
    """Where a monitor reads its window instead of the event log.

    >>> MonitorSource.model_validate({"spark": {"path": "s3a://lake/tx/"}}).spark.time_column
    'ts'
    """

    spark: SparkSourceConfig


class MonitorConfig(StrictModel):
    """A detector run on a window of a system's telemetry on a schedule (``every`` or ``cron``)."""

    name: str
    system: str
    detector: str
    window: Duration
    window_kind: Literal["tumbling", "sliding"] = "tumbling"
    lag: Duration = Field(
        timedelta(0),
        description="How long before the run the window ends, e.g. the delay of the labels it "
        "judges (chargebacks a day later: 1d)",
    )
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
    confirm_runs: int = Field(
        default=1,
        ge=1,
        description="Consecutive alarming runs before the alert fires, as Prometheus's `for`: "
        "a test re-run every few minutes over a sliding window alarms by chance now and then "
        "(at its alpha per run); a real shift keeps alarming",
    )
    expects_data: bool = Field(
        default=False,
        description="A window without data is a platform fault even before any data arrived",
    )
    source: MonitorSource | None = Field(
        default=None,
        description="Read the window elsewhere than the event log, e.g. {spark: {path: ...}}",
    )

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
        if self.lag.total_seconds() < 0:
            raise ValueError("lag cannot be negative")
        return self


class MonitoringSection(StrictModel):
    """The sections of ``airsoc.yaml`` monitoring owns."""

    monitors: list[MonitorConfig] = Field(default_factory=list)


#: What a built-in detector cannot run without, as keys of the monitor (``a.b`` reads
#: ``monitor.a["b"]``); ``airsoc config check`` reports a monitor that lacks one.
DETECTOR_NEEDS: dict[str, tuple[str, ...]] = {
    "threshold": ("metric",),
    "fairness_regression": ("params.group",),
    "hallucination_cascade": ("reference.documents",),
    "release_regression": ("reference.validation",),
}


def missing_needs(monitor: MonitorConfig) -> list[str]:
    """Return the keys ``monitor``'s detector needs and the monitor does not give.

    >>> missing_needs(MonitorConfig(name="m", system="s", detector="threshold", window="1h",
    ...                             every="5m"))
    ['metric']
    """
    missing = []
    for key in DETECTOR_NEEDS.get(monitor.detector, ()):
        field, _, item = key.partition(".")
        value = getattr(monitor, field)
        if not (value.get(item) if item else value):
            missing.append(key)
    return missing
