"""Playbooks: the YAML format, loading, whole-file validation with locations, and matching.

A playbook names the incidents it applies to (``on``: failure mode, severity, system, labels) and
its ``steps``. Each step has an ``action`` and its parameters (``with``), and optionally ``when``
(a condition), ``foreach`` (a list; the step runs once per ``item``), ``approval`` (role, timeout,
``on_timeout``: ``proceed``, ``skip`` or ``abort``), ``on_failure`` (``abort``, ``continue``,
``compensate``, or ``{retry: {attempts, backoff}, then: ...}``) and ``timeout``.

Checking a playbook validates the YAML, every action name and parameter, every condition and
template, and that templates only read steps that come earlier; every error names its location.

Example:
    >>> pb = parse_playbook('''
    ... name: drift
    ... on: {failure_mode: data_drift}
    ... steps:
    ...   - id: snap
    ...     action: capture_evidence
    ...   - id: tell
    ...     action: notify
    ...     with: {receiver: ml-oncall}
    ... ''')
    >>> [s.id for s in pb.steps], pb.applies_to({"failure_mode": "data_drift", "severity": "sev4",
    ...                                           "system": "x", "labels": {}})
    (['snap', 'tell'], True)
    >>> parse_playbook("name: x\\non: {}\\nsteps: [{id: a, action: nope}]")
    Traceback (most recent call last):
    ...
    airsoc.errors.ConfigError: steps[0].action: unknown action 'nope'; known: ... (got 'nope')
"""

from __future__ import annotations

import glob
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from airsoc.config.loader import issues_from_validation
from airsoc.errors import AirsocError, ConfigError, ConfigIssue, ExpressionError
from airsoc.response.actions import ActionRegistry
from airsoc.response.conditions import compile_condition, find_templates
from airsoc.response.registry import default_registry
from airsoc.types import Duration

__all__ = [
    "DEFAULT_PLAYBOOKS_DIR",
    "ApprovalSpec",
    "OnFailure",
    "Playbook",
    "PlaybookMatch",
    "RetrySpec",
    "Step",
    "check_playbook",
    "default_playbooks",
    "load_playbook",
    "load_playbooks",
    "parse_playbook",
]

DEFAULT_PLAYBOOKS_DIR = Path(__file__).parent / "playbooks"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ApprovalSpec(_Strict):
    """Who must approve a step, and what happens when nobody does in time."""

    role: str
    timeout: Duration | None = None
    on_timeout: Literal["proceed", "skip", "abort"] = "abort"

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        from airsoc.incidents.lifecycle import parse_role

        try:
            return parse_role(value).value
        except AirsocError as exc:
            raise ValueError(exc.message) from None


class RetrySpec(_Strict):
    """Retry a failed step ``attempts`` times in all, waiting ``backoff`` (doubling) between."""

    attempts: int = Field(default=3, ge=1, le=20)
    backoff: Duration = timedelta(seconds=5)


class OnFailure(_Strict):
    """What a failed step does: retry first (optional), then continue, abort or compensate."""

    retry: RetrySpec | None = None
    then: Literal["abort", "continue", "compensate"] = "abort"


def _on_failure(value: Any) -> Any:
    if isinstance(value, str):
        if value == "retry":
            return {"retry": {}}
        return {"then": value}
    return value


class Step(_Strict):
    """One step of a playbook."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    action: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    when: str | None = None
    foreach: str | None = None
    approval: ApprovalSpec | None = None
    on_failure: OnFailure = Field(default_factory=OnFailure)
    timeout: Duration | None = None
    description: str = ""

    @field_validator("on_failure", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return _on_failure(value)


class PlaybookMatch(_Strict):
    """Which incidents a playbook applies to; a list means any of its values."""

    failure_mode: str | list[str] | None = None
    severity: str | list[str] | None = None
    system: str | list[str] | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class Playbook(_Strict):
    """A validated playbook."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    on: PlaybookMatch = Field(default_factory=PlaybookMatch)
    steps: list[Step] = Field(min_length=1)

    def applies_to(self, incident: Mapping[str, Any]) -> bool:
        """Return whether this playbook's ``on`` matches ``incident`` (a plain dict)."""

        def ok(want: str | list[str] | None, value: Any) -> bool:
            if want is None:
                return True
            return value in ([want] if isinstance(want, str) else want)

        labels = incident.get("labels") or {}
        return (
            ok(self.on.failure_mode, incident.get("failure_mode"))
            and ok(self.on.severity, incident.get("severity"))
            and ok(self.on.system, incident.get("system"))
            and all(labels.get(k) == v for k, v in self.on.labels.items())
        )

    def step(self, step_id: str) -> Step:
        """Return the step called ``step_id``."""
        return next(s for s in self.steps if s.id == step_id)


def _yaml_issue(exc: yaml.YAMLError) -> ConfigIssue:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return ConfigIssue(where, f"not valid YAML: {getattr(exc, 'problem', None) or exc}")


