"""The ``telemetry`` section of ``airsoc.yaml``: what the gateway's event log does when its disk
stays unwritable.

``on_full`` is the policy once ``queue_size`` events wait for the disk: ``keep_serving`` (answer
requests, drop new events and count them) or ``refuse`` (answer 503 with ``Retry-After``, so the
caller knows nothing was recorded). Either way the runtime's self-monitoring raises a
``platform_fault`` alert while the writer fails. ``retry_max`` caps the backoff between write
attempts.

Example:
    >>> section = TelemetrySection.model_validate({"telemetry": {"on_full": "refuse",
    ...                                            "queue_size": 5000}})
    >>> section.telemetry.on_full, section.telemetry.queue_size
    ('refuse', 5000)
    >>> section.telemetry.log_options()["max_pending"]
    5000
    >>> TelemetrySection.model_validate({"telemetry": {"on_full": "drop"}})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for TelemetrySection
    ...
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from airsoc.types import Duration, StrictModel

__all__ = ["TelemetryConfig", "TelemetrySection"]


class TelemetryConfig(StrictModel):
    """How the gateway's event log bounds its memory and retries its disk."""

    on_full: Literal["keep_serving", "refuse"] = Field(
        default="keep_serving",
        description="When queue_size events wait for the disk: keep_serving (drop and count "
        "new events) or refuse (answer 503 with Retry-After)",
    )
    queue_size: int = Field(
        default=200_000, ge=1, le=100_000_000, description="Events that may wait for the disk"
    )
    retry_max: Duration = Field(
        default=timedelta(seconds=1),
        description="The longest pause between two attempts to write (the backoff doubles up "
        "to it)",
    )

    @field_validator("retry_max")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if not timedelta(milliseconds=1) <= value <= timedelta(minutes=10):
            raise ValueError("must be between 1ms and 10m")
        return value

    def log_options(self) -> dict[str, Any]:
        """Return the :class:`~airsoc.telemetry.log.EventLog` keyword arguments it sets.

        >>> TelemetryConfig(retry_max="50ms").log_options()["retry_max"]
        0.05
        """
        retry_max = self.retry_max.total_seconds()
        return {
            "on_full": self.on_full,
            "max_pending": self.queue_size,
            "retry_max": retry_max,
            "retry_initial": min(0.05, retry_max),
        }


class TelemetrySection(StrictModel):
    """The section of ``airsoc.yaml`` telemetry owns."""

    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
