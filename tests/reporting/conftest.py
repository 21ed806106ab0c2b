"""A fully worked incident to write up: detected by a monitor, contained by a playbook step that
an approver signed off, investigated, recovered, with evidence, findings and notes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from airsoc.audit import append_entry
from airsoc.clock import SimulatedClock
from airsoc.fleet.setup import fraud_rows, prepare_demo, register_release
from airsoc.fleet.systems import fraud_transactions
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
    list_incidents,
    transition_incident,
    update_incident,
)
from airsoc.monitoring import BUILTIN_EVALUATORS
from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.reporting.postmortems import NarrativeUpdate, create_postmortem, update_narrative
from airsoc.runtime.platform import Platform, PlatformOptions
from airsoc.server.auth import StoreUserDirectory
from airsoc.serving import create_app
from airsoc.serving.testing import serve_in_thread
from airsoc.settings import Settings
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


@dataclass
class DemoRecord:
    """The demo's poisoning incident, worked by the real platform loop on a simulated clock, and
    what the gateway's clients saw: (time, answering version, rows) of every answer."""

    store: Store
    clock: SimulatedClock
    incident_id: int
    answers: list[tuple[datetime, str, int]] = field(default_factory=list)
    promoted_v3: datetime | None = None


@pytest.fixture(scope="session")
def demo_record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRecord]:
    """Run the demo's story: v1 serves, the benign v2 is promoted, the poisoned v3 is promoted;
    the platform's monitors, rules and playbook do the rest (no step is narrated)."""
    data = tmp_path_factory.mktemp("demo")
    store = Store.open(Settings.resolve(data_dir=data, environ={}))
    clock = SimulatedClock(datetime(2026, 3, 27, 9, 0, tzinfo=UTC))
    setup = prepare_demo(
        store=store,
        clock=clock,
        users=StoreUserDirectory(store, clock),
        monitor_every=60,
        approval_timeout=120,
    )
    platform = Platform(
        store=store,
        clock=clock,
        api_app=lambda parts: None,
        options=PlatformOptions(
            config_path=setup.config_path,
            source=EventLogTelemetry(store=store, base_dir=setup.folder),
            evaluators=BUILTIN_EVALUATORS,
        ),
    )
    rows = iter(fraud_rows(fraud_transactions(3000, seed=3)))
    record = DemoRecord(store=store, clock=clock, incident_id=0)
    try:
        with (
            serve_in_thread(create_app(platform.gateway)) as url,
            httpx.Client(base_url=url, timeout=30) as client,
        ):

            def traffic(requests: int) -> None:
                for i in range(requests):
                    batch = [next(rows) for _ in range(1 + i % 4)]
                    answer = client.post(
                        "/v1/systems/fraud-detector/predict",
                        json={"rows": batch},
                        headers={"X-Client-ID": f"shop-{i % 3}"},
                    )
                    assert answer.status_code == 200, answer.text
                    record.answers.append((clock.now(), answer.json()["version"], len(batch)))
                assert platform.gateway.event_log is not None
                platform.gateway.event_log.flush()

            def minutes(count: int) -> None:
                for _ in range(count):
                    clock.advance(timedelta(minutes=1))
                    platform.tick()

            traffic(20)
            minutes(3)
            register_release(store, clock, setup, "retrain")
            platform.gateway.promote("fraud-detector", "v2", actor="release-bot", reason="retrain")
            traffic(20)
            minutes(3)
            register_release(store, clock, setup, "fault")
            record.promoted_v3 = clock.now()
            platform.gateway.promote(
                "fraud-detector", "v3", actor="vendor-pipeline", reason="new vendor batch"
            )
            for _ in range(8):
                traffic(10)
                minutes(1)
        with store.read() as s:
            (incident,) = [i for i in list_incidents(s) if i.failure_mode == "data_poisoning"]
        record.incident_id = incident.id
        yield record
    finally:
        platform.gateway.close()
        store.close()
