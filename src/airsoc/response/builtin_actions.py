"""The built-in response actions.

The control operations (rollback, fallback, isolate, client blocks, batch quarantine, retrieval
controls, ...) are not here: they come from the runtime's table of operations, which registers
them (:mod:`airsoc.runtime.playbook_actions`).

- Evidence and communication: ``capture_evidence``, ``notify``, ``page``.
- Incident: ``set_severity``, ``transition``, ``assign_role``, ``open_task``.
- Pipelines: ``pause_pipeline`` and ``resume_pipeline`` (recorded by the platform, which holds
  the system's retrains and ingest meanwhile; a pause also calls the team's webhook or command
  when given), ``trigger_retrain`` (a user's webhook or command, given the verified-clean batch
  list).

Example:
    >>> sorted(a.name for a in BUILTIN_ACTIONS if a.destructive)
    ['pause_pipeline', 'trigger_retrain']
    >>> Transition.params_model(to="contained").reason
    'playbook'
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from datetime import timedelta
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from airsoc.alerting.notification import Notification
from airsoc.errors import ActionError
from airsoc.monitoring.alerts import Alert
from airsoc.response.actions import Action, ActionContext, ActionResult
from airsoc.types import Duration

__all__ = ["BUILTIN_ACTIONS"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- incident actions: through the incident service, effect recorded in the same transaction ---


class SetSeverity(Action):
    """Change the incident's severity."""

    name = "set_severity"
    summary = "change the incident's severity"

    class Params(_Params):
        severity: str
        reason: str = "playbook"

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Update the severity on the incident."""
        from airsoc.incidents.service import IncidentUpdate, update_incident

        with ctx.transaction() as s:
            view = update_incident(
                s,
                clock=ctx.clock,
                incident_id=ctx.incident_id,
                changes=IncidentUpdate(severity=ctx.params.severity),
                actor=ctx.actor,
                reason=ctx.params.reason,
            )
            result = ActionResult(
                output={"severity": view.severity, "previous": ctx.incident["severity"]},
                summary=f"severity {view.severity}",
            )
            ctx.record_effect(s, result)
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say the change."""
        return f"set severity {ctx.incident.get('severity')} -> {ctx.params.severity}"


class Transition(Action):
    """Move the incident to another phase."""

    name = "transition"
    summary = "move the incident to another phase"

    class Params(_Params):
        to: str
        reason: str = "playbook"

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Transition through the incident lifecycle."""
        from airsoc.incidents.service import transition_incident

        with ctx.transaction() as s:
            view = transition_incident(
                s,
                clock=ctx.clock,
                incident_id=ctx.incident_id,
                to=ctx.params.to,
                actor=ctx.actor,
                reason=ctx.params.reason,
            )
            result = ActionResult(output={"phase": view.phase}, summary=f"now {view.phase}")
            ctx.record_effect(s, result)
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say the move."""
        return f"transition {ctx.incident.get('phase')} -> {ctx.params.to}"


class AssignRole(Action):
    """Give someone a response role on the incident."""

    name = "assign_role"
    summary = "assign a response role"

    class Params(_Params):
        role: str
        person: str

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Assign the role."""
        from airsoc.incidents.service import assign_role

        with ctx.transaction() as s:
            view = assign_role(
                s,
                clock=ctx.clock,
                incident_id=ctx.incident_id,
                role=ctx.params.role,
                person=ctx.params.person,
                actor=ctx.actor,
            )
            result = ActionResult(
                output={"role": view.role, "person": view.person},
                summary=f"{view.person} is {view.role}",
            )
            ctx.record_effect(s, result)
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say who gets which role."""
        return f"make {ctx.params.person} {ctx.params.role}"


