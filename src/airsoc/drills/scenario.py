"""Drill scenarios: a strict YAML schema (documented in ``docs/drills.md``), the loader that
reports every problem with its file, key path and line, and the built-in scenarios shipped with
the package.

A scenario declares the fleet it runs on, the traffic (clients, rates, mix, delayed labels and
duration on the simulated clock), injects at simulated times (a fault, a benign change that
must not alarm, or a message to the players), what is expected of the platform, and the
prompts of a tabletop exercise.

Example:
    >>> scenario = parse_scenario('''
    ... name: quiet-hour
    ... fleet: {systems: [fraud-detector]}
    ... traffic:
    ...   duration: 1h
    ...   streams: [{system: fraud-detector, client: checkout, rate: 600}]
    ... injects:
    ...   - {at: 30m, kind: message, params: {text: "Nothing happens."}}
    ... expectations: {no_incident: true}
    ... ''')
    >>> scenario.name, scenario.traffic.duration.total_seconds(), scenario.injects[0].id
    ('quiet-hour', 3600.0, 'message-1')
    >>> parse_scenario("name: x\\nfleet: {systems: [fraud-detector]}\\ntraffic: {duration: 1h}\\n"
    ...                "injects: [{at: 5m, kind: covariate_shift, params: {feature: amount}}]\\n"
    ...                "expectations: {no_incident: true}", source="x.yaml")
    Traceback (most recent call last):
    ...
    airsoc.errors.ConfigError: x.yaml: injects[0].params.system (line 4): Field required (got ...)
"""

from __future__ import annotations

from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import Field, ValidationError, model_validator

from airsoc.config.loader import (
    MAX_BYTES,
    format_loc,
    issues_from_validation,
    load_yaml,
    read_text,
)
from airsoc.drills.injectors import builtin_injectors
from airsoc.errors import ConfigError, ConfigIssue, InputError
from airsoc.types import Duration, JSONValue, NonBlank, StrictModel

__all__ = [
    "BUILTIN_SCENARIOS",
    "ChatStreamSpec",
    "Expectations",
    "ExpectedEscalation",
    "ExpectedFinding",
    "ExpectedIncident",
    "ExpectedRootCause",
    "ExpectedStep",
    "Fleet",
    "Inject",
    "Scenario",
    "StreamSpec",
    "TabletopPrompt",
    "Traffic",
    "builtin_scenario_names",
    "load_scenario",
    "parse_scenario",
]

#: The package folder holding the built-in scenarios (``<name>.yaml``).
BUILTIN_SCENARIOS = files("airsoc.drills") / "scenarios"

Name = Annotated[NonBlank, Field(max_length=200)]
LongText = Annotated[NonBlank, Field(max_length=4000)]
Severity = Literal["sev1", "sev2", "sev3", "sev4"]


class Fleet(StrictModel):
    """The systems the drill runs on and how the platform watches them.

    ``systems`` are systems of the demo fleet (or systems the user registered in the data dir);
    ``config`` is merged key by key into the demo fleet's ``airsoc.yaml`` before the drill
    starts (lists under ``monitors`` and ``playbooks`` are appended to, and a monitor named
    like one of the fleet's changes that one); ``monitor_every`` is
    the monitors' period on the simulated clock.
    """

    kind: Literal["demo"] = "demo"
    systems: Annotated[list[Name], Field(min_length=1)]
    monitor_every: Duration = timedelta(minutes=15)
    approval_timeout: Duration = timedelta(minutes=15)
    config: dict[Name, JSONValue] = Field(default_factory=dict)


class StreamSpec(StrictModel):
    """One client sending one system rows: ``rate`` rows per simulated hour, in requests of
    ``rows_per_request``, drawn with the generator arguments ``mix``; ``labels: false`` sends
    no delayed labels for it."""

    system: Name
    client: Name
    rate: Annotated[float, Field(gt=0, le=10_000_000)]
    rows_per_request: Annotated[int, Field(ge=1, le=10_000)] = 50
    mix: dict[Name, float] = Field(default_factory=dict)
    labels: bool = True


