"""The table of operations: every control change a person or a playbook can make, written once.

Each :class:`Operation` names a service function of a lower floor (routing and client controls
of :mod:`airsoc.serving.control`, retrieval controls of :mod:`airsoc.serving.retrieval`, batch
and source changes and holds on a version's promotion of :mod:`airsoc.lineage`), its parameters
(a strict pydantic model), whether it is destructive (a second person approves it in a
playbook), the role a person needs for it, and how to undo it. Three surfaces are generated
from this table and nothing else:

- the playbook actions (:mod:`airsoc.runtime.playbook_actions`, registered by the runtime),
- the REST routes under ``/api/v1`` (:mod:`airsoc.server.routes.operations`),
- the ``airsoc`` commands (:mod:`airsoc.cli.operations`).

Every operation also takes who acts and why (``actor`` and ``reason``): each surface supplies
them its own way (the API from the token and the body, the CLI from ``--actor`` and
``--reason``, a playbook from its run, step and approver).

The module imports no service: a service is named ``"module:function"`` and loaded on first
use, so the CLI can build its commands from the table without loading the platform.

Example:
    >>> op = get_operation("rollback")
    >>> op.role.value, op.destructive, op.undo.operation, op.path
    ('responder', True, 'rollback', '/gateway/routes/{system}/rollback')
    >>> op.params.model_validate({"system": "fraud"}).to
    'last_known_good'
    >>> op.function().__name__
    'rollback'
    >>> sorted(o.name for o in OPERATIONS if o.role is UserRole.APPROVER)
    ['approve_batch', 'canary_analysis', 'set_canary', 'set_shadow']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from airsoc.clock import Clock
from airsoc.errors import InputError, NotFoundError
from airsoc.roles import UserRole
from airsoc.types import Duration, NonBlank, Text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "OPERATIONS",
    "ApproveBatchParams",
    "BatchParams",
    "BlockClientParams",
    "CanaryAnalysisParams",
    "CanaryParams",
    "ClientParams",
    "DocumentParams",
    "FallbackParams",
    "HoldParams",
    "LimitClientParams",
    "Operation",
    "OperationParams",
    "QuarantineParams",
    "RetrainParams",
    "RollbackParams",
    "ShadowCompareParams",
    "ShadowParams",
    "SourceParams",
    "SourceTrustParams",
    "SystemParams",
    "Undo",
    "VersionParams",
    "get_operation",
    "observe",
    "parse_params",
]

#: A system, version, batch or source name (a batch id may hold slashes: vendor/2026-11-15).
Name = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=r"^[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"),
]
#: A client id, as the gateway sees it (a header value or a peer address).
ClientId = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^[^/\s\x00-\x1f\x7f-\x9f]+$")
]
#: A look-back window: a number and one unit (30m, 2h, 7d).
Window = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,5}[smhdw]$")]
Document = Annotated[NonBlank, Field(min_length=1, max_length=500)]
Message = Annotated[Text, Field(min_length=1, max_length=2000)]


# --------------------------------------------------------------------------- parameters


class OperationParams(BaseModel):
    """Base of an operation's parameters: strict, and tolerant of older playbook spellings."""

    model_config = ConfigDict(extra="forbid")

    #: Field names playbooks written before the table may still use: old name -> field.
    renamed: ClassVar[Mapping[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _older_names(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.renamed:
            data = dict(data)
            for old, new in cls.renamed.items():
                if old in data and new not in data:
                    data[new] = data.pop(old)
        return data


class SystemParams(OperationParams):
    """An operation on one system."""

    system: Name = Field(description="The system")


class RollbackParams(SystemParams):
    """Serve an earlier version."""

    to: Name = Field("last_known_good", description="'last_known_good' or a version")
    before_batch: Name | None = Field(None, description="Known-good before this batch arrived")


class FallbackParams(SystemParams):
    """Answer from the fallback instead of the model."""

    renamed = {"mode": "type"}

    type: Literal["rules", "scripted", "human_handoff"] | None = Field(
        None, description="rules|scripted|human_handoff (default: config)"
    )
    path: str | None = Field(None, description="Rules: file.py:function")
    message: Message | None = Field(None, description="Scripted / hand-off message")


class CanaryParams(SystemParams):
    """Send a share of the traffic to a candidate version."""

    version: Name = Field(description="The candidate version")
    share: float = Field(gt=0.0, lt=1.0, description="Share of traffic, 0..1")

    @model_validator(mode="before")
    @classmethod
    def _percent(cls, data: Any) -> Any:
        # Playbooks written before the table give a percentage.
        if isinstance(data, dict) and "percent" in data and "share" not in data:
            data = dict(data)
            percent = data.pop("percent")
            # A value that is not a number is left for the share's check to name.
            is_number = isinstance(percent, int | float) and not isinstance(percent, bool)
            data["share"] = percent / 100 if is_number else percent
        return data


class ShadowParams(SystemParams):
    """Mirror a share of the traffic to a candidate version."""

    version: Name = Field(description="The candidate version")
    share: float = Field(1.0, gt=0.0, le=1.0, description="Share of traffic mirrored, (0, 1]")


class HoldParams(SystemParams):
    """Hold the promotion of a version."""

    version: Name | None = Field(
        None, description="The version to hold (default: the one serving as primary now)"
    )


class VersionParams(SystemParams):
    """An operation on one model version."""

    version: Name = Field(description="The model version")


class ClientParams(OperationParams):
    """An operation on one client of the gateway."""

    renamed = {"client": "client_id"}

    client_id: ClientId = Field(description="The client id (X-Client-ID)")


class BlockClientParams(ClientParams):
    """Refuse every request of a client."""

    duration: Duration | None = Field(
        None, description="How long the block is meant to last (it stays until lifted)"
    )


class LimitClientParams(ClientParams):
    """Limit a client's request rate."""

    rate_per_second: float | None = Field(
        None, gt=0.0, description="Requests per second (omit to lift the limit)"
    )
    burst: int | None = Field(None, ge=1, description="Requests allowed at once")

    @model_validator(mode="before")
    @classmethod
    def _per_minute(cls, data: Any) -> Any:
        # Playbooks written before the table give requests per minute.
        if isinstance(data, dict) and "per_minute" in data and "rate_per_second" not in data:
            data = dict(data)
            per_minute = data.pop("per_minute")
            if not isinstance(per_minute, int | float) or per_minute < 1:
                raise ValueError(f"per_minute must be at least 1, got {per_minute!r}")
            data["rate_per_second"] = per_minute / 60
            data.setdefault("burst", max(1, min(int(per_minute), 10)))
        return data


class BatchParams(OperationParams):
    """An operation on one data batch."""

    renamed = {"batch": "batch_id"}

    batch_id: Name = Field(description="The batch")


class QuarantineParams(BatchParams):
    """Quarantine a data batch."""

    cascade: bool = Field(False, description="Also quarantine versions trained on it")


class SourceParams(OperationParams):
    """An operation on one data source (vendor)."""

    source: Name = Field(description="The data source (vendor)")


class SourceTrustParams(SourceParams):
    """Set a data source's trust level."""

    level: Literal["trusted", "probation", "revoked"] = Field(
        description="trusted|probation|revoked"
    )


class ApproveBatchParams(BatchParams):
    """Screen a batch against trusted batches and approve it for training if it passes."""

    # Plain strings, so the CLI can take the option repeated; the registry checks each name.
    trusted_batches: list[str] = Field(
        min_length=1, description="The trusted batches to screen against (repeat for more)"
    )
    label_column: Name = Field("label", description="The label column")


class DocumentParams(SystemParams):
    """An operation on one document a RAG system may retrieve."""

    document: Document = Field(description="The document id")


class CleanBatchParams(OperationParams):
    """One batch of a clean training set and the rows of its file to leave out."""

    batch: Name = Field(description="The batch")
    excluded_rows: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=list, description="0-based rows of the batch's file to leave out"
    )


class RetrainParams(SystemParams):
    """Train a new version on a clean training set through the system's training hook."""

    version: Name | None = Field(None, description="The new version (default: <base>-retrained-N)")
    base_version: Name | None = Field(
        None, description="The version being replaced (default: the primary)"
    )
    clean_training_set: list[CleanBatchParams] | None = Field(
        None, description="Batches and excluded rows (default: the base's unquarantined batches)"
    )
    hook: str | None = Field(None, description="module:function (default: the config's hook)")
    seed: int = Field(0, ge=0, description="Seed of the training")
    extra_batches: list[Name] = Field(
        default_factory=list, description="Batches trained on besides the clean set"
    )
    options: dict[str, Any] | None = Field(
        None, description="What the investigation suggests the hook do (e.g. reweigh a group)"
    )
    incident: Name | None = Field(
        None, description="The incident this retrain remediates (it may pass its own pause)"
    )


class ShadowCompareParams(SystemParams):
    """Compare the candidate in shadow with the primary."""

    version: Name | None = Field(None, description="The candidate (default: the one in shadow)")
    window: Window | None = Field(
        None, description="How far back, e.g. 2h (default: since it started)"
    )
    min_pairs: int = Field(100, ge=1, description="Paired rows needed to call it ready")
    min_agreement: float = Field(0.9, ge=0.0, le=1.0, description="Agreement needed, 0..1")


class CanaryAnalysisParams(SystemParams):
    """Analyse a canary and promote or abort it."""

    version: Name | None = Field(None, description="The candidate (default: the one in canary)")
    window: Window | None = Field(
        None, description="How far back, e.g. 2h (default: since it started)"
    )
    margin: float = Field(0.5, gt=0.0, le=10.0, description="Relative error increase that is worse")
    alpha: float = Field(0.05, gt=0.0, lt=0.5, description="Error probability of each decision")
    max_labelled: int = Field(20_000, ge=1, description="Abort undecided after this many labels")
    max_latency_ratio: float = Field(2.0, gt=0.0, description="Allowed p95 latency ratio")
    latency_slack_ms: float = Field(50.0, ge=0.0, description="Allowed extra p95 latency, ms")
    max_score_distance: float = Field(
        0.5, gt=0.0, le=1.0, description="Allowed Kolmogorov-Smirnov distance of scores"
    )
    min_rows: int = Field(50, ge=1, description="Rows each arm needs before a promotion")
    apply: bool = Field(True, description="Promote or abort (else only report the verdict)")


# --------------------------------------------------------------------------- the table


Output = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Undo:
    """How to undo an operation: the inverse operation and its parameters.

    ``params`` turns the output of the operation (see :meth:`Operation.run`) into the inverse
    operation's parameters, or None when there is nothing to undo (it was so before).
    """

    operation: str
    params: Callable[[Mapping[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True, kw_only=True)
class Operation:
    """One control operation: its parameters, service, role rule, destructive flag and undo."""

    name: str
    summary: str
    params: type[OperationParams]
    #: The service function, ``"module:function"``; it takes the session, then ``clock``,
    #: ``actor``, ``reason`` and the parameters as keywords.
    service: str
    destructive: bool
    role: UserRole
    #: What the role allows, as a refusal says it: "<user> is a viewer; to <this> needs ...".
    permission: str
    undo: Undo | None
    #: The REST route (POST, under ``/api/v1``); ``{field}`` parts are parameters.
    path: str
    #: The command, ``"group command"``, and the parameters it takes as arguments.
    command: str
    arguments: tuple[str, ...]
    #: CLI option names that differ from ``--field-name``.
    options: Mapping[str, str] = field(default_factory=dict)
    #: Parameters only playbooks set (e.g. code paths the API must not accept).
    api_omits: frozenset[str] = frozenset()
    cli_omits: frozenset[str] = frozenset()
    #: Which state to read before the change (route, client, batch, retrieval or none).
    observes: Literal["route", "client", "batch", "retrieval", "model", "source", "none"]
    #: What a playbook step reports: built from the parameters, the state before and the result.
    report: Callable[[Any, Mapping[str, Any], Any], Output]
    #: A higher role some parameter values need (e.g. revoking a source), or None.
    escalate: Callable[[Mapping[str, Any]], UserRole | None] | None = None

    def required_role(self, values: Mapping[str, Any]) -> UserRole:
        """Return the role a person needs to run this operation with ``values``.

        >>> op = get_operation("set_source_trust")
        >>> op.required_role({"level": "probation"}).value
        'responder'
        >>> op.required_role({"level": "revoked"}).value
        'approver'
        """
        higher = self.escalate(values) if self.escalate is not None else None
        return higher if higher is not None and higher.rank > self.role.rank else self.role

    def function(self) -> Callable[..., Any]:
        """Return the service function.

        >>> get_operation("isolate").function().__module__
        'airsoc.serving.control'
        """
        module, _, name = self.service.partition(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
        return fn

    def call(
        self, session: Session, *, clock: Clock, actor: str, reason: str, **params: Any
    ) -> Any:
        """Return what the service returns for ``params`` (the API and the CLI call this).

        >>> from airsoc.testing import scratch_operations
        >>> store, clock = scratch_operations()
        >>> with store.transaction() as s:
        ...     route = get_operation("isolate").call(s, clock=clock, actor="ana",
        ...                                           reason="leak", system="fraud")
        >>> route.mode
        'isolated'
        >>> store.close()
        """
        return self.function()(session, clock=clock, actor=actor, reason=reason, **params)

    def run(
        self,
        session: Session,
        *,
        clock: Clock,
        actor: str,
        reason: str,
        params: OperationParams,
    ) -> Output:
        """Make the change and return its report: what a playbook step records as its output.

        >>> from airsoc.testing import scratch_operations
        >>> store, clock = scratch_operations()
        >>> op = get_operation("rollback")
        >>> with store.transaction() as s:
        ...     out = op.run(s, clock=clock, actor="ana", reason="drift",
        ...                  params=op.params(system="fraud"))
        >>> out, op.undo.params(out)
        ({'system': 'fraud', 'from': 'v2', 'to': 'v1'}, {'system': 'fraud', 'to': 'v2'})
        >>> store.close()
        """
        before = observe(self.observes, session, params)
        result = self.call(
            session, clock=clock, actor=actor, reason=reason, **_service_kwargs(params)
        )
        return self.report(params, before, result)


def _service_kwargs(params: BaseModel) -> dict[str, Any]:
    return {name: getattr(params, name) for name in type(params).model_fields}


def observe(kind: str, session: Session, params: Any) -> dict[str, Any]:
    """Return the state of kind ``kind`` an operation with ``params`` is about to change.

    >>> from airsoc.testing import scratch_operations
    >>> store, clock = scratch_operations()
    >>> with store.read() as s:
    ...     observe("client", s, ClientParams(client_id="c-1"))["blocked"]
    False
    >>> store.close()
    """
    if kind == "route":
        from airsoc.serving.control import get_route

        return get_route(session, system=params.system).model_dump(mode="json")
    if kind == "client":
        from airsoc.serving.control import list_client_rules

        rule = next(
            (r for r in list_client_rules(session) if r.client_id == params.client_id), None
        )
        if rule is None:
            return {"blocked": False, "rate_per_second": None, "burst": None}
        return rule.model_dump(mode="json")
    if kind == "batch":
        from airsoc.lineage import get_batch

        return get_batch(session, batch_id=params.batch_id).model_dump(mode="json")
    if kind == "source":
        from airsoc.lineage import get_source_trust

        return get_source_trust(session, source=params.source).model_dump(mode="json")
    if kind == "retrieval":
        from airsoc.serving.retrieval import get_retrieval

        return get_retrieval(session, system=params.system).model_dump(mode="json")
    if kind == "model":
        from airsoc.lineage import current_deployments, get_model_version

        primary = next(
            (
                d.version
                for d in current_deployments(session, system=params.system)
                if d.role == "primary"
            ),
            None,
        )
        version = params.version or primary
        if version is None:
            return {"version": None, "status": None, "serving": False}
        model = get_model_version(session, system=params.system, version=version)
        return {"version": version, "status": model.status, "serving": version == primary}
    return {}


# --- reports and undos -------------------------------------------------------------------------


def _rollback_report(p: RollbackParams, before: Mapping[str, Any], after: Any) -> Output:
    return {"system": p.system, "from": before["primary_version"], "to": after.primary_version}


def _mode_report(p: SystemParams, before: Mapping[str, Any], after: Any) -> Output:
    out: Output = {"system": p.system, "previous_mode": before["mode"], "mode": after.mode}
    if after.mode == "fallback":
        out["type"] = (after.fallback or {}).get("type")
    if after.mode in ("canary", "shadow"):
        out["version"] = after.candidate_version
        out["share"] = after.candidate_share
    return out


def _client_report(p: ClientParams, before: Mapping[str, Any], after: Any) -> Output:
    return {
        "client_id": p.client_id,
        "blocked": after.blocked,
        "was_blocked": before["blocked"],
        "rate_per_second": after.rate_per_second,
        "burst": after.burst,
        "previous_rate_per_second": before["rate_per_second"],
        "previous_burst": before["burst"],
    }


def _batch_report(p: BatchParams, before: Mapping[str, Any], after: Any) -> Output:
    return {
        "batch_id": p.batch_id,
        "was_quarantined": before["status"] == "quarantined",
        "status": after.status,
    }


def _source_report(p: SourceParams, before: Mapping[str, Any], after: Any) -> Output:
    return {"source": p.source, "quarantined": [b.batch_id for b in after]}


def _retrieval_report(p: Any, before: Mapping[str, Any], after: Any) -> Output:
    out: Output = {"system": p.system, "was_enabled": before["enabled"], "enabled": after.enabled}
    document = getattr(p, "document", None)
    if document is not None:
        out["document"] = document
        out["was_removed"] = document in before["removed_documents"]
    return out


def _hold_report(p: SystemParams, before: Mapping[str, Any], after: Any) -> Output:
    return {
        "system": p.system,
        "version": after.version,
        "was_held": before.get("status") == "held",
        "status": after.status,
        "serving": bool(before.get("serving")),
    }


def _dumped(p: Any, before: Mapping[str, Any], after: Any) -> Output:
    out: Output = after.model_dump(mode="json")
    return out


def _canary_report(p: Any, before: Mapping[str, Any], after: Any) -> Output:
    out: Output = after.model_dump(mode="json")
    out["previous_primary"] = before.get("primary_version")
    return out


def _held(when: bool) -> Callable[[Mapping[str, Any]], dict[str, Any] | None]:
    return lambda out: (
        {"system": out["system"], "version": out["version"]} if out["was_held"] is when else None
    )


def _back_to(out: Mapping[str, Any]) -> dict[str, Any] | None:
    return {"system": out["system"], "to": out["from"]} if out.get("from") else None


def _restore(out: Mapping[str, Any]) -> dict[str, Any] | None:
    return {"system": out["system"]}


def _client(flag: str, when: bool) -> Callable[[Mapping[str, Any]], dict[str, Any] | None]:
    return lambda out: {"client_id": out["client_id"]} if bool(out.get(flag)) is when else None


def _previous_limit(out: Mapping[str, Any]) -> dict[str, Any] | None:
    return {
        "client_id": out["client_id"],
        "rate_per_second": out.get("previous_rate_per_second"),
        "burst": out.get("previous_burst"),
    }


def _batch(when: bool) -> Callable[[Mapping[str, Any]], dict[str, Any] | None]:
    return lambda out: {"batch_id": out["batch_id"]} if out["was_quarantined"] is when else None


def _retrieval(when: bool) -> Callable[[Mapping[str, Any]], dict[str, Any] | None]:
    return lambda out: {"system": out["system"]} if out["was_enabled"] is when else None


def _document(when: bool) -> Callable[[Mapping[str, Any]], dict[str, Any] | None]:
    return lambda out: (
        {"system": out["system"], "document": out["document"]}
        if out["was_removed"] is when
        else None
    )


def _trust_report(p: SourceTrustParams, before: Mapping[str, Any], after: Any) -> Output:
    return {"source": p.source, "previous_level": before["trust"], "level": after.trust}


def _previous_trust(out: Mapping[str, Any]) -> dict[str, Any] | None:
    if out["previous_level"] == out["level"]:
        return None
    return {"source": out["source"], "level": out["previous_level"]}


def _trust_role(values: Mapping[str, Any]) -> UserRole | None:
    # Putting a vendor on probation is containment; revoking it, or trusting it again, is a
    # decision for an approver.
    return UserRole.APPROVER if values.get("level") in ("revoked", "trusted") else None


def _approval_report(p: ApproveBatchParams, before: Mapping[str, Any], after: Any) -> Output:
    screening = after.screening or {}
    return {
        "batch_id": p.batch_id,
        "source": after.source,
        "approved_by": after.approved_by,
        "screening": screening.get("decision"),
        "rows_flagged": screening.get("rows_flagged"),
    }


_CONTROL = "airsoc.serving.control"
_RETRIEVAL = "airsoc.serving.retrieval"
_LINEAGE = "airsoc.lineage"
_CONTAIN = "contain a system"
_CANDIDATE = "route traffic to a candidate"
_CLIENTS = "block or limit clients"
_BATCHES = "quarantine data batches"
_RETRIEVE = "change what a system retrieves"
_HOLD = "hold or release the promotion of a model version"
_TRUST = "set a data source's trust level"
_APPROVE = "approve a batch of a source on probation for training"
_RECOVERY = "airsoc.forensics.recovery"
_CANARY = "airsoc.serving.canary"

#: Every control operation, in the order the CLI and the API list them.
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="rollback",
        summary="Roll back to the last known-good version (or to a named one).",
        params=RollbackParams,
        service=f"{_CONTROL}:rollback",
        destructive=True,
        role=UserRole.RESPONDER,
        permission=_CONTAIN,
        undo=Undo(operation="rollback", params=_back_to),
        path="/gateway/routes/{system}/rollback",
        command="gateway rollback",
        arguments=("system",),
        observes="route",
        report=_rollback_report,
    ),
    Operation(
        name="fallback",
        summary="Answer from the fallback; no model is called.",
        params=FallbackParams,
        service=f"{_CONTROL}:set_fallback",
        destructive=True,
        role=UserRole.RESPONDER,
        permission=_CONTAIN,
        undo=Undo(operation="restore", params=_restore),
        path="/gateway/routes/{system}/fallback",
        command="gateway fallback",
        arguments=("system",),
        # A rules fallback runs code from a file: a path is given from the CLI or the config.
        api_omits=frozenset({"path"}),
        observes="route",
        report=_mode_report,
    ),
    Operation(
        name="isolate",
        summary="Refuse every request with a clear status; no model is called.",
        params=SystemParams,
        service=f"{_CONTROL}:isolate",
        destructive=True,
        role=UserRole.RESPONDER,
        permission=_CONTAIN,
        undo=Undo(operation="restore", params=_restore),
        path="/gateway/routes/{system}/isolate",
        command="gateway isolate",
        arguments=("system",),
        observes="route",
        report=_mode_report,
    ),
    Operation(
        name="restore",
        summary="Leave fallback or isolation, or end a canary or shadow.",
        params=SystemParams,
        service=f"{_CONTROL}:restore",
        destructive=False,
        role=UserRole.RESPONDER,
        permission=_CONTAIN,
        undo=None,
        path="/gateway/routes/{system}/restore",
        command="gateway restore",
        arguments=("system",),
        observes="route",
        report=_mode_report,
    ),
    Operation(
        name="set_canary",
        summary="Send a share of the traffic to a candidate version.",
        params=CanaryParams,
        service=f"{_CONTROL}:set_canary",
        destructive=True,
        role=UserRole.APPROVER,
        permission=_CANDIDATE,
        undo=Undo(operation="restore", params=_restore),
        path="/gateway/routes/{system}/canary",
        command="gateway canary",
        arguments=("system", "version"),
        observes="route",
        report=_mode_report,
    ),
    Operation(
        name="set_shadow",
        summary="Mirror the traffic to a candidate version (its answers are logged, not returned).",
        params=ShadowParams,
        service=f"{_CONTROL}:set_shadow",
        destructive=False,
        role=UserRole.APPROVER,
        permission=_CANDIDATE,
        undo=Undo(operation="restore", params=_restore),
        path="/gateway/routes/{system}/shadow",
        command="gateway shadow",
        arguments=("system", "version"),
        observes="route",
        report=_mode_report,
    ),
    Operation(
        name="block_client",
        summary="Block a client.",
        params=BlockClientParams,
        service=f"{_CONTROL}:block_client",
        destructive=True,
        role=UserRole.RESPONDER,
        permission=_CLIENTS,
        undo=Undo(operation="unblock_client", params=_client("was_blocked", False)),
        path="/gateway/clients/{client_id}/block",
        command="gateway block",
        arguments=("client_id",),
        api_omits=frozenset({"duration"}),
        cli_omits=frozenset({"duration"}),
        observes="client",
        report=_client_report,
    ),
    Operation(
        name="unblock_client",
        summary="Lift a client's block (its rate limit stays).",
        params=ClientParams,
        service=f"{_CONTROL}:unblock_client",
        destructive=False,
        role=UserRole.RESPONDER,
        permission=_CLIENTS,
        undo=Undo(operation="block_client", params=_client("was_blocked", True)),
        path="/gateway/clients/{client_id}/unblock",
        command="gateway unblock",
        arguments=("client_id",),
        observes="client",
        report=_client_report,
    ),
    Operation(
        name="rate_limit_client",
        summary="Rate-limit a client.",
        params=LimitClientParams,
        service=f"{_CONTROL}:limit_client",
        destructive=True,
        role=UserRole.RESPONDER,
        permission=_CLIENTS,
        undo=Undo(operation="rate_limit_client", params=_previous_limit),
        path="/gateway/clients/{client_id}/limit",
        command="gateway limit",
        arguments=("client_id",),
        options={"rate_per_second": "--rate"},
        observes="client",
        report=_client_report,
    ),
    Operation(
        name="quarantine_batch",
        summary="Quarantine a data batch.",
        params=QuarantineParams,
        service=f"{_LINEAGE}:quarantine_batch",
        destructive=True,
        role=UserRole.RESPONDER,
        permission=_BATCHES,
        undo=Undo(operation="release_batch", params=_batch(False)),
        path="/batches/{batch_id}/quarantine",
        command="registry quarantine-batch",
        arguments=("batch_id",),
        observes="batch",
        report=_batch_report,
    ),
    Operation(
        name="release_batch",
        summary="Release a quarantined data batch.",
        params=BatchParams,
        service=f"{_LINEAGE}:release_batch",
        destructive=False,
        role=UserRole.RESPONDER,
        permission=_BATCHES,
        undo=Undo(operation="quarantine_batch", params=_batch(True)),
        path="/batches/{batch_id}/release",
        command="registry release-batch",
        arguments=("batch_id",),
        observes="batch",
        report=_batch_report,
    ),
    Operation(
        name="revoke_source",
        summary="Quarantine every batch of a data source (vendor).",
        params=SourceParams,
        service=f"{_LINEAGE}:revoke_source",
        destructive=True,
        role=UserRole.RESPONDER,
        permission=_BATCHES,
        undo=None,
        path="/sources/{source}/revoke",
        command="registry revoke-source",
        arguments=("source",),
        observes="none",
        report=_source_report,
    ),
    Operation(
        name="hold_promotion",
        summary="Hold a model version: it cannot be promoted or canaried until released.",
        params=HoldParams,
        service=f"{_LINEAGE}:hold_promotion",
        destructive=False,
        role=UserRole.RESPONDER,
        permission=_HOLD,
        undo=Undo(operation="release_hold", params=_held(False)),
        path="/models/{system}/hold",
        command="registry hold-promotion",
        arguments=("system",),
        observes="model",
        report=_hold_report,
    ),
    Operation(
        name="release_hold",
        summary="Release the hold on a model version's promotion.",
        params=VersionParams,
        service=f"{_LINEAGE}:release_hold",
        destructive=False,
        role=UserRole.RESPONDER,
        permission=_HOLD,
        undo=Undo(operation="hold_promotion", params=_held(True)),
        path="/models/{system}/{version}/release-hold",
        command="registry release-hold",
        arguments=("system", "version"),
        observes="model",
        report=_hold_report,
    ),
    Operation(
        name="disable_retrieval",
        summary="Make a RAG system answer without retrieval.",
        params=SystemParams,
        service=f"{_RETRIEVAL}:disable_retrieval",
        destructive=True,
        role=UserRole.RESPONDER,
        permission=_RETRIEVE,
        undo=Undo(operation="enable_retrieval", params=_retrieval(True)),
        path="/gateway/retrieval/{system}/disable",
        command="gateway disable-retrieval",
        arguments=("system",),
        observes="retrieval",
        report=_retrieval_report,
    ),
    Operation(
        name="enable_retrieval",
        summary="Let a RAG system retrieve again (removed documents stay removed).",
        params=SystemParams,
        service=f"{_RETRIEVAL}:enable_retrieval",
        destructive=False,
        role=UserRole.RESPONDER,
        permission=_RETRIEVE,
        undo=Undo(operation="disable_retrieval", params=_retrieval(False)),
        path="/gateway/retrieval/{system}/enable",
        command="gateway enable-retrieval",
        arguments=("system",),
        observes="retrieval",
        report=_retrieval_report,
    ),
    Operation(
        name="remove_document",
        summary="Take a document out of what a RAG system may retrieve.",
        params=DocumentParams,
        service=f"{_RETRIEVAL}:remove_document",
        destructive=True,
        role=UserRole.RESPONDER,
        permission=_RETRIEVE,
        undo=Undo(operation="restore_document", params=_document(False)),
        path="/gateway/retrieval/{system}/remove-document",
        command="gateway remove-document",
        arguments=("system", "document"),
        observes="retrieval",
        report=_retrieval_report,
    ),
    Operation(
        name="restore_document",
        summary="Put a removed document back into what a RAG system may retrieve.",
        params=DocumentParams,
        service=f"{_RETRIEVAL}:restore_document",
        destructive=False,
        role=UserRole.RESPONDER,
        permission=_RETRIEVE,
        undo=Undo(operation="remove_document", params=_document(True)),
        path="/gateway/retrieval/{system}/restore-document",
        command="gateway restore-document",
        arguments=("system", "document"),
        observes="retrieval",
        report=_retrieval_report,
    ),
    Operation(
        name="set_source_trust",
        summary="Set a data source's trust level: trusted, probation or revoked.",
        params=SourceTrustParams,
        service=f"{_LINEAGE}:set_source_trust",
        destructive=False,
        role=UserRole.RESPONDER,
        permission=_TRUST,
        undo=Undo(operation="set_source_trust", params=_previous_trust),
        path="/sources/{source}/trust",
        command="registry source-trust",
        arguments=("source", "level"),
        observes="source",
        report=_trust_report,
        escalate=_trust_role,
    ),
    Operation(
        name="approve_batch",
        summary="Screen a batch of a source on probation and approve it for training.",
        params=ApproveBatchParams,
        service=f"{_LINEAGE}:screen_and_approve_batch",
        destructive=False,
        role=UserRole.APPROVER,
        permission=_APPROVE,
        undo=None,
        path="/batches/{batch_id}/approve",
        command="registry approve-batch",
        arguments=("batch_id",),
        options={"trusted_batches": "--trusted"},
        observes="batch",
        report=_approval_report,
    ),
    Operation(
        name="retrain",
        summary="Train a new candidate version on a clean training set through the training hook.",
        params=RetrainParams,
        service=f"{_RECOVERY}:retrain",
        destructive=False,
        role=UserRole.RESPONDER,
        permission="retrain a model",
        undo=None,
        path="/models/{system}/retrain",
        command="registry retrain",
        arguments=("system",),
        # The hook runs code: it comes from the config, or from the CLI and playbooks.
        api_omits=frozenset({"hook"}),
        cli_omits=frozenset({"clean_training_set", "extra_batches", "options"}),
        observes="none",
        report=_dumped,
    ),
    Operation(
        name="shadow_compare",
        summary="Compare the candidate in shadow with the primary on the same live requests.",
        params=ShadowCompareParams,
        service=f"{_CANARY}:shadow_compare",
        destructive=False,
        role=UserRole.RESPONDER,
        permission="analyse a candidate",
        undo=None,
        path="/gateway/routes/{system}/shadow-compare",
        command="gateway shadow-compare",
        arguments=("system",),
        observes="route",
        report=_dumped,
    ),
    Operation(
        name="canary_analysis",
        summary="Analyse the canary with a sequential test; promote, abort or continue it.",
        params=CanaryAnalysisParams,
        service=f"{_CANARY}:canary_analysis",
        destructive=False,
        role=UserRole.APPROVER,
        permission=_CANDIDATE,
        undo=None,
        path="/gateway/routes/{system}/canary-analysis",
        command="gateway canary-analysis",
        arguments=("system",),
        observes="route",
        report=_canary_report,
    ),
)

_BY_NAME = {op.name: op for op in OPERATIONS}


def get_operation(name: str) -> Operation:
    """Return the operation called ``name``; an unknown name is a :class:`NotFoundError`.

    >>> get_operation("quarantine_batch").command
    'registry quarantine-batch'
    >>> get_operation("reboot")
    Traceback (most recent call last):
    ...
    airsoc.errors.NotFoundError: unknown operation 'reboot'; known: ..., block_client, ...
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(_BY_NAME))
        raise NotFoundError(f"unknown operation {name!r}; known: {known}") from None


def parse_params(operation: Operation, raw: Mapping[str, Any]) -> OperationParams:
    """Return ``raw`` checked against the operation's parameters, or raise an
    :class:`InputError` naming the first bad field.

    >>> parse_params(get_operation("set_canary"), {"system": "x", "version": "v2", "percent": 10})
    CanaryParams(system='x', version='v2', share=0.1)
    >>> parse_params(get_operation("isolate"), {})
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: system: isolate needs it (Field required)
    """
    try:
        return operation.params.model_validate(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or None
        message = (
            f"{operation.name} needs it ({first['msg']})"
            if first["type"] == "missing"
            else f"{operation.name}: {first['msg']}"
        )
        raise InputError(message, loc=loc) from None
