"""Appending to and verifying the audit timeline.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     e = append_entry(s, clock=clock, chain="system/fraud-detector", actor="alice",
    ...                      action="routing.rollback", reason="poisoned v7", data={"to": "v6"})
    >>> e.seq, len(e.hash)
    (1, 64)
    >>> with store.read() as s:
    ...     [r.ok for r in verify_chains(s)]
    [True]
    >>> store.close()
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from airsoc.audit.models import AuditChain, AuditEntry
from airsoc.clock import Clock, ensure_utc

__all__ = [
    "GENESIS_HASH",
    "AuditEntryView",
    "ChainReport",
    "append_entry",
    "canonical_entry",
    "entry_hash",
    "list_entries",
    "verify_chains",
]

GENESIS_HASH = "0" * 64


class AuditEntryView(BaseModel):
    """An audit entry as the CLI, API and reports show it."""

    model_config = ConfigDict(from_attributes=True)

    chain: str
    seq: int
    at: datetime
    actor: str
    action: str
    reason: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


class ChainReport(BaseModel):
    """The result of walking one chain: ``ok``, or the first broken entry and why."""

    chain: str
    entries: int
    ok: bool
    first_broken_seq: int | None = None
    problem: str | None = None


def canonical_entry(
    *, chain: str, seq: int, at: datetime, actor: str, action: str, reason: str, data: Any
) -> bytes:
    """Return the bytes an entry's hash covers: sorted-key compact JSON, time in UTC ISO form.

    >>> from datetime import datetime, timezone
    >>> canonical_entry(chain="c", seq=1, at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ...                 actor="a", action="x", reason="", data={})[:40]
    b'{"action":"x","actor":"a","at":"2026-01-'
    """
    body = {
        "chain": chain,
        "seq": seq,
        "at": ensure_utc(at).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "reason": reason,
        "data": data,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(canonical: bytes, prev_hash: str) -> str:
    """Return sha256 over the canonical entry followed by the previous entry's hash."""
    return hashlib.sha256(canonical + prev_hash.encode()).hexdigest()


def append_entry(
    session: Session,
    *,
    clock: Clock,
    chain: str,
    actor: str,
    action: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntryView:
    """Append an entry to ``chain`` inside the caller's transaction and return it.

    The chain's head row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write lock
    is already held), so concurrent writers queue and the chain never forks.
    """
    payload = _normalise(data or {})
    _ensure_chain(session, chain)
    head = session.execute(
        select(AuditChain).where(AuditChain.chain == chain).with_for_update()
    ).scalar_one()
    seq = head.head_seq + 1
    at = clock.now()
    digest = entry_hash(
        canonical_entry(
            chain=chain, seq=seq, at=at, actor=actor, action=action, reason=reason, data=payload
        ),
        head.head_hash,
    )
    entry = AuditEntry(
        chain=chain,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        reason=reason,
        data=payload,
        prev_hash=head.head_hash,
        hash=digest,
    )
    session.add(entry)
    head.head_seq = seq
    head.head_hash = digest
    session.flush()
    return AuditEntryView.model_validate(entry)


def list_entries(session: Session, *, chain: str) -> list[AuditEntryView]:
    """Return the entries of ``chain`` in order."""
    rows = session.execute(
        select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
    ).scalars()
    return [AuditEntryView.model_validate(r) for r in rows]


def verify_chains(session: Session, *, chains: Sequence[str] | None = None) -> list[ChainReport]:
    """Walk every chain (or the named ones) and report the first broken entry of each.

    An entry is broken when its hash does not match its content, when it does not point at the
    previous entry's hash, or when a sequence number is missing; a chain whose head disagrees
    with its last entry has lost entries at its end.
    """
    names = (
        list(chains)
        if chains
        else list(session.execute(select(AuditChain.chain).order_by(AuditChain.chain)).scalars())
    )
    return [_verify_one(session, name) for name in names]


def _verify_one(session: Session, chain: str) -> ChainReport:
    prev = GENESIS_HASH
    count = 0
    rows = session.execute(
        select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
    ).scalars()
    for expected_seq, row in enumerate(rows, start=1):
        count += 1
        problem = None
        if row.seq != expected_seq:
            problem = f"entry {expected_seq} is missing (next stored entry is {row.seq})"
        elif row.prev_hash != prev:
            problem = "it does not point at the previous entry's hash"
        else:
            recomputed = entry_hash(
                canonical_entry(
                    chain=row.chain,
                    seq=row.seq,
                    at=row.at,
                    actor=row.actor,
                    action=row.action,
                    reason=row.reason,
                    data=row.data,
                ),
                row.prev_hash,
            )
            if recomputed != row.hash:
                problem = "its content does not match its hash (edited after it was written)"
        if problem:
            return ChainReport(
                chain=chain, entries=count, ok=False, first_broken_seq=expected_seq, problem=problem
            )
        prev = row.hash
    head = session.get(AuditChain, chain)
    if head is not None and (head.head_seq != count or head.head_hash != prev):
        return ChainReport(
            chain=chain,
            entries=count,
            ok=False,
            first_broken_seq=count + 1,
            problem=f"the chain head expects {head.head_seq} entries but {count} are stored",
        )
    return ChainReport(chain=chain, entries=count, ok=True)


def _ensure_chain(session: Session, chain: str) -> None:
    values = {"chain": chain, "head_seq": 0, "head_hash": GENESIS_HASH}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(pg_insert(AuditChain).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(AuditChain).values(**values).on_conflict_do_nothing())


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    # Round-trip through JSON so what is hashed is exactly what the database gives back.
    loaded: dict[str, Any] = json.loads(json.dumps(data, sort_keys=True, default=str))
    return loaded
