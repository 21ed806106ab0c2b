"""Governance: what a system's criticality means for its incidents and its playbooks.

The ``governance`` section of ``airsoc.yaml`` sets, per criticality (``low``, ``medium``,
``high``, ``critical``, from ``systems.<name>.criticality``):

- ``severity_floor``: an incident on such a system is declared at least this severe; its severity
  is the higher of what was decided (rule, alert label, the failure mode's default, or the person
  declaring) and the floor, and the incident's timeline records why;
- ``destructive_steps``: ``as_written`` (the playbook decides which steps wait for an approval)
  or ``require_approval`` (every destructive step waits for ``approval_role``, even if the
  playbook gave it no ``approval``);
- ``four_eyes``: ``destructive`` (whoever started a run cannot approve its destructive steps)
  or ``all`` (nor any step of it).

It also holds the SLAs (time to detect, contain and notify, per severity) the charter shows.
The defaults are documented in ``docs/governance.md``.

Example:
    >>> rules = GovernanceConfig()
    >>> decide_severity("sev3", criticality="critical", rules=rules)
    SeverityDecision(severity='sev2', decided='sev3', floor='sev2', raised=True, reason='...')
    >>> decide_severity("sev1", criticality="critical", rules=rules).severity
    'sev1'
    >>> decide_severity("sev4", criticality="low", rules=rules).floor is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.errors import AirsocError
from airsoc.incidents.config import SeverityName, SeverityValue
from airsoc.incidents.lifecycle import parse_role, parse_severity
from airsoc.incidents.taxonomy import failure_mode as lookup_failure_mode
from airsoc.lineage.config import Criticality
from airsoc.lineage.models import SystemRow
from airsoc.response.playbooks import ApprovalSpec, Step
from airsoc.types import Duration, StrictModel

__all__ = [
    "CRITICALITIES",
    "SEVERITY_DEFINITIONS",
    "ApprovalRequirement",
    "CriticalityRuleConfig",
    "GovernanceConfig",
    "SeverityDecision",
    "SlaConfig",
    "approval_requirement",
    "decide_severity",
    "declaration_severity",
    "system_criticality",
]

CRITICALITIES: tuple[Criticality, ...] = ("low", "medium", "high", "critical")

#: What each severity means; the charter prints these.
SEVERITY_DEFINITIONS: dict[SeverityName, str] = {
    "sev1": "Critical: a system harms people, money or trust now (e.g. poisoned decisions served, "
    "secrets leaking); all hands, page at once.",
    "sev2": "Major: a system is compromised or badly degraded for many requests; contain within "
    "the hour.",
    "sev3": "Moderate: degraded quality or a contained attack with limited reach; work it today.",
    "sev4": "Minor: a weak signal or a small, bounded effect; work it in business hours.",
    "sev5": "Informational: worth recording and watching; no user impact.",
}


class CriticalityRuleConfig(StrictModel):
    """What one criticality level means for severity and for approvals."""

    severity_floor: SeverityValue = Field(
        default=None, description="Incidents on such systems are at least this severe"
    )
    destructive_steps: Literal["as_written", "require_approval"] = "as_written"
    approval_role: str = "incident_commander"
    approval_timeout: Duration | None = None
    on_timeout: Literal["proceed", "skip", "abort"] = "abort"
    four_eyes: Literal["destructive", "all"] = "destructive"

    @field_validator("approval_role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        try:
            return parse_role(value).value
        except AirsocError as exc:
            raise ValueError(exc.message) from None

    def approval_spec(self) -> ApprovalSpec:
        """Return the approval a destructive step waits for when the playbook gives none."""
        return ApprovalSpec(
            role=self.approval_role, timeout=self.approval_timeout, on_timeout=self.on_timeout
        )


def _default_rules() -> dict[Criticality, CriticalityRuleConfig]:
    return {
        "low": CriticalityRuleConfig(),
        "medium": CriticalityRuleConfig(severity_floor="sev4"),
        "high": CriticalityRuleConfig(severity_floor="sev3"),
        "critical": CriticalityRuleConfig(
            severity_floor="sev2", destructive_steps="require_approval", four_eyes="all"
        ),
    }


def _sla(*minutes: int) -> dict[SeverityName, timedelta]:
    names: tuple[SeverityName, ...] = ("sev1", "sev2", "sev3", "sev4", "sev5")
    return {name: timedelta(minutes=m) for name, m in zip(names, minutes, strict=True)}


_DEFAULT_SLAS = {
    "detection": (15, 60, 240, 1440, 4320),
    "containment": (60, 240, 1440, 4320, 10080),
    "notification": (15, 30, 120, 480, 1440),
}


class SlaConfig(StrictModel):
    """Service levels per severity: detection (fault to declaration), containment (declaration
    to contained) and notification (declaration to the first notice sent). A severity left out
    keeps its default.

    >>> SlaConfig.model_validate({"detection": {"sev2": "20m"}}).detection["sev1"]
    datetime.timedelta(seconds=900)
    """

    @model_validator(mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        merged = dict(value)
        for measure, minutes in _DEFAULT_SLAS.items():
            given = value.get(measure)
            if isinstance(given, dict):
                merged[measure] = {**_sla(*minutes), **given}
        return merged

    detection: dict[SeverityName, Duration] = Field(
        default_factory=lambda: _sla(*_DEFAULT_SLAS["detection"])
    )
    containment: dict[SeverityName, Duration] = Field(
        default_factory=lambda: _sla(*_DEFAULT_SLAS["containment"])
    )
    notification: dict[SeverityName, Duration] = Field(
        default_factory=lambda: _sla(*_DEFAULT_SLAS["notification"])
    )


class GovernanceConfig(StrictModel):
    """The ``governance`` section: rules per criticality and the SLAs.

    A criticality left out keeps its default rule.

    >>> GovernanceConfig.model_validate(
    ...     {"criticality": {"low": {"severity_floor": "sev3"}}}).rule("low").severity_floor
    'sev3'
    >>> GovernanceConfig().rule("critical").destructive_steps
    'require_approval'
    """

    criticality: dict[Criticality, CriticalityRuleConfig] = Field(default_factory=_default_rules)
    slas: SlaConfig = Field(default_factory=SlaConfig)

    def rule(self, criticality: str) -> CriticalityRuleConfig:
        """Return the rule of ``criticality`` (the default rule where the file gives none)."""
        for rules in (self.criticality, _default_rules()):
            for name, rule in rules.items():
                if name == criticality:
                    return rule
        return CriticalityRuleConfig()


@dataclass(frozen=True)
class SeverityDecision:
    """The severity an incident is declared with, and why (``raised`` when the floor won)."""

    severity: str
    decided: str
    floor: str | None
    raised: bool
    reason: str


def decide_severity(
    decided: str, *, criticality: str | None, rules: GovernanceConfig, system: str = "the system"
) -> SeverityDecision:
    """Return the higher of ``decided`` and the floor of ``criticality``, with the reason."""
    sev = parse_severity(decided)
    floor = rules.rule(criticality).severity_floor if criticality else None
    if floor is None:
        return SeverityDecision(sev.value, sev.value, None, False, "")
    floor_sev = parse_severity(floor)
    if floor_sev.rank < sev.rank:
        return SeverityDecision(
            floor_sev.value,
            sev.value,
            floor_sev.value,
            True,
            f"raised from {sev.value} to the severity floor {floor_sev.value} of "
            f"{criticality} systems ({system} is {criticality})",
        )
    return SeverityDecision(
        sev.value, sev.value, floor_sev.value, False, f"at or above the floor {floor_sev.value}"
    )


def declaration_severity(
    session: Session,
    *,
    system: str,
    failure_mode: str,
    severity: str | None,
    rules: GovernanceConfig,
) -> SeverityDecision:
    """Return the severity to declare an incident with on ``system``: ``severity`` (or the
    failure mode's default), raised to the floor of the system's criticality.

    A system not in the registry has no criticality, hence no floor.
    """
    mode = lookup_failure_mode(failure_mode)
    decided = parse_severity(severity or mode.default_severity).value
    criticality = system_criticality(session, system=system)
    return decide_severity(decided, criticality=criticality, rules=rules, system=system)


def system_criticality(session: Session, *, system: str) -> str | None:
    """Return the criticality of a registered system, or None when it is not registered."""
    return session.execute(
        select(SystemRow.criticality).where(SystemRow.name == system)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class ApprovalRequirement:
    """The approval a step waits for (None: none), whether four-eyes applies, and why."""

    spec: ApprovalSpec | None
    four_eyes: bool
    reason: str


def approval_requirement(
    step: Step, *, destructive: bool, criticality: str | None, rules: GovernanceConfig
) -> ApprovalRequirement:
    """Return the approval ``step`` needs on a system of ``criticality``.

    The playbook's own ``approval`` always holds; the rule adds one to destructive steps that
    have none when it says ``require_approval``, and widens four-eyes to every step with
    ``four_eyes: all``.

    >>> step = Step.model_validate({"id": "contain", "action": "rollback"})
    >>> req = approval_requirement(step, destructive=True, criticality="critical",
    ...                            rules=GovernanceConfig())
    >>> req.spec.role, req.four_eyes, req.reason
    ('incident_commander', True, 'critical systems require approval of destructive steps')
    >>> approval_requirement(step, destructive=True, criticality="low",
    ...                      rules=GovernanceConfig()).spec is None
    True
    """
    rule = rules.rule(criticality) if criticality else None
    four_eyes = destructive or (rule is not None and rule.four_eyes == "all")
    if step.approval is not None:
        reason = "the playbook asks for it"
        if rule is not None and rule.four_eyes == "all" and not destructive:
            reason += f"; four-eyes on every step of {criticality} systems"
        return ApprovalRequirement(step.approval, four_eyes, reason)
    if rule is not None and destructive and rule.destructive_steps == "require_approval":
        return ApprovalRequirement(
            rule.approval_spec(),
            four_eyes,
            f"{criticality} systems require approval of destructive steps",
        )
    return ApprovalRequirement(None, four_eyes, "")
