"""Routing and client controls, persisted in the store: what the CLI and playbooks change.

Each change writes the system's route row, bumps the gateway revision (which running gateways
poll) and appends an audit entry on chain ``system/<name>``, all in the caller's transaction.
Changes of the serving version are also recorded as deployments in the lineage registry.

Example:
    >>> from airsoc.testing import scratch_operations
    >>> store, clock = scratch_operations()  # fraud serves v2; v1 is known-good
    >>> with store.transaction() as s:
    ...     route = rollback(s, clock=clock, actor="oncall", system="fraud", reason="poisoned")
    >>> route.mode, route.primary_version, route.revision
    ('primary', 'v1', 2)
    >>> store.close()
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from airsoc import lineage
from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import ConflictError, InputError, NotFoundError
from airsoc.serving.models import ClientRuleRow, HandoffRow, RouteRow, RoutingRevisionRow

__all__ = [
    "FALLBACK_KINDS",
    "ROUTING_MODES",
    "ClientRuleView",
    "HandoffView",
    "RouteView",
    "block_client",
    "current_revision",
    "enqueue_handoff",
    "get_route",
    "isolate",
    "limit_client",
    "list_client_rules",
    "list_handoffs",
    "list_routes",
    "promote",
    "restore",
    "rollback",
    "set_canary",
    "set_fallback",
    "set_shadow",
    "unblock_client",
]

ROUTING_MODES = ("primary", "canary", "shadow", "fallback", "isolated")
FALLBACK_KINDS = ("rules", "scripted", "human_handoff")
_DEFAULT_FALLBACK: dict[str, Any] = {
    "type": "scripted",
    "message": "This service is temporarily answering with a safe default.",
}


class RouteView(BaseModel):
    """How a system's traffic is routed."""

    model_config = ConfigDict(from_attributes=True)

    system: str
    mode: str
    primary_version: str | None
    candidate_version: str | None
    candidate_share: float
    resume_mode: str | None
    fallback: dict[str, Any] | None
    revision: int
    updated_by: str
    updated_at: datetime
    reason: str


class ClientRuleView(BaseModel):
    """A client's block or rate limit."""

    model_config = ConfigDict(from_attributes=True)

    client_id: str
    blocked: bool
    rate_per_second: float | None
    burst: int | None
    updated_by: str
    updated_at: datetime
    reason: str


class HandoffView(BaseModel):
    """A request waiting for a person."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    system: str
    request_id: str
    client_id: str
    payload: dict[str, Any]
    status: str
    created_at: datetime


# --------------------------------------------------------------------------- reads


def current_revision(session: Session) -> int:
    """Return the gateway revision: it grows with every routing or client-rule change."""
    value = session.execute(
        select(RoutingRevisionRow.revision).where(RoutingRevisionRow.id == 1)
    ).scalar_one_or_none()
    return int(value or 0)


def get_route(session: Session, *, system: str) -> RouteView:
    """Return how ``system`` is routed; a system never routed is a :class:`NotFoundError`."""
    row = session.get(RouteRow, system)
    if row is None:
        lineage.get_system(session, name=system)  # names an unregistered system precisely
        raise NotFoundError(
            f"system {system} is not routed yet (airsoc gateway promote {system} VERSION)"
        )
    return RouteView.model_validate(row)


def list_routes(session: Session) -> list[RouteView]:
    """Return the routing of every routed system, by name."""
    rows = session.execute(select(RouteRow).order_by(RouteRow.system)).scalars()
    return [RouteView.model_validate(r) for r in rows]


def list_client_rules(session: Session) -> list[ClientRuleView]:
    """Return every client block or rate limit, by client id."""
    rows = session.execute(select(ClientRuleRow).order_by(ClientRuleRow.client_id)).scalars()
    return [ClientRuleView.model_validate(r) for r in rows]


def list_handoffs(
    session: Session, *, system: str | None = None, status: str | None = "open"
) -> list[HandoffView]:
    """Return requests parked for a person (of one system, with one status), oldest first."""
    query = select(HandoffRow)
    if system is not None:
        query = query.where(HandoffRow.system == system)
    if status is not None:
        query = query.where(HandoffRow.status == status)
    rows = session.execute(query.order_by(HandoffRow.id)).scalars()
    return [HandoffView.model_validate(r) for r in rows]


# --------------------------------------------------------------------------- routing changes


def promote(
    session: Session, *, clock: Clock, actor: str, system: str, version: str, reason: str
) -> RouteView:
    """Serve ``version`` as the system's only (primary) version and return the route."""
    return _switch_primary(
        session,
        clock=clock,
        actor=actor,
        system=system,
        version=version,
        reason=reason,
        action="routing.promote",
    )


