"""The control plane playbook actions act through: one method, ``apply``, for every operation.

The operations themselves (rollback, fallback, client blocks, batch quarantine, retrieval
controls, ...) are the runtime's table (:mod:`airsoc.runtime.operations`); the runtime wraps
each as a playbook action that calls :meth:`ControlPlane.apply` with the step's idempotency key,
so a resumed playbook never applies a change twice. ``apply`` returns a JSON-able dict
describing what changed: what the action's ``compensate`` needs to undo it.

:class:`RecordingControlPlane` is a complete in-memory control plane shipped as a test double
(like httpx's ``MockTransport``): it keeps versions, routing modes, client rules, quarantined
batches and retrieval controls, honours idempotency keys, and records every call. It answers
with the same report the real one gives (see :meth:`airsoc.runtime.operations.Operation.run`).

Example:
    >>> cp = RecordingControlPlane(versions={"fraud": ["v6", "v7"]})
    >>> cp.apply("rollback", {"system": "fraud", "to": "last_known_good"}, idempotency_key="k1")
    {'system': 'fraud', 'from': 'v7', 'to': 'v6'}
    >>> cp.apply("rollback", {"system": "fraud", "to": "v7"}, idempotency_key="k1")["to"]
    'v6'
    >>> cp.serving["fraud"], len(cp.calls)
    ('v6', 1)
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from airsoc.errors import ConflictError, GatewayError, NotFoundError

__all__ = ["ControlCall", "ControlPlane", "RecordingControlPlane"]


@runtime_checkable
class ControlPlane(Protocol):
    """What playbook actions need from the gateway, the registry and the retrieval controls."""

    def apply(
        self,
        operation: str,
        params: Mapping[str, Any],
        *,
        idempotency_key: str,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Make the change ``operation`` with ``params`` once per key; return what changed.

        ``reason`` is the step's own reason, if it gives one; the control plane adds who acts.
        """
        ...


@dataclass(frozen=True)
class ControlCall:
    """One call a :class:`RecordingControlPlane` received."""

    method: str
    args: dict[str, Any]
    idempotency_key: str


