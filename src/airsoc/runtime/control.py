"""The live control plane: playbook actions acting on the real gateway, registry and retrieval.

:class:`LiveControlPlane` implements :class:`~airsoc.response.controlplane.ControlPlane` over the
table of operations (:mod:`airsoc.runtime.operations`). Each call runs in one store transaction
that makes the change (the services write the audit entries, on chains ``system/<name>``,
``client/<id>`` and ``batch/<id>``) and records the step's effect under its idempotency key, so
a playbook resumed after a crash finds the effect and never applies it twice. Running gateways
see the change on their next poll of the routing revision (milliseconds); a gateway passed in
is refreshed at once.

The actor of each change is the playbook run (``playbook:<run>``); the reason names the step
and, when the step was approved, who approved it.

Example:
    >>> from airsoc.testing import scratch_operations
    >>> store, clock = scratch_operations()  # fraud serves v2; v1 is known-good
    >>> cp = live_control_plane(store=store, clock=clock)
    >>> cp.apply("rollback", {"system": "fraud"}, idempotency_key="run-1/contain")
    {'system': 'fraud', 'from': 'v2', 'to': 'v1'}
    >>> cp.apply("rollback", {"system": "fraud", "to": "v2"}, idempotency_key="run-1/contain")["to"]
    'v1'
    >>> store.close()
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.errors import InputError
from airsoc.response.models import ActionEffectRow, ApprovalRow
from airsoc.runtime.operations import get_operation, parse_params
from airsoc.serving.gateway import Gateway
from airsoc.store import Store

__all__ = ["LiveControlPlane", "live_control_plane"]

_KEY = re.compile(r"^run-(?P<run>\d+)/(?P<step>[^/]+)")


class LiveControlPlane:
    """The :class:`~airsoc.response.controlplane.ControlPlane` of a real deployment."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        actor: str = "airsoc",
        gateway: Gateway | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.actor = actor
        self.gateway = gateway

    # ------------------------------------------------------------------ internals

    def _apply(
        self, method: str, key: str, change: Callable[[Session, str, str], dict[str, Any]]
    ) -> dict[str, Any]:
        if not key:
            raise InputError(f"{method}: an idempotency key is needed")
        with self.store.transaction() as s:
            done = s.get(ActionEffectRow, key)
            if done is not None:
                return dict(done.result.get("output", {}))
            actor, reason = self._who(s, method, key)
            output = change(s, actor, reason)
            s.add(
                ActionEffectRow(
                    idempotency_key=key,
                    action=method,
                    result={
                        "output": output,
                        "summary": f"{method}: {json.dumps(output, sort_keys=True)[:200]}",
                    },
                    at=self.clock.now(),
                )
            )
        if self.gateway is not None:
            self.gateway.refresh()
        return output

    def _who(self, s: Session, method: str, key: str) -> tuple[str, str]:
        match = _KEY.match(key)
        if match is None:
            return self.actor, f"{method} ({key})"
        run, step = int(match["run"]), match["step"]
        approver = s.execute(
            select(ApprovalRow.decided_by)
            .where(
                ApprovalRow.run_id == run,
                ApprovalRow.step_id == step,
                ApprovalRow.status == "approved",
            )
            .order_by(ApprovalRow.id.desc())
        ).first()
        reason = f"playbook run {run}, step {step}"
        if approver is not None and approver[0]:
            reason += f", approved by {approver[0]}"
        return f"playbook:{run}", reason

    # ------------------------------------------------------------------ the one method

    def apply(
        self,
        operation: str,
        params: Mapping[str, Any],
        *,
        idempotency_key: str,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Apply ``operation`` of the table once for ``idempotency_key``; return its report."""
        op = get_operation(operation)
        parsed = parse_params(op, params)

        def change(s: Session, actor: str, why: str) -> dict[str, Any]:
            return op.run(
                s,
                clock=self.clock,
                actor=actor,
                reason=f"{reason} ({why})" if reason else why,
                params=parsed,
            )

        return self._apply(op.name, idempotency_key, change)


def live_control_plane(
    *, store: Store, clock: Clock, gateway: Gateway | None = None
) -> LiveControlPlane:
    """Return the control plane over the gateway controls, lineage and retrieval in ``store``."""
    return LiveControlPlane(store=store, clock=clock, gateway=gateway)
