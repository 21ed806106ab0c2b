"""Dry runs: what each step of a playbook would do on an incident, templates filled, no effect.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.response.actions import ResponseServices
    >>> from airsoc.response.registry import default_registry
    >>> from airsoc.response.playbooks import parse_playbook
    >>> registry = default_registry()
    >>> pb = parse_playbook("name: p\\nsteps: [{id: a, action: open_task, with: {title: retrain}}]",
    ...                     registry=registry)
    >>> services = ResponseServices(store=None, settings=None)  # describing needs neither
    >>> steps = dry_run(pb, incident={"system": "fraud"}, registry=registry,
    ...                 services=services, clock=SimulatedClock())
    >>> steps[0].description
    "open task 'retrain'"
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from airsoc.clock import Clock
from airsoc.errors import AirsocError
from airsoc.response.actions import Action, ActionContext, ActionRegistry, ResponseServices
from airsoc.response.conditions import plain_data
from airsoc.response.governance import GovernanceConfig, approval_requirement
from airsoc.response.playbooks import Playbook, Step
from airsoc.response.steps import StepFailedError, condition_holds, foreach_items, render_params

__all__ = ["DryRunStep", "dry_run"]


class DryRunStep(BaseModel):
    """What one step would do: skipped or not, and the rendered description."""

    step_id: str
    action: str
    would_run: bool
    description: str
    approval: str | None = None


def dry_run(
    playbook: Playbook,
    *,
    incident: dict[str, Any],
    registry: ActionRegistry,
    services: ResponseServices,
    clock: Clock,
    criticality: str | None = None,
    rules: GovernanceConfig | None = None,
) -> list[DryRunStep]:
    """Return what each step would do on ``incident``, templates filled, nothing executed.

    ``criticality`` is the incident's system's; with it, the approvals its governance ``rules``
    add (default: the documented defaults) are shown too.
    """
    ctx: dict[str, Any] = {"incident": plain_data(incident), "steps": {}, "run": {"id": 0}}
    out: list[DryRunStep] = []
    for step in playbook.steps:
        action = registry.get(step.action)
        need = approval_requirement(
            step,
            destructive=action.destructive,
            criticality=criticality,
            rules=rules or GovernanceConfig(),
        )
        approval = None
        if need.spec is not None:
            approval = f"needs approval by {need.spec.role}"
            if need.spec.timeout is not None:
                approval += f" within {need.spec.timeout}"
            if need.four_eyes:
                approval += " (four-eyes)"
            if step.approval is None or (need.four_eyes and not action.destructive):
                approval += f"; {need.reason}"  # the system's governance rule asked for it
        ctx["steps"][step.id] = {}
        try:
            if step.foreach:
                items = foreach_items(step, ctx)
                descriptions = []
                for index, item in enumerate(items):
                    item_ctx = {**ctx, "item": item, "index": index}
                    if step.when and not condition_holds(step.when, item_ctx, step):
                        continue
                    descriptions.append(_describe(step, action, item_ctx, services, clock))
                text = (
                    "; ".join(descriptions)
                    if descriptions
                    else f"for each item of {step.foreach} (known only when the run gets there)"
                )
                out.append(
                    DryRunStep(
                        step_id=step.id,
                        action=step.action,
                        would_run=True,
                        description=text,
                        approval=approval,
                    )
                )
                continue
            if step.when and not condition_holds(step.when, ctx, step):
                out.append(
                    DryRunStep(
                        step_id=step.id,
                        action=step.action,
                        would_run=False,
                        description=f"skipped: {step.when} is false",
                        approval=approval,
                    )
                )
                continue
            out.append(
                DryRunStep(
                    step_id=step.id,
                    action=step.action,
                    would_run=True,
                    description=_describe(step, action, ctx, services, clock),
                    approval=approval,
                )
            )
        except (StepFailedError, AirsocError) as exc:
            out.append(
                DryRunStep(
                    step_id=step.id,
                    action=step.action,
                    would_run=False,
                    description=f"would fail: {exc.message}",
                    approval=approval,
                )
            )
    return out


def _describe(
    step: Step, action: Action, ctx: dict[str, Any], services: ResponseServices, clock: Clock
) -> str:
    params = render_params(step, action, ctx)
    context = ActionContext(
        action=action.name,
        params=params,
        incident=ctx["incident"],
        run_id=0,
        step_id=step.id,
        idempotency_key="dry-run",
        actor="dry-run",
        clock=clock,
        services=services,
        dry_run=True,
    )
    return action.describe(context)
