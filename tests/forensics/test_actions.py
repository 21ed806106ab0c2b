"""The platform investigates by itself: the shipped poisoning playbook captures evidence, finds
the poisoned batches, rolls back and quarantines them, with no person naming a batch."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airsoc import lineage
from airsoc.clock import SimulatedClock
from airsoc.forensics import verify_manifest
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import list_findings
from airsoc.incidents.service import assign_role, declare_incident, get_incident
from airsoc.response.actions import ResponseServices
from airsoc.response.playbooks import default_playbooks
from airsoc.response.runner import PlaybookRunner
from airsoc.response.runs import get_run, start_run
from airsoc.runtime.control import live_control_plane
from airsoc.runtime.registries import build_action_registry
from airsoc.serving import get_route
from airsoc.serving.control import promote
from airsoc.settings import Settings
from airsoc.store import Store
from tests.forensics.generators import fraud_world
from tests.forensics.registry import register_world


def test_the_poisoning_playbook_finds_and_quarantines_the_batches_itself(tmp_path: Path) -> None:
    world = fraud_world(weeks=8, rows_per_week=500, span=(4, 6), seed=3)
    store = Store.open(Settings.resolve(data_dir=tmp_path / "data", environ={}))
    try:
        order = register_world(store, world, tmp_path / "batches", known_good_weeks=4)
        clock = SimulatedClock(world.starts[order[-1]] + timedelta(weeks=2))
        with store.transaction() as s:
            promote(s, clock=clock, actor="ml", system="fraud", version="v3", reason="release")
            inc = declare_incident(
                s,
                clock=clock,
                actor="system:monitor",
                system="fraud",
                failure_mode="data_poisoning",
                summary="missed fraud rose",
            )
            assign_role(
                s, clock=clock, incident_id=inc.id, role="incident_commander", person="ic",
                actor="a",
            )  # fmt: skip
        registry = build_action_registry(plugins=False)
        playbook = next(
            p for p in default_playbooks(registry=registry) if p.name == "poisoned-training-data"
        )
        actions = [step.action for step in playbook.steps]
        assert actions.index("capture_evidence") < actions.index("rollback")
        assert actions.index("forensics.poisoning") < actions.index("rollback")
        with store.transaction() as s:
            run = start_run(s, clock=clock, playbook=playbook, incident_id=inc.id, started_by="a")
        runner = PlaybookRunner(
            store=store,
            clock=clock,
            registry=registry,
            worker_id="w1",
            services=ResponseServices(
                store=store,
                settings=store.settings,
                control_plane=live_control_plane(store=store, clock=clock),
            ),
        )
        runner.run_until_idle()
        with store.read() as s:
            waiting = get_run(s, run_id=run.id)
            # Evidence and the investigation ran before the rollback, which waits for approval.
            assert waiting.status == "waiting_approval"
            assert get_route(s, system="fraud").primary_version == "v3"
            incident = get_incident(s, incident_id=inc.id)
            assert verify_manifest(s, blobs=BlobStore(store.settings.evidence_dir),
                                   incident_id=inc.id).ok  # fmt: skip
        poisoned = sorted(world.flipped)
        assert incident.data_batches, "the investigation put no batch on the incident"
        assert set(incident.data_batches) <= {b for b in order if world.sources[b] == "bolt"}
        assert len(set(incident.data_batches) & set(poisoned)) >= len(poisoned) - 1
        steps = {st.step_id: st for st in waiting.steps}
        assert steps["evidence"].status == "succeeded"
        investigated = steps["investigate"]
        output = waiting.outputs["investigate"]
        assert investigated.status == "succeeded"
        assert output["suspect_sources"][0]["source"] == "bolt"
        assert {b["batch"] for b in output["suspect_batches"]} == set(incident.data_batches)
        with store.read() as s:
            kinds = [f.kind.value for f in list_findings(s, incident_id=inc.id)]
        assert kinds[0] == "root_cause"
        # The vendor the investigation names first is on probation before containment.
        assert steps["probation"].status == "succeeded"
        assert waiting.outputs["probation"] == {
            "source": "bolt",
            "previous_level": "trusted",
            "level": "probation",
        }
        with store.read() as s:
            assert lineage.get_source_trust(s, source="bolt").trust == "probation"
        # Nobody approves: the rollback proceeds on timeout, then quarantine acts on the batches.
        clock.advance(timedelta(minutes=16))
        runner.run_until_idle()
        with store.read() as s:
            done = get_run(s, run_id=run.id)
            assert done.status == "succeeded", done
            assert get_route(s, system="fraud").primary_version == "v1"
            statuses = {b: lineage.get_batch(s, batch_id=b).status for b in order}
        assert {b for b, st in statuses.items() if st == "quarantined"} == set(
            incident.data_batches
        )
    finally:
        store.close()
