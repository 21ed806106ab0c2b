"""Alerts: a label set with annotations and a lifetime, identified by its fingerprint.

The fingerprint is a hash of the sorted labels, so the same condition seen twice is the same
alert (deduplicated), as in Alertmanager.

Example:
    >>> from datetime import datetime, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> a = Alert(labels={"system": "fraud", "monitor": "m1"}, starts_at=t0)
    >>> a.fingerprint == fingerprint({"monitor": "m1", "system": "fraud"}), len(a.fingerprint)
    (True, 16)
    >>> a.is_resolved(t0), a.resolved_at(t0).is_resolved(t0)
    (False, True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from airsoc.clock import ensure_utc

__all__ = ["STANDARD_LABELS", "Alert", "AlertStatus", "fingerprint"]

#: Labels every alert raised by a monitor carries.
STANDARD_LABELS = ("system", "monitor", "failure_mode", "severity", "model_version")

AlertStatus = Literal["firing", "resolved"]


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return the alert identity of a label set: 16 hex digits of sha256 over sorted labels.

    >>> fingerprint({"b": "2", "a": "1"}) == fingerprint({"a": "1", "b": "2"})
    True
    """
    digest = hashlib.sha256()
    for key in sorted(labels):
        digest.update(key.encode())
        digest.update(b"\xff")
        digest.update(str(labels[key]).encode())
        digest.update(b"\xfe")
    return digest.hexdigest()[:16]


class Alert(BaseModel):
    """One alert: labels (identity), annotations (detail), and when it started and ended."""

    model_config = ConfigDict(frozen=True)

    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = ""

    @field_validator("labels")
    @classmethod
    def _string_labels(cls, value: dict[str, Any]) -> dict[str, str]:
        return {str(k): str(v) for k, v in value.items()}

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return ensure_utc(value) if value is not None else None

    @cached_property
    def fingerprint(self) -> str:
        """Return the identity of this alert (a hash of its labels)."""
        return fingerprint(self.labels)

    def is_resolved(self, now: datetime) -> bool:
        """Return whether the alert has ended by ``now``."""
        return self.ends_at is not None and self.ends_at <= now

    def status(self, now: datetime) -> AlertStatus:
        """Return ``firing`` or ``resolved`` at ``now``."""
        return "resolved" if self.is_resolved(now) else "firing"

    def resolved_at(self, when: datetime) -> Alert:
        """Return a copy of this alert that ends at ``when``."""
        return self.model_copy(update={"ends_at": ensure_utc(when)})
