"""A fully worked incident to write up: detected by a monitor, contained by a playbook step that
an approver signed off, investigated, recovered, with evidence, findings and notes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airsoc.audit import append_entry
from airsoc.clock import SimulatedClock
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import ChartData, ChartSeries, FindingIn, add_finding
from airsoc.incidents.service import (
    Impact,
    IncidentUpdate,
    add_evidence,
    add_note,
    assign_role,
    declare_incident,
    incident_chain,
    transition_incident,
    update_incident,
)
from airsoc.reporting.postmortems import NarrativeUpdate, create_postmortem, update_narrative
from airsoc.store import Store


def work_incident(store: Store, clock: SimulatedClock) -> int:
    """Run the poisoned-vendor-batch incident and open its post-mortem; return the incident id."""
    started = clock.now()
    clock.advance(timedelta(minutes=38))
    blobs = BlobStore(store.settings.evidence_dir)

    def step(minutes: int) -> None:
        clock.advance(timedelta(minutes=minutes))

    with store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="system:monitor/fraud-batch-screen",
            system="fraud-detector",
            failure_mode="data_poisoning",
            summary="Batch 17 from vendor acme-data flips 9% of fraud labels to legit.",
            model_versions=["fraud-detector:v7"],
            data_batches=["acme-data/2026-03-01"],
            indicators=["label disagreement 0.31 on batch 17", "fraud recall down 18 points"],
            started_at=started,
        )
    iid = inc.id
    chain = incident_chain(iid)
    with store.transaction() as s:
        append_entry(
            s,
            clock=clock,
            chain=chain,
            actor="playbook:poisoned-training-data#1",
            action="playbook.step_waiting",
            reason="contain: rollback to last known good",
            data={"step": "contain", "approval": "incident_commander"},
        )
    step(3)
    with store.transaction() as s:
        assign_role(s, clock=clock, incident_id=iid, role="ic", person="dana", actor="dana")
    step(2)
    with store.transaction() as s:
        append_entry(
            s,
            clock=clock,
            chain=chain,
            actor="sam",
            action="approval.granted",
            reason="rollback to v6 approved",
            data={"step": "contain", "requested_by": "dana"},
        )
        append_entry(
            s,
            clock=clock,
            chain=chain,
            actor="playbook:poisoned-training-data#1",
            action="playbook.step_completed",
            reason="rolled fraud-detector back to v6",
            data={"step": "contain", "routing": "v6"},
        )
        transition_incident(
            s,
            clock=clock,
            incident_id=iid,
            to="contained",
            actor="playbook:poisoned-training-data#1",
            reason="rolled back to known-good v6",
        )
    step(9)
    with store.transaction() as s:
        assign_role(s, clock=clock, incident_id=iid, role="scribe", person="lee", actor="dana")
        add_evidence(
            s,
            clock=clock,
            blobs=blobs,
            incident_id=iid,
            content=b'{"batch": 17, "disagreement": 0.31}',
            name="batch-screen.json",
            source="forensics.poisoning",
            actor="lee",
            media_type="application/json",
        )
        add_finding(
            s,
            clock=clock,
            incident_id=iid,
            actor="lee",
            finding=FindingIn(
                title="Vendor batch 17 carried flipped fraud labels",
                kind="root_cause",
                detail="9% of the fraud labels in batch 17 were flipped to legit before delivery.",
                recommendation="Screen every vendor batch for label disagreement before training",
                chart=ChartData(
                    kind="bar",
                    x=["b14", "b15", "b16", "b17"],
                    series=[
                        ChartSeries(name="label disagreement", values=[0.02, 0.03, 0.02, 0.31])
                    ],
                    threshold=0.1,
                    y_label="disagreement",
                ),
            ),
        )
        add_finding(
            s,
            clock=clock,
            incident_id=iid,
            actor="lee",
            finding=FindingIn(
                title="Retraining ran without a holdout check",
                kind="contributing_factor",
                detail="The nightly retrain promoted v7 without checking recall on a holdout.",
                recommendation="Gate promotion on recall against a fixed holdout set",
            ),
        )
        add_note(s, clock=clock, incident_id=iid, actor="lee", text="vendor acme-data contacted")
        update_incident(
            s,
            clock=clock,
            incident_id=iid,
            actor="dana",
            reason="impact assessed",
            changes=IncidentUpdate(
                impact=Impact(functional="medium", information="integrity_loss")
            ),
        )
    step(40)
    with store.transaction() as s:
        transition_incident(
            s,
            clock=clock,
            incident_id=iid,
            to="eradicated",
            actor="dana",
            reason="retrained v8 without batch 17",
        )
    step(55)
    with store.transaction() as s:
        transition_incident(
            s,
            clock=clock,
            incident_id=iid,
            to="recovered",
            actor="dana",
            reason="v8 canary at 10% for 2h, recall back to baseline",
        )
        pm = create_postmortem(s, clock=clock, incident_id=iid, actor="dana")
        update_narrative(
            s,
            clock=clock,
            postmortem_id=pm.id,
            actor="dana",
            changes=NarrativeUpdate(
                requests_affected=48_210,
                bad_predictions_served=3_940,
                users_affected=1_875,
                went_badly=[
                    "The poisoned batch passed every schema check, "
                    "so nothing stopped it before training."
                ],
            ),
        )
    return iid


@pytest.fixture
def worked_incident(store: Store, clock: SimulatedClock) -> int:
    """The worked incident on SQLite and PostgreSQL."""
    return work_incident(store, clock)


@pytest.fixture
def worked_incident_sqlite(sqlite_store: Store, clock: SimulatedClock) -> int:
    """The worked incident on SQLite."""
    return work_incident(sqlite_store, clock)
