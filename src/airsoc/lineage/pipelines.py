"""A system's training and ingest pipeline, paused and resumed by the platform.

A pause is recorded on the system's audit chain (``pipeline.paused``, ``pipeline.resumed``), so
it is durable, signed and on the system's timeline; the pipeline's state is its latest such
entry. While a system's pipeline is paused, no retrain of it starts and no new training batch is
ingested for it (:func:`check_pipeline_open`), except the remediation of the incident that
paused it (a pause names its incident; that incident's own retrain goes through).

Example:
    >>> import tempfile
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(), environ={}))
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = pause_pipeline(s, clock=clock, actor="ana", system="credit",
    ...                        reason="fairness regression", incident="INC-4")
    ...     state = pipeline_state(s, system="credit")
    ...     check_pipeline_open(s, system="credit", incident="INC-4")
    >>> state.paused, state.incident
    (True, 'INC-4')
    >>> with store.read() as s:
    ...     check_pipeline_open(s, system="credit", what="a retrain")
    Traceback (most recent call last):
    ...
    airsoc.errors.ConflictError: the pipeline of credit is paused (by ana for INC-4: ...); ...
    >>> store.close()
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.audit.service import list_entries
from airsoc.clock import Clock
from airsoc.errors import ConflictError, InputError

__all__ = [
    "PipelineState",
    "check_pipeline_open",
    "pause_pipeline",
    "pipeline_chain",
    "pipeline_state",
    "resume_pipeline",
]

PAUSED = "pipeline.paused"
RESUMED = "pipeline.resumed"


class PipelineState(BaseModel):
    """Whether a system's pipeline is paused, since when, by whom, why and for which incident."""

    system: str
    paused: bool
    since: datetime | None = None
    actor: str | None = None
    reason: str = ""
    incident: str | None = None


def pipeline_chain(system: str) -> str:
    """Return the audit chain a system's pipeline pauses are recorded on (the system's own).

    >>> pipeline_chain("credit")
    'system/credit'
    """
    return f"system/{system}"


def pipeline_state(session: Session, *, system: str) -> PipelineState:
    """Return the state of ``system``'s pipeline: its latest pause or resume (open if none)."""
    last = next(
        (
            e
            for e in reversed(list_entries(session, chain=pipeline_chain(system)))
            if e.action in (PAUSED, RESUMED)
        ),
        None,
    )
    if last is None:
        return PipelineState(system=system, paused=False)
    incident = last.data.get("incident")
    return PipelineState(
        system=system,
        paused=last.action == PAUSED,
        since=last.at,
        actor=last.actor,
        reason=last.reason,
        incident=str(incident) if incident else None,
    )


def pause_pipeline(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    reason: str,
    incident: str | None = None,
) -> PipelineState:
    """Pause ``system``'s pipeline (recorded on its audit chain) and return its state. Pausing a
    paused pipeline changes nothing and returns the pause in force."""
    if not system.strip():
        raise InputError("name the system whose pipeline to pause", loc="system")
    if not reason.strip():
        raise InputError("say why the pipeline is paused", loc="reason")
    state = pipeline_state(session, system=system)
    if state.paused:
        return state
    append_entry(
        session,
        clock=clock,
        chain=pipeline_chain(system),
        actor=actor,
        action=PAUSED,
        reason=reason,
        data={"system": system, "incident": incident},
    )
    return pipeline_state(session, system=system)


def resume_pipeline(
    session: Session, *, clock: Clock, actor: str, system: str, reason: str
) -> PipelineState:
    """Resume ``system``'s pipeline (recorded) and return its state; an open pipeline stays."""
    if not reason.strip():
        raise InputError("say why the pipeline is resumed", loc="reason")
    state = pipeline_state(session, system=system)
    if not state.paused:
        return state
    append_entry(
        session,
        clock=clock,
        chain=pipeline_chain(system),
        actor=actor,
        action=RESUMED,
        reason=reason,
        data={"system": system, "paused_since": state.since.isoformat() if state.since else None},
    )
    return pipeline_state(session, system=system)


def check_pipeline_open(
    session: Session, *, system: str, incident: str | None = None, what: str = "a retrain"
) -> None:
    """Raise :class:`~airsoc.errors.ConflictError` when ``system``'s pipeline is paused, unless
    ``incident`` is the incident that paused it (its own remediation goes through)."""
    state = pipeline_state(session, system=system)
    if not state.paused or (incident is not None and incident == state.incident):
        return
    by = f"by {state.actor}" + (f" for {state.incident}" if state.incident else "")
    raise ConflictError(
        f"the pipeline of {system} is paused ({by}: {state.reason}); "
        f"{what} waits until it is resumed"
    )
