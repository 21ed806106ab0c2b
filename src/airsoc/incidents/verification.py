"""Checking incidents against their own history: timelines replayed, evidence blobs re-hashed.

An incident row is state; its timeline (audit chain ``incident/<id>``) is how it got there. A
row changed behind airsoc's back (``UPDATE incidents SET severity='sev5'``) no longer agrees
with the replay of its timeline, a row whose timeline was deleted refers to a chain that is gone,
and an evidence blob that was altered or removed on disk no longer hashes to its name. The
functions here name each of these; ``verify_audit`` is what ``airsoc audit verify`` runs and
``verify_evidence`` what ``airsoc evidence verify`` runs.

Example:
    >>> import tempfile
    >>> from sqlalchemy import text
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(), environ={}))
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=SimulatedClock(), actor="alice", system="fraud",
    ...                            failure_mode="data_poisoning", summary="batch 17")
    ...     _ = s.execute(text("UPDATE incidents SET severity = 'sev5'"))
    >>> with store.read() as s:
    ...     [(r.chain, r.kind) for r in verify_audit(s) if not r.ok]
    [('incident/1', 'record_disagrees')]
    >>> store.close()
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import (
    AuditAnchor,
    AuditEntryView,
    AuditKey,
    ChainReport,
    list_entries,
    verify_chains,
)
from airsoc.errors import NotFoundError
from airsoc.incidents.evidence import BlobStatus, BlobStore
from airsoc.incidents.models import EvidenceRow, IncidentRow

__all__ = [
    "REPLAYED_FIELDS",
    "EvidenceCheck",
    "incident_chain_references",
    "verify_audit",
    "verify_evidence",
    "verify_incident_records",
]

_PREFIX = "incident/"

#: Fields of the incident row that a replay of its timeline always determines.
REPLAYED_FIELDS: tuple[str, ...] = (
    "phase",
    "severity",
    "system",
    "failure_mode",
    "summary",
    "merged_into",
    "related_incidents",
)


class EvidenceCheck(BaseModel):
    """One evidence item checked against its blob: ``ok``, ``missing`` or ``altered``."""

    evidence_id: int
    incident_id: int
    name: str
    sha256: str
    status: BlobStatus
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Return whether the blob is present and still hashes to its recorded sha256."""
        return self.status == "ok"


def incident_chain_references(session: Session) -> dict[str, str]:
    """Return the timeline chain of every incident row, with who refers to it.

    >>> import tempfile
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(), environ={}))
    >>> with store.read() as s:
    ...     incident_chain_references(s)
    {}
    >>> store.close()
    """
    ids = session.execute(select(IncidentRow.id).order_by(IncidentRow.id)).scalars()
    return {f"{_PREFIX}{i}": f"incident {i}" for i in ids}


def verify_audit(
    session: Session,
    *,
    key: AuditKey | None = None,
    anchor: AuditAnchor | None = None,
    chains: Sequence[str] | None = None,
) -> list[ChainReport]:
    """Verify every audit chain, and every incident record against its timeline.

    One report per chain, sorted by name: the chain's own verdict
    (:func:`~airsoc.audit.verify_chains`, with ``anchor`` and with every chain an incident row
    refers to expected), or, for an intact incident timeline, whether the incident row agrees
    with its replay.

    >>> import tempfile
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(), environ={}))
    >>> with store.read() as s:
    ...     verify_audit(s)
    []
    >>> store.close()
    """
    references = incident_chain_references(session)
    reports = verify_chains(session, chains=chains, key=key, anchor=anchor, expected=references)
    intact = [r.chain for r in reports if r.ok and r.chain.startswith(_PREFIX)]
    records = {r.chain: r for r in _replay_all(session, intact)}
    return [records.get(r.chain, r) for r in reports]


