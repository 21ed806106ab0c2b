"""The control plane ``airsoc up`` gives response actions: a running gateway and the registry.

:class:`GatewayControlPlane` implements :class:`airsoc.response.ControlPlane` over
:class:`airsoc.serving.Gateway` (routing changes apply in this process at once and reach other
gateways through the store) and the lineage service functions (batch quarantine, source
revocation). Retrieval controls are not wired to a gateway here and fail with a clear error.
Idempotency keys are remembered for the life of the process.

Example:
    >>> import tempfile
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.serving import Gateway
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp()))
    >>> cp = GatewayControlPlane(Gateway(store=store, clock=SimulatedClock()))
    >>> cp.disable_retrieval(system="bot", idempotency_key="k")
    Traceback (most recent call last):
    ...
    airsoc.errors.GatewayError: disable_retrieval: no retrieval index is attached to this gateway
    >>> store.close()
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from airsoc import lineage
from airsoc.errors import GatewayError
from airsoc.serving import Gateway, RouteView, get_route

__all__ = ["GatewayControlPlane"]


class GatewayControlPlane:
    """Response actions' control plane over a live gateway and the lineage registry."""

    def __init__(self, gateway: Gateway, *, actor: str = "system:playbook") -> None:
        self.gateway = gateway
        self.actor = actor
        self._done: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _once(self, key: str, change: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            if key not in self._done:
                self._done[key] = change()
            return dict(self._done[key])

    def _route(self, system: str) -> RouteView:
        with self.gateway.store.read() as s:
            return get_route(s, system=system)

    def _mode(self, system: str, method: str, apply: Callable[[], RouteView]) -> dict[str, Any]:
        previous = self._route(system).mode
        view = apply()
        return {"system": system, "previous_mode": previous, "mode": view.mode, "via": method}

    def rollback(self, *, system: str, to: str, idempotency_key: str) -> dict[str, Any]:
        """Serve ``to`` (or the last known-good version); return ``{"from", "to"}``."""

        def change() -> dict[str, Any]:
            before = self._route(system).primary_version
            view = self.gateway.rollback(
                system, to=to, actor=self.actor, reason=f"playbook rollback ({idempotency_key})"
            )
            return {"system": system, "from": before, "to": view.primary_version}

        return self._once(idempotency_key, change)

    def fallback(self, *, system: str, mode: str, idempotency_key: str) -> dict[str, Any]:
        """Answer from the system's fallback."""
        return self._once(
            idempotency_key,
            lambda: self._mode(
                system,
                "fallback",
                lambda: self.gateway.fallback(
                    system, actor=self.actor, reason=f"playbook fallback to {mode}"
                ),
            ),
        )

    def isolate(self, *, system: str, idempotency_key: str) -> dict[str, Any]:
        """Refuse every request to ``system``."""
        return self._once(
            idempotency_key,
            lambda: self._mode(
                system,
                "isolate",
                lambda: self.gateway.isolate(system, actor=self.actor, reason="playbook isolate"),
            ),
        )

    def restore(self, *, system: str, idempotency_key: str) -> dict[str, Any]:
        """Back to normal serving."""
        return self._once(
            idempotency_key,
            lambda: self._mode(
                system,
                "restore",
                lambda: self.gateway.restore(system, actor=self.actor, reason="playbook restore"),
            ),
        )

    def set_canary(
        self, *, system: str, version: str, percent: float, idempotency_key: str
    ) -> dict[str, Any]:
        """Send ``percent`` of the traffic to ``version``."""

        def change() -> dict[str, Any]:
            self.gateway.set_canary(
                system, version, percent / 100, actor=self.actor, reason="playbook canary"
            )
            return {"system": system, "version": version, "percent": percent}

        return self._once(idempotency_key, change)

    def block_client(
        self, *, system: str, client: str, seconds: float | None, idempotency_key: str
    ) -> dict[str, Any]:
        """Block ``client`` at the gateway (every system; lifting is a separate call)."""

        def change() -> dict[str, Any]:
            self.gateway.block_client(client, actor=self.actor, reason=f"playbook on {system}")
            return {"system": system, "client": client, "seconds": seconds}

        return self._once(idempotency_key, change)

    def rate_limit_client(
        self, *, system: str, client: str, per_minute: int, idempotency_key: str
    ) -> dict[str, Any]:
        """Cap ``client`` at ``per_minute`` requests."""

        def change() -> dict[str, Any]:
            self.gateway.limit_client(
                client, per_minute / 60, actor=self.actor, reason=f"playbook on {system}"
            )
            return {"system": system, "client": client, "per_minute": per_minute}

        return self._once(idempotency_key, change)

    def _lineage(self, key: str, fn: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        def change() -> dict[str, Any]:
            store = self.gateway.store
            with store.transaction() as s:
                fn(s, clock=self.gateway.clock, actor=self.actor, **kwargs)
            return {k: v for k, v in kwargs.items() if k != "reason"}

        return self._once(key, change)

    def quarantine_batch(self, *, batch: str, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Quarantine ``batch`` in the registry."""
        return self._lineage(
            idempotency_key, lineage.quarantine_batch, batch_id=batch, reason=reason
        )

    def release_batch(self, *, batch: str, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Lift ``batch``'s quarantine."""
        return self._lineage(idempotency_key, lineage.release_batch, batch_id=batch, reason=reason)

    def revoke_source(self, *, source: str, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Mark ``source`` untrusted."""
        return self._lineage(idempotency_key, lineage.revoke_source, source=source, reason=reason)

    def disable_retrieval(self, *, system: str, idempotency_key: str) -> dict[str, Any]:
        """Not available here: raise :class:`~airsoc.errors.GatewayError`."""
        raise GatewayError("disable_retrieval: no retrieval index is attached to this gateway")

    def remove_document(
        self, *, system: str, document: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Not available here: raise :class:`~airsoc.errors.GatewayError`."""
        raise GatewayError("remove_document: no retrieval index is attached to this gateway")
