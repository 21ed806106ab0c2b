"""Receivers against real local servers: Slack webhook, SMTP with STARTTLS+auth, signed webhook,
PagerDuty Events v2; retries with backoff; user templates."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airsoc.alerting.config import ReceiverConfig
from airsoc.alerting.notification import Notification
from airsoc.alerting.receivers import build_receivers, verify_webhook_signature
from airsoc.alerting.templates import Templates
from airsoc.clock import SimulatedClock
from airsoc.errors import ConfigError
from airsoc.monitoring.alerts import Alert
from airsoc.testing.receivers import http_sink, smtp_server


def notification(clock: SimulatedClock, *, resolved: bool = False) -> Notification:
    alert = Alert(
        labels={
            "system": "fraud-detector",
            "monitor": "fraud-input-drift",
            "failure_mode": "data_drift",
            "severity": "sev2",
        },
        annotations={"summary": "PSI 0.31 on amount"},
        starts_at=clock.now(),
    )
    if resolved:
        alert = alert.resolved_at(clock.now())
    return Notification.of(
        receiver="ops",
        group_key='0:{system="fraud-detector"}',
        group_labels={"system": "fraud-detector"},
        alerts=[alert],
        now=clock.now(),
    )


def receivers(config: dict[str, object], clock: SimulatedClock, **kw: object) -> list[object]:
    built = build_receivers(
        {"ops": ReceiverConfig.model_validate(config)},
        clock=clock,
        environ={"SECRET": "s3cret", "PD_KEY": "R0UTING", "SMTP_PASSWORD": "hunter2"},
        **kw,  # type: ignore[arg-type]
    )
    return list(built["ops"])


def test_slack_webhook_gets_the_rendered_text(clock: SimulatedClock) -> None:
    with http_sink() as sink:
        (slack,) = receivers({"slack": {"webhook_url": sink.url + "/T0/B0/X"}}, clock)
        delivery = slack.send(notification(clock))  # type: ignore[attr-defined]
    assert delivery.ok
    assert delivery.attempts == 1
    body = sink.requests[0].json()
    assert body["text"].startswith("[FIRING:1] data_drift on fraud-detector")
    assert "PSI 0.31 on amount" in body["text"]
    assert "/T0/B0/X" not in str(delivery.request)  # the secret URL path is not recorded


def test_retries_with_doubling_backoff_then_delivers(clock: SimulatedClock) -> None:
    with http_sink() as sink:
        sink.statuses = [503, 500]
        (slack,) = receivers({"slack": {"webhook_url": sink.url, "backoff": "2s"}}, clock)
        start = clock.now()
        delivery = slack.send(notification(clock))  # type: ignore[attr-defined]
    assert delivery.ok
    assert delivery.attempts == 3
    assert clock.now() - start == timedelta(seconds=2 + 4)
    assert len(sink.requests) == 3


def test_client_error_is_not_retried_and_is_recorded(clock: SimulatedClock) -> None:
    with http_sink() as sink:
        sink.statuses = [400]
        (slack,) = receivers({"slack": {"webhook_url": sink.url}}, clock)
        delivery = slack.send(notification(clock))  # type: ignore[attr-defined]
    assert delivery.status == "failed"
    assert delivery.attempts == 1
    assert "HTTP 400" in (delivery.error or "")


def test_unreachable_server_fails_after_every_attempt(clock: SimulatedClock) -> None:
    from airsoc.testing import free_port

    (slack,) = receivers(
        {"slack": {"webhook_url": f"http://127.0.0.1:{free_port()}/", "max_attempts": 2}}, clock
    )
    delivery = slack.send(notification(clock))  # type: ignore[attr-defined]
    assert delivery.status == "failed"
    assert delivery.attempts == 2
    assert "ConnectError" in (delivery.error or "")


def test_webhook_is_signed_with_hmac_sha256_and_timestamp(clock: SimulatedClock) -> None:
    with http_sink() as sink:
        (hook,) = receivers({"webhook": {"url": sink.url + "/hook", "secret_env": "SECRET"}}, clock)
        assert hook.send(notification(clock)).ok  # type: ignore[attr-defined]
    request = sink.requests[0]
    now = int(clock.now().timestamp())
    assert request.headers["X-Airsoc-Timestamp"] == str(now)
    assert verify_webhook_signature(b"s3cret", request.body, request.headers, now=now)
    assert not verify_webhook_signature(b"wrong", request.body, request.headers, now=now)
    assert not verify_webhook_signature(b"s3cret", request.body, request.headers, now=now + 3600)
    payload = request.json()
    assert payload["version"] == "4"
    assert payload["status"] == "firing"
    assert payload["alerts"][0]["labels"]["monitor"] == "fraud-input-drift"


def test_pagerduty_events_v2_trigger_then_resolve(clock: SimulatedClock) -> None:
    with http_sink() as sink:
        (pd,) = receivers(
            {"pagerduty": {"routing_key_env": "PD_KEY", "url": sink.url + "/v2/enqueue"}}, clock
        )
        assert pd.send(notification(clock)).ok  # type: ignore[attr-defined]
        assert pd.send(notification(clock, resolved=True)).ok  # type: ignore[attr-defined]
    trigger, resolve = (r.json() for r in sink.requests)
    assert sink.requests[0].path == "/v2/enqueue"
    assert trigger["routing_key"] == "R0UTING"
    assert trigger["event_action"] == "trigger"
    assert trigger["payload"]["severity"] == "error"
    assert trigger["payload"]["source"] == "fraud-detector"
    assert trigger["payload"]["summary"] == "[FIRING:1] data_drift on fraud-detector"
    assert resolve == {
        "routing_key": "R0UTING",
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }


def test_email_over_starttls_with_login(clock: SimulatedClock, tmp_path: Path) -> None:
    with smtp_server(tmp_path, user="airsoc", password="hunter2") as smtp:
        (email,) = receivers(
            {
                "email": {
                    "to": ["oncall@example.com"],
                    "from": "airsoc@example.com",
                    "smarthost": f"{smtp.host}:{smtp.port}",
                    "username": "airsoc",
                    "password_env": "SMTP_PASSWORD",
                    "ca_file": str(smtp.ca_file),
                }
            },
            clock,
        )
        delivery = email.send(notification(clock))  # type: ignore[attr-defined]
    assert delivery.ok, delivery.error
    (message,) = smtp.messages
    assert message["tls"]
    assert message["login"] == "airsoc"
    assert message["to"] == ["oncall@example.com"]
    assert "Subject: [FIRING:1] data_drift on fraud-detector" in message["data"]


def test_email_with_a_wrong_password_fails_without_retrying(
    clock: SimulatedClock, tmp_path: Path
) -> None:
    with smtp_server(tmp_path, user="airsoc", password="other") as smtp:
        (email,) = receivers(
            {
                "email": {
                    "to": ["oncall@example.com"],
                    "from": "airsoc@example.com",
                    "smarthost": f"{smtp.host}:{smtp.port}",
                    "username": "airsoc",
                    "password_env": "SMTP_PASSWORD",
                    "ca_file": str(smtp.ca_file),
                }
            },
            clock,
        )
        delivery = email.send(notification(clock))  # type: ignore[attr-defined]
    assert delivery.status == "failed"
    assert delivery.attempts == 1
    assert smtp.messages == []


def test_user_templates_override_the_defaults(clock: SimulatedClock, tmp_path: Path) -> None:
    (tmp_path / "slack.txt").write_text("{{ common_labels.system }} needs you")
    with http_sink() as sink:
        (slack,) = receivers(
            {"slack": {"webhook_url": sink.url}}, clock, templates=Templates(tmp_path)
        )
        slack.send(notification(clock))  # type: ignore[attr-defined]
    assert sink.requests[0].json()["text"] == "fraud-detector needs you"


def test_templates_cannot_reach_python_internals() -> None:
    from airsoc.errors import InputError

    templates = Templates()
    templates.env.loader.loaders[-1].mapping["evil.txt"] = (  # type: ignore[union-attr]
        "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    )
    with pytest.raises(InputError, match=r"unsafe|not safely|access"):
        templates.render("evil.txt", {})


def test_missing_secret_is_a_located_config_error(clock: SimulatedClock) -> None:
    with pytest.raises(ConfigError) as info:
        build_receivers(
            {"ops": ReceiverConfig.model_validate({"slack": {"webhook_url_env": "NOPE"}})},
            clock=clock,
            environ={},
        )
    assert info.value.issues[0].loc == "receivers.ops.slack.webhook_url_env"
