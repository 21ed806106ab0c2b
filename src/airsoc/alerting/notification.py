"""What a receiver is given (a :class:`Notification` about one alert group) and what it gives
back (a :class:`Delivery`, recorded whatever happened).

Example:
    >>> from datetime import datetime, timezone
    >>> from airsoc.monitoring.alerts import Alert
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> n = Notification.of(receiver="ml-oncall", group_key="0:{system=\\"fraud\\"}",
    ...     group_labels={"system": "fraud"}, now=t0,
    ...     alerts=[Alert(labels={"system": "fraud", "monitor": "m1"}, starts_at=t0)])
    >>> n.status, n.common_labels, len(n.firing)
    ('firing', {'monitor': 'm1', 'system': 'fraud'}, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from airsoc.monitoring.alerts import Alert, AlertStatus

__all__ = ["Delivery", "Notification", "NotifiedAlert"]


class NotifiedAlert(BaseModel):
    """An alert as a notification carries it: its status at send time and its fingerprint."""

    status: AlertStatus
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str = ""


class Notification(BaseModel):
    """One message about one alert group to one receiver."""

    receiver: str
    group_key: str
    status: AlertStatus
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    alerts: list[NotifiedAlert]
    sent_at: datetime
    repeat: bool = False

    @classmethod
    def of(
        cls,
        *,
        receiver: str,
        group_key: str,
        group_labels: dict[str, str],
        alerts: Sequence[Alert],
        now: datetime,
        repeat: bool = False,
    ) -> Notification:
        """Return the notification for ``alerts``; ``firing`` if any alert still fires."""
        notified = [
            NotifiedAlert(
                status=a.status(now),
                fingerprint=a.fingerprint,
                labels=a.labels,
                annotations=a.annotations,
                starts_at=a.starts_at,
                ends_at=a.ends_at,
                generator_url=a.generator_url,
            )
            for a in alerts
        ]
        status: AlertStatus = (
            "firing" if any(a.status == "firing" for a in notified) else "resolved"
        )
        return cls(
            receiver=receiver,
            group_key=group_key,
            status=status,
            group_labels=dict(group_labels),
            common_labels=_common([a.labels for a in notified]),
            common_annotations=_common([a.annotations for a in notified]),
            alerts=notified,
            sent_at=now,
            repeat=repeat,
        )

    @property
    def firing(self) -> list[NotifiedAlert]:
        """Return the alerts still firing."""
        return [a for a in self.alerts if a.status == "firing"]

    @property
    def resolved(self) -> list[NotifiedAlert]:
        """Return the alerts that have ended."""
        return [a for a in self.alerts if a.status == "resolved"]


def _common(items: list[dict[str, str]]) -> dict[str, str]:
    if not items:
        return {}
    first = items[0]
    return dict(sorted((k, v) for k, v in first.items() if all(i.get(k) == v for i in items[1:])))


class Delivery(BaseModel):
    """The recorded outcome of sending one notification through one integration."""

    receiver: str
    integration: str
    group_key: str
    status: Literal["delivered", "failed"]
    attempts: int
    at: datetime
    error: str | None = None
    response_code: int | None = None
    request: dict[str, object] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Return whether the notification got through."""
        return self.status == "delivered"
