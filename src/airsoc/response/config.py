"""The response sections of ``airsoc.yaml``: incident rules, escalation, playbooks, governance.

Example:
    >>> ResponseSection.model_validate(
    ...     {"incident_rules": [{"when": 'severity == "sev1"'}]}).incident_rules[0].declare
    True
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from airsoc.errors import ExpressionError
from airsoc.incidents.config import FailureModeName, SeverityName, SeverityValue
from airsoc.response.conditions import compile_condition
from airsoc.response.governance import GovernanceConfig
from airsoc.types import Duration, StrictModel

__all__ = [
    "EscalationConfig",
    "EscalationLevelConfig",
    "EscalationPolicyConfig",
    "IncidentRuleConfig",
    "ResponseSection",
]


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
        try:
            compile_condition(value)
        except ExpressionError as exc:
            # As a ValueError the loader names the file and the key: incident_rules[0].when
            raise ValueError(exc.message) from None
        return value


class EscalationLevelConfig(StrictModel):
    """Page ``receiver`` when the incident is still not acknowledged ``after`` its declaration."""

    after: Duration
    receiver: str


class EscalationPolicyConfig(StrictModel):
    """Levels paged one after the other until someone acknowledges."""

    levels: list[EscalationLevelConfig] = Field(min_length=1)


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


class ResponseSection(StrictModel):
    """The sections of ``airsoc.yaml`` response owns."""

    incident_rules: list[IncidentRuleConfig] = Field(default_factory=list)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    playbooks: list[str] = Field(default_factory=list)
    governance: GovernanceConfig = Field(default_factory=GovernanceConfig)
