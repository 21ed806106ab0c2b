"""Receivers: Slack incoming webhooks, email over SMTP, signed webhooks and PagerDuty Events v2;
:func:`build_receivers` also builds the OCSF sinks of :mod:`airsoc.alerting.sinks` (signed OCSF
webhook, Splunk HEC, TheHive).

Every integration retries with exponential backoff (on the :class:`~airsoc.clock.Clock`, so a
simulated clock does not wait) and returns a :class:`Delivery` whatever happened.

**Webhook signatures.** A webhook with a secret carries two headers::

    X-Airsoc-Timestamp: 1767225600
    X-Airsoc-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body, keyed by the secret>

A receiving service recomputes the HMAC over the timestamp, a dot and the exact body bytes,
compares in constant time, and rejects timestamps older than a few minutes (replays);
:func:`verify_webhook_signature` does exactly that.

Example:
    >>> body = b'{"status": "firing"}'
    >>> headers = sign_webhook(b"s3cret", body, timestamp=1767225600)
    >>> headers["X-Airsoc-Signature"][:7]
    'sha256='
    >>> verify_webhook_signature(b"s3cret", body, headers, now=1767225660)
    True
    >>> verify_webhook_signature(b"s3cret", body + b" ", headers, now=1767225660)
    False
"""

from __future__ import annotations

import hashlib
import json
import os
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from airsoc.alerting.config import (
    EmailConfig,
    PagerDutyConfig,
    ReceiverConfig,
    SlackConfig,
    WebhookConfig,
)
from airsoc.alerting.delivery import (
    _Integration,
    _PermanentFailureError,
    sign_webhook,
    verify_webhook_signature,
)
from airsoc.alerting.notification import Delivery, Notification
from airsoc.alerting.sinks import OcsfWebhookSink, SplunkHecSink, TheHiveSink
from airsoc.alerting.templates import Templates
from airsoc.clock import Clock
from airsoc.errors import ConfigError, ConfigIssue

__all__ = [
    "EmailReceiver",
    "PagerDutyReceiver",
    "RecordingReceiver",
    "SlackReceiver",
    "WebhookReceiver",
    "build_receivers",
    "sign_webhook",
    "verify_webhook_signature",
    "webhook_payload",
]


def _context(notification: Notification) -> dict[str, Any]:
    return notification.model_dump(mode="json")


class SlackReceiver(_Integration):
    """Posts to a Slack incoming webhook (``{"text": ...}``, optional channel)."""

    kind = "slack"

    def __init__(
        self, receiver: str, config: SlackConfig, *, url: str, templates: Templates, clock: Clock
    ) -> None:
        super().__init__(receiver, config, clock=clock)
        self.config = config
        self.url = url
        self.templates = templates

    def _deliver(self, notification: Notification) -> tuple[int | None, dict[str, Any]]:
        payload: dict[str, Any] = {
            "text": self.templates.render("slack.txt", _context(notification))
        }
        if self.config.channel:
            payload["channel"] = self.config.channel
        return self._post(self.url, json.dumps(payload).encode())


class EmailReceiver(_Integration):
    """Sends email through an SMTP server, with STARTTLS and login when configured."""

    kind = "email"

    def __init__(
        self,
        receiver: str,
        config: EmailConfig,
        *,
        password: str | None,
        templates: Templates,
        clock: Clock,
    ) -> None:
        super().__init__(receiver, config, clock=clock)
        self.config = config
        self.password = password
        self.templates = templates

    def _deliver(self, notification: Notification) -> tuple[int | None, dict[str, Any]]:
        ctx = _context(notification)
        message = EmailMessage()
        message["Subject"] = self.templates.render("email_subject.txt", ctx)
        message["From"] = self.config.sender
        message["To"] = ", ".join(self.config.to)
        message["X-Airsoc-Group-Key"] = notification.group_key
        message.set_content(self.templates.render("email_body.txt", ctx))
        host, _, port = self.config.smarthost.rpartition(":")
        timeout = self.config.timeout.total_seconds()
        with smtplib.SMTP(host, int(port), timeout=timeout) as smtp:
            smtp.ehlo()
            if self.config.starttls:
                context = ssl.create_default_context(cafile=self.config.ca_file)
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.config.username:
                try:
                    smtp.login(self.config.username, self.password or "")
                except smtplib.SMTPAuthenticationError as exc:
                    raise _PermanentFailureError(f"SMTP login refused: {exc.smtp_code}") from None
            smtp.send_message(message)
        return 250, {"smarthost": self.config.smarthost, "to": list(self.config.to)}


