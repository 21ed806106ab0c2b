"""Alerting: monitors, signals, alerts, the routing tree, grouping, inhibition, silences and
receivers (Slack, email, signed webhooks, PagerDuty), behaving as Alertmanager does.

Example:
    >>> from airsoc.alerting import Alert, fingerprint
    >>> from datetime import datetime, timezone
    >>> Alert(labels={"system": "fraud"}, starts_at=datetime(2026, 1, 1, tzinfo=timezone.utc)
    ...       ).fingerprint == fingerprint({"system": "fraud"})
    True
"""

from __future__ import annotations

from airsoc.alerting.dispatcher import Dispatcher, GroupFlush
from airsoc.alerting.engine import AlertingEngine, ingest_alertmanager
from airsoc.alerting.matchers import Matcher, parse_matcher
from airsoc.alerting.notification import Delivery, Notification
from airsoc.alerting.receivers import (
    RecordingReceiver,
    build_receivers,
    sign_webhook,
    verify_webhook_signature,
)
from airsoc.alerting.routing import Route, build_route_tree
from airsoc.alerting.service import add_silence, expire_silence, list_alerts, list_silences
from airsoc.alerting.suppression import InhibitRule, Silence
from airsoc.alerting.templates import Templates
from airsoc.monitoring.alerts import Alert, fingerprint

__all__ = [
    "Alert",
    "AlertingEngine",
    "Delivery",
    "Dispatcher",
    "GroupFlush",
    "InhibitRule",
    "Matcher",
    "Notification",
    "RecordingReceiver",
    "Route",
    "Silence",
    "Templates",
    "add_silence",
    "build_receivers",
    "build_route_tree",
    "expire_silence",
    "fingerprint",
    "ingest_alertmanager",
    "list_alerts",
    "list_silences",
    "parse_matcher",
    "sign_webhook",
    "verify_webhook_signature",
]
