"""Deployments: who switched, and the previous version retired."""

from __future__ import annotations

from datetime import timedelta

from airsoc import lineage as lin
from airsoc.clock import SimulatedClock
from airsoc.store import Store
from tests.lineage.support import build_registry


def test_deployments_record_who_switched_and_retire_the_previous(
    store: Store, clock: SimulatedClock
) -> None:
    build_registry(store, clock)
    clock.advance(timedelta(hours=1))
    with store.transaction() as s:
        lin.record_deployment(
            s,
            clock=clock,
            actor="oncall",
            system="fraud",
            version="v2",
            role="primary",
            reason="rollback after poisoning",
        )
        lin.record_deployment(
            s,
            clock=clock,
            actor="oncall",
            system="fraud",
            version="v4",
            role="canary",
            reason="try v4",
        )
        lin.end_deployment(
            s, clock=clock, actor="oncall", system="fraud", role="canary", reason="enough"
        )
    with store.read() as s:
        history = lin.deployment_history(s, system="fraud")
        statuses = {m.version: m.status for m in lin.list_model_versions(s, system="fraud")}
        timeline = lin.system_timeline(s, name="fraud")
    assert [(d.version, d.role, d.ended_at is None) for d in history] == [
        ("v5", "primary", False),
        ("v2", "primary", True),
        ("v4", "canary", False),
    ]
    assert history[1].switched_by == "oncall"
    assert history[1].reason == "rollback after poisoning"
    assert statuses["v5"] == "retired"
    assert statuses["v2"] == "production"
    assert statuses["v4"] == "candidate"
    assert timeline[-1].action == "deployment.ended"
