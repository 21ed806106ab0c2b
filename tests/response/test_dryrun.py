"""Dry runs describe every step with templates filled and never act."""

from __future__ import annotations

from airsoc.clock import SimulatedClock
from airsoc.response.actions import ResponseServices
from airsoc.response.controlplane import RecordingControlPlane
from airsoc.response.dryrun import dry_run
from airsoc.response.playbooks import parse_playbook
from airsoc.response.registry import default_registry
from airsoc.store import Store

PLAYBOOK = """
name: p
steps:
  - id: inspect
    action: capture_evidence
  - id: quarantine
    action: quarantine_batch
    foreach: "{{ steps.inspect.suspects }}"
    with: {batch: "{{ item }}"}
  - id: block
    action: block_client
    when: "incident.labels.client != null"
    with: {client: "{{ incident.labels.client }}"}
  - id: canary
    action: set_canary
    with: {version: v6, percent: "{{ incident.labels.share }}"}
    approval: {role: ic}
"""


def test_dry_run_fills_templates_skips_false_conditions_and_acts_on_nothing(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    cp = RecordingControlPlane(versions={"fraud": ["v6", "v7"]})
    steps = dry_run(
        parse_playbook(PLAYBOOK),
        incident={"id": 3, "system": "fraud", "labels": {"share": "lots"}},
        registry=default_registry(plugins=False),
        services=ResponseServices(
            store=sqlite_store, settings=sqlite_store.settings, control_plane=cp
        ),
        clock=clock,
    )
    assert [(s.step_id, s.would_run) for s in steps] == [
        ("inspect", True),
        ("quarantine", True),
        ("block", False),
        ("canary", False),
    ]
    assert steps[1].description.startswith("for each item of")
    assert steps[2].description == "skipped: incident.labels.client != null is false"
    assert "would fail: step canary: with.percent" in steps[3].description
    assert steps[3].approval == "needs approval by incident_commander (four-eyes)"
    assert cp.calls == []