class RecordingControlPlane:
    """An in-memory control plane that behaves like the real one and records every call."""

    #: The operations it models (those of the runtime's table).
    OPERATIONS = frozenset(
        {
            "rollback",
            "fallback",
            "isolate",
            "restore",
            "set_canary",
            "set_shadow",
            "block_client",
            "unblock_client",
            "rate_limit_client",
            "quarantine_batch",
            "release_batch",
            "revoke_source",
            "hold_promotion",
            "release_hold",
            "disable_retrieval",
            "enable_retrieval",
            "remove_document",
            "restore_document",
            "set_source_trust",
            "approve_batch",
            "retrain",
            "shadow_compare",
            "canary_analysis",
        }
    )

    def __init__(
        self,
        *,
        versions: Mapping[str, Sequence[str]] | None = None,
        batches: Sequence[str] = (),
        documents: Mapping[str, Sequence[str]] | None = None,
        fail: Sequence[str] = (),
        canary_verdicts: Mapping[str, str] | None = None,
    ) -> None:
        self.versions = {k: list(v) for k, v in (versions or {}).items()}
        self.serving = {k: v[-1] for k, v in self.versions.items() if v}
        self.mode: dict[str, str] = dict.fromkeys(self.versions, "normal")
        self.canary: dict[str, tuple[str, float]] = {}
        self.blocked: dict[str, Any] = {}
        self.rate_limits: dict[str, tuple[float | None, int | None]] = {}
        self.quarantined: set[str] = set()
        self.known_batches = set(batches)
        self.untrusted_sources: set[str] = set()
        self.source_trust: dict[str, str] = {}
        self.approved_batches: set[str] = set()
        self.held: set[tuple[str, str]] = set()
        self.retrieval_enabled: dict[str, bool] = dict.fromkeys(self.versions, True)
        self.documents = {k: set(v) for k, v in (documents or {}).items()}
        self.removed_documents: dict[str, set[str]] = {}
        self.fail = set(fail)
        #: What the canary analysis of each system concludes (default ``promote``).
        self.canary_verdicts = dict(canary_verdicts or {})
        self.calls: list[ControlCall] = []
        self.reasons: list[str | None] = []
        self._done: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def apply(
        self,
        operation: str,
        params: Mapping[str, Any],
        *,
        idempotency_key: str,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Apply ``operation`` in memory once per key and return its report."""
        if operation not in self.OPERATIONS:
            raise NotFoundError(f"unknown operation {operation!r}")
        change: Callable[..., dict[str, Any]] = getattr(self, f"_{operation}")
        args = {k: v for k, v in params.items() if v is not None}
        with self._lock:
            if idempotency_key in self._done:
                return copy.deepcopy(self._done[idempotency_key])
            if operation in self.fail:
                raise GatewayError(f"{operation} failed (configured to fail)")
            result = change(**args)
            self.calls.append(ControlCall(operation, dict(params), idempotency_key))
            self.reasons.append(reason)
            self._done[idempotency_key] = copy.deepcopy(result)
            return result

    # ------------------------------------------------------------------ routing

    def _system(self, system: str) -> None:
        if system not in self.versions:
            raise NotFoundError(f"system {system!r} is not registered with the gateway")

    def _rollback(
        self, *, system: str, to: str = "last_known_good", before_batch: str | None = None
    ) -> dict[str, Any]:
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
        if (system, target) in self.held and target != current:
            raise ConflictError(f"{system} {target}: its promotion is held")
        self.serving[system] = target
        return {"system": system, "from": current, "to": target}

    def _set_mode(self, system: str, mode: str, **extra: Any) -> dict[str, Any]:
        self._system(system)
        previous = self.mode[system]
        self.mode[system] = mode
        return {"system": system, "previous_mode": previous, "mode": mode, **extra}

    def _fallback(
        self,
        *,
        system: str,
        type: str = "scripted",
        path: str | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        return self._set_mode(system, f"fallback:{type}", type=type)

    def _isolate(self, *, system: str) -> dict[str, Any]:
        return self._set_mode(system, "isolated")

    def _restore(self, *, system: str) -> dict[str, Any]:
        self.canary.pop(system, None)
        return self._set_mode(system, "normal")

    def _candidate(self, system: str, version: str, share: float, mode: str) -> dict[str, Any]:
        self._system(system)
        if version not in self.versions[system]:
            raise NotFoundError(f"{system} has no version {version!r}")
        self.canary[system] = (version, share)
        return self._set_mode(system, mode, version=version, share=share)

    def _set_canary(self, *, system: str, version: str, share: float) -> dict[str, Any]:
        return self._candidate(system, version, share, "canary")

    def _set_shadow(self, *, system: str, version: str, share: float = 1.0) -> dict[str, Any]:
        return self._candidate(system, version, share, "shadow")

    # ------------------------------------------------------------------ clients

    def _client_report(self, client_id: str, was: bool, rate: Any) -> dict[str, Any]:
        now_rate, now_burst = self.rate_limits.get(client_id, (None, None))
        return {
            "client_id": client_id,
            "blocked": client_id in self.blocked,
            "was_blocked": was,
            "rate_per_second": now_rate,
            "burst": now_burst,
            "previous_rate_per_second": rate[0],
            "previous_burst": rate[1],
        }

    def _block_client(self, *, client_id: str, duration: Any = None) -> dict[str, Any]:
        was, rate = client_id in self.blocked, self.rate_limits.get(client_id, (None, None))
        self.blocked[client_id] = duration
        return self._client_report(client_id, was, rate)

    def _unblock_client(self, *, client_id: str) -> dict[str, Any]:
        was, rate = client_id in self.blocked, self.rate_limits.get(client_id, (None, None))
        self.blocked.pop(client_id, None)
        return self._client_report(client_id, was, rate)

    def _rate_limit_client(
        self, *, client_id: str, rate_per_second: float | None = None, burst: int | None = None
    ) -> dict[str, Any]:
        was, rate = client_id in self.blocked, self.rate_limits.get(client_id, (None, None))
        if rate_per_second is None:
            self.rate_limits.pop(client_id, None)
        else:
            self.rate_limits[client_id] = (rate_per_second, burst)
        return self._client_report(client_id, was, rate)

    # ------------------------------------------------------------------ lineage

    def _quarantine_batch(self, *, batch_id: str, cascade: bool = False) -> dict[str, Any]:
        if self.known_batches and batch_id not in self.known_batches:
            raise NotFoundError(f"batch {batch_id!r} is not registered")
        was = batch_id in self.quarantined
        self.quarantined.add(batch_id)
        return {"batch_id": batch_id, "was_quarantined": was, "status": "quarantined"}

    def _release_batch(self, *, batch_id: str) -> dict[str, Any]:
        if batch_id not in self.quarantined:
            raise ConflictError(f"batch {batch_id} is not quarantined")
        self.quarantined.discard(batch_id)
        return {"batch_id": batch_id, "was_quarantined": True, "status": "released"}

    def _revoke_source(self, *, source: str) -> dict[str, Any]:
        self.untrusted_sources.add(source)
        return {"source": source, "quarantined": []}

    def _set_source_trust(self, *, source: str, level: str) -> dict[str, Any]:
        before = self.source_trust.get(source, "trusted")
        self.source_trust[source] = level
        return {"source": source, "previous_level": before, "level": level}

    def _approve_batch(
        self, *, batch_id: str, trusted_batches: Sequence[str], label_column: str = "label"
    ) -> dict[str, Any]:
        if self.known_batches and batch_id not in self.known_batches:
            raise NotFoundError(f"data batch {batch_id!r} is not registered")
        if batch_id in self.quarantined:
            raise ConflictError(f"batch {batch_id} is quarantined; release it before approving it")
        self.approved_batches.add(batch_id)
        return {"batch_id": batch_id, "screening": "ok", "trusted_batches": list(trusted_batches)}

    def _hold_report(self, system: str, version: str, was: bool) -> dict[str, Any]:
        held = (system, version) in self.held
        return {
            "system": system,
            "version": version,
            "was_held": was,
            "status": "held" if held else "candidate",
            "serving": self.serving.get(system) == version,
        }

    def _hold_promotion(self, *, system: str, version: str | None = None) -> dict[str, Any]:
        self._system(system)
        version = version or self.serving[system]
        if version not in self.versions[system]:
            raise NotFoundError(f"{system} has no version {version!r}")
        was = (system, version) in self.held
        self.held.add((system, version))
        return self._hold_report(system, version, was)

    def _release_hold(self, *, system: str, version: str) -> dict[str, Any]:
        if (system, version) not in self.held:
            raise ConflictError(f"{system} {version} is not held")
        self.held.discard((system, version))
        return self._hold_report(system, version, True)

    # ------------------------------------------------------------------ retrieval

    def _retrieval(self, system: str, enabled: bool) -> dict[str, Any]:
        self._system(system)
        was = self.retrieval_enabled[system]
        self.retrieval_enabled[system] = enabled
        return {"system": system, "was_enabled": was, "enabled": enabled}

    def _disable_retrieval(self, *, system: str) -> dict[str, Any]:
        return self._retrieval(system, False)

    def _enable_retrieval(self, *, system: str) -> dict[str, Any]:
        return self._retrieval(system, True)

    def _document(self, system: str, document: str, remove: bool) -> dict[str, Any]:
        removed = self.removed_documents.setdefault(system, set())
        if remove and document not in self.documents.get(system, set()) | removed:
            raise NotFoundError(f"{system} has no document {document!r}")
        was = document in removed
        if remove:
            removed.add(document)
            self.documents.get(system, set()).discard(document)
        elif was:
            removed.discard(document)
            self.documents.setdefault(system, set()).add(document)
        enabled = self.retrieval_enabled.get(system, True)
        return {
            "system": system,
            "was_enabled": enabled,
            "enabled": enabled,
            "document": document,
            "was_removed": was,
        }

    def _remove_document(self, *, system: str, document: str) -> dict[str, Any]:
        return self._document(system, document, True)

    def _restore_document(self, *, system: str, document: str) -> dict[str, Any]:
        return self._document(system, document, False)

    # ------------------------------------------------------------------ recovery

    def _retrain(
        self,
        *,
        system: str,
        version: str | None = None,
        base_version: str | None = None,
        clean_training_set: Sequence[Mapping[str, Any]] | None = None,
        **_hook: Any,
    ) -> dict[str, Any]:
        self._system(system)
        base = base_version or self.serving.get(system)
        new = version or f"{base or 'v'}-retrained-{len(self.versions[system])}"
        if new in self.versions[system]:
            raise ConflictError(f"system {system} already has a model version {new!r}")
        self.versions[system].append(new)
        chosen = list(clean_training_set or [])
        return {
            "system": system,
            "version": new,
            "base_version": base,
            "batches": [str(c["batch"]) for c in chosen],
            "excluded_rows": {
                str(c["batch"]): len(c.get("excluded_rows") or [])
                for c in chosen
                if c.get("excluded_rows")
            },
            "status": "candidate",
        }

    def _running(self, system: str, mode: str, version: str | None) -> str:
        self._system(system)
        if self.mode[system] != mode or system not in self.canary:
            raise ConflictError(f"system {system} runs no {mode} now")
        candidate = self.canary[system][0]
        if version is not None and version != candidate:
            raise ConflictError(f"system {system}: the {mode} runs {candidate}, not {version}")
        return candidate

    def _shadow_compare(
        self, *, system: str, version: str | None = None, **_options: Any
    ) -> dict[str, Any]:
        candidate = self._running(system, "shadow", version)
        return {"system": system, "candidate": {"version": candidate}, "ready": True, "reasons": []}

    def _canary_analysis(
        self, *, system: str, version: str | None = None, apply: bool = True, **_options: Any
    ) -> dict[str, Any]:
        candidate = self._running(system, "canary", version)
        verdict = self.canary_verdicts.get(system, "promote")
        previous = self.serving[system]
        if apply and verdict == "promote":
            self.serving[system] = candidate
            self._restore(system=system)
        elif apply and verdict == "abort":
            self._restore(system=system)
            self.held.add((system, candidate))
        return {
            "system": system,
            "candidate_version": candidate,
            "verdict": verdict,
            "applied": apply and verdict != "continue",
            "previous_primary": previous,
            "reasons": [],
        }
