"""Playbook actions made from the table of operations, one per operation.

Each action's parameters are the operation's (plus an optional ``reason``, recorded with the
run, the step and the approver); ``execute`` calls the control plane with the step's
idempotency key, ``describe`` says the call a dry run would make, and ``compensate`` applies the
operation's undo (with the key ``<step key>/undo``). The runtime registers them in the action
registry (:func:`airsoc.runtime.registries.build_registries`): response actions cannot reach up
to the runtime's table, so the table comes down to them.

Example:
    >>> from airsoc.response.actions import ActionRegistry
    >>> registry = ActionRegistry()
    >>> register_operation_actions(registry)
    >>> action = registry.get("rollback")
    >>> action.destructive, action.params_model(system="fraud").to
    (True, 'last_known_good')
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, Field, create_model

from airsoc.errors import ActionError, AirsocError
from airsoc.response.actions import Action, ActionContext, ActionRegistry, ActionResult
from airsoc.roles import UserRole
from airsoc.runtime.operations import OPERATIONS, Operation

__all__ = ["OperationAction", "operation_action", "register_operation_actions"]


class OperationAction(Action):
    """A playbook action that applies one operation of the table through the control plane."""

    operation: ClassVar[Operation]
    #: The role a person needs to make the same change through the API.
    role: ClassVar[UserRole]

    def arguments(self, ctx: ActionContext) -> dict[str, Any]:
        """Return the operation's parameters (without the step's reason), JSON-able."""
        params: BaseModel = ctx.params
        return params.model_dump(mode="json", exclude={"reason"})

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Apply the operation once for the step's idempotency key."""
        try:
            output = ctx.control_plane().apply(
                self.operation.name,
                self.arguments(ctx),
                idempotency_key=ctx.idempotency_key,
                reason=ctx.params.reason,
            )
        except AirsocError as exc:
            raise ActionError(f"{self.name} failed: {exc}") from exc
        return ActionResult(output=dict(output), summary=f"{self.name}: {_short(output)}")

    def describe(self, ctx: ActionContext) -> str:
        """Say which operation would be applied with which parameters (a dry run)."""
        params: BaseModel = ctx.params
        shown = params.model_dump(exclude_none=True)
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def compensate(self, ctx: ActionContext, result: ActionResult) -> ActionResult | None:
        """Apply the operation's undo; None when the operation cannot be undone."""
        undo = self.operation.undo
        if undo is None:
            return None
        inverse = undo.params(result.output)
        if inverse is None:
            return ActionResult(summary=f"{self.name}: it was so before; left as it was")
        try:
            output = ctx.control_plane().apply(
                undo.operation,
                inverse,
                idempotency_key=ctx.idempotency_key + "/undo",
                reason=f"undo {self.name}",
            )
        except AirsocError as exc:
            raise ActionError(f"undoing {self.name} failed: {exc}") from exc
        return ActionResult(output=dict(output), summary=f"undid {self.name}: {_short(output)}")


def _short(output: Any) -> str:
    return json.dumps(output, sort_keys=True, default=str)[:200]


def operation_action(operation: Operation) -> OperationAction:
    """Return the playbook action of ``operation``.

    >>> from airsoc.runtime.operations import get_operation
    >>> action = operation_action(get_operation("remove_document"))
    >>> action.name, sorted(action.params_model.model_fields)
    ('remove_document', ['document', 'reason', 'system'])
    """
    params = create_model(
        f"{_camel(operation.name)}Step",
        __base__=operation.params,
        reason=(
            str | None,
            Field(None, description="Why (recorded with the run, the step and the approver)"),
        ),
    )
    cls = type(
        f"{_camel(operation.name)}Action",
        (OperationAction,),
        {
            "__doc__": operation.summary,
            "name": operation.name,
            "params_model": params,
            "destructive": operation.destructive,
            "summary": operation.summary.rstrip(".").split(" (")[0].lower(),
            "operation": operation,
            "role": operation.role,
        },
    )
    action: OperationAction = cls()
    return action


def register_operation_actions(registry: ActionRegistry) -> None:
    """Add the action of every operation of the table to ``registry``."""
    for operation in OPERATIONS:
        registry.register(operation_action(operation))


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