class OpenTask(Action):
    """Add an action item (a next step) to the incident."""

    name = "open_task"
    summary = "open an action item"

    class Params(_Params):
        title: str = Field(min_length=1)
        owner: str | None = None

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Append the task to the incident's next steps."""
        from airsoc.incidents.service import IncidentUpdate, get_incident, update_incident

        task = ctx.params.title + (f" (owner: {ctx.params.owner})" if ctx.params.owner else "")
        with ctx.transaction() as s:
            current = get_incident(s, incident_id=ctx.incident_id).next_steps
            update_incident(
                s,
                clock=ctx.clock,
                incident_id=ctx.incident_id,
                changes=IncidentUpdate(next_steps=[*current, task]),
                actor=ctx.actor,
                reason="action item opened by playbook",
            )
            result = ActionResult(output={"task": task}, summary=f"task: {task}")
            ctx.record_effect(s, result)
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say the task."""
        return f"open task {ctx.params.title!r}"


class CaptureEvidence(Action):
    """Snapshot the incident, its alerts and the system's recent signals as evidence."""

    name = "capture_evidence"
    summary = "capture an evidence snapshot"

    class Params(_Params):
        window: Duration = timedelta(days=7)
        name: str = "response-snapshot.json"

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Store the snapshot (content-addressed) with a chain of custody."""
        from airsoc.incidents.evidence import BlobStore
        from airsoc.incidents.service import add_evidence
        from airsoc.monitoring.signals import list_signals
        from airsoc.response.incident_alerts import incident_alerts

        since = ctx.clock.now() - ctx.params.window
        with ctx.transaction() as s:
            signals = [
                sig.model_dump(mode="json")
                for sig in list_signals(s, system=ctx.incident["system"], limit=5000)
                if sig.at >= since
            ]
            snapshot = {
                "incident": ctx.incident,
                "alerts": [
                    a.model_dump(mode="json")
                    for a in incident_alerts(s, incident_id=ctx.incident_id)
                ],
                "signals": signals,
                "captured_at": ctx.clock.now().isoformat(),
                "window_seconds": ctx.params.window.total_seconds(),
            }
            evidence = add_evidence(
                s,
                clock=ctx.clock,
                blobs=BlobStore(ctx.services.settings.evidence_dir),
                incident_id=ctx.incident_id,
                content=json.dumps(snapshot, sort_keys=True, indent=1).encode(),
                name=ctx.params.name,
                source=f"playbook run {ctx.run_id} step {ctx.step_id}",
                actor=ctx.actor,
                media_type="application/json",
                description=f"alerts and {len(signals)} signals over {ctx.params.window}",
            )
            result = ActionResult(
                output={
                    "evidence_id": evidence.id,
                    "sha256": evidence.sha256,
                    "signals": len(signals),
                },
                summary=f"evidence {evidence.sha256[:12]}",
            )
            ctx.record_effect(s, result)
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be captured."""
        return f"capture incident, alerts and signals of the last {ctx.params.window}"


# --- communication ------------------------------------------------------------------------------


