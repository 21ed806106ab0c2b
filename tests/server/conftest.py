"""Fixtures for the web app: an app on a real store, users of every role with real API tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from airsoc import lineage, serving
from airsoc.alerting import Alert
from airsoc.alerting.service import save_alert
from airsoc.clock import SimulatedClock
from airsoc.detection.verdict import Verdict
from airsoc.incidents.service import assign_role, declare_incident
from airsoc.monitoring.signals import record_signal
from airsoc.response import (
    ControlPlane,
    PlaybookRunner,
    ResponseServices,
    list_approvals,
    parse_playbook,
    start_run,
)
from airsoc.runtime.registries import build_action_registry
from airsoc.server.app import create_app
from airsoc.server.auth import add_user, issue_token
from airsoc.store import Store

PASSWORD = "correct-horse-battery"
ROLES = {"vic": "viewer", "dana": "responder", "sam": "approver", "ada": "admin"}


@dataclass
class Api:
    """A test client and a bearer header per user (vic viewer, dana responder, sam approver,
    ada admin)."""

    app: FastAPI
    client: TestClient
    tokens: dict[str, str]
    store: Store
    clock: SimulatedClock

    def auth(self, user: str) -> dict[str, str]:
        """Return the Authorization header of ``user``."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def seed_users(store: Store, clock: SimulatedClock) -> dict[str, str]:
    """Add one user per role (password PASSWORD) and return their API tokens."""
    tokens = {}
    with store.transaction() as s:
        for name, role in ROLES.items():
            add_user(s, clock=clock, name=name, role=role, password=PASSWORD, actor="setup")
            tokens[name] = issue_token(s, clock=clock, user=name, name="tests", actor="setup").token
    return tokens


def make_api(store: Store, clock: SimulatedClock) -> Iterator[Api]:
    """Yield an :class:`Api` on ``store``."""
    tokens = seed_users(store, clock)
    app = create_app(store.settings, clock=clock, store=store)
    with TestClient(app) as client:
        yield Api(app=app, client=client, tokens=tokens, store=store, clock=clock)


@pytest.fixture
def api(sqlite_store: Store, clock: SimulatedClock) -> Iterator[Api]:
    """The app on SQLite, with a user of every role."""
    yield from make_api(sqlite_store, clock)


@pytest.fixture
def api_any_store(store: Store, clock: SimulatedClock) -> Iterator[Api]:
    """The app on SQLite and on PostgreSQL, with a user of every role."""
    yield from make_api(store, clock)


#: A playbook whose rollback waits for the incident commander (destructive: four-eyes).
ROLLBACK_PLAYBOOK = """
name: contain-drift
on: {failure_mode: data_drift}
steps:
  - id: contain
    action: rollback
    with: {system: "{{ incident.system }}", to: last_known_good}
    approval: {role: incident_commander}
"""

#: The same playbook, whose approval times out after 30 minutes (then the run is aborted).
TIMED_ROLLBACK_PLAYBOOK = ROLLBACK_PLAYBOOK.replace(
    "approval: {role: incident_commander}",
    "approval: {role: incident_commander, timeout: 30m, on_timeout: abort}",
)


@dataclass
class Story:
    """What :func:`seed_operations` created."""

    system: str
    incident_id: int
    run_id: int
    approval_id: int


def seed_operations(
    store: Store,
    clock: SimulatedClock,
    *,
    control_plane: ControlPlane | None = None,
    requester: str = "dana",
    commander: str = "sam",
    playbook: str = ROLLBACK_PLAYBOOK,
) -> Story:
    """Register fraud-detector (v6 known-good, v7 serving), store drift signals and an alert of
    its input-drift monitor, declare an incident, and start a playbook run that waits for the
    approval of its rollback step (requested by ``requester``; ``commander`` may decide).
    ``playbook`` is the run's playbook (its first step must wait for an approval)."""
    system = "fraud-detector"
    with store.transaction() as s:
        lineage.register_system(
            s, clock=clock, actor="ada", name=system, kind="tabular-classifier", owner="risk-ml"
        )
        for v in ("v6", "v7"):
            lineage.register_model_version(
                s,
                clock=clock,
                actor="ci",
                system=system,
                version=v,
                artifact_uri=f"s3://models/{v}.joblib",
                sha256=v[1] * 64,
            )
        lineage.mark_known_good(
            s, clock=clock, actor="ada", system=system, version="v6", reason="holdout review"
        )
        serving.promote(s, clock=clock, actor="ci", system=system, version="v7", reason="release")
    for i, psi in enumerate((0.04, 0.05, 0.06, 0.19, 0.31)):
        clock.advance(timedelta(minutes=15))
        with store.transaction() as s:
            record_signal(
                s,
                clock=clock,
                monitor="fraud-input-drift",
                system=system,
                verdict=Verdict(
                    detector="data_drift",
                    method="psi",
                    subject="amount",
                    statistic=psi,
                    threshold=0.2,
                    decision="drift" if psi > 0.2 else "ok",
                    reason=f"PSI {psi} on amount (run {i})",
                ),
            )
    with store.transaction() as s:
        save_alert(
            s,
            clock=clock,
            source="monitor",
            alert=Alert(
                labels={
                    "alertname": "fraud-input-drift",
                    "system": system,
                    "monitor": "fraud-input-drift",
                    "failure_mode": "data_drift",
                    "severity": "sev2",
                },
                starts_at=clock.now(),
            ),
        )
        inc = declare_incident(
            s,
            clock=clock,
            actor="system:monitor/fraud-input-drift",
            system=system,
            failure_mode="data_drift",
            summary="Input drift on amount: PSI 0.31 over the 0.2 threshold.",
            severity="sev2",
        )
        assign_role(
            s,
            clock=clock,
            incident_id=inc.id,
            role="incident_commander",
            person=commander,
            actor=requester,
        )
        run = start_run(
            s,
            clock=clock,
            playbook=parse_playbook(playbook, registry=build_action_registry(plugins=False)),
            incident_id=inc.id,
            started_by=requester,
        )
    runner = PlaybookRunner(
        store=store,
        clock=clock,
        worker_id="seed",
        registry=build_action_registry(plugins=False),
        services=ResponseServices(
            store=store, settings=store.settings, control_plane=control_plane
        ),
    )
    runner.run_until_idle()
    with store.read() as s:
        (approval,) = list_approvals(s, incident_id=inc.id)
    return Story(system=system, incident_id=inc.id, run_id=run.id, approval_id=approval.id)
