"""The built-in response actions.

- Serving: ``rollback``, ``fallback``, ``isolate``, ``restore``, ``set_canary``, ``block_client``,
  ``rate_limit_client`` (through the :class:`~airsoc.response.controlplane.ControlPlane`).
- Data and lineage: ``quarantine_batch``, ``release_batch``, ``revoke_source``.
- Retrieval: ``disable_retrieval``, ``remove_document``.
- Evidence and communication: ``capture_evidence``, ``notify``, ``page``.
- Incident: ``set_severity``, ``transition``, ``assign_role``, ``open_task``.
- Pipelines: ``pause_pipeline``, ``trigger_retrain`` (a user's webhook or command, given the
  verified-clean batch list).

Example:
    >>> sorted(a.name for a in BUILTIN_ACTIONS if a.destructive)[:4]
    ['block_client', 'disable_retrieval', 'fallback', 'isolate']
    >>> Rollback.params_model(system="fraud").to
    'last_known_good'
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from datetime import timedelta
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from airsoc.alerting.notification import Notification
from airsoc.errors import ActionError, AirsocError
from airsoc.monitoring.alerts import Alert
from airsoc.response.actions import Action, ActionContext, ActionResult
from airsoc.types import Duration

__all__ = ["BUILTIN_ACTIONS"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- serving, lineage and retrieval: thin, typed calls on the control plane -------------------


class _SystemParams(_Params):
    system: str = Field(description="The system to act on (default: the incident's)")


class _ControlAction(Action):
    """An action that is one call on the control plane."""

    destructive = True
    method: ClassVar[str]

    def arguments(self, ctx: ActionContext) -> dict[str, Any]:
        """Return the keyword arguments of the control-plane call."""
        params: BaseModel = ctx.params
        return params.model_dump()

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Call the control plane with the step's idempotency key."""
        call = getattr(ctx.control_plane(), self.method)
        try:
            output = call(**self.arguments(ctx), idempotency_key=ctx.idempotency_key)
        except AirsocError as exc:
            raise ActionError(f"{self.name} failed: {exc}") from exc
        return ActionResult(output=dict(output), summary=f"{self.name}: {_short(output)}")

    def describe(self, ctx: ActionContext) -> str:
        """Say which control-plane call would be made."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments(ctx).items())
        return f"{self.method}({args})"


def _short(output: Any) -> str:
    return json.dumps(output, sort_keys=True, default=str)[:200]


class Rollback(_ControlAction):
    """Serve the last known-good (or a named) model version."""

    name = "rollback"
    method = "rollback"
    summary = "serve the last known-good model version"

    class Params(_SystemParams):
        to: str = "last_known_good"

    params_model = Params

    def compensate(self, ctx: ActionContext, result: ActionResult) -> ActionResult | None:
        """Serve the version that was serving before the rollback."""
        previous = result.output.get("from")
        if not previous:
            return None
        output = ctx.control_plane().rollback(
            system=ctx.params.system, to=previous, idempotency_key=ctx.idempotency_key + "/undo"
        )
        return ActionResult(output=output, summary=f"rolled forward to {previous}")


class _Restorable(_ControlAction):
    def compensate(self, ctx: ActionContext, result: ActionResult) -> ActionResult | None:
        """Return the system to normal serving."""
        output = ctx.control_plane().restore(
            system=ctx.params.system, idempotency_key=ctx.idempotency_key + "/undo"
        )
        return ActionResult(output=output, summary="restored normal serving")


class Fallback(_Restorable):
    """Answer with the system's fallback (rules, scripted answers or a human hand-off)."""

    name = "fallback"
    method = "fallback"
    summary = "switch to the fallback"

    class Params(_SystemParams):
        mode: Literal["rules", "scripted", "human_handoff"] = "scripted"

    params_model = Params


class Isolate(_Restorable):
    """Stop serving the model."""

    name = "isolate"
    method = "isolate"
    summary = "stop serving the model"
    params_model = _SystemParams