class Notify(Action):
    """Send a templated message about the incident to a receiver."""

    name = "notify"
    summary = "send a templated message to a receiver"

    class Params(_Params):
        receiver: str
        template: str = "status_update"
        message: str | None = None

    params_model: ClassVar[type[BaseModel]] = Params

    def render(self, ctx: ActionContext) -> str:
        """Return the message text."""
        if ctx.params.message:
            return str(ctx.params.message)
        from airsoc.alerting.templates import Templates

        templates = ctx.services.templates or Templates()
        name = ctx.params.template
        if "." not in name:
            name = next(
                (n for n in (f"{name}.md", f"{name}.txt") if n in _template_names(templates)),
                f"{name}.md",
            )
        return templates.render(
            name, {"incident": ctx.incident, "alerts": [], "next_update": "the next update"}
        )

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Deliver through every integration of the receiver; fail if none got through."""
        targets = ctx.services.receivers.get(ctx.params.receiver)
        if not targets:
            raise ActionError(f"{self.name}: no receiver named {ctx.params.receiver!r}")
        text = self.render(ctx)
        incident = ctx.incident
        alert = Alert(
            labels={
                "alertname": f"INC-{incident['id']}",
                "system": incident["system"],
                "failure_mode": incident["failure_mode"],
                "severity": incident["severity"],
                "incident": f"INC-{incident['id']}",
            },
            annotations={"summary": text},
            starts_at=ctx.clock.now(),
        )
        note = Notification.of(
            receiver=ctx.params.receiver,
            group_key=f"incident/{incident['id']}/{ctx.idempotency_key}",
            group_labels={"incident": f"INC-{incident['id']}"},
            alerts=[alert],
            now=ctx.clock.now(),
        )
        deliveries = [t.send(note) for t in targets]
        from airsoc.alerting.service import record_delivery

        with ctx.transaction() as s:
            for d in deliveries:
                record_delivery(s, delivery=d)
        if not any(d.ok for d in deliveries):
            errors = "; ".join(f"{d.integration}: {d.error}" for d in deliveries)
            raise ActionError(f"{self.name} to {ctx.params.receiver} failed: {errors}")
        return ActionResult(
            output={
                "receiver": ctx.params.receiver,
                "delivered": [d.integration for d in deliveries if d.ok],
            },
            summary=f"sent to {ctx.params.receiver}",
        )

    def describe(self, ctx: ActionContext) -> str:
        """Show the rendered message and where it goes."""
        return f"send to {ctx.params.receiver}: {self.render(ctx)[:300]}"


def _template_names(templates: Any) -> set[str]:
    from airsoc.alerting.templates import DEFAULT_TEMPLATES

    names = set(DEFAULT_TEMPLATES)
    with contextlib.suppress(TypeError):  # a loader that cannot list its templates
        names |= set(templates.env.list_templates())
    return names


class Page(Notify):
    """Page a receiver (e.g. PagerDuty) about the incident."""

    name = "page"
    summary = "page a receiver"

    class Params(_Params):
        receiver: str
        template: str = "escalation"
        message: str | None = None

    params_model = Params

    def render(self, ctx: ActionContext) -> str:
        """Return the page text."""
        if ctx.params.message:
            return str(ctx.params.message)
        inc = ctx.incident
        return f"PAGE INC-{inc['id']} ({inc['severity'].upper()}): {inc['title']}"


# --- pipelines ----------------------------------------------------------------------------------


class _PipelineParams(_Params):
    webhook: str | None = None
    command: list[str] | None = None
    batches: list[str] = Field(default_factory=list, description="The verified-clean batches")
    system: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> _PipelineParams:
        if (self.webhook is None) == (self.command is None):
            raise ValueError("give exactly one of webhook or command")
        return self


class _PipelineAction(Action):
    destructive = True
    params_model = _PipelineParams
    verb: ClassVar[str]

    def payload(self, ctx: ActionContext) -> dict[str, Any]:
        """Return what the webhook or command receives."""
        return {
            "action": self.name,
            "system": ctx.params.system or ctx.incident["system"],
            "incident": f"INC-{ctx.incident['id']}",
            "batches": list(ctx.params.batches),
            "idempotency_key": ctx.idempotency_key,
        }

    def execute(self, ctx: ActionContext) -> ActionResult:
        """POST the payload to the webhook, or run the command with it on stdin."""
        body = json.dumps(self.payload(ctx), sort_keys=True)
        timeout = ctx.services.command_timeout
        if ctx.params.webhook:
            try:
                response = httpx.post(
                    ctx.params.webhook,
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "Idempotency-Key": ctx.idempotency_key,
                    },
                    timeout=timeout,
                )
            except httpx.HTTPError as exc:
                raise ActionError(f"{self.name}: webhook failed: {exc}") from exc
            if response.status_code >= 300:
                raise ActionError(f"{self.name}: webhook answered HTTP {response.status_code}")
            return ActionResult(
                output={"status_code": response.status_code, "batches": ctx.params.batches},
                summary=f"{self.verb} via webhook ({len(ctx.params.batches)} batches)",
            )
        try:
            done = subprocess.run(
                ctx.params.command,
                input=body,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ActionError(f"{self.name}: command failed: {exc}") from exc
        if done.returncode != 0:
            raise ActionError(
                f"{self.name}: command exited {done.returncode}: {done.stderr.strip()[:300]}"
            )
        return ActionResult(
            output={"returncode": 0, "stdout": done.stdout[-2000:], "batches": ctx.params.batches},
            summary=f"{self.verb} via command ({len(ctx.params.batches)} batches)",
        )

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be called with which batches."""
        target = ctx.params.webhook or " ".join(ctx.params.command or [])
        return f"{self.verb}: call {target} with batches {ctx.params.batches}"


