"""Incident records checked against their timelines, and evidence blobs against their hashes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, text

from airsoc.audit import anchor_heads
from airsoc.audit.models import AuditChain, AuditEntry
from airsoc.clock import SimulatedClock
from airsoc.errors import NotFoundError
from airsoc.incidents import service
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.service import Impact, IncidentUpdate
from airsoc.incidents.verification import (
    verify_audit,
    verify_evidence,
    verify_incident_records,
)
from airsoc.store import Store


def _busy_incidents(store: Store, clock: SimulatedClock, blobs: BlobStore) -> tuple[int, int]:
    """Two incidents through most of what can happen to one: returns (survivor, merged)."""
    with store.transaction() as s:
        a = service.declare_incident(
            s,
            clock=clock,
            actor="alice",
            system="fraud",
            failure_mode="data_poisoning",
            summary="vendor batch 17 flips labels",
            labels={"team": "risk"},
        ).id
        b = service.declare_incident(
            s, clock=clock, actor="bob", system="fraud", failure_mode="data_drift", summary="psi"
        ).id
        service.transition_incident(
            s, clock=clock, incident_id=a, to="triaged", actor="alice", reason="confirmed"
        )
        service.update_incident(
            s,
            clock=clock,
            incident_id=a,
            actor="alice",
            changes=IncidentUpdate(
                severity="sev1",
                title="poisoned vendor batch",
                summary="batch 17 and 18",
                impact=Impact(functional="high"),
                labels={"team": "fraud"},
                started_at=datetime(2026, 2, 28, 8, 30, tzinfo=UTC),
                model_versions=["v7"],
            ),
        )
        service.assign_role(
            s, clock=clock, incident_id=a, role="incident_commander", person="kim", actor="alice"
        )
        service.add_note(s, clock=clock, incident_id=a, actor="kim", text="rolling back")
        service.add_evidence(
            s,
            clock=clock,
            blobs=blobs,
            incident_id=a,
            content=b"rows of batch 17",
            name="batch17.csv",
            source="vendor",
            actor="kim",
        )
        service.transition_incident(
            s, clock=clock, incident_id=b, to="triaged", actor="bob", reason="same root cause"
        )
        service.transition_incident(
            s, clock=clock, incident_id=b, to="merged", actor="bob", reason="dup", merged_into=a
        )
        service.transition_incident(
            s, clock=clock, incident_id=a, to="contained", actor="kim", reason="rolled back"
        )
    return a, b


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "evidence")


def test_untouched_incidents_agree_with_their_timelines(
    store: Store, clock: SimulatedClock, blobs: BlobStore
) -> None:
    _busy_incidents(store, clock, blobs)
    with store.read() as s:
        reports = verify_audit(s)
        assert verify_incident_records(s) == [r for r in reports if r.chain.startswith("inc")]
    assert [(r.chain, r.ok) for r in reports] == [("incident/1", True), ("incident/2", True)]


@pytest.mark.parametrize(
    ("sql", "field", "seq"),
    [
        ("UPDATE incidents SET severity = 'sev5' WHERE id = 1", "severity", 3),
        ("UPDATE incidents SET phase = 'closed' WHERE id = 1", "phase", 8),
        ("UPDATE incidents SET system = 'credit' WHERE id = 1", "system", 1),
        ("UPDATE incidents SET title = 'nothing to see' WHERE id = 1", "title", 3),
        ("UPDATE incidents SET merged_into = NULL WHERE id = 2", "merged_into", 3),
        ("UPDATE incidents SET related_incidents = '[]' WHERE id = 1", "related_incidents", 7),
    ],
)
def test_an_incident_row_edited_in_sql_is_named(
    store: Store, clock: SimulatedClock, blobs: BlobStore, sql: str, field: str, seq: int
) -> None:
    _busy_incidents(store, clock, blobs)
    with store.transaction() as s:
        s.execute(text(sql))
    with store.read() as s:
        broken = [r for r in verify_audit(s) if not r.ok]
    [report] = broken
    assert report.kind == "record_disagrees"
    assert f"the incident row has {field} =" in (report.problem or "")
    assert report.first_broken_seq == seq


def test_the_sev5_example_names_both_values(store: Store, clock: SimulatedClock) -> None:
    with store.transaction() as s:
        service.declare_incident(
            s, clock=clock, actor="a", system="fraud", failure_mode="data_poisoning", summary="x"
        )
        s.execute(text("UPDATE incidents SET severity='sev5'"))
    with store.read() as s:
        [report] = verify_audit(s)
    assert report.problem == (
        'the incident row has severity = "sev5", but its timeline (entry 1) says "sev2"'
    )


def test_a_deleted_timeline_is_named_because_the_incident_row_refers_to_it(
    store: Store, clock: SimulatedClock, blobs: BlobStore
) -> None:
    _busy_incidents(store, clock, blobs)
    with store.transaction() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.chain == "incident/2"))
        s.execute(delete(AuditChain).where(AuditChain.chain == "incident/2"))
    with store.read() as s:
        reports = {r.chain: r for r in verify_audit(s)}
    gone = reports["incident/2"]
    assert (gone.ok, gone.kind) == (False, "chain_deleted")
    assert "incident 2 refers to it" in (gone.problem or "")


def test_a_deleted_incident_row_is_named_by_its_timeline(
    store: Store, clock: SimulatedClock
) -> None:
    with store.transaction() as s:
        service.declare_incident(
            s, clock=clock, actor="a", system="fraud", failure_mode="data_drift", summary="x"
        )
        s.execute(text("DELETE FROM incidents WHERE id = 1"))
    with store.read() as s:
        [report] = verify_audit(s)
    assert (report.kind, report.first_broken_seq) == ("record_missing", 1)


def test_evidence_rows_edited_or_deleted_in_sql_are_named(
    store: Store, clock: SimulatedClock, blobs: BlobStore
) -> None:
    _busy_incidents(store, clock, blobs)
    with store.transaction() as s:
        s.execute(text(f"UPDATE evidence SET sha256 = '{'0' * 64}'"))
    with store.read() as s:
        [report] = [r for r in verify_audit(s) if not r.ok]
    assert "evidence 1 has sha256 000" in (report.problem or "")
    with store.transaction() as s:
        s.execute(text("DELETE FROM evidence_custody"))
        s.execute(text("DELETE FROM evidence"))
    with store.read() as s:
        [report] = [r for r in verify_audit(s) if not r.ok]
    assert "evidence 1 (entry 6) is gone from the record" in (report.problem or "")


def test_verify_audit_passes_the_anchor_on(store: Store, clock: SimulatedClock) -> None:
    with store.transaction() as s:
        service.declare_incident(
            s, clock=clock, actor="a", system="fraud", failure_mode="data_drift", summary="x"
        )
        service.add_note(s, clock=clock, incident_id=1, actor="a", text="n")
    with store.read() as s:
        anchor = anchor_heads(s, clock=clock)
    with store.transaction() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
        s.execute(
            text(
                "UPDATE audit_chains SET head_seq = 1, "
                "head_hash = (SELECT hash FROM audit_entries WHERE seq = 1)"
            )
        )
    with store.read() as s:
        [report] = verify_audit(s, anchor=anchor)
    assert report.kind == "head_rewound"


def test_evidence_verify_names_every_missing_or_altered_blob_without_paths(
    store: Store, clock: SimulatedClock, blobs: BlobStore, tmp_path: Path
) -> None:
    with store.transaction() as s:
        for _ in (1, 2):
            service.declare_incident(
                s, clock=clock, actor="a", system="s", failure_mode="data_drift", summary="x"
            )
        ids = [
            service.add_evidence(
                s,
                clock=clock,
                blobs=blobs,
                incident_id=1 + (i % 2),
                content=f"blob {i}".encode(),
                name=f"e{i}.txt",
                source="t",
                actor="a",
            )
            for i in range(4)
        ]
    blobs.path(ids[0].sha256).unlink()
    blobs.path(ids[1].sha256).write_bytes(b"changed")
    with store.read() as s:
        every = verify_evidence(s, blobs=blobs)
        first = verify_evidence(s, blobs=blobs, incident_id=1)
        with pytest.raises(NotFoundError, match="incident 9"):
            verify_evidence(s, blobs=blobs, incident_id=9)
    assert [(c.evidence_id, c.status) for c in every] == [
        (1, "missing"),
        (2, "altered"),
        (3, "ok"),
        (4, "ok"),
    ]
    assert [c.evidence_id for c in first] == [1, 3]
    problems = " ".join(c.problem or "" for c in every)
    assert ids[0].sha256 in problems
    assert "e1.txt" in problems
    assert str(tmp_path) not in problems
    with pytest.raises(NotFoundError) as missing, store.transaction() as s:
        service.read_evidence(s, clock=clock, blobs=blobs, evidence_id=1, actor="a", purpose="p")
    assert str(tmp_path) not in str(missing.value)
