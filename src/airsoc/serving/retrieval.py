"""Retrieval controls of RAG systems, persisted in the store: retrieval on/off, removed documents.

Containment of a hallucination cascade or an indirect prompt injection acts on what a RAG system
retrieves: ``disable_retrieval`` makes it answer without documents, ``remove_document`` takes one
document out of what it may cite. The state is one row per system; every change bumps the gateway
revision (running gateways publish it in their routing snapshot and ``GET /v1/status``) and is
written to the audit timeline on chain ``system/<name>``, in the caller's transaction.

A RAG application reads its control before each retrieval, either from the store
(:func:`get_retrieval`) or from the gateway it sits behind (``GET /v1/status`` ->
``systems.<name>.retrieval``), and filters its hits with :meth:`RetrievalView.allows`.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.lineage import register_system
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = register_system(s, clock=clock, actor="a", name="bot", kind="rag-app", owner="cx")
    ...     _ = remove_document(s, clock=clock, actor="oncall", system="bot",
    ...                         document="policy-17", reason="cites a policy that does not exist")
    ...     view = get_retrieval(s, system="bot")
    >>> view.enabled, view.removed_documents, view.allows("policy-17"), view.allows("faq-2")
    (True, ['policy-17'], False, True)
    >>> store.close()
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc import lineage
from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import InputError
from airsoc.serving.control import _bump_revision
from airsoc.serving.models import RetrievalControlRow

__all__ = [
    "RetrievalView",
    "disable_retrieval",
    "enable_retrieval",
    "get_retrieval",
    "list_retrieval",
    "remove_document",
    "restore_document",
]


class RetrievalView(BaseModel):
    """A RAG system's retrieval control: enabled or not, and the documents it must not use."""

    model_config = ConfigDict(from_attributes=True)

    system: str
    enabled: bool = True
    removed_documents: list[str] = []
    updated_by: str | None = None
    updated_at: datetime | None = None
    reason: str = ""

    def allows(self, document: str) -> bool:
        """Return whether the system may retrieve ``document`` now."""
        return self.enabled and document not in self.removed_documents


def get_retrieval(session: Session, *, system: str) -> RetrievalView:
    """Return the retrieval control of ``system`` (enabled, nothing removed, if never changed)."""
    row = session.get(RetrievalControlRow, system)
    if row is None:
        lineage.get_system(session, name=system)  # an unknown system is a NotFoundError
        return RetrievalView(system=system)
    return RetrievalView.model_validate(row)


def list_retrieval(session: Session) -> list[RetrievalView]:
    """Return every system's retrieval control that was ever changed, by system."""
    rows = session.execute(
        select(RetrievalControlRow).order_by(RetrievalControlRow.system)
    ).scalars()
    return [RetrievalView.model_validate(r) for r in rows]


def disable_retrieval(
    session: Session, *, clock: Clock, actor: str, system: str, reason: str
) -> RetrievalView:
    """Make ``system`` answer without retrieval and return its control."""
    return _change(session, clock=clock, actor=actor, system=system, reason=reason, enabled=False)


def enable_retrieval(
    session: Session, *, clock: Clock, actor: str, system: str, reason: str
) -> RetrievalView:
    """Let ``system`` retrieve again (removed documents stay removed) and return its control."""
    return _change(session, clock=clock, actor=actor, system=system, reason=reason, enabled=True)


def remove_document(
    session: Session, *, clock: Clock, actor: str, system: str, document: str, reason: str
) -> RetrievalView:
    """Take ``document`` out of what ``system`` may retrieve and return its control."""
    return _change(session, clock=clock, actor=actor, system=system, reason=reason, remove=document)


def restore_document(
    session: Session, *, clock: Clock, actor: str, system: str, document: str, reason: str
) -> RetrievalView:
    """Put a removed ``document`` back and return the control."""
    return _change(
        session, clock=clock, actor=actor, system=system, reason=reason, restore=document
    )


def _change(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    system: str,
    reason: str,
    enabled: bool | None = None,
    remove: str | None = None,
    restore: str | None = None,
) -> RetrievalView:
    if not reason.strip():
        raise InputError(f"a retrieval change on {system} needs a reason; it goes on the timeline")
    for document in (remove, restore):
        if document is not None and not document.strip():
            raise InputError(f"system {system}: a document id is needed")
    row = session.get(RetrievalControlRow, system, with_for_update=True)
    if row is None:
        lineage.get_system(session, name=system)
        row = RetrievalControlRow(
            system=system, enabled=True, removed_documents=[], updated_by=actor
        )
        session.add(row)
    removed = list(row.removed_documents or [])
    if enabled is not None:
        row.enabled = enabled
        action = "retrieval.enabled" if enabled else "retrieval.disabled"
    elif remove is not None:
        removed = removed if remove in removed else [*removed, remove]
        action = "retrieval.document_removed"
    else:
        removed = [d for d in removed if d != restore]
        action = "retrieval.document_restored"
    row.removed_documents = removed
    row.updated_by = actor
    row.updated_at = clock.now()
    row.reason = reason
    revision = _bump_revision(session)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=lineage.system_chain(system),
        actor=actor,
        action=action,
        reason=reason,
        data={
            "enabled": row.enabled,
            "document": remove or restore,
            "removed_documents": removed,
            "revision": revision,
        },
    )
    return RetrievalView.model_validate(row)