def rollback(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    reason: str,
    to: str = "last_known_good",
    before_batch: str | None = None,
) -> RouteView:
    """Serve an earlier version: the last known-good one (before ``before_batch``) or ``to``."""
    if to == "last_known_good":
        current = session.get(RouteRow, system)
        exclude = [current.primary_version] if current and current.primary_version else []
        version = lineage.last_known_good(
            session, system=system, before_batch=before_batch, exclude=exclude
        ).version
    else:
        version = to
    return _switch_primary(
        session,
        clock=clock,
        actor=actor,
        system=system,
        version=version,
        reason=reason,
        action="routing.rollback",
    )


def set_canary(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    version: str,
    share: float,
    reason: str,
) -> RouteView:
    """Send a ``share`` (0..1) of the system's traffic to ``version``; return the route."""
    if not 0.0 < share < 1.0:
        raise InputError(f"canary share must be between 0 and 1 (exclusive), got {share}")
    return _set_candidate(
        session,
        clock=clock,
        actor=actor,
        system=system,
        version=version,
        share=share,
        mode="canary",
        reason=reason,
    )


def set_shadow(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    version: str,
    reason: str,
    share: float = 1.0,
) -> RouteView:
    """Mirror a ``share`` of the traffic (all by default) to ``version``; return the route.

    The candidate's answers are logged next to the primary's and never returned.
    """
    if not 0.0 < share <= 1.0:
        raise InputError(f"shadow share must be in (0, 1], got {share}")
    return _set_candidate(
        session,
        clock=clock,
        actor=actor,
        system=system,
        version=version,
        share=share,
        mode="shadow",
        reason=reason,
    )


def set_fallback(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    reason: str,
    type: str | None = None,
    path: str | None = None,
    message: str | None = None,
) -> RouteView:
    """Answer from the fallback (rules, scripted or human hand-off); no model is called.

    Without ``type`` the system's configured fallback applies, else a scripted safe answer. A
    ``type`` that matches the configured fallback keeps its settings (a rules fallback its path)
    unless ``path`` or ``message`` replace them.
    """
    configured = lineage.get_system(session, name=system).fallback
    given = {k: v for k, v in {"path": path, "message": message}.items() if v}
    if type is None:
        spec = {**(configured or _DEFAULT_FALLBACK), **given}
    elif configured and configured.get("type") == type:
        spec = {**configured, **given}
    else:
        spec = {"type": type, **given}
    kind = spec.get("type")
    if kind not in FALLBACK_KINDS:
        raise InputError(f"fallback type {kind!r} is not one of {', '.join(FALLBACK_KINDS)}")
    if kind == "rules" and not spec.get("path"):
        raise InputError(
            f"system {system}: a rules fallback needs a path (file.py:function), "
            "given or configured"
        )
    return _contain(
        session,
        clock=clock,
        actor=actor,
        system=system,
        mode="fallback",
        reason=reason,
        fallback=dict(spec),
    )


def isolate(session: Session, *, clock: Clock, actor: str, system: str, reason: str) -> RouteView:
    """Refuse every request to the system with a clear status; no model is called."""
    return _contain(
        session,
        clock=clock,
        actor=actor,
        system=system,
        mode="isolated",
        reason=reason,
        fallback=None,
    )


