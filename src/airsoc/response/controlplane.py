"""The control plane response actions drive: serving, lineage and retrieval, behind one Protocol.

The serving gateway, the lineage registry and the retrieval index implement
:class:`ControlPlane`; response actions only ever call these methods. Every method takes the
idempotency key of the step that calls it, so a resumed playbook never applies a change twice,
and returns a JSON-able dict describing what changed (what ``compensate`` needs to undo it).

:class:`RecordingControlPlane` is a complete in-memory implementation shipped as a test double
(like httpx's ``MockTransport``): it keeps versions, routing modes, blocked clients, quarantined
batches and the like, honours idempotency keys, and records every call.

Example:
    >>> cp = RecordingControlPlane(versions={"fraud": ["v6", "v7"]})
    >>> cp.rollback(system="fraud", to="last_known_good", idempotency_key="k1")
    {'system': 'fraud', 'from': 'v7', 'to': 'v6'}
    >>> cp.rollback(system="fraud", to="last_known_good", idempotency_key="k1")["to"]
    'v6'
    >>> cp.serving["fraud"], len(cp.calls)
    ('v6', 1)
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from airsoc.errors import GatewayError, NotFoundError

__all__ = ["CONTROL_METHODS", "ControlCall", "ControlPlane", "RecordingControlPlane"]

CONTROL_METHODS = (
    "rollback",
    "fallback",
    "isolate",
    "restore",
    "set_canary",
    "block_client",
    "rate_limit_client",
    "quarantine_batch",
    "release_batch",
    "revoke_source",
    "disable_retrieval",
    "remove_document",
)


@runtime_checkable
class ControlPlane(Protocol):
    """What response actions need from the gateway, the registry and the retrieval index."""

    def rollback(self, *, system: str, to: str, idempotency_key: str) -> dict[str, Any]:
        """Serve version ``to`` (or ``last_known_good``); return ``{"from", "to"}``."""
        ...

    def fallback(self, *, system: str, mode: str, idempotency_key: str) -> dict[str, Any]:
        """Answer with the system's fallback (``rules``, ``scripted``, ``human_handoff``)."""
        ...

    def isolate(self, *, system: str, idempotency_key: str) -> dict[str, Any]:
        """Stop serving the model entirely (requests get the safe refusal)."""
        ...

    def restore(self, *, system: str, idempotency_key: str) -> dict[str, Any]:
        """Return to normal serving after a fallback or isolation."""
        ...

    def set_canary(
        self, *, system: str, version: str, percent: float, idempotency_key: str
    ) -> dict[str, Any]:
        """Send ``percent`` of traffic to ``version``."""
        ...

    def block_client(
        self, *, system: str, client: str, seconds: float | None, idempotency_key: str
    ) -> dict[str, Any]:
        """Refuse every request from ``client`` (for ``seconds``, or until lifted)."""
        ...

    def rate_limit_client(
        self, *, system: str, client: str, per_minute: int, idempotency_key: str
    ) -> dict[str, Any]:
        """Cap ``client`` at ``per_minute`` requests."""
        ...

    def quarantine_batch(self, *, batch: str, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Mark a data batch quarantined in lineage (no training may use it)."""
        ...

    def release_batch(self, *, batch: str, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Lift a batch's quarantine."""
        ...

    def revoke_source(self, *, source: str, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Mark a data source (vendor) untrusted in lineage."""
        ...

    def disable_retrieval(self, *, system: str, idempotency_key: str) -> dict[str, Any]:
        """Answer without retrieval (no documents in the prompt)."""
        ...

    def remove_document(
        self, *, system: str, document: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Take one document out of the retrieval index."""
        ...


@dataclass(frozen=True)
class ControlCall:
    """One call a :class:`RecordingControlPlane` received."""

    method: str
    args: dict[str, Any]
    idempotency_key: str


class RecordingControlPlane:
    """An in-memory control plane that behaves like the real one and records every call."""

    def __init__(
        self,
        *,
        versions: Mapping[str, Sequence[str]] | None = None,
        batches: Sequence[str] = (),
        documents: Mapping[str, Sequence[str]] | None = None,
        fail: Sequence[str] = (),
    ) -> None:
        self.versions = {k: list(v) for k, v in (versions or {}).items()}
        self.serving = {k: v[-1] for k, v in self.versions.items() if v}
        self.mode: dict[str, str] = dict.fromkeys(self.versions, "normal")
        self.canary: dict[str, tuple[str, float]] = {}
        self.blocked: dict[tuple[str, str], float | None] = {}
        self.rate_limits: dict[tuple[str, str], int] = {}
        self.quarantined: set[str] = set()
        self.known_batches = set(batches)
        self.untrusted_sources: set[str] = set()
        self.retrieval_enabled: dict[str, bool] = dict.fromkeys(self.versions, True)
        self.documents = {k: set(v) for k, v in (documents or {}).items()}
        self.fail = set(fail)
        self.calls: list[ControlCall] = []
        self._done: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _apply(self, method: str, key: str, args: dict[str, Any], change: Any) -> dict[str, Any]:
        with self._lock:
            if key in self._done:
                return copy.deepcopy(self._done[key])
            if method in self.fail:
                raise GatewayError(f"{method} failed (configured to fail)")
            result: dict[str, Any] = change()
            self.calls.append(ControlCall(method, dict(args), key))
            self._done[key] = copy.deepcopy(result)
            return result

    def _system(self, system: str) -> None:
        if system not in self.versions:
            raise NotFoundError(f"system {system!r} is not registered with the gateway")

    def rollback(self, *, system: str, to: str, idempotency_key: str) -> dict[str, Any]:
        """Serve ``to`` (``last_known_good`` is the version before the serving one)."""

        def change() -> dict[str, Any]:
            self._system(system)
            current = self.serving[system]
            target = to
            if to == "last_known_good":
                index = self.versions[system].index(current)
                if index == 0:
                    raise GatewayError(f"{system} has no version before {current}")
                target = self.versions[system][index - 1]
            elif to not in self.versions[system]:
                raise NotFoundError(f"{system} has no version {to!r}")
            self.serving[system] = target
            return {"system": system, "from": current, "to": target}

        return self._apply("rollback", idempotency_key, {"system": system, "to": to}, change)

    def _set_mode(self, method: str, system: str, mode: str, key: str) -> dict[str, Any]:
        def change() -> dict[str, Any]:
            self._system(system)
            previous = self.mode[system]
            self.mode[system] = mode
            return {"system": system, "previous_mode": previous, "mode": mode}

        return self._apply(method, key, {"system": system, "mode": mode}, change)

    def fallback(self, *, system: str, mode: str, idempotency_key: str) -> dict[str, Any]:
        """Switch to the fallback ``mode``."""
        return self._set_mode("fallback", system, f"fallback:{mode}", idempotency_key)

    def isolate(self, *, system: str, idempotency_key: str) -> dict[str, Any]:
        """Stop serving the model."""
        return self._set_mode("isolate", system, "isolated", idempotency_key)

    def restore(self, *, system: str, idempotency_key: str) -> dict[str, Any]:
        """Back to normal serving."""
        return self._set_mode("restore", system, "normal", idempotency_key)

    def set_canary(
        self, *, system: str, version: str, percent: float, idempotency_key: str
    ) -> dict[str, Any]:
        """Route ``percent`` of traffic to ``version``."""

        def change() -> dict[str, Any]:
            self._system(system)
            if version not in self.versions[system]:
                raise NotFoundError(f"{system} has no version {version!r}")
            previous = self.canary.get(system)
            self.canary[system] = (version, percent)
            return {
                "system": system,
                "version": version,
                "percent": percent,
                "previous": list(previous) if previous else None,
            }

        args = {"system": system, "version": version, "percent": percent}
        return self._apply("set_canary", idempotency_key, args, change)

    def block_client(
        self, *, system: str, client: str, seconds: float | None, idempotency_key: str
    ) -> dict[str, Any]:
        """Block ``client``."""

        def change() -> dict[str, Any]:
            self._system(system)
            self.blocked[(system, client)] = seconds
            return {"system": system, "client": client, "seconds": seconds}

        args = {"system": system, "client": client, "seconds": seconds}
        return self._apply("block_client", idempotency_key, args, change)

    def rate_limit_client(
        self, *, system: str, client: str, per_minute: int, idempotency_key: str
    ) -> dict[str, Any]:
        """Rate-limit ``client``."""

        def change() -> dict[str, Any]:
            self._system(system)
            self.rate_limits[(system, client)] = per_minute
            return {"system": system, "client": client, "per_minute": per_minute}

        args = {"system": system, "client": client, "per_minute": per_minute}
        return self._apply("rate_limit_client", idempotency_key, args, change)

    def quarantine_batch(self, *, batch: str, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Quarantine ``batch``."""

        def change() -> dict[str, Any]:
            if self.known_batches and batch not in self.known_batches:
                raise NotFoundError(f"batch {batch!r} is not registered")
            was = batch in self.quarantined
            self.quarantined.add(batch)
            return {"batch": batch, "was_quarantined": was}

        args = {"batch": batch, "reason": reason}
        return self._apply("quarantine_batch", idempotency_key, args, change)

    def release_batch(self, *, batch: str, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Release ``batch`` from quarantine."""

        def change() -> dict[str, Any]:
            self.quarantined.discard(batch)
            return {"batch": batch}

        args = {"batch": batch, "reason": reason}
        return self._apply("release_batch", idempotency_key, args, change)

    def revoke_source(self, *, source: str, reason: str, idempotency_key: str) -> dict[str, Any]:
        """Mark ``source`` untrusted."""

        def change() -> dict[str, Any]:
            self.untrusted_sources.add(source)
            return {"source": source}

        args = {"source": source, "reason": reason}
        return self._apply("revoke_source", idempotency_key, args, change)

    def disable_retrieval(self, *, system: str, idempotency_key: str) -> dict[str, Any]:
        """Turn retrieval off."""

        def change() -> dict[str, Any]:
            self._system(system)
            self.retrieval_enabled[system] = False
            return {"system": system}

        return self._apply("disable_retrieval", idempotency_key, {"system": system}, change)

    def remove_document(
        self, *, system: str, document: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Remove ``document`` from the index."""

        def change() -> dict[str, Any]:
            docs = self.documents.get(system, set())
            if document not in docs:
                raise NotFoundError(f"{system} has no document {document!r}")
            docs.discard(document)
            return {"system": system, "document": document}

        args = {"system": system, "document": document}
        return self._apply("remove_document", idempotency_key, args, change)
