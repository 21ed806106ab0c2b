"""Loading ``airsoc.yaml``: parse, validate whole, and report every problem with its location.

Example:
    >>> parse_config("systems: {fraud: {kind: tabular-classifier, owner: risk, colour: red}}")
    Traceback (most recent call last):
    ...
    airsoc.errors.ConfigError: systems.fraud.colour: unknown key (got 'red')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from airsoc.config.schema import AirsocConfig
from airsoc.errors import ConfigError, ConfigIssue

__all__ = ["STARTER_CONFIG", "format_loc", "issues_from_validation", "load_config", "parse_config"]


def load_config(path: str | Path) -> AirsocConfig:
    """Return the validated configuration in ``path``; raise :class:`ConfigError` otherwise."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue("", "file not found")], source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue("", f"cannot read file: {exc}")], source=source) from None
    return parse_config(text, source=source)


def parse_config(text: str, *, source: str | None = None) -> AirsocConfig:
    """Return the validated configuration in the YAML ``text``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            [ConfigIssue(where, f"not valid YAML: {problem}")], source=source
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigIssue("", "the top level must be a mapping of sections", type(data).__name__)],
            source=source,
        )
    try:
        return AirsocConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(issues_from_validation(exc), source=source) from None


def issues_from_validation(exc: ValidationError) -> list[ConfigIssue]:
    """Return one :class:`ConfigIssue` per pydantic error, with ``a.b[0].c`` locations."""
    issues = []
    for err in exc.errors():
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        issues.append(ConfigIssue(format_loc(err["loc"]), message, err.get("input")))
    return issues


def format_loc(loc: tuple[Any, ...]) -> str:
    """Return a pydantic location as ``monitors[0].window``.

    >>> format_loc(("monitors", 0, "window"))
    'monitors[0].window'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


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
"""