def restore(session: Session, *, clock: Clock, actor: str, system: str, reason: str) -> RouteView:
    """Leave fallback or isolation (back to the mode before), or end a canary or shadow."""
    row = _route_row(session, system)
    if row.mode in ("fallback", "isolated"):
        mode = row.resume_mode or "primary"
    elif row.mode in ("canary", "shadow"):
        mode = "primary"
        lineage.end_deployment(
            session, clock=clock, actor=actor, system=system, role=row.mode, reason=reason
        )
        row.candidate_version = None
        row.candidate_share = 0.0
    else:
        raise ConflictError(f"system {system} is already served normally (mode primary)")
    row.mode = mode
    row.resume_mode = None
    return _commit_route(
        session, clock=clock, actor=actor, row=row, action="routing.restore", reason=reason
    )


# --------------------------------------------------------------------------- client controls


def block_client(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    client_id: str,
    reason: str,
    duration: timedelta | None = None,
) -> ClientRuleView:
    """Refuse every request from ``client_id`` (HTTP 403) and return its rule.

    A ``duration`` says how long the block is meant to last; it goes on the audit timeline, and
    the block stays until it is lifted (:func:`unblock_client`).
    """
    if duration is not None and duration <= timedelta(0):
        raise InputError(f"a block lasts a positive time, got {duration}")
    note = f" (meant for {duration}; lift it by hand)" if duration is not None else ""
    return _client_rule(
        session,
        clock=clock,
        actor=actor,
        client_id=client_id,
        reason=reason + note if reason.strip() else reason,
        action="client.blocked",
        blocked=True,
    )


def unblock_client(
    session: Session, *, clock: Clock, actor: str, client_id: str, reason: str
) -> ClientRuleView:
    """Let ``client_id`` in again (its rate limit stays) and return its rule."""
    return _client_rule(
        session,
        clock=clock,
        actor=actor,
        client_id=client_id,
        reason=reason,
        action="client.unblocked",
        blocked=False,
    )


def limit_client(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    client_id: str,
    rate_per_second: float | None,
    reason: str,
    burst: int | None = None,
) -> ClientRuleView:
    """Limit ``client_id`` to ``rate_per_second`` (None lifts the limit); return its rule."""
    if rate_per_second is not None and rate_per_second <= 0:
        raise InputError(f"rate limit must be > 0 requests per second, got {rate_per_second}")
    if burst is not None and burst < 1:
        raise InputError(f"burst must be >= 1, got {burst}")
    return _client_rule(
        session,
        clock=clock,
        actor=actor,
        client_id=client_id,
        reason=reason,
        action="client.rate_limited",
        rate_per_second=rate_per_second,
        burst=burst,
    )


