"""The AI SOC's charter, generated from the configuration: scope, roles and on-call, severities,
escalation, SLAs (against measured times where the store knows them), detectors, threat
intelligence and playbooks in force. Rendered as Markdown and PDF here, as a page by the console.

Example:
    >>> from airsoc.lineage.config import LineageSection
    >>> from airsoc.response.config import ResponseSection
    >>> class Config(LineageSection, ResponseSection):
    ...     pass
    >>> config = Config.model_validate({"systems": {"fraud-detector": {
    ...     "kind": "tabular-classifier", "owner": "risk-ml", "criticality": "critical"}}})
    >>> charter = build_charter(config=config, people=[("sam", "approver")])
    >>> charter.systems[0].severity_floor, charter.systems[0].approvals
    ('sev2', 'approval of destructive steps (incident_commander); four-eyes on every step')
    >>> text = render_charter_markdown(charter)
    >>> text.splitlines()[0], "| fraud-detector | risk-ml | critical |" in text
    ('# AI SOC charter', True)
    >>> render_charter_pdf(charter)[:5]
    b'%PDF-'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from statistics import mean
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import BaseModel
from sqlalchemy.orm import Session

from airsoc.alerting.config import ReceiverConfig, RouteConfig
from airsoc.incidents.lifecycle import Severity
from airsoc.incidents.service import list_incidents
from airsoc.incidents.taxonomy import (
    ATLAS_VERSION,
    FAILURE_MODES,
    OWASP_AGENTIC_VERSION,
    OWASP_LLM_VERSION,
    OWASP_ML_VERSION,
)
from airsoc.lineage.config import SystemConfig
from airsoc.monitoring.config import MonitorConfig
from airsoc.reporting.render import PdfDocument
from airsoc.reporting.timing import format_duration, measured_times
from airsoc.response.config import EscalationConfig, IncidentRuleConfig
from airsoc.response.escalation import list_communications
from airsoc.response.governance import (
    CRITICALITIES,
    SEVERITY_DEFINITIONS,
    CriticalityRuleConfig,
    GovernanceConfig,
)
from airsoc.response.playbooks import Playbook

__all__ = [
    "Charter",
    "CharterConfig",
    "CharterSla",
    "build_charter",
    "render_charter_markdown",
    "render_charter_pdf",
]


class CharterConfig(Protocol):
    """The parts of ``airsoc.yaml`` a charter reads (the whole configuration has them all;
    a section it lacks reads as empty)."""

    @property
    def systems(self) -> Mapping[str, SystemConfig]: ...

    @property
    def governance(self) -> GovernanceConfig: ...


class CharterSystem(BaseModel):
    """A system in scope, with what its criticality means."""

    name: str
    kind: str
    owner: str
    criticality: str
    severity_floor: str | None
    approvals: str
    description: str


class CharterRoute(BaseModel):
    """A node of the routing tree, flattened with its depth."""

    depth: int
    matchers: str
    receiver: str
    group_by: str
    continues: bool


class CharterSla(BaseModel):
    """One SLA: a target per severity and, where incidents were measured, the mean and how many
    incidents met it."""

    measure: str
    severity: str
    target_seconds: float
    measured_seconds: float | None
    incidents: int
    met: int

    @property
    def target(self) -> str:
        """Return the target as people write it."""
        return format_duration(self.target_seconds)

    @property
    def measured(self) -> str:
        """Return the measured mean, or "not measured yet"."""
        if self.measured_seconds is None:
            return "not measured yet"
        return f"{format_duration(self.measured_seconds)} (met {self.met} of {self.incidents})"


class Charter(BaseModel):
    """The charter: every section, as data."""

    generated_at: datetime | None
    systems: list[CharterSystem]
    people: list[tuple[str, str]]
    receivers: list[tuple[str, str]]
    routes: list[CharterRoute]
    escalation_policies: list[tuple[str, str]]
    default_policy: str | None
    status_cadence: list[tuple[str, str]]
    severities: list[tuple[str, str, str]]
    criticality_rules: list[tuple[str, str, str, str]]
    incident_rules: list[tuple[str, str]]
    slas: list[CharterSla]
    monitors: list[tuple[str, str, str, str, str]]
    intelligence: list[tuple[str, str, str]]
    playbooks: list[tuple[str, str, str, str]]


def _approvals(rule: CriticalityRuleConfig) -> str:
    parts = []
    if rule.destructive_steps == "require_approval":
        parts.append(f"approval of destructive steps ({rule.approval_role})")
    else:
        parts.append("approvals as the playbook writes them")
    parts.append(
        "four-eyes on every step" if rule.four_eyes == "all" else "four-eyes on destructive steps"
    )
    return "; ".join(parts)


def _routes(node: RouteConfig | None, depth: int = 0, inherited: str = "") -> list[CharterRoute]:
    if node is None:
        return []
    receiver = node.receiver or inherited
    rows = [
        CharterRoute(
            depth=depth,
            matchers=", ".join(node.matchers) or ("(root: every alert)" if depth == 0 else "-"),
            receiver=receiver or "-",
            group_by=", ".join(node.group_by or []) or "-",
            continues=node.continue_,
        )
    ]
    for child in node.routes:
        rows += _routes(child, depth + 1, receiver)
    return rows


def _integrations(receiver: ReceiverConfig) -> str:
    return ", ".join(k for k, v in receiver if v is not None) or "none"


def _playbook_row(playbook: Playbook) -> tuple[str, str, str, str]:
    match = playbook.on.model_dump(exclude_defaults=True)
    on = ", ".join(f"{k}={v}" for k, v in match.items()) or "every incident"
    gated = [s.id for s in playbook.steps if s.approval is not None]
    steps = " -> ".join(s.action for s in playbook.steps)
    return (playbook.name, on, steps, ", ".join(gated) or "none")


def _measured(session: Session, slas: GovernanceConfig) -> list[CharterSla]:
    samples: dict[tuple[str, str], list[float]] = {}
    for incident, times in measured_times(session, list_incidents(session, limit=10_000)):
        sent = [
            c.at for c in list_communications(session, incident_id=incident.id)
            if c.kind == "status_update"
        ]  # fmt: skip
        notified = (min(sent) - incident.reported_at).total_seconds() if sent else None
        for measure, value in (
            ("detection", times.ttd_seconds),
            ("containment", times.ttc_seconds),
            ("notification", notified),
        ):
            if value is not None:
                samples.setdefault((measure, incident.severity), []).append(max(value, 0.0))
    rows = []
    for measure in ("detection", "containment", "notification"):
        targets: dict[str, timedelta] = {str(k): v for k, v in getattr(slas.slas, measure).items()}
        for severity in Severity:
            target = targets.get(severity.value)
            if target is None:
                continue
            seen = samples.get((measure, severity.value), [])
            limit = target.total_seconds()
            rows.append(
                CharterSla(
                    measure=measure,
                    severity=severity.value,
                    target_seconds=limit,
                    measured_seconds=mean(seen) if seen else None,
                    incidents=len(seen),
                    met=sum(1 for v in seen if v <= limit),
                )
            )
    return rows


def build_charter(
    *,
    config: CharterConfig,
    playbooks: Sequence[Playbook] = (),
    people: Sequence[tuple[str, str]] = (),
    session: Session | None = None,
    now: datetime | None = None,
) -> Charter:
    """Return the charter of ``config``: its systems, routing and escalation, the governance
    rules and SLAs (measured on the incidents in ``session``, when given), monitors and
    ``playbooks``; ``people`` are the users and their roles."""
    rules = config.governance
    routes: RouteConfig | None = getattr(config, "routes", None)
    receivers: Mapping[str, ReceiverConfig] = getattr(config, "receivers", {})
    escalation: EscalationConfig = getattr(config, "escalation", EscalationConfig())
    monitors: Sequence[MonitorConfig] = getattr(config, "monitors", [])
    incident_rules: Sequence[IncidentRuleConfig] = getattr(config, "incident_rules", [])
    floors: dict[str, list[str]] = {}
    for level in CRITICALITIES:
        floor = rules.rule(level).severity_floor
        if floor:
            floors.setdefault(floor, []).append(level)
    slas = (
        _measured(session, rules)
        if session is not None
        else [
            CharterSla(
                measure=measure,
                severity=str(sev),
                target_seconds=target.total_seconds(),
                measured_seconds=None,
                incidents=0,
                met=0,
            )
            for measure in ("detection", "containment", "notification")
            for sev, target in sorted(getattr(rules.slas, measure).items())
        ]
    )
    techniques = sorted({t.id for m in FAILURE_MODES.values() for t in m.atlas})
    return Charter(
        generated_at=now,
        systems=[
            CharterSystem(
                name=name,
                kind=system.kind,
                owner=system.owner,
                criticality=system.criticality,
                severity_floor=rules.rule(system.criticality).severity_floor,
                approvals=_approvals(rules.rule(system.criticality)),
                description=system.description,
            )
            for name, system in sorted(config.systems.items())
        ],
        people=sorted(people),
        receivers=[(name, _integrations(r)) for name, r in sorted(receivers.items())],
        routes=_routes(routes),
        escalation_policies=[
            (
                name,
                " -> ".join(
                    f"{lvl.receiver} after {format_duration(lvl.after.total_seconds())}"
                    for lvl in policy.levels
                ),
            )
            for name, policy in sorted(escalation.policies.items())
        ],
        default_policy=escalation.default_policy,
        status_cadence=[
            (str(sev), format_duration(d.total_seconds()))
            for sev, d in sorted(escalation.status_cadence.items())
        ],
        severities=[
            (sev.value, SEVERITY_DEFINITIONS[sev.value], ", ".join(floors.get(sev.value, [])))
            for sev in Severity
        ],
        criticality_rules=[
            (
                level,
                rules.rule(level).severity_floor or "none",
                _approvals(rules.rule(level)),
                ", ".join(n for n, s in sorted(config.systems.items()) if s.criticality == level)
                or "-",
            )
            for level in CRITICALITIES
        ],
        incident_rules=[
            (r.when, "declare" if r.declare else "never declare") for r in incident_rules
        ],
        slas=slas,
        monitors=[
            (
                m.name,
                m.system,
                m.detector,
                format_duration(m.window.total_seconds()),
                f"every {format_duration(m.every.total_seconds())}"
                if m.every
                else (f"cron {m.cron}" if m.cron else "on demand"),
            )
            for m in monitors
        ],
        intelligence=[
            ("MITRE ATLAS", ATLAS_VERSION, f"{len(techniques)} techniques mapped to failure modes"),
            ("OWASP Machine Learning Security Top 10", OWASP_ML_VERSION, "tabular and ML models"),
            ("OWASP Top 10 for LLM Applications", OWASP_LLM_VERSION, "LLM and RAG applications"),
            ("OWASP Top 10 for Agentic Applications", OWASP_AGENTIC_VERSION, "agents and tools"),
        ],
        playbooks=[_playbook_row(p) for p in playbooks],
    )


_md_env = Environment(
    loader=PackageLoader("airsoc.reporting", "templates"),
    autoescape=False,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


_md_env.filters["cell"] = _cell


def render_charter_markdown(charter: Charter) -> str:
    """Return the charter as Markdown."""
    text = _md_env.get_template("charter.md.j2").render(c=charter)
    return re.sub(r"\n{3,}", "\n\n", text)


def render_charter_pdf(charter: Charter) -> bytes:
    """Return the charter as a PDF with the same sections as the Markdown."""
    doc = PdfDocument("AI SOC charter")
    doc.heading("AI SOC charter", 16)
    if charter.generated_at is not None:
        doc.para(f"Generated from the configuration on {charter.generated_at:%Y-%m-%d %H:%M} UTC.")
    doc.heading("Scope")
    if charter.systems:
        doc.table(
            [
                (s.name, s.owner, s.criticality, s.kind, s.severity_floor or "none")
                for s in charter.systems
            ],
            [2, 1.4, 1, 1.6, 1],
            ("System", "Owner", "Criticality", "Kind", "Severity floor"),
        )
    else:
        doc.para("No system is configured.")
    doc.heading("Roles and on-call")
    doc.para("People and their roles (viewer < responder < approver < admin):")
    doc.bullets([f"{name}: {role}" for name, role in charter.people] or ["No users yet."])
    doc.para("Receivers:")
    doc.bullets([f"{n}: {i}" for n, i in charter.receivers] or ["No receiver configured."])
    doc.heading("Severity definitions")
    doc.table(
        [(s.upper(), meaning, floor or "-") for s, meaning, floor in charter.severities],
        [0.7, 4.5, 1.4],
        ("Severity", "Meaning", "Floor of"),
    )
    doc.table(
        [tuple(r) for r in charter.criticality_rules],
        [1, 1, 3.4, 2],
        ("Criticality", "Severity floor", "Approvals", "Systems"),
    )
    doc.heading("Escalation paths")
    if charter.routes:
        doc.table(
            [
                ("  " * r.depth + r.matchers, r.receiver, r.group_by, "yes" if r.continues else "")
                for r in charter.routes
            ],
            [3, 1.4, 1.6, 0.8],
            ("Route", "Receiver", "Group by", "Continue"),
        )
    else:
        doc.para("No routing tree is configured: alerts are stored, not sent.")
    doc.bullets(
        [f"Policy {n}: {levels}" for n, levels in charter.escalation_policies]
        or ["No escalation policy."]
    )
    doc.para(
        "Status updates: " + ", ".join(f"{s.upper()} every {d}" for s, d in charter.status_cadence)
    )
    doc.heading("Service levels")
    doc.table(
        [(s.measure, s.severity.upper(), s.target, s.measured) for s in charter.slas],
        [1.4, 0.8, 1.2, 2.6],
        ("Measure", "Severity", "Target", "Measured"),
    )
    doc.heading("Detectors")
    if charter.monitors:
        doc.table(
            [tuple(m) for m in charter.monitors],
            [2, 1.6, 1.6, 0.8, 1.2],
            ("Monitor", "System", "Detector", "Window", "Schedule"),
        )
    else:
        doc.para("No monitor is configured.")
    doc.heading("Threat intelligence")
    doc.table([tuple(i) for i in charter.intelligence], [3, 0.8, 2.6], ("Source", "Version", "Use"))
    doc.heading("Playbooks in force")
    if charter.playbooks:
        doc.table(
            [tuple(p) for p in charter.playbooks],
            [1.6, 1.6, 3, 1.2],
            ("Playbook", "On", "Steps", "Approval at"),
        )
    else:
        doc.para("No playbook is configured.")
    return doc.output()