def webhook_payload(notification: Notification) -> dict[str, Any]:
    """Return the Alertmanager-compatible webhook body (version 4) for ``notification``.

    >>> from datetime import datetime, timezone
    >>> n = Notification.of(receiver="r", group_key="k", group_labels={}, alerts=[],
    ...                     now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> sorted(webhook_payload(n))[:4]
    ['alerts', 'commonAnnotations', 'commonLabels', 'externalURL']
    """
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "status": notification.status,
        "receiver": notification.receiver,
        "groupLabels": notification.group_labels,
        "commonLabels": notification.common_labels,
        "commonAnnotations": notification.common_annotations,
        "externalURL": "",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": a.status,
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": a.starts_at.isoformat(),
                "endsAt": a.ends_at.isoformat() if a.ends_at else "0001-01-01T00:00:00Z",
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint,
            }
            for a in notification.alerts
        ],
    }


class WebhookReceiver(_Integration):
    """Posts the Alertmanager-compatible payload, signed when a secret is configured."""

    kind = "webhook"

    def __init__(
        self, receiver: str, config: WebhookConfig, *, secret: bytes | None, clock: Clock
    ) -> None:
        super().__init__(receiver, config, clock=clock)
        self.config = config
        self.secret = secret

    def _deliver(self, notification: Notification) -> tuple[int | None, dict[str, Any]]:
        body = json.dumps(webhook_payload(notification), sort_keys=True).encode()
        headers = (
            sign_webhook(self.secret, body, timestamp=int(self.clock.now().timestamp()))
            if self.secret
            else {}
        )
        return self._post(self.config.url, body, headers)


_PD_SEVERITY = {"sev1": "critical", "sev2": "error", "sev3": "warning"}


class PagerDutyReceiver(_Integration):
    """Sends PagerDuty Events API v2 ``trigger`` / ``resolve`` events, one per alert group."""

    kind = "pagerduty"

    def __init__(
        self,
        receiver: str,
        config: PagerDutyConfig,
        *,
        routing_key: str,
        templates: Templates,
        clock: Clock,
    ) -> None:
        super().__init__(receiver, config, clock=clock)
        self.config = config
        self.routing_key = routing_key
        self.templates = templates

    def event(self, notification: Notification) -> dict[str, Any]:
        """Return the Events API v2 body for ``notification``."""
        dedup = hashlib.sha256(notification.group_key.encode()).hexdigest()
        if notification.status == "resolved":
            return {
                "routing_key": self.routing_key,
                "event_action": "resolve",
                "dedup_key": dedup,
            }
        labels = notification.common_labels
        return {
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": dedup,
            "payload": {
                "summary": self.templates.render("pagerduty_summary.txt", _context(notification))[
                    :1024
                ],
                "source": labels.get("system", "airsoc"),
                "severity": _PD_SEVERITY.get(labels.get("severity", ""), "info"),
                "timestamp": notification.sent_at.isoformat(),
                "component": labels.get("monitor"),
                "group": labels.get("failure_mode"),
                "class": labels.get("failure_mode"),
                "custom_details": {
                    "firing": len(notification.firing),
                    "resolved": len(notification.resolved),
                    "group_labels": notification.group_labels,
                },
            },
            "client": "airsoc",
        }

    def _deliver(self, notification: Notification) -> tuple[int | None, dict[str, Any]]:
        return self._post(self.config.url, json.dumps(self.event(notification)).encode())


