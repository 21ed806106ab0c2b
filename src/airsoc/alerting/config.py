"""The alerting sections of ``airsoc.yaml``: the routing tree, receivers, inhibition rules,
silences and templates.

Example:
    >>> cfg = AlertingSection.model_validate(
    ...     {"routes": {"receiver": "ops"}, "receivers": {"ops": {}}})
    >>> cfg.routes.receiver, cfg.receiver_issues()
    ('ops', [])
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from airsoc.alerting.matchers import parse_matcher
from airsoc.errors import ConfigIssue
from airsoc.types import Duration, StrictModel

__all__ = [
    "AlertingSection",
    "DeliveryPolicy",
    "EmailConfig",
    "InhibitRuleConfig",
    "Matchers",
    "OcsfWebhookConfig",
    "PagerDutyConfig",
    "ReceiverConfig",
    "RouteConfig",
    "SilenceConfig",
    "SlackConfig",
    "SplunkHecConfig",
    "TheHiveConfig",
    "WebhookConfig",
]


def _check_matchers(values: list[str]) -> list[str]:
    for value in values:
        parse_matcher(value)
    return values


Matchers = Annotated[list[str], AfterValidator(_check_matchers)]
"""A list of Alertmanager label matchers (``severity =~ "sev1|sev2"``), checked on load."""


class RouteConfig(StrictModel):
    """A node of the Alertmanager-style routing tree; unset fields inherit from the parent."""

    receiver: str | None = None
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    matchers: Matchers = Field(default_factory=list)
    # "continue" is a Python keyword, hence the alias.
    continue_: bool = Field(default=False, alias="continue")
    routes: list[RouteConfig] = Field(default_factory=list)


class DeliveryPolicy(StrictModel):
    """How hard a receiver tries: attempts, and the first backoff (doubling after each failure)."""

    max_attempts: int = Field(default=3, ge=1, le=20)
    backoff: Duration = timedelta(seconds=1)
    timeout: Duration = timedelta(seconds=10)
    send_resolved: bool = True


class SlackConfig(DeliveryPolicy):
    """A Slack incoming webhook (the URL itself, or the environment variable holding it)."""

    webhook_url: str | None = None
    webhook_url_env: str | None = None
    channel: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> SlackConfig:
        if (self.webhook_url is None) == (self.webhook_url_env is None):
            raise ValueError("give exactly one of webhook_url or webhook_url_env")
        return self


class EmailConfig(DeliveryPolicy):
    """Email over SMTP; STARTTLS and auth by default."""

    to: list[str] = Field(min_length=1)
    sender: str = Field(alias="from")
    smarthost: str = Field(description="host:port of the SMTP server")
    username: str | None = None
    password_env: str | None = None
    starttls: bool = True
    ca_file: str | None = None

    @field_validator("smarthost")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"smarthost must be host:port, got {value!r}")
        return value


class WebhookConfig(DeliveryPolicy):
    """A generic webhook; with a secret, every request is signed (HMAC-SHA256)."""

    url: str
    secret_env: str | None = None


class PagerDutyConfig(DeliveryPolicy):
    """PagerDuty Events API v2."""

    routing_key: str | None = None
    routing_key_env: str | None = None
    url: str = "https://events.pagerduty.com/v2/enqueue"

    @model_validator(mode="after")
    def _one_key(self) -> PagerDutyConfig:
        if (self.routing_key is None) == (self.routing_key_env is None):
            raise ValueError("give exactly one of routing_key or routing_key_env")
        return self


class OcsfWebhookConfig(DeliveryPolicy):
    """OCSF Detection Findings posted as JSON; with a secret, signed like airsoc's webhooks."""

    url: str
    secret_env: str | None = None


class SplunkHecConfig(DeliveryPolicy):
    """Splunk HTTP Event Collector: each OCSF finding is one HEC event.

    ``url`` is the collector's base (``https://splunk:8088``); the token is given literally or,
    better, by the environment variable holding it.
    """

    url: str
    token: str | None = None
    token_env: str | None = None
    index: str | None = None
    source: str = "airsoc"
    sourcetype: str = "ocsf:detection_finding"
    host: str | None = None

    @model_validator(mode="after")
    def _one_token(self) -> SplunkHecConfig:
        if (self.token is None) == (self.token_env is None):
            raise ValueError("give exactly one of token or token_env")
        return self


class TheHiveConfig(DeliveryPolicy):
    """TheHive 5 alerts, ``sourceRef`` = the alert fingerprint (a repeat updates, never
    duplicates); the API key is given literally or by its environment variable."""

    url: str
    api_key: str | None = None
    api_key_env: str | None = None
    organisation: str | None = None
    source: str = "airsoc"
    alert_type: str = "airsoc"

    @model_validator(mode="after")
    def _one_key(self) -> TheHiveConfig:
        if (self.api_key is None) == (self.api_key_env is None):
            raise ValueError("give exactly one of api_key or api_key_env")
        return self


class ReceiverConfig(StrictModel):
    """Where notifications go; each key is one integration, and a receiver may have several.

    ``ocsf_webhook``, ``splunk_hec`` and ``thehive`` deliver OCSF Detection Findings to SIEM and
    SOAR tools.

    >>> r = ReceiverConfig.model_validate({"splunk_hec": {"url": "https://splunk:8088",
    ...                                                   "token_env": "HEC_TOKEN"}})
    >>> r.splunk_hec.sourcetype
    'ocsf:detection_finding'
    """

    slack: SlackConfig | None = None
    email: EmailConfig | None = None
    webhook: WebhookConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    ocsf_webhook: OcsfWebhookConfig | None = None
    splunk_hec: SplunkHecConfig | None = None
    thehive: TheHiveConfig | None = None


class InhibitRuleConfig(StrictModel):
    """Mute target alerts while a source alert with the same ``equal`` labels fires."""

    source_matchers: Matchers = Field(min_length=1)
    target_matchers: Matchers = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)


class SilenceConfig(StrictModel):
    """A silence kept in the configuration (the CLI adds others at run time)."""

    matchers: Matchers = Field(min_length=1)
    ends_at: datetime
    starts_at: datetime | None = None
    created_by: str
    comment: str = Field(min_length=1)


class AlertingSection(StrictModel):
    """The sections of ``airsoc.yaml`` alerting owns."""

    routes: RouteConfig | None = None
    receivers: dict[str, ReceiverConfig] = Field(default_factory=dict)
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    silences: list[SilenceConfig] = Field(default_factory=list)
    templates: str | None = Field(default=None, description="A folder of templates to override")

    def receiver_issue(self, loc: str, name: str | None) -> ConfigIssue | None:
        """Return the issue of a reference to receiver ``name`` at ``loc``, if it is unknown."""
        if name is None or name in self.receivers:
            return None
        known = ", ".join(sorted(self.receivers)) or "none"
        return ConfigIssue(loc, f"unknown receiver; defined: {known}", name)

    def receiver_issues(self) -> list[ConfigIssue]:
        """Return the routing tree's problems: unknown receivers, a root without one."""
        issues: list[ConfigIssue] = []

        def walk(route: RouteConfig, loc: str) -> None:
            issue = self.receiver_issue(f"{loc}.receiver", route.receiver)
            if issue:
                issues.append(issue)
            for i, child in enumerate(route.routes):
                walk(child, f"{loc}.routes[{i}]")

        if self.routes is not None:
            if self.routes.receiver is None:
                issues.append(ConfigIssue("routes.receiver", "the root route needs a receiver"))
            if self.routes.matchers:
                issues.append(ConfigIssue("routes.matchers", "the root route matches everything"))
            walk(self.routes, "routes")
        return issues
