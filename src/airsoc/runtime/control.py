"""The live control plane: response actions acting on the real gateway, registry and retrieval.

:class:`LiveControlPlane` implements :class:`~airsoc.response.controlplane.ControlPlane` over the
service functions of :mod:`airsoc.serving.control`, :mod:`airsoc.serving.retrieval` and
:mod:`airsoc.lineage`. Each call runs in one store transaction that makes the change (those
services write the audit entries, on chains ``system/<name>``, ``client/<id>`` and
``batch/<id>``) and records the step's effect under its idempotency key, so a playbook resumed
after a crash finds the effect and never applies it twice. Running gateways see the change on
their next poll of the routing revision (milliseconds); a gateway passed in is refreshed at once.

The actor of each change is the playbook run (``playbook:<run>``); the reason names the step
and, when the step was approved, who approved it.

Example:
    >>> import tempfile
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.lineage import register_system, register_model_version, mark_known_good
    >>> from airsoc.serving import promote
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp()))
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = register_system(s, clock=clock, actor="a", name="fraud", kind="tabular-classifier",
    ...                     owner="r")
    ...     for v in ("v1", "v2"):
    ...         _ = register_model_version(s, clock=clock, actor="ci", system="fraud", version=v,
    ...                                    artifact_uri=f"s3://m/{v}", sha256=v[1] * 64)
    ...     _ = mark_known_good(s, clock=clock, actor="a", system="fraud", version="v1",
    ...                         reason="ok")
    ...     _ = promote(s, clock=clock, actor="ci", system="fraud", version="v2", reason="ship")
    >>> cp = live_control_plane(store=store, clock=clock)
    >>> cp.rollback(system="fraud", to="last_known_good", idempotency_key="run-1/contain")
    {'system': 'fraud', 'from': 'v2', 'to': 'v1'}
    >>> cp.rollback(system="fraud", to="v2", idempotency_key="run-1/contain")["to"]
    'v1'
    >>> store.close()
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc import lineage
from airsoc.clock import Clock
from airsoc.errors import InputError
from airsoc.response.models import ActionEffectRow, ApprovalRow
from airsoc.serving import control, retrieval
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

    # ------------------------------------------------------------------ serving

    def rollback(self, *, system: str, to: str, idempotency_key: str) -> dict[str, Any]:
        """Serve ``to`` (or the last known-good version); return ``{"system", "from", "to"}``."""

        def change(s: Session, actor: str, reason: str) -> dict[str, Any]:
            before = control.get_route(s, system=system).primary_version
            route = control.rollback(
                s, clock=self.clock, actor=actor, system=system, to=to, reason=reason
            )
            return {"system": system, "from": before, "to": route.primary_version}

        return self._apply("rollback", idempotency_key, change)

    def fallback(self, *, system: str, mode: str, idempotency_key: str) -> dict[str, Any]:
        """Answer from the fallback of type ``mode`` (the system's own spec when it has one)."""

        def change(s: Session, actor: str, reason: str) -> dict[str, Any]:
            configured = lineage.get_system(s, name=system).fallback
            spec: dict[str, Any] | None
            if configured and configured.get("type") == mode:
                spec = dict(configured)
            elif mode == "rules":
                raise InputError(
                    f"system {system} has no rules fallback configured (fallback.path)"
                )
            else:
                spec = None if mode == "scripted" else {"type": mode}
            before = control.get_route(s, system=system).mode
            route = control.set_fallback(
                s, clock=self.clock, actor=actor, system=system, reason=reason, fallback=spec
            )
            kind = (route.fallback or {}).get("type", mode)
            return {"system": system, "previous_mode": before, "mode": "fallback", "type": kind}

        return self._apply("fallback", idempotency_key, change)

    def isolate(self, *, system: str, idempotency_key: str) -> dict[str, Any]:
        """Refuse every request to ``system``."""

        def change(s: Session, actor: str, reason: str) -> dict[str, Any]:
            before = control.get_route(s, system=system).mode
            route = control.isolate(s, clock=self.clock, actor=actor, system=system, reason=reason)
            return {"system": system, "previous_mode": before, "mode": route.mode}

        return self._apply("isolate", idempotency_key, change)

    def restore(self, *, system: str, idempotency_key: str) -> dict[str, Any]:
        """Leave fallback or isolation (or end a canary or shadow)."""

        def change(s: Session, actor: str, reason: str) -> dict[str, Any]:
            before = control.get_route(s, system=system).mode
            route = control.restore(s, clock=self.clock, actor=actor, system=system, reason=reason)
            return {"system": system, "previous_mode": before, "mode": route.mode}

        return self._apply("restore", idempotency_key, change)

    def set_canary(
        self, *, system: str, version: str, percent: float, idempotency_key: str
    ) -> dict[str, Any]:
        """Send ``percent`` (0-100) of the traffic to ``version``."""

        def change(s: Session, actor: str, reason: str) -> dict[str, Any]:
            route = control.get_route(s, system=system)
            previous = (
                [route.candidate_version, route.candidate_share * 100]
                if route.mode == "canary"
                else None
            )
            control.set_canary(
                s,
                clock=self.clock,
                actor=actor,
                system=system,
                version=version,
                share=percent / 100,
                reason=reason,
            )
            return {"system": system, "version": version, "percent": percent, "previous": previous}

        return self._apply("set_canary", idempotency_key, change)

    def block_client(
        self, *, system: str, client: str, seconds: float | None, idempotency_key: str
    ) -> dict[str, Any]:
        """Block ``client`` at the gateway (every system; lifted with ``gateway unblock``)."""

        def change(s: Session, actor: str, reason: str) -> dict[str, Any]:
            span = f" (asked for {seconds:g}s; lift by hand)" if seconds is not None else ""
            control.block_client(
                s, clock=self.clock, actor=actor, client_id=client, reason=reason + span
            )
            return {"system": system, "client": client, "seconds": seconds, "blocked": True}

        return self._apply("block_client", idempotency_key, change)

    def rate_limit_client(
        self, *, system: str, client: str, per_minute: int, idempotency_key: str
    ) -> dict[str, Any]:
        """Cap ``client`` at ``per_minute`` requests (0 blocks it)."""

        def change(s: Session, actor: str, reason: str) -> dict[str, Any]:
            if per_minute == 0:
                control.block_client(
                    s, clock=self.clock, actor=actor, client_id=client, reason=reason
                )
            else:
                control.limit_client(
                    s,
                    clock=self.clock,
                    actor=actor,
                    client_id=client,
                    rate_per_second=per_minute / 60,
                    burst=max(1, min(per_minute, 10)),
                    reason=reason,
                )
            return {"system": system, "client": client, "per_minute": per_minute}

        return self._apply("rate_limit_client", idempotency_key, change)

    # ------------------------------------------------------------------ lineage

    def quarantine_batch(self, *, batch: str, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Quarantine ``batch``; ``was_quarantined`` says whether it already was."""

        def change(s: Session, actor: str, why: str) -> dict[str, Any]:
            was = lineage.get_batch(s, batch_id=batch).status == "quarantined"
            if not was:
                lineage.quarantine_batch(
                    s, clock=self.clock, actor=actor, batch_id=batch, reason=f"{reason} ({why})"
                )
            return {"batch": batch, "was_quarantined": was}

        return self._apply("quarantine_batch", idempotency_key, change)

    def release_batch(self, *, batch: str, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Lift ``batch``'s quarantine."""

        def change(s: Session, actor: str, why: str) -> dict[str, Any]:
            lineage.release_batch(
                s, clock=self.clock, actor=actor, batch_id=batch, reason=f"{reason} ({why})"
            )
            return {"batch": batch}

        return self._apply("release_batch", idempotency_key, change)

    def revoke_source(self, *, source: str, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Quarantine every batch of ``source``; return the batches it touched."""

        def change(s: Session, actor: str, why: str) -> dict[str, Any]:
            touched = lineage.revoke_source(
                s, clock=self.clock, actor=actor, source=source, reason=f"{reason} ({why})"
            )
            return {"source": source, "quarantined": [b.batch_id for b in touched]}

        return self._apply("revoke_source", idempotency_key, change)

    # ------------------------------------------------------------------ retrieval

    def disable_retrieval(self, *, system: str, idempotency_key: str) -> dict[str, Any]:
        """Make ``system`` answer without retrieval."""

        def change(s: Session, actor: str, reason: str) -> dict[str, Any]:
            before = retrieval.get_retrieval(s, system=system).enabled
            retrieval.disable_retrieval(
                s, clock=self.clock, actor=actor, system=system, reason=reason
            )
            return {"system": system, "was_enabled": before}

        return self._apply("disable_retrieval", idempotency_key, change)

    def remove_document(
        self, *, system: str, document: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Take ``document`` out of what ``system`` may retrieve."""

        def change(s: Session, actor: str, reason: str) -> dict[str, Any]:
            retrieval.remove_document(
                s, clock=self.clock, actor=actor, system=system, document=document, reason=reason
            )
            return {"system": system, "document": document}

        return self._apply("remove_document", idempotency_key, change)


def live_control_plane(
    *, store: Store, clock: Clock, gateway: Gateway | None = None
) -> LiveControlPlane:
    """Return the control plane over the gateway controls, lineage and retrieval in ``store``."""
    return LiveControlPlane(store=store, clock=clock, gateway=gateway)
