"""The incident core on SQLite and PostgreSQL: declare, transition, roles, notes, evidence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airsoc.audit import verify_chains
from airsoc.clock import SimulatedClock
from airsoc.errors import (
    HashMismatchError,
    IllegalTransitionError,
    InputError,
    NotFoundError,
    UnknownFailureModeError,
)
from airsoc.incidents import service
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.service import Impact, IncidentUpdate
from airsoc.store import Store


def _declare(store: Store, clock: SimulatedClock, **kw: str) -> int:
    args = {"system": "fraud-detector", "failure_mode": "data_poisoning", "summary": "flips"}
    args.update(kw)
    with store.transaction() as s:
        return service.declare_incident(s, clock=clock, actor="alice", **args).id  # type: ignore[arg-type]


def test_declare_tags_from_taxonomy(store: Store, clock: SimulatedClock) -> None:
    with store.transaction() as s:
        inc = service.declare_incident(
            s,
            clock=clock,
            actor="alice",
            system="fraud-detector",
            failure_mode="data_poisoning",
            summary="vendor batch flips labels",
            model_versions=["v7"],
            data_batches=["acme/17"],
        )
    assert inc.phase == "detected"
    assert inc.severity == "sev2"  # the failure mode's default
    assert next(t["id"] for t in inc.atlas_techniques) == "AML.T0020"
    assert {
        "list": "OWASP ML Top 10",
        "id": "ML02",
        "name": "Data Poisoning Attack",
        "version": "2023",
    } in inc.owasp
    assert inc.detected_at == clock.now()
    assert inc.ref == f"INC-{inc.id}"


def test_full_lifecycle_sets_timestamps_and_timeline(store: Store, clock: SimulatedClock) -> None:
    incident_id = _declare(store, clock)
    phases = ["triaged", "contained", "eradicated", "recovered", "closed"]
    for phase in phases:
        clock.advance(timedelta(minutes=10))
        with store.transaction() as s:
            service.transition_incident(
                s, clock=clock, incident_id=incident_id, to=phase, actor="bob", reason=f"to {phase}"
            )
    with store.read() as s:
        inc = service.get_incident(s, incident_id=incident_id)
    assert inc.phase == "closed"
    start = inc.detected_at
    assert inc.contained_at == start + timedelta(minutes=20)
    assert inc.resolved_at == start + timedelta(minutes=30)
    assert inc.recovered_at == start + timedelta(minutes=40)
    assert inc.closed_at == start + timedelta(minutes=50)
    moves = [(e.data["from"], e.data["to"], e.actor) for e in inc.timeline[1:]]
    assert moves == [
        ("detected", "triaged", "bob"),
        ("triaged", "contained", "bob"),
        ("contained", "eradicated", "bob"),
        ("eradicated", "recovered", "bob"),
        ("recovered", "closed", "bob"),
    ]
    assert inc.next_phases == ["triaged"]


def test_illegal_transition_changes_nothing(store: Store, clock: SimulatedClock) -> None:
    incident_id = _declare(store, clock)
    with (
        pytest.raises(IllegalTransitionError, match="legal moves from detected: triaged"),
        store.transaction() as s,
    ):
        service.transition_incident(
            s, clock=clock, incident_id=incident_id, to="closed", actor="bob", reason="x"
        )
    with store.read() as s:
        inc = service.get_incident(s, incident_id=incident_id)
    assert inc.phase == "detected"
    assert len(inc.timeline) == 1


def test_unknown_inputs_are_refused(store: Store, clock: SimulatedClock) -> None:
    with pytest.raises(UnknownFailureModeError), store.transaction() as s:
        service.declare_incident(
            s, clock=clock, actor="a", system="x", failure_mode="drifty", summary="s"
        )
    with pytest.raises(NotFoundError, match="incident 99 not found"), store.transaction() as s:
        service.add_note(s, clock=clock, incident_id=99, actor="a", text="hello")
    with store.read() as s:
        assert service.list_incidents(s) == []


def test_role_hand_off_is_recorded(store: Store, clock: SimulatedClock) -> None:
    incident_id = _declare(store, clock)
    with store.transaction() as s:
        service.assign_role(
            s, clock=clock, incident_id=incident_id, role="ic", person="dana", actor="a"
        )
        service.assign_role(
            s, clock=clock, incident_id=incident_id, role="sme", person="kim", actor="a"
        )
    clock.advance(timedelta(hours=8))
    with store.transaction() as s:
        service.assign_role(
            s,
            clock=clock,
            incident_id=incident_id,
            role="ic",
            person="sam",
            actor="dana",
            reason="shift change",
        )
        service.assign_role(
            s, clock=clock, incident_id=incident_id, role="sme", person="lee", actor="a"
        )
    with store.read() as s:
        inc = service.get_incident(s, incident_id=incident_id)
    current = sorted((r.role, r.person) for r in inc.roles)
    assert current == [
        ("incident_commander", "sam"),
        ("subject_matter_expert", "kim"),
        ("subject_matter_expert", "lee"),
    ]
    dana = next(r for r in inc.role_history if r.person == "dana")
    assert dana.ended_at == clock.now()
    handoff = next(e for e in inc.timeline if e.action == "incident.role_handed_off")
    assert handoff.data["handed_off_from"] == ["dana"]
    assert handoff.reason == "shift change"
    with pytest.raises(InputError, match="already holds"), store.transaction() as s:
        service.assign_role(
            s, clock=clock, incident_id=incident_id, role="ic", person="sam", actor="a"
        )


def test_merge_links_both_incidents(store: Store, clock: SimulatedClock) -> None:
    first = _declare(store, clock)
    second = _declare(store, clock)
    with store.transaction() as s:
        service.transition_incident(
            s,
            clock=clock,
            incident_id=second,
            to="merged",
            actor="a",
            reason="dup",
            merged_into=first,
        )
    with store.read() as s:
        survivor = service.get_incident(s, incident_id=first)
        merged = service.get_incident(s, incident_id=second)
    assert merged.phase == "merged"
    assert merged.merged_into == first
    assert survivor.related_incidents == [second]
    assert survivor.timeline[-1].action == "incident.absorbed"


def test_update_records_old_and_new(store: Store, clock: SimulatedClock) -> None:
    incident_id = _declare(store, clock)
    with store.transaction() as s:
        inc = service.update_incident(
            s,
            clock=clock,
            incident_id=incident_id,
            actor="dana",
            reason="sized",
            changes=IncidentUpdate(
                severity="sev1|sev2",
                impact=Impact(
                    functional="high", information="integrity_loss", recoverability="regular"
                ),
                next_steps=["quarantine batch 17"],
            ),
        )
    assert inc.severity == "sev1"
    assert inc.impact["functional"] == "high"
    with store.read() as s:
        entry = service.get_incident(s, incident_id=incident_id).timeline[-1]
    assert entry.data["changes"]["severity"] == {"old": "sev2", "new": "sev1"}


def test_evidence_custody_and_tamper_check(
    store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    incident_id = _declare(store, clock)
    blobs = BlobStore(tmp_path / "evidence")
    with store.transaction() as s:
        ev = service.add_evidence(
            s,
            clock=clock,
            blobs=blobs,
            incident_id=incident_id,
            content=b"rows 1-500 of batch 17",
            name="sample.csv",
            source="s3://vendor/17",
            actor="lee",
        )
    clock.advance(timedelta(minutes=5))
    with store.transaction() as s:
        data = service.read_evidence(
            s, clock=clock, blobs=blobs, evidence_id=ev.id, actor="kim", purpose="label audit"
        )
    assert data == b"rows 1-500 of batch 17"
    with store.read() as s:
        [item] = service.get_incident(s, incident_id=incident_id).evidence
    assert [(c.actor, c.action, c.detail) for c in item.custody] == [
        ("lee", "collected", "s3://vendor/17"),
        ("kim", "accessed", "label audit"),
    ]
    blobs.path(ev.sha256).write_bytes(b"rows 1-500 of batch 18")
    with pytest.raises(HashMismatchError, match=ev.sha256), store.transaction() as s:
        service.read_evidence(
            s, clock=clock, blobs=blobs, evidence_id=ev.id, actor="kim", purpose="x"
        )


def test_every_change_is_on_a_verified_chain(store: Store, clock: SimulatedClock) -> None:
    incident_id = _declare(store, clock)
    with store.transaction() as s:
        service.add_note(s, clock=clock, incident_id=incident_id, actor="a", text="n1")
        service.transition_incident(
            s, clock=clock, incident_id=incident_id, to="triaged", actor="a", reason="r"
        )
    with store.read() as s:
        reports = verify_chains(s)
    assert [(r.chain, r.entries, r.ok) for r in reports] == [(f"incident/{incident_id}", 3, True)]


def test_list_filters(store: Store, clock: SimulatedClock) -> None:
    a = _declare(store, clock)
    _declare(store, clock, system="sentiment", failure_mode="data_drift")
    with store.transaction() as s:
        service.transition_incident(
            s, clock=clock, incident_id=a, to="false_positive", actor="x", reason="noise"
        )
    with store.read() as s:
        assert [i.system for i in service.list_incidents(s, open_only=True)] == ["sentiment"]
        assert [i.id for i in service.list_incidents(s, phase="false_positive")] == [a]
        assert [i.failure_mode for i in service.list_incidents(s, severity="sev4")] == [
            "data_drift"
        ]