def parse_playbook(
    text: str, *, source: str | None = None, registry: ActionRegistry | None = None
) -> Playbook:
    """Return the playbook in the YAML ``text``, validated whole, or raise with every issue."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_issue(exc)], source=source) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigIssue("", "a playbook must be a mapping", type(data).__name__)], source=source
        )
    # YAML 1.1 reads a bare `on` key as the boolean True.
    if True in data and "on" not in data:
        data["on"] = data.pop(True)
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(issues_from_validation(exc), source=source) from None
    issues = check_playbook(playbook, registry or default_registry())
    if issues:
        raise ConfigError(issues, source=source)
    return playbook


def check_playbook(playbook: Playbook, registry: ActionRegistry) -> list[ConfigIssue]:
    """Return every semantic problem: actions, parameters, conditions, templates, step order."""
    issues: list[ConfigIssue] = []
    seen: list[str] = []
    for i, step in enumerate(playbook.steps):
        loc = f"steps[{i}]"
        if step.id in seen:
            issues.append(ConfigIssue(f"{loc}.id", "duplicate step id", step.id))
        try:
            action = registry.get(step.action)
        except AirsocError as exc:
            issues.append(ConfigIssue(f"{loc}.action", exc.message, step.action))
            action = None
        scope = {"incident", "steps", "run"} | ({"item", "index"} if step.foreach else set())
        expressions: list[tuple[str, str]] = []
        if step.when:
            expressions.append((f"{loc}.when", step.when))
        if step.foreach:
            foreach = step.foreach.strip()
            if foreach.startswith("{{") and foreach.endswith("}}"):
                foreach = foreach[2:-2].strip()
            expressions.append((f"{loc}.foreach", foreach))
        for key, value in step.with_.items():
            expressions.extend((f"{loc}.with.{key}", t) for t in find_templates(value))
        for where, source in expressions:
            try:
                expr = compile_condition(source)
            except ExpressionError as exc:
                issues.append(ConfigIssue(where, exc.message, source))
                continue
            unknown = expr.names() - scope
            if unknown:
                issues.append(
                    ConfigIssue(
                        where,
                        f"unknown name(s) {', '.join(sorted(unknown))}; "
                        f"use {', '.join(sorted(scope))}",
                        source,
                    )
                )
            for ref in _step_refs(source):
                if ref not in seen:
                    issues.append(
                        ConfigIssue(
                            where, f"reads steps.{ref}, which does not run before it", source
                        )
                    )
        if action is not None:
            issues.extend(_check_params(loc, step, action.params_model))
        seen.append(step.id)
    return issues


def _step_refs(source: str) -> list[str]:
    import re

    return re.findall(r"\bsteps\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)", source)


def _check_params(loc: str, step: Step, model: type[BaseModel]) -> list[ConfigIssue]:
    fields = model.model_fields
    issues = [
        ConfigIssue(
            f"{loc}.with.{key}",
            f"unknown parameter of {step.action}; known: {', '.join(fields) or 'none'}",
            value,
        )
        for key, value in step.with_.items()
        if key not in fields
    ]
    if issues:
        return issues
    # Templated values are only known at run time; check the literal ones now.
    templated = {k for k, v in step.with_.items() if find_templates(v)}
    probe = {k: v for k, v in step.with_.items() if k not in templated}
    if "system" in fields and "system" not in step.with_:
        probe["system"] = "the incident's system"  # filled in from the incident at run time
    try:
        model.model_validate(probe)
    except ValidationError as exc:
        for issue in issues_from_validation(exc):
            top = issue.loc.split(".")[0].split("[")[0]
            if top in templated or (not top and templated):
                continue
            where = f"{loc}.with" + (f".{issue.loc}" if issue.loc else "")
            message = "missing parameter" if issue.message == "Field required" else issue.message
            issues.append(ConfigIssue(where, message, None if top not in probe else issue.value))
    return issues


def load_playbook(path: str | Path, *, registry: ActionRegistry | None = None) -> Playbook:
    """Return the playbook in the file at ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue("", f"cannot read file: {exc}")], source=str(path)) from None
    return parse_playbook(text, source=str(path), registry=registry)


def load_playbooks(
    patterns: Sequence[str],
    *,
    base_dir: str | Path = ".",
    registry: ActionRegistry | None = None,
) -> list[Playbook]:
    """Return every playbook the glob ``patterns`` name (relative to ``base_dir``).

    All files are checked before any is returned: one bad file rejects the whole set, and the
    error lists every issue prefixed with its file.
    """
    registry = registry or default_registry()
    issues: list[ConfigIssue] = []
    found: list[Playbook] = []
    names: dict[str, str] = {}
    for i, pattern in enumerate(patterns):
        full = pattern if Path(pattern).is_absolute() else str(Path(base_dir) / pattern)
        paths = sorted(glob.glob(full))
        if not paths:
            issues.append(ConfigIssue(f"playbooks[{i}]", "matches no file", pattern))
        for path in paths:
            try:
                playbook = load_playbook(path, registry=registry)
            except ConfigError as exc:
                issues.extend(
                    ConfigIssue(
                        f"{path}: {issue.loc}" if issue.loc else path, issue.message, issue.value
                    )
                    for issue in exc.issues
                )
                continue
            if playbook.name in names:
                issues.append(
                    ConfigIssue(
                        f"{path}: name", f"also defined in {names[playbook.name]}", playbook.name
                    )
                )
            names[playbook.name] = path
            found.append(playbook)
    if issues:
        raise ConfigError(issues)
    return found


def default_playbooks(*, registry: ActionRegistry | None = None) -> list[Playbook]:
    """Return the playbooks airsoc ships, one per failure mode."""
    return load_playbooks(["*.yaml"], base_dir=DEFAULT_PLAYBOOKS_DIR, registry=registry)