def enqueue_handoff(
    session: Session,
    *,
    clock: Clock,
    system: str,
    request_id: str,
    client_id: str,
    payload: dict[str, Any],
) -> HandoffView:
    """Park a request for a person and return it."""
    row = HandoffRow(
        system=system,
        request_id=request_id,
        client_id=client_id,
        payload=payload,
        status="open",
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return HandoffView.model_validate(row)


# --------------------------------------------------------------------------- internals


def _route_row(session: Session, system: str) -> RouteRow:
    row = session.get(RouteRow, system, with_for_update=True)
    if row is None:
        get_route(session, system=system)  # raises the precise NotFoundError
    assert row is not None
    return row


def _switch_primary(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    version: str,
    reason: str,
    action: str,
) -> RouteView:
    _require_reason(reason, action)
    model = lineage.get_model_version(session, system=system, version=version)
    if model.status == "quarantined":
        raise ConflictError(f"{system} {version} is quarantined and cannot serve")
    _refuse_held(session, model, system, version)
    row = session.get(RouteRow, system, with_for_update=True)
    if row is None:
        row = RouteRow(
            system=system,
            mode="primary",
            candidate_share=0.0,
            revision=0,
            updated_by=actor,
            updated_at=clock.now(),
            reason=reason,
        )
        session.add(row)
    elif row.mode in ("canary", "shadow"):
        lineage.end_deployment(
            session, clock=clock, actor=actor, system=system, role=row.mode, reason=reason
        )
    lineage.record_deployment(
        session,
        clock=clock,
        actor=actor,
        system=system,
        version=version,
        role="primary",
        reason=reason,
    )
    row.primary_version = version
    row.candidate_version = None
    row.candidate_share = 0.0
    if row.mode in ("fallback", "isolated"):
        # A contained system stays contained; it resumes on the new version when restored.
        row.resume_mode = "primary"
    else:
        row.mode = "primary"
    return _commit_route(session, clock=clock, actor=actor, row=row, action=action, reason=reason)


def _refuse_held(session: Session, model: Any, system: str, version: str) -> None:
    """A held version may keep serving, but is not (re)promoted or canaried."""
    if model.status != "held":
        return
    current = session.get(RouteRow, system)
    if current is None or current.primary_version != version:
        raise ConflictError(
            f"{system} {version}: its promotion is held; release the hold first "
            "(airsoc registry release-hold)"
        )


def _set_candidate(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    version: str,
    share: float,
    mode: str,
    reason: str,
) -> RouteView:
    _require_reason(reason, f"routing.{mode}")
    row = _route_row(session, system)
    if row.mode in ("fallback", "isolated"):
        raise ConflictError(f"system {system} is in {row.mode}; restore it before a {mode}")
    if version == row.primary_version:
        raise ConflictError(f"{system} {version} is already the primary version")
    model = lineage.get_model_version(session, system=system, version=version)
    if model.status == "quarantined":
        raise ConflictError(f"{system} {version} is quarantined and cannot serve")
    if mode == "canary":
        _refuse_held(session, model, system, version)
    if row.mode in ("canary", "shadow") and row.mode != mode:
        lineage.end_deployment(
            session, clock=clock, actor=actor, system=system, role=row.mode, reason=reason
        )
    lineage.record_deployment(
        session,
        clock=clock,
        actor=actor,
        system=system,
        version=version,
        role=mode,
        reason=reason,
    )
    row.mode = mode
    row.candidate_version = version
    row.candidate_share = share
    return _commit_route(
        session, clock=clock, actor=actor, row=row, action=f"routing.{mode}", reason=reason
    )


def _contain(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    mode: str,
    reason: str,
    fallback: dict[str, Any] | None,
) -> RouteView:
    _require_reason(reason, f"routing.{mode}")
    row = _route_row(session, system)
    if row.mode not in ("fallback", "isolated"):
        row.resume_mode = row.mode
    row.mode = mode
    if fallback is not None:
        row.fallback = fallback
    return _commit_route(
        session, clock=clock, actor=actor, row=row, action=f"routing.{mode}", reason=reason
    )


def _commit_route(
    session: Session, *, clock: Clock, actor: str, row: RouteRow, action: str, reason: str
) -> RouteView:
    row.revision = _bump_revision(session)
    row.updated_by = actor
    row.updated_at = clock.now()
    row.reason = reason
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=lineage.system_chain(row.system),
        actor=actor,
        action=action,
        reason=reason,
        data={
            "mode": row.mode,
            "primary": row.primary_version,
            "candidate": row.candidate_version,
            "share": row.candidate_share,
            "fallback": row.fallback if row.mode == "fallback" else None,
            "revision": row.revision,
        },
    )
    return RouteView.model_validate(row)


def _client_rule(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    client_id: str,
    reason: str,
    action: str,
    **changes: Any,
) -> ClientRuleView:
    _require_reason(reason, action)
    if not client_id.strip():
        raise InputError("a client id is needed")
    row = session.get(ClientRuleRow, client_id, with_for_update=True)
    if row is None:
        row = ClientRuleRow(
            client_id=client_id, blocked=False, updated_by=actor, updated_at=clock.now()
        )
        session.add(row)
    for key, value in changes.items():
        setattr(row, key, value)
    row.updated_by = actor
    row.updated_at = clock.now()
    row.reason = reason
    revision = _bump_revision(session)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=f"client/{client_id}",
        actor=actor,
        action=action,
        reason=reason,
        data={**changes, "revision": revision},
    )
    return ClientRuleView.model_validate(row)


def _bump_revision(session: Session) -> int:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(RoutingRevisionRow).values(id=1, revision=0).on_conflict_do_nothing())
    session.execute(
        update(RoutingRevisionRow)
        .where(RoutingRevisionRow.id == 1)
        .values(revision=RoutingRevisionRow.revision + 1)
    )
    return current_revision(session)


def _require_reason(reason: str, action: str) -> None:
    if not reason.strip():
        raise InputError(f"{action} needs a reason; it goes on the audit timeline")
