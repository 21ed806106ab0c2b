"""The schema of ``airsoc.yaml`` (pydantic, unknown keys rejected).

Each domain owns its section; this module holds the top level and the shared field types.

Example:
    >>> cfg = AirsocConfig.model_validate({"systems": {"fraud-detector": {
    ...     "kind": "tabular-classifier", "owner": "risk-ml", "criticality": "high"}}})
    >>> cfg.systems["fraud-detector"].criticality
    'high'
    >>> parse_duration("15m")
    datetime.timedelta(seconds=900)
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from airsoc.errors import ConfigIssue

__all__ = [
    "AirsocConfig",
    "DeliveryPolicy",
    "Duration",
    "EmailConfig",
    "EscalationConfig",
    "EscalationLevelConfig",
    "EscalationPolicyConfig",
    "FallbackConfig",
    "IncidentRuleConfig",
    "InhibitRuleConfig",
    "Matchers",
    "MonitorConfig",
    "PagerDutyConfig",
    "ReceiverConfig",
    "RouteConfig",
    "SilenceConfig",
    "SlackConfig",
    "StrictModel",
    "SystemConfig",
    "WebhookConfig",
    "parse_duration",
]

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Return a duration from ``"30s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"`` or seconds.

    >>> parse_duration("1h30m")
    Traceback (most recent call last):
    ...
    ValueError: invalid duration '1h30m': use a number and one unit, e.g. 30s, 15m, 1h, 7d
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    raise ValueError(
        f"invalid duration {value!r}: use a number and one unit, e.g. 30s, 15m, 1h, 7d"
    )


def _format_duration(value: timedelta) -> str:
    # Keep sub-second precision, so a dumped duration reads back the same.
    text = f"{value.total_seconds():.6f}".rstrip("0").rstrip(".")
    return f"{text}s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(_format_duration, return_type=str)
]


class StrictModel(BaseModel):
    """A config model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FallbackConfig(StrictModel):
    """What a system answers with when it is put in fallback."""

    type: Literal["rules", "scripted", "human_handoff"]
    path: str | None = None
    message: str | None = None


class SystemConfig(StrictModel):
    """An AI system airsoc watches and protects."""

    kind: Literal[
        "tabular-classifier", "tabular-regressor", "llm-app", "rag-app", "ranker", "other"
    ]
    owner: str
    criticality: Literal["low", "medium", "high", "critical"] = "medium"
    fallback: FallbackConfig | None = None
    description: str = ""


def _check_matchers(values: list[str]) -> list[str]:
    from airsoc.alerting.matchers import parse_matcher

    for value in values:
        parse_matcher(value)
    return values


Matchers = Annotated[list[str], AfterValidator(_check_matchers)]
"""A list of Alertmanager label matchers (``severity =~ "sev1|sev2"``), checked on load."""


def _check_failure_mode(value: str | None) -> str | None:
    if value is not None:
        from airsoc.errors import AirsocError
        from airsoc.incidents.taxonomy import failure_mode

        try:
            return failure_mode(value).name
        except AirsocError as exc:
            raise ValueError(exc.message) from None
    return value


def _check_severity(value: str | None) -> str | None:
    if value is not None:
        from airsoc.errors import AirsocError
        from airsoc.incidents.lifecycle import parse_severity

        try:
            return parse_severity(value).value
        except AirsocError as exc:
            raise ValueError(exc.message) from None
    return value


FailureModeName = Annotated[str | None, AfterValidator(_check_failure_mode)]
SeverityValue = Annotated[str | None, AfterValidator(_check_severity)]


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


class ReceiverConfig(StrictModel):
    """Where notifications go; each key is one integration, and a receiver may have several."""

    slack: SlackConfig | None = None
    email: EmailConfig | None = None
    webhook: WebhookConfig | None = None
    pagerduty: PagerDutyConfig | None = None


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


class IncidentRuleConfig(StrictModel):
    """When an alert group becomes an incident, and what the incident carries."""

    when: str
    declare: bool = True
    severity: SeverityValue = None
    failure_mode: FailureModeName = None
    escalation: str | None = Field(default=None, description="An escalation policy name")

    @field_validator("when")
    @classmethod
    def _valid_condition(cls, value: str) -> str:
        from airsoc.response.conditions import compile_condition

        compile_condition(value)
        return value


