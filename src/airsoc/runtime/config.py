"""``airsoc.yaml``, composed from the sections each domain owns, validated whole.

Lineage owns ``systems``, monitoring ``monitors``, alerting ``routes``, ``receivers``,
``inhibit_rules``, ``silences`` and ``templates``, response ``incident_rules``, ``escalation``,
``playbooks`` and ``governance``, telemetry ``telemetry``, reporting ``regulatory``.
:func:`parse_config` checks the whole file at once; references across sections (a monitor's
system, an escalation level's receiver) are checked by :meth:`AirsocConfig.reference_issues`.

Example:
    >>> cfg = parse_config("systems: {fraud-detector: {kind: tabular-classifier, owner: risk-ml, "
    ...                    "criticality: high}}")
    >>> cfg.systems["fraud-detector"].criticality
    'high'
    >>> parse_config("systems: {fraud: {kind: tabular-classifier, owner: risk, colour: red}}")
    Traceback (most recent call last):
    ...
    airsoc.errors.ConfigError: systems.fraud.colour: unknown key (got 'red')
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from airsoc.alerting.config import AlertingSection
from airsoc.config.loader import read_text, validate_yaml
from airsoc.errors import ConfigError, ConfigIssue
from airsoc.lineage.config import LineageSection
from airsoc.monitoring.config import MonitoringSection, missing_needs
from airsoc.monitoring.monitors import MonitorEvaluator
from airsoc.reporting.config import RegulatorySection
from airsoc.response.actions import ActionRegistry
from airsoc.response.config import ResponseSection
from airsoc.response.playbooks import Playbook, load_playbooks
from airsoc.runtime.registries import build_registries
from airsoc.telemetry.config import TelemetrySection

__all__ = [
    "STARTER_CONFIG",
    "AirsocConfig",
    "check_config",
    "load_checked_config",
    "load_config",
    "parse_config",
]


class AirsocConfig(
    LineageSection,
    MonitoringSection,
    AlertingSection,
    ResponseSection,
    TelemetrySection,
    RegulatorySection,
):
    """The whole ``airsoc.yaml``: every domain's sections."""

    def reference_issues(self) -> list[ConfigIssue]:
        """Return every reference to an undefined receiver, system or escalation policy.

        >>> cfg = AirsocConfig.model_validate({"routes": {"receiver": "nobody"}})
        >>> [str(i) for i in cfg.reference_issues()]
        ["routes.receiver: unknown receiver; defined: none (got 'nobody')"]
        """
        issues = self.receiver_issues()
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
        receivers = [
            (f"escalation.policies.{name}.levels[{j}].receiver", level.receiver)
            for name, policy in policies.items()
            for j, level in enumerate(policy.levels)
        ] + [("escalation.status_receiver", self.escalation.status_receiver)]
        for loc, receiver in receivers:
            issue = self.receiver_issue(loc, receiver)
            if issue:
                issues.append(issue)
        chosen = [("escalation.default_policy", self.escalation.default_policy)] + [
            (f"incident_rules[{i}].escalation", r.escalation)
            for i, r in enumerate(self.incident_rules)
        ]
        for loc, policy_name in chosen:
            if policy_name is not None and policy_name not in policies:
                issues.append(ConfigIssue(loc, "unknown escalation policy", policy_name))
        return issues


def load_config(path: str | Path) -> AirsocConfig:
    """Return the validated configuration in ``path``; raise :class:`ConfigError` otherwise."""
    return parse_config(read_text(path), source=str(path))


def parse_config(text: str, *, source: str | None = None) -> AirsocConfig:
    """Return the validated configuration in the YAML ``text``.

    A file that defines nothing is an error: applied by a hot reload, it would stop all
    monitoring without a word.

    >>> parse_config("# systems: {}")
    Traceback (most recent call last):
    ...
    airsoc.errors.ConfigError: <root>: the file defines nothing (systems, monitors, routes, ...
    """
    config = validate_yaml(AirsocConfig, text, source=source)
    if not any(getattr(config, name) for name in config.model_fields_set):
        raise ConfigError(
            [
                ConfigIssue(
                    "",
                    "the file defines nothing (systems, monitors, routes, receivers, "
                    "incident_rules, playbooks); see `airsoc init` for a starter file",
                )
            ],
            source=source,
        )
    return config


