"""Playbook actions made from the reporting service functions.

- ``open_postmortem`` opens the incident's draft post-mortem, seeded with an action item per
  finding's recommendation (:func:`airsoc.reporting.create_postmortem`). When the incident has
  one already, the step succeeds and names it, so two playbooks on one incident open one draft.

The runtime registers it (:func:`airsoc.runtime.registries.build_action_registry`).

Example:
    >>> from airsoc.response.registry import default_registry
    >>> registry = default_registry(plugins=False)
    >>> register_reporting_actions(registry)
    >>> registry.get("open_postmortem").summary
    'open the draft post-mortem'
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from airsoc.reporting import create_postmortem
from airsoc.reporting.models import PostmortemRow
from airsoc.response.actions import Action, ActionContext, ActionRegistry, ActionResult

__all__ = ["REPORTING_ACTIONS", "OpenPostmortem", "register_reporting_actions"]


class OpenPostmortem(Action):
    """Open the incident's draft post-mortem, or name the one it has."""

    name = "open_postmortem"
    summary = "open the draft post-mortem"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Create the draft in the transaction that records the step's effect."""
        with ctx.transaction() as s:
            existing = s.execute(
                select(PostmortemRow.id).where(PostmortemRow.incident_id == ctx.incident_id)
            ).scalar_one_or_none()
            if existing is not None:
                result = ActionResult(
                    output={"postmortem_id": existing, "opened": False},
                    summary=f"post-mortem {existing} was already open",
                )
            else:
                view = create_postmortem(
                    s, clock=ctx.clock, incident_id=ctx.incident_id, actor=ctx.actor
                )
                result = ActionResult(
                    output={"postmortem_id": view.id, "opened": True},
                    summary=f"draft post-mortem {view.id} opened",
                )
            ctx.record_effect(s, result)
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be opened."""
        return f"open the draft post-mortem of incident {ctx.incident_id}"


REPORTING_ACTIONS: tuple[Action, ...] = (OpenPostmortem(),)


def register_reporting_actions(registry: ActionRegistry) -> None:
    """Add the reporting actions to ``registry``."""
    for action in REPORTING_ACTIONS:
        registry.register(action)