def verify_incident_records(
    session: Session, *, key: AuditKey | None = None, incident_id: int | None = None
) -> list[ChainReport]:
    """Replay each incident's timeline and report whether its row (and evidence) agree.

    Only timelines that verify are replayed (a broken chain proves nothing; see
    :func:`verify_audit`). Compared: the fields in :data:`REPLAYED_FIELDS`, every field the
    timeline records an update of, and each evidence item's sha256. A timeline whose incident
    row is gone is named too.

    >>> import tempfile
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(), environ={}))
    >>> with store.read() as s:
    ...     verify_incident_records(s)
    []
    >>> store.close()
    """
    chains = None if incident_id is None else [f"{_PREFIX}{incident_id}"]
    reports = verify_chains(session, chains=chains, key=key)
    intact = [r.chain for r in reports if r.ok and r.chain.startswith(_PREFIX) and r.entries]
    return _replay_all(session, intact)


def verify_evidence(
    session: Session, *, blobs: BlobStore, incident_id: int | None = None
) -> list[EvidenceCheck]:
    """Re-hash the blob of every evidence item (of one incident, or all) and report each.

    A blob that is gone is ``missing``; one that no longer hashes to its recorded sha256 is
    ``altered``. Messages name the evidence item and the blob's sha256, never a path on the
    server.

    Raises
    ------
    NotFoundError
        When ``incident_id`` names no incident.

    Examples
    --------
    >>> import tempfile
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import add_evidence, declare_incident
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(), environ={}))
    >>> blobs = BlobStore(store.settings.evidence_dir)
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="a", system="fraud",
    ...                            failure_mode="data_drift", summary="psi 0.4")
    ...     ev = add_evidence(s, clock=clock, blobs=blobs, incident_id=inc.id, content=b"log",
    ...                       name="log.txt", source="gateway", actor="a")
    >>> blobs.path(ev.sha256).unlink()
    >>> with store.read() as s:
    ...     [(c.evidence_id, c.status) for c in verify_evidence(s, blobs=blobs)]
    [(1, 'missing')]
    >>> store.close()
    """
    query = select(EvidenceRow).order_by(EvidenceRow.id)
    if incident_id is not None:
        if session.get(IncidentRow, incident_id) is None:
            raise NotFoundError(f"incident {incident_id} not found")
        query = query.where(EvidenceRow.incident_id == incident_id)
    checks = []
    for row in session.execute(query).scalars():
        status = blobs.check(row.sha256)
        problem = None
        if status == "missing":
            problem = (
                f"evidence {row.id} ({row.name}) of incident {row.incident_id}: blob "
                f"{row.sha256} is missing from the evidence store"
            )
        elif status == "altered":
            problem = (
                f"evidence {row.id} ({row.name}) of incident {row.incident_id}: blob "
                f"{row.sha256[:80]} no longer hashes to its recorded sha256 (altered)"
            )
        checks.append(
            EvidenceCheck(
                evidence_id=row.id,
                incident_id=row.incident_id,
                name=row.name,
                sha256=row.sha256,
                status=status,
                problem=problem,
            )
        )
    return checks


# ---------------------------------------------------------------------- replay


def _replay_all(session: Session, chains: Sequence[str]) -> list[ChainReport]:
    reports = []
    for chain in sorted(chains):
        suffix = chain.removeprefix(_PREFIX)
        if not suffix.isdigit():
            continue
        reports.append(_replay_one(session, int(suffix), list_entries(session, chain=chain)))
    return reports