def check_config(
    config: AirsocConfig,
    *,
    base_dir: str | Path = ".",
    registry: ActionRegistry | None = None,
    evaluators: Mapping[str, MonitorEvaluator] | None = None,
    source: str | None = None,
) -> list[Playbook]:
    """Check references (receivers, systems, detectors) and load the listed playbooks; raise
    one error listing every issue.

    Detectors are checked against ``evaluators`` (default: the built-ins and installed
    plugins), so a monitor naming a detector nobody registered fails here, not on every run.
    """
    issues: list[ConfigIssue] = list(config.reference_issues())
    if evaluators is None:
        evaluators = build_registries().evaluators
    known = ", ".join(sorted(evaluators))
    for i, monitor in enumerate(config.monitors):
        if monitor.detector not in evaluators:
            issues.append(
                ConfigIssue(
                    f"monitors[{i}].detector", f"unknown detector; known: {known}", monitor.detector
                )
            )
        for key in missing_needs(monitor):
            issues.append(
                ConfigIssue(f"monitors[{i}].{key}", f"the {monitor.detector} detector needs it")
            )
    playbooks: list[Playbook] = []
    if config.playbooks:
        try:
            playbooks = load_playbooks(
                config.playbooks,
                base_dir=base_dir,
                registry=registry if registry is not None else build_registries().actions,
            )
        except ConfigError as exc:
            issues.extend(exc.issues)
    if config.templates:
        folder = Path(base_dir) / config.templates
        if not folder.is_dir():
            issues.append(ConfigIssue("templates", "folder not found", config.templates))
    if issues:
        raise ConfigError(issues, source=source)
    return playbooks


def load_checked_config(
    path: str | Path,
    *,
    registry: ActionRegistry | None = None,
    evaluators: Mapping[str, MonitorEvaluator] | None = None,
) -> tuple[AirsocConfig, list[Playbook]]:
    """Return the configuration in ``path`` and its playbooks, checked whole: exactly what
    ``airsoc up`` applies and ``airsoc config check`` reports on."""
    config = load_config(path)
    base_dir = Path(path).parent
    playbooks = check_config(
        config, base_dir=base_dir, registry=registry, evaluators=evaluators, source=str(path)
    )
    if config.templates and not Path(config.templates).is_absolute():
        # Paths in the file are relative to the file, wherever airsoc runs from.
        config = config.model_copy(update={"templates": str(base_dir / config.templates)})
    return config, playbooks


STARTER_CONFIG = """\
# airsoc.yaml: the systems airsoc protects, how it watches them, and who it tells.
# Check it with `airsoc config check airsoc.yaml`; a file with any error changes nothing.

systems:
  fraud-detector:
    kind: tabular-classifier      # tabular-classifier | tabular-regressor | llm-app | rag-app
    owner: risk-ml                # team that owns the model
    criticality: high             # low | medium | high | critical
    # fallback: {type: rules, path: fallbacks/fraud_rules.py:score}

monitors: []
  # - name: fraud-input-drift
  #   system: fraud-detector
  #   detector: data_drift        # a failure mode's detector
  #   window: 1h
  #   reference: {model_version: production}
  #   every: 15m

# routes:                         # Alertmanager-style routing tree
#   receiver: ml-oncall
#   group_by: [system, failure_mode]

receivers: {}
  # ml-oncall: {slack: {webhook_url_env: SLACK_WEBHOOK_URL}}

incident_rules: []
  # - when: 'failure_mode == "data_poisoning" or severity in ["sev1", "sev2"]'
  #   declare: true

playbooks: []
  # - playbooks/*.yaml

# governance:                     # what criticality means (docs/governance.md)
#   criticality:
#     high: {severity_floor: sev2, destructive_steps: require_approval}
#   slas:
#     detection: {sev1: 15m, sev2: 1h}
"""
