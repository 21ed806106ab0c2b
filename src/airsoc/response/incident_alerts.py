"""The alerts attached to incidents: which alert group an incident stands for, and its alerts.

Declaration attaches alerts (:mod:`airsoc.response.declaration`); escalation and the evidence
actions read them.

Example:
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> with store.read() as s:
    ...     incident_alerts(s, incident_id=1)
    []
    >>> store.close()
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.response.models import IncidentAlertRow

__all__ = ["IncidentAlertView", "incident_alerts", "incident_group_key"]


class IncidentAlertView(BaseModel):
    """An alert attached to an incident.

    >>> sorted(IncidentAlertView.model_fields)[:2]
    ['attached_at', 'fingerprint']
    """

    model_config = ConfigDict(from_attributes=True)

    incident_id: int
    group_key: str
    fingerprint: str
    labels: dict[str, Any]
    attached_at: datetime


def incident_group_key(group_labels: Mapping[str, str]) -> str:
    """Return the key that ties an alert group to its incident (its labels, or their hash).

    >>> incident_group_key({"system": "fraud", "failure_mode": "data_drift"})
    'alerts:{"failure_mode":"data_drift","system":"fraud"}'
    """
    text = json.dumps(dict(group_labels), sort_keys=True, separators=(",", ":"))
    key = f"alerts:{text}"
    if len(key) > 200:
        key = "alerts:sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return key


def incident_alerts(session: Session, *, incident_id: int) -> list[IncidentAlertView]:
    """Return the alerts attached to an incident, in the order they came."""
    rows = session.execute(
        select(IncidentAlertRow)
        .where(IncidentAlertRow.incident_id == incident_id)
        .order_by(IncidentAlertRow.id)
    ).scalars()
    return [IncidentAlertView.model_validate(r) for r in rows]