class _Replayed:
    """The incident as its timeline says it is, with the entry that set each field."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.set_by: dict[str, int] = {}
        self.evidence: dict[int, tuple[str, int]] = {}
        self.problems: list[tuple[int, str]] = []

    def set(self, field: str, value: Any, seq: int) -> None:
        self.values[field] = value
        self.set_by[field] = seq


def _replay_one(session: Session, incident_id: int, entries: list[AuditEntryView]) -> ChainReport:
    chain = f"{_PREFIX}{incident_id}"
    count = len(entries)
    row = session.get(IncidentRow, incident_id)
    declared = [e for e in entries if e.action == "incident.declared"]
    if row is None:
        if not declared:
            return ChainReport(chain=chain, entries=count, ok=True)
        return ChainReport(
            chain=chain,
            entries=count,
            ok=False,
            first_broken_seq=declared[0].seq,
            problem=f"the timeline declares incident {incident_id}, but its row is gone",
            kind="record_missing",
        )
    state = _replay(entries)
    problems = list(state.problems)
    actual = {f: _plain(getattr(row, f)) for f in state.values}
    for field, expected in state.values.items():
        value = actual[field]
        if field == "related_incidents":
            value, expected = sorted(value or []), sorted(expected)
        if value != expected:
            problems.append(
                (
                    state.set_by[field],
                    f"the incident row has {field} = {_show(value)}, but its timeline "
                    f"(entry {state.set_by[field]}) says {_show(expected)}",
                )
            )
    evidence = {
        e.id: e
        for e in session.execute(
            select(EvidenceRow).where(EvidenceRow.incident_id == incident_id)
        ).scalars()
    }
    for evidence_id, (sha256, seq) in sorted(state.evidence.items()):
        item = evidence.get(evidence_id)
        if item is None:
            problems.append((seq, f"evidence {evidence_id} (entry {seq}) is gone from the record"))
        elif item.sha256 != sha256:
            problems.append(
                (
                    seq,
                    f"evidence {evidence_id} has sha256 {item.sha256[:80]}, but entry {seq} "
                    f"recorded {sha256}",
                )
            )
    for evidence_id in sorted(set(evidence) - set(state.evidence)):
        problems.append((count, f"evidence {evidence_id} is not on the incident's timeline"))
    if not problems:
        return ChainReport(chain=chain, entries=count, ok=True)
    problems.sort(key=lambda p: p[0])
    return ChainReport(
        chain=chain,
        entries=count,
        ok=False,
        first_broken_seq=problems[0][0],
        problem="; ".join(p for _, p in problems),
        kind="record_disagrees",
    )


def _replay(entries: list[AuditEntryView]) -> _Replayed:
    state = _Replayed()
    if not entries or entries[0].action != "incident.declared":
        first = entries[0].seq if entries else 1
        state.problems.append((first, "the timeline does not start with the declaration"))
        return state
    related: set[int] = set()
    for entry in entries:
        data, seq = entry.data, entry.seq
        if entry.action == "incident.declared":
            state.set("phase", "detected", seq)
            state.set("summary", entry.reason, seq)
            for field in ("system", "failure_mode", "severity"):
                if field in data:
                    state.set(field, data[field], seq)
            state.set("merged_into", None, seq)
            state.set("related_incidents", [], seq)
        elif entry.action == "incident.transitioned":
            if data.get("from") != state.values.get("phase"):
                state.problems.append(
                    (
                        seq,
                        f"entry {seq} moves from {data.get('from')!r}, but the incident was "
                        f"{state.values.get('phase')!r}",
                    )
                )
            state.set("phase", data.get("to"), seq)
            if "merged_into" in data:
                state.set("merged_into", data["merged_into"], seq)
                related.add(data["merged_into"])
                state.set("related_incidents", sorted(related), seq)
        elif entry.action == "incident.absorbed" and "incident" in data:
            related.add(data["incident"])
            state.set("related_incidents", sorted(related), seq)
        elif entry.action == "incident.updated":
            for field, change in (data.get("changes") or {}).items():
                if isinstance(change, dict) and "new" in change:
                    state.set(field, change["new"], seq)
                    if field == "related_incidents":
                        related = set(change["new"] or [])
        elif entry.action == "incident.evidence_added" and "evidence_id" in data:
            state.evidence[int(data["evidence_id"])] = (str(data.get("sha256")), seq)
    return state


def _plain(value: Any) -> Any:
    # The timeline stores values as JSON (dates as text); compare the row in the same form.
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