class Restore(_ControlAction):
    """Return to normal serving."""

    name = "restore"
    method = "restore"
    destructive = False
    summary = "return to normal serving"
    params_model = _SystemParams


class SetCanary(_ControlAction):
    """Send a share of traffic to a version."""

    name = "set_canary"
    method = "set_canary"
    summary = "send a share of traffic to a version"

    class Params(_SystemParams):
        version: str
        percent: float = Field(ge=0, le=100)

    params_model = Params


class BlockClient(_ControlAction):
    """Refuse every request from a client."""

    name = "block_client"
    method = "block_client"
    summary = "block a client"

    class Params(_SystemParams):
        client: str
        duration: Duration | None = None

    params_model = Params

    def arguments(self, ctx: ActionContext) -> dict[str, Any]:
        """Return system, client and the block's length in seconds."""
        p = ctx.params
        seconds = p.duration.total_seconds() if p.duration is not None else None
        return {"system": p.system, "client": p.client, "seconds": seconds}


class RateLimitClient(_ControlAction):
    """Cap a client's request rate."""

    name = "rate_limit_client"
    method = "rate_limit_client"
    summary = "rate-limit a client"

    class Params(_SystemParams):
        client: str
        per_minute: int = Field(ge=0)

    params_model = Params


class _BatchParams(_Params):
    batch: str
    reason: str = "incident response"


class QuarantineBatch(_ControlAction):
    """Quarantine a data batch in lineage."""

    name = "quarantine_batch"
    method = "quarantine_batch"
    summary = "quarantine a data batch"
    params_model = _BatchParams

    def compensate(self, ctx: ActionContext, result: ActionResult) -> ActionResult | None:
        """Release the batch again (unless it was already quarantined before)."""
        if result.output.get("was_quarantined"):
            return ActionResult(summary="batch was quarantined before; left as it was")
        output = ctx.control_plane().release_batch(
            batch=ctx.params.batch,
            reason="compensating a failed playbook",
            idempotency_key=ctx.idempotency_key + "/undo",
        )
        return ActionResult(output=output, summary=f"released {ctx.params.batch}")


class ReleaseBatch(_ControlAction):
    """Lift a batch's quarantine."""

    name = "release_batch"
    method = "release_batch"
    summary = "release a quarantined batch"
    params_model = _BatchParams


class RevokeSource(_ControlAction):
    """Mark a data source (vendor) untrusted in lineage."""

    name = "revoke_source"
    method = "revoke_source"
    summary = "mark a data source untrusted"

    class Params(_Params):
        source: str
        reason: str = "incident response"

    params_model = Params


class DisableRetrieval(_ControlAction):
    """Answer without retrieval."""

    name = "disable_retrieval"
    method = "disable_retrieval"
    summary = "turn retrieval off"
    params_model = _SystemParams


class RemoveDocument(_ControlAction):
    """Take a document out of the retrieval index."""

    name = "remove_document"
    method = "remove_document"
    summary = "remove a document from the retrieval index"

    class Params(_SystemParams):
        document: str

    params_model = Params


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


class PausePipeline(_PipelineAction):
    """Pause the training/data pipeline through the user's webhook or command."""

    name = "pause_pipeline"
    summary = "pause the data pipeline"
    verb = "pause pipeline"


class TriggerRetrain(_PipelineAction):
    """Start a retrain on the verified-clean batches through the user's webhook or command."""

    name = "trigger_retrain"
    summary = "retrain on verified-clean batches"
    verb = "trigger retrain"


BUILTIN_ACTIONS: tuple[type[Action], ...] = (
    Rollback,
    Fallback,
    Isolate,
    Restore,
    SetCanary,
    BlockClient,
    RateLimitClient,
    QuarantineBatch,
    ReleaseBatch,
    RevokeSource,
    DisableRetrieval,
    RemoveDocument,
    CaptureEvidence,
    Notify,
    Page,
    SetSeverity,
    Transition,
    AssignRole,
    OpenTask,
    PausePipeline,
    TriggerRetrain,
)