class ChatStreamSpec(StrictModel):
    """People asking a chat system (the support bot) questions through the gateway's chat
    endpoint as the app ``client``: ``rate`` turns per simulated hour from ``users`` people,
    each in a new session every ``turns_per_session`` of their turns; ``mix.policy_share`` of
    the questions are about the policies (only those mentioning one of ``topics``, when given:
    a help widget on the billing page hears about refunds and invoices), the rest account
    requests, greetings and requests for a person."""

    system: Name
    client: Name
    rate: Annotated[float, Field(gt=0, le=1_000_000)]
    users: Annotated[int, Field(ge=1, le=1_000_000)] = 50
    turns_per_session: Annotated[int, Field(ge=1, le=1000)] = 3
    mix: dict[Literal["policy_share"], Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict
    )
    topics: list[Name] = Field(default_factory=list)

    @model_validator(mode="after")
    def _asked(self) -> ChatStreamSpec:
        from airsoc.drills.traffic import chat_questions

        try:
            chat_questions(np.random.default_rng(0), 1, topics=self.topics)
        except InputError as exc:
            raise ValueError(exc.message) from None
        return self


class Traffic(StrictModel):
    """What is sent and for how long: ``duration`` on the simulated clock, in rounds of
    ``step`` (each round sends the traffic due, posts the labels due and runs the platform's
    loop once), with ground truth posted ``label_delay`` after each answer. ``streams`` send
    rows to tabular systems, ``chat`` sends conversations to chat systems."""

    duration: Duration
    step: Duration = timedelta(minutes=5)
    label_delay: Duration = timedelta(minutes=30)
    streams: list[StreamSpec] = Field(default_factory=list)
    chat: list[ChatStreamSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _step_fits(self) -> Traffic:
        if self.step.total_seconds() <= 0:
            raise ValueError("step must be longer than 0s")
        if self.duration < self.step:
            raise ValueError("duration must be at least one step long")
        return self


class Inject(StrictModel):
    """A fault, a benign change or a message at simulated time ``at`` from the start.

    ``kind`` names an injector (``airsoc drill check`` lists them); ``params`` are validated
    by that injector. ``benign: true`` marks a change the platform must not alarm on: an
    incident it explains counts as a false alarm. ``message`` is shown to the players.
    """

    id: Name | None = None
    at: Duration
    kind: Name
    params: dict[Name, JSONValue] = Field(default_factory=dict)
    benign: bool = False
    message: LongText | None = None


class ExpectedIncident(StrictModel):
    """The incident the platform must declare: its failure mode, system, at least this
    severity (``sev1`` is the most severe; with ``exactly: true``, this severity and no more
    severe one), within this long of the first fault."""

    failure_mode: Name
    system: Name | None = None
    severity: Severity | None = None
    exactly: bool = False
    within: Duration | None = None

    @model_validator(mode="after")
    def _exact_needs_severity(self) -> ExpectedIncident:
        if self.exactly and self.severity is None:
            raise ValueError("exactly: true needs a severity")
        return self


class ExpectedStep(StrictModel):
    """A playbook action that must run and succeed on the incident (``within`` of the first
    fault), or with ``forbidden: true`` one that must not run (e.g. no retrain for a pipeline
    fault). ``params`` must be a subset of the step's resolved parameters; ``before`` names an
    action this one must complete before."""

    action: Name
    within: Duration | None = None
    params: dict[Name, JSONValue] = Field(default_factory=dict)
    forbidden: bool = False
    before: Name | None = None


class ExpectedRootCause(StrictModel):
    """What forensics must name: a finding whose subject contains ``subject`` (a client, a
    batch, a feature, a group, a document), and optionally its ``kind``."""

    subject: Name
    kind: Name | None = None


class ExpectedEscalation(StrictModel):
    """An escalation page the routing tree must send because nobody acknowledged the incident:
    to ``receiver`` (at escalation ``level``, 1 the first, when given), within ``within`` of the
    first fault; with ``forbidden: true``, one that must not be sent (the incident was taken in
    time). Scored from the recorded deliveries of the incident's escalation pages."""

    receiver: Name
    level: Annotated[int, Field(ge=1, le=100)] | None = None
    within: Duration | None = None
    forbidden: bool = False


class ExpectedFinding(StrictModel):
    """A finding forensics must record on the incident: one whose title, detail,
    recommendation or data mentions ``mentions`` (case-insensitive), optionally of ``kind``
    (``root_cause``, ``contributing_factor``, ``observation``)."""

    mentions: Name
    kind: Name | None = None


class ExpectedRecovery(StrictModel):
    """Recovery: the action that brings the system back (e.g. ``retrain``), or the incident
    reaching ``phase``."""

    action: Name | None = None
    phase: Name | None = None
    within: Duration | None = None

    @model_validator(mode="after")
    def _something(self) -> ExpectedRecovery:
        if self.action is None and self.phase is None:
            raise ValueError("say which action or incident phase marks the recovery")
        return self


class Expectations(StrictModel):
    """What the platform must do. With ``no_incident: true`` (benign scenarios) no incident
    may be declared at all; otherwise ``incident`` says what must be declared, ``containment``
    and ``steps`` which actions run, ``root_cause`` what forensics names, ``recovery`` what
    completes, ``escalation`` which escalation pages are sent; ``findings`` what else
    forensics must cover (e.g. the guards, how fast a cascade spread); ``other_incidents``
    further incidents the same faults must raise, each of its own failure mode (e.g. the
    harmful output a poisoned document makes a bot produce, at its own severity).
    ``max_false_alarms`` is how many incidents no inject explains are tolerated."""

    no_incident: bool = False
    incident: ExpectedIncident | None = None
    other_incidents: list[ExpectedIncident] = Field(default_factory=list)
    containment: list[ExpectedStep] = Field(default_factory=list)
    steps: list[ExpectedStep] = Field(default_factory=list)
    root_cause: ExpectedRootCause | None = None
    findings: list[ExpectedFinding] = Field(default_factory=list)
    recovery: ExpectedRecovery | None = None
    escalation: list[ExpectedEscalation] = Field(default_factory=list)
    max_false_alarms: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _consistent(self) -> Expectations:
        if self.no_incident and (
            self.incident
            or self.containment
            or self.root_cause
            or self.recovery
            or self.escalation
            or self.findings
            or self.other_incidents
        ):
            raise ValueError("no_incident: true cannot also expect an incident or its response")
        if not self.no_incident and self.incident is None:
            raise ValueError("expect an incident, or say no_incident: true")
        return self


class TabletopPrompt(StrictModel):
    """A question for the players in tabletop mode, asked at ``at`` (or right after the
    inject ``after``): optional ``choices``, the ``ideal`` answer and the playbook step it
    corresponds to (for the debrief)."""

    id: Name | None = None
    at: Duration | None = None
    after: Name | None = None
    prompt: LongText
    choices: list[Name] = Field(default_factory=list)
    ideal: LongText | None = None
    playbook_step: Name | None = None


class Scenario(StrictModel):
    """A drill: the fleet, the traffic, the injects, the expectations and tabletop prompts."""

    name: Name
    description: LongText | None = None
    seed: int = 0
    fleet: Fleet
    traffic: Traffic
    injects: list[Inject] = Field(default_factory=list)
    expectations: Expectations
    tabletop: list[TabletopPrompt] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids_and_times(self) -> Scenario:
        counts: dict[str, int] = {}
        named: list[Inject] = []
        for inject in self.injects:
            if inject.id is None:
                counts[inject.kind] = counts.get(inject.kind, 0) + 1
                inject = inject.model_copy(update={"id": f"{inject.kind}-{counts[inject.kind]}"})
            named.append(inject)
        ids = [i.id for i in named]
        duplicate = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate is not None:
            raise ValueError(f"two injects have the id {duplicate!r}")
        late = next((i for i in named if i.at > self.traffic.duration), None)
        if late is not None:
            raise ValueError(f"inject {late.id!r} is after the end of the traffic")
        for prompt in self.tabletop:
            if prompt.after is not None and prompt.after not in ids:
                raise ValueError(f"tabletop prompt refers to no inject {prompt.after!r}")
        object.__setattr__(self, "injects", sorted(named, key=lambda i: i.at))
        return self

    @property
    def faults(self) -> list[Inject]:
        """Return the injects that are faults (not benign, not messages), in time order."""
        return [i for i in self.injects if not i.benign and i.kind != "message"]


def builtin_scenario_names() -> list[str]:
    """Return the names of the built-in scenarios.

    >>> "benign-week" in builtin_scenario_names()
    True
    """
    return sorted(
        p.name.removesuffix(".yaml")
        for p in BUILTIN_SCENARIOS.iterdir()
        if p.name.endswith(".yaml")
    )


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Return the scenario in the file ``path_or_name``, or the built-in scenario of that name;
    raise :class:`~airsoc.errors.ConfigError` naming the file, key path and line of every
    problem, or :class:`~airsoc.errors.InputError` when neither exists.

    >>> load_scenario("benign-week").expectations.no_incident
    True
    """
    text_path = Path(path_or_name)
    if text_path.suffix in (".yaml", ".yml") or text_path.exists():
        return parse_scenario(read_text(text_path), source=str(path_or_name))
    name = str(path_or_name)
    if name in builtin_scenario_names():
        resource = BUILTIN_SCENARIOS / f"{name}.yaml"
        return parse_scenario(resource.read_text(encoding="utf-8"), source=f"builtin:{name}")
    raise InputError(
        f"no scenario file or built-in scenario {name!r}; built-in: "
        f"{', '.join(builtin_scenario_names())}",
        loc="scenario",
    )


def parse_scenario(text: str, *, source: str | None = None) -> Scenario:
    """Return the scenario in the YAML ``text``; every problem located by key path and line."""
    if len(text) > MAX_BYTES:
        raise ConfigError(
            [ConfigIssue("", f"the file is larger than {MAX_BYTES} bytes", len(text))],
            source=source,
        )
    try:
        data = load_yaml(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            [ConfigIssue(where, f"not valid YAML: {problem}")], source=source
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigIssue("", "a scenario is a mapping (name, fleet, traffic, ...)", data)],
            source=source,
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_located(exc, root, ()), source=source) from None
    issues: list[ConfigIssue] = []
    injectors = builtin_injectors()
    for i, inject in enumerate(data.get("injects") or []):
        kind = inject.get("kind") if isinstance(inject, dict) else None
        injector = injectors.get(str(kind))
        loc: tuple[Any, ...] = ("injects", i)
        if injector is None:
            issues.append(
                _issue(
                    root,
                    (*loc, "kind"),
                    f"unknown inject kind; choose from {', '.join(sorted(injectors))}",
                    kind,
                )
            )
            continue
        if inject.get("benign") and not injector.benign:
            issues.append(
                _issue(root, (*loc, "benign"), f"{kind} is a fault; it cannot be benign", True)
            )
        try:
            injector.validate(inject.get("params") or {})
        except ValidationError as exc:
            issues += _located(exc, root, (*loc, "params"))
    if issues:
        raise ConfigError(issues, source=source)
    return scenario


def _located(
    exc: ValidationError, root: yaml.Node | None, prefix: tuple[Any, ...]
) -> list[ConfigIssue]:
    # issues_from_validation keeps pydantic's order: pair each issue with its raw location.
    return [
        _issue(root, (*prefix, *err["loc"]), issue.message, issue.value)
        for issue, err in zip(issues_from_validation(exc), exc.errors(), strict=True)
    ]


def _issue(root: yaml.Node | None, loc: tuple[Any, ...], message: str, value: Any) -> ConfigIssue:
    where = format_loc(loc)
    line = _line_of(root, loc)
    if line is not None:
        where = f"{where} (line {line})"
    return ConfigIssue(where, message, value)


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Return the 1-based line of the YAML node at ``loc`` (or of its nearest parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = None
            for key, value in node.value:
                if getattr(key, "value", None) == part:
                    found = (key, value)
                    break
            if found is None:
                return line
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
