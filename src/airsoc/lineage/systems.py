"""Systems of the lineage registry: register, read, sync from ``airsoc.yaml``, and their timeline.

A system's models, deployments and routing changes are written on its audit chain
``system/<name>``.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = register_system(s, clock=clock, actor="alice", name="fraud",
    ...                         kind="tabular-classifier", owner="risk-ml")
    >>> with store.read() as s:
    ...     [(v.name, v.criticality) for v in list_systems(s)]
    ...     [e.action for e in system_timeline(s, name="fraud")]
    [('fraud', 'medium')]
    ['system.registered']
    >>> store.close()
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import AuditEntryView, append_entry, list_entries
from airsoc.clock import Clock
from airsoc.errors import InputError
from airsoc.lineage.config import LineageSection, SystemConfig
from airsoc.lineage.models import SystemRow
from airsoc.lineage.records import system_row

__all__ = [
    "SYSTEM_KINDS",
    "SyncReport",
    "SystemView",
    "get_system",
    "list_systems",
    "register_system",
    "sync_systems_from_config",
    "system_chain",
    "system_timeline",
]


SYSTEM_KINDS: tuple[str, ...] = get_args(SystemConfig.model_fields["kind"].annotation)

_CRITICALITIES = ("low", "medium", "high", "critical")


class SystemView(BaseModel):
    """A registered AI system."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    kind: str
    owner: str
    criticality: str
    fallback: dict[str, Any] | None
    description: str
    retrain: dict[str, Any] | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime


class SyncReport(BaseModel):
    """What ``sync_systems_from_config`` did."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]
    not_in_config: list[str]


def system_chain(name: str) -> str:
    """Return the audit chain of a system (its models, deployments and routing).

    >>> system_chain("fraud")
    'system/fraud'
    """
    return f"system/{name}"


def register_system(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    name: str,
    kind: str,
    owner: str,
    criticality: str = "medium",
    fallback: dict[str, Any] | None = None,
    description: str = "",
    reason: str = "",
    retrain: dict[str, Any] | None = None,
) -> SystemView:
    """Create or update a system and return it; an unchanged system writes nothing."""
    if not name.strip() or "/" in name:
        raise InputError(f"system name {name!r} must be non-empty and contain no '/'")
    if kind not in SYSTEM_KINDS:
        raise InputError(f"system {name}: kind {kind!r} is not one of {', '.join(SYSTEM_KINDS)}")
    if criticality not in _CRITICALITIES:
        raise InputError(
            f"system {name}: criticality {criticality!r} is not one of {', '.join(_CRITICALITIES)}"
        )
    values: dict[str, Any] = {
        "kind": kind,
        "owner": owner,
        "criticality": criticality,
        "fallback": fallback,
        "description": description,
        "retrain": retrain,
    }
    row = session.execute(select(SystemRow).where(SystemRow.name == name)).scalar_one_or_none()
    now = clock.now()
    if row is None:
        row = SystemRow(name=name, created_by=actor, created_at=now, updated_at=now, **values)
        session.add(row)
        action = "system.registered"
        changed = values
    else:
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if not changed:
            return SystemView.model_validate(row)
        for key, value in changed.items():
            setattr(row, key, value)
        row.updated_at = now
        action = "system.updated"
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=system_chain(name),
        actor=actor,
        action=action,
        reason=reason,
        data=changed,
    )
    return SystemView.model_validate(row)


def get_system(session: Session, *, name: str) -> SystemView:
    """Return the system called ``name``."""
    return SystemView.model_validate(system_row(session, name))


def list_systems(session: Session) -> list[SystemView]:
    """Return every registered system, by name."""
    rows = session.execute(select(SystemRow).order_by(SystemRow.name)).scalars()
    return [SystemView.model_validate(r) for r in rows]


def sync_systems_from_config(
    session: Session, *, clock: Clock, actor: str, config: LineageSection
) -> SyncReport:
    """Make the registry's systems agree with ``airsoc.yaml`` and return what changed.

    Systems that are registered but absent from the configuration are reported, never deleted:
    their model versions and deployments are history.
    """
    report = SyncReport(created=[], updated=[], unchanged=[], not_in_config=[])
    known = {s.name: s for s in list_systems(session)}
    for name, cfg in sorted(config.systems.items()):
        before = known.get(name)
        after = register_system(
            session,
            clock=clock,
            actor=actor,
            name=name,
            kind=cfg.kind,
            owner=cfg.owner,
            criticality=cfg.criticality,
            fallback=cfg.fallback.model_dump(exclude_none=True) if cfg.fallback else None,
            description=cfg.description,
            reason="synced from airsoc.yaml",
            retrain=cfg.retrain.model_dump(exclude_none=True) if cfg.retrain else None,
        )
        if before is None:
            report.created.append(name)
        elif after.model_dump(exclude={"updated_at"}) != before.model_dump(exclude={"updated_at"}):
            report.updated.append(name)
        else:
            report.unchanged.append(name)
    report.not_in_config = sorted(set(known) - set(config.systems))
    return report


def system_timeline(session: Session, *, name: str) -> list[AuditEntryView]:
    """Return the audit timeline of a system: registrations, deployments, routing changes."""
    system_row(session, name)
    return list_entries(session, chain=system_chain(name))