def _ref(ctx: ActionContext) -> str:
    return str(ctx.incident.get("ref") or f"INC-{ctx.incident['id']}")


class _PauseParams(_PipelineParams):
    reason: str | None = Field(None, description="Why (default: the incident's failure mode)")

    @model_validator(mode="after")
    def _one_target(self) -> _PauseParams:
        if self.webhook is not None and self.command is not None:
            raise ValueError("give at most one of webhook or command")
        return self


class PausePipeline(_PipelineAction):
    """Pause the system's training and ingest pipeline: recorded on the system's audit chain
    (retrains and new training batches of the system wait until it is resumed, except the
    incident's own remediation), then, when given, through the team's webhook or command."""

    name = "pause_pipeline"
    summary = "pause the data pipeline"
    verb = "pause pipeline"
    params_model = _PauseParams

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Record the pause with the step's effect, then call the team's hook if any."""
        from airsoc.lineage.pipelines import pause_pipeline

        system = ctx.params.system or ctx.incident["system"]
        reason = ctx.params.reason or (
            f"{ctx.incident.get('failure_mode', 'incident')} ({_ref(ctx)})"
        )
        with ctx.transaction() as s:
            state = pause_pipeline(
                s,
                clock=ctx.clock,
                actor=ctx.actor,
                system=system,
                reason=reason,
                incident=_ref(ctx),
            )
            result = ActionResult(
                output={
                    "system": system,
                    "paused": state.paused,
                    "paused_for": state.incident,
                    "since": state.since.isoformat() if state.since else None,
                },
                summary=f"paused the pipeline of {system} ({state.reason})",
            )
            ctx.record_effect(s, result)
        if ctx.params.webhook or ctx.params.command:
            hook = super().execute(ctx)
            result = ActionResult(
                output={**result.output, "hook": hook.output},
                summary=f"{result.summary}; {hook.summary}",
            )
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say which pipeline would be paused and which hook called."""
        system = ctx.params.system or ctx.incident.get("system")
        hook = ctx.params.webhook or " ".join(ctx.params.command or [])
        return f"pause the pipeline of {system}" + (f"; call {hook}" if hook else "")

    def compensate(self, ctx: ActionContext, result: ActionResult) -> ActionResult | None:
        """Resume the pipeline this step paused."""
        from airsoc.lineage.pipelines import resume_pipeline

        system = str(result.output.get("system") or ctx.incident["system"])
        with ctx.transaction() as s:
            resume_pipeline(
                s, clock=ctx.clock, actor=ctx.actor, system=system, reason="undo pause_pipeline"
            )
        return ActionResult(output={"system": system}, summary=f"resumed the pipeline of {system}")


class ResumePipeline(Action):
    """Resume the system's training and ingest pipeline (recorded on its audit chain)."""

    name = "resume_pipeline"
    summary = "resume the data pipeline"

    class Params(_Params):
        system: str | None = None
        reason: str = "the incident's remediation is done"

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Record the resume with the step's effect."""
        from airsoc.lineage.pipelines import resume_pipeline

        system = ctx.params.system or ctx.incident["system"]
        with ctx.transaction() as s:
            state = resume_pipeline(
                s,
                clock=ctx.clock,
                actor=ctx.actor,
                system=system,
                reason=f"{ctx.params.reason} ({_ref(ctx)})",
            )
            result = ActionResult(
                output={"system": system, "paused": state.paused},
                summary=f"resumed the pipeline of {system}",
            )
            ctx.record_effect(s, result)
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say which pipeline would be resumed."""
        return f"resume the pipeline of {ctx.params.system or ctx.incident.get('system')}"


class TriggerRetrain(_PipelineAction):
    """Start a retrain on the verified-clean batches through the user's webhook or command."""

    name = "trigger_retrain"
    summary = "retrain on verified-clean batches"
    verb = "trigger retrain"


BUILTIN_ACTIONS: tuple[type[Action], ...] = (
    CaptureEvidence,
    Notify,
    Page,
    SetSeverity,
    Transition,
    AssignRole,
    OpenTask,
    PausePipeline,
    ResumePipeline,
    TriggerRetrain,
)