class EscalationLevelConfig(StrictModel):
    """Page ``receiver`` when the incident is still not acknowledged ``after`` its declaration."""

    after: Duration
    receiver: str


class EscalationPolicyConfig(StrictModel):
    """Levels paged one after the other until someone acknowledges."""

    levels: list[EscalationLevelConfig] = Field(min_length=1)


SeverityName = Literal["sev1", "sev2", "sev3", "sev4", "sev5"]


def _default_cadence() -> dict[SeverityName, timedelta]:
    return {
        "sev1": timedelta(minutes=30),
        "sev2": timedelta(hours=1),
        "sev3": timedelta(hours=4),
        "sev4": timedelta(hours=24),
        "sev5": timedelta(hours=72),
    }


class EscalationConfig(StrictModel):
    """Escalation policies and the status-update cadence per severity."""

    policies: dict[str, EscalationPolicyConfig] = Field(default_factory=dict)
    default_policy: str | None = None
    status_cadence: dict[SeverityName, Duration] = Field(default_factory=_default_cadence)
    status_receiver: str | None = None


class AirsocConfig(StrictModel):
    """The whole ``airsoc.yaml``."""

    systems: dict[str, SystemConfig] = Field(default_factory=dict)
    monitors: list[MonitorConfig] = Field(default_factory=list)
    routes: RouteConfig | None = None
    receivers: dict[str, ReceiverConfig] = Field(default_factory=dict)
    incident_rules: list[IncidentRuleConfig] = Field(default_factory=list)
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    silences: list[SilenceConfig] = Field(default_factory=list)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    templates: str | None = Field(default=None, description="A folder of templates to override")
    playbooks: list[str] = Field(default_factory=list)

    def reference_issues(self) -> list[ConfigIssue]:
        """Return every reference to an undefined receiver, system or escalation policy.

        >>> cfg = AirsocConfig.model_validate({"routes": {"receiver": "nobody"}})
        >>> [str(i) for i in cfg.reference_issues()]
        ["routes.receiver: unknown receiver; defined: none (got 'nobody')"]
        """
        issues: list[ConfigIssue] = []
        known = ", ".join(sorted(self.receivers)) or "none"

        def receiver(loc: str, name: str | None) -> None:
            if name is not None and name not in self.receivers:
                issues.append(ConfigIssue(loc, f"unknown receiver; defined: {known}", name))

        def walk(route: RouteConfig, loc: str) -> None:
            receiver(f"{loc}.receiver", route.receiver)
            for i, child in enumerate(route.routes):
                walk(child, f"{loc}.routes[{i}]")

        if self.routes is not None:
            if self.routes.receiver is None:
                issues.append(ConfigIssue("routes.receiver", "the root route needs a receiver"))
            if self.routes.matchers:
                issues.append(ConfigIssue("routes.matchers", "the root route matches everything"))
            walk(self.routes, "routes")
        for i, monitor in enumerate(self.monitors):
            if self.systems and monitor.system not in self.systems:
                issues.append(
                    ConfigIssue(f"monitors[{i}].system", "unknown system", monitor.system)
                )
        names = [m.name for m in self.monitors]
        for i, name in enumerate(names):
            if name in names[:i]:
                issues.append(ConfigIssue(f"monitors[{i}].name", "duplicate monitor name", name))
        policies = self.escalation.policies
        for name, policy in policies.items():
            for j, level in enumerate(policy.levels):
                receiver(f"escalation.policies.{name}.levels[{j}].receiver", level.receiver)
        receiver("escalation.status_receiver", self.escalation.status_receiver)
        chosen = [("escalation.default_policy", self.escalation.default_policy)] + [
            (f"incident_rules[{i}].escalation", r.escalation)
            for i, r in enumerate(self.incident_rules)
        ]
        for loc, policy_name in chosen:
            if policy_name is not None and policy_name not in policies:
                issues.append(ConfigIssue(loc, "unknown escalation policy", policy_name))
        return issues