class RecordingReceiver:
    """A receiver that keeps every notification in memory; a test double shipped with airsoc.

    >>> r = RecordingReceiver("ml-oncall")
    >>> r.name, r.notifications
    ('ml-oncall/recording', [])
    """

    def __init__(self, receiver: str, *, send_resolved: bool = True, fail: bool = False) -> None:
        self.receiver = receiver
        self.name = f"{receiver}/recording"
        self.send_resolved = send_resolved
        self.fail = fail
        self.notifications: list[Notification] = []

    def send(self, notification: Notification) -> Delivery:
        """Record ``notification`` (or fail, when built with ``fail=True``)."""
        if not self.fail:
            self.notifications.append(notification)
        return Delivery(
            receiver=self.receiver,
            integration="recording",
            group_key=notification.group_key,
            status="failed" if self.fail else "delivered",
            attempts=1,
            at=notification.sent_at,
            error="configured to fail" if self.fail else None,
        )


def build_receivers(
    receivers: Mapping[str, ReceiverConfig],
    *,
    clock: Clock,
    templates: Templates | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, list[_Integration]]:
    """Return the integrations of every configured receiver, secrets read from ``environ``.

    A missing environment variable is a :class:`ConfigError` naming the key.

    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.alerting.config import ReceiverConfig
    >>> cfg = {"ops": ReceiverConfig.model_validate({"slack": {"webhook_url_env": "HOOK"}})}
    >>> [i.name for i in build_receivers(cfg, clock=SimulatedClock(),
    ...                                  environ={"HOOK": "http://127.0.0.1:1/x"})["ops"]]
    ['ops/slack']
    """
    env = os.environ if environ is None else environ
    templates = templates or Templates()
    issues: list[ConfigIssue] = []

    def secret(loc: str, name: str | None, literal: str | None = None) -> str | None:
        if literal is not None or name is None:
            return literal
        value = env.get(name)
        if not value:
            issues.append(ConfigIssue(loc, "environment variable is not set", name))
        return value

    built: dict[str, list[_Integration]] = {}
    for name, config in receivers.items():
        out: list[_Integration] = []
        loc = f"receivers.{name}"
        if config.slack is not None:
            url = secret(
                f"{loc}.slack.webhook_url_env",
                config.slack.webhook_url_env,
                config.slack.webhook_url,
            )
            if url:
                out.append(
                    SlackReceiver(name, config.slack, url=url, templates=templates, clock=clock)
                )
        if config.email is not None:
            password = secret(f"{loc}.email.password_env", config.email.password_env)
            out.append(
                EmailReceiver(
                    name, config.email, password=password, templates=templates, clock=clock
                )
            )
        if config.webhook is not None:
            key = secret(f"{loc}.webhook.secret_env", config.webhook.secret_env)
            out.append(
                WebhookReceiver(
                    name, config.webhook, secret=key.encode() if key else None, clock=clock
                )
            )
        if config.pagerduty is not None:
            routing = secret(
                f"{loc}.pagerduty.routing_key_env",
                config.pagerduty.routing_key_env,
                config.pagerduty.routing_key,
            )
            if routing:
                out.append(
                    PagerDutyReceiver(
                        name,
                        config.pagerduty,
                        routing_key=routing,
                        templates=templates,
                        clock=clock,
                    )
                )
        if config.ocsf_webhook is not None:
            key = secret(f"{loc}.ocsf_webhook.secret_env", config.ocsf_webhook.secret_env)
            out.append(
                OcsfWebhookSink(
                    name,
                    config.ocsf_webhook,
                    url=config.ocsf_webhook.url,
                    secret=key.encode() if key else None,
                    clock=clock,
                )
            )
        if config.splunk_hec is not None:
            hec = config.splunk_hec
            token = secret(f"{loc}.splunk_hec.token_env", hec.token_env, hec.token)
            if token:
                out.append(
                    SplunkHecSink(
                        name,
                        hec,
                        url=hec.url,
                        token=token,
                        clock=clock,
                        sourcetype=hec.sourcetype,
                        source=hec.source,
                        index=hec.index,
                        host=hec.host,
                    )
                )
        if config.thehive is not None:
            hive = config.thehive
            api_key = secret(f"{loc}.thehive.api_key_env", hive.api_key_env, hive.api_key)
            if api_key:
                out.append(
                    TheHiveSink(
                        name,
                        hive,
                        url=hive.url,
                        api_key=api_key,
                        clock=clock,
                        source=hive.source,
                        alert_type=hive.alert_type,
                        organisation=hive.organisation,
                    )
                )
        built[name] = out
    if issues:
        raise ConfigError(issues)
    return built
