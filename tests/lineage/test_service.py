"""The lineage registry answers the poisoning questions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airsoc.audit import list_entries, verify_chains
from airsoc.clock import SimulatedClock
from airsoc.errors import ConflictError, HashMismatchError, InputError, NotFoundError
from airsoc.lineage import service as lin
from airsoc.runtime.config import parse_config
from airsoc.store import Store

VENDORS = ("acme", "globex", "initech")
DAY0 = datetime(2026, 3, 2, tzinfo=UTC)


def build_registry(store: Store, clock: SimulatedClock) -> None:
    """3 vendors deliver 30 daily batches; versions v1..v5 train on everything so far, every 6 days.

    v1, v2 and v3 are known-good. The suspect batch globex-day13 reached v3 (trained on days
    0..17), v4 and v5, and the credit system's c1; v5 serves fraud.
    """
    with store.transaction() as s:
        lin.register_system(
            s, clock=clock, actor="alice", name="fraud", kind="tabular-classifier", owner="risk"
        )
        lin.register_system(
            s, clock=clock, actor="alice", name="credit", kind="tabular-classifier", owner="risk"
        )
    trained: list[str] = []
    version = 0
    for day in range(30):
        clock.set(DAY0 + timedelta(days=day, hours=1))
        vendor = VENDORS[day % 3]
        batch_id = f"{vendor}-day{day:02d}"
        with store.transaction() as s:
            lin.register_batch(
                s,
                clock=clock,
                actor="etl",
                batch_id=batch_id,
                source=vendor,
                rows=1000 + day,
                sha256=f"{day:064x}",
                time_start=DAY0 + timedelta(days=day - 1),
                time_end=DAY0 + timedelta(days=day),
                validation={"passed": True},
            )
        trained.append(batch_id)
        if day % 6 == 5:
            version += 1
            clock.advance(timedelta(hours=2))
            with store.transaction() as s:
                lin.register_model_version(
                    s,
                    clock=clock,
                    actor="ci",
                    system="fraud",
                    version=f"v{version}",
                    artifact_uri=f"s3://models/fraud/v{version}.joblib",
                    sha256=f"{version:064x}",
                    training_batches=list(trained),
                    metrics={"auc": 0.9 + version / 100},
                )
                if version <= 3:
                    lin.mark_known_good(
                        s,
                        clock=clock,
                        actor="reviewer",
                        system="fraud",
                        version=f"v{version}",
                        reason="passed the holdout review",
                    )
    with store.transaction() as s:
        lin.register_model_version(
            s,
            clock=clock,
            actor="ci",
            system="credit",
            version="c1",
            artifact_uri="s3://models/credit/c1.joblib",
            sha256="e" * 64,
            training_batches=["globex-day13", "acme-day00"],
        )
        lin.record_deployment(
            s, clock=clock, actor="ci", system="fraud", version="v5", role="primary", reason="ship"
        )


def test_lineage_queries_answer_the_poisoning_questions(
    store: Store, clock: SimulatedClock
) -> None:
    build_registry(store, clock)
    with store.read() as s:
        assert len(lin.list_batches(s)) == 30
        assert len(lin.list_model_versions(s, system="fraud")) == 5
        # the batches a version was trained on
        v2_batches = [b.batch_id for b in lin.batches_for_model(s, system="fraud", version="v2")]
        assert len(v2_batches) == 12
        assert v2_batches[0] == "acme-day00"
        assert v2_batches[-1] == "initech-day11"
        # the versions a batch reached, across systems
        reached = [(m.system, m.version) for m in lin.models_for_batch(s, batch_id="globex-day13")]
        assert reached == [("credit", "c1"), ("fraud", "v3"), ("fraud", "v4"), ("fraud", "v5")]
        # the batches of a vendor in a time range (by the time each batch covers)
        window = lin.batches_from_source(
            s, source="globex", start=DAY0 + timedelta(days=10), end=DAY0 + timedelta(days=20)
        )
        assert [b.batch_id for b in window] == [
            "globex-day10",
            "globex-day13",
            "globex-day16",
            "globex-day19",
        ]
        # the last known-good version before the poisoned batch arrived
        assert lin.last_known_good(s, system="fraud", before_batch="globex-day13").version == "v2"
        assert lin.last_known_good(s, system="fraud").version == "v3"
        # every version so far was trained on acme-day03
        with pytest.raises(NotFoundError, match="no known-good model version before batch"):
            lin.last_known_good(s, system="fraud", before_batch="acme-day03")
        # the blast radius of quarantining the batch
        radius = lin.blast_radius(s, batch_id="globex-day13")
        assert [m.version for m in radius.model_versions] == ["c1", "v3", "v4", "v5"]
        by_system = {i.system: i for i in radius.systems}
        assert by_system["fraud"].serving == {"primary": "v5"}
        assert by_system["fraud"].serving_affected
        assert by_system["fraud"].rollback_to == "v2"
        assert by_system["credit"].rollback_to is None
        assert not by_system["credit"].serving_affected


def test_quarantine_and_revocation_are_audited_and_change_known_good(
    store: Store, clock: SimulatedClock
) -> None:
    build_registry(store, clock)
    with store.transaction() as s:
        lin.quarantine_batch(
            s,
            clock=clock,
            actor="analyst",
            batch_id="globex-day13",
            reason="label flips",
            cascade=True,
        )
    with store.read() as s:
        assert lin.get_batch(s, batch_id="globex-day13").status == "quarantined"
        assert lin.get_model_version(s, system="fraud", version="v3").status == "quarantined"
        # v3 is quarantined, so the newest known-good is v2 even without a batch given
        assert lin.last_known_good(s, system="fraud").version == "v2"
        entry = list_entries(s, chain="batch/globex-day13")[-1]
        assert (entry.actor, entry.action, entry.reason) == (
            "analyst",
            "batch.quarantined",
            "label flips",
        )
    with store.transaction() as s, pytest.raises(ConflictError, match="quarantined"):
        lin.register_model_version(
            s,
            clock=clock,
            actor="ci",
            system="fraud",
            version="v6",
            artifact_uri="s3://x",
            sha256="f" * 64,
            training_batches=["globex-day13"],
        )
    with store.transaction() as s:
        touched = lin.revoke_source(
            s,
            clock=clock,
            actor="analyst",
            source="initech",
            reason="vendor breached",
            start=DAY0 + timedelta(days=20),
        )
        released = lin.release_batch(
            s, clock=clock, actor="analyst", batch_id="globex-day13", reason="false alarm"
        )
    assert [b.batch_id for b in touched] == [
        "initech-day20",
        "initech-day23",
        "initech-day26",
        "initech-day29",
    ]
    assert released.status == "released"
    with store.read() as s:
        assert all(r.ok for r in verify_chains(s))
        assert lin.get_batch(s, batch_id="initech-day17").status == "accepted"


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


def test_verify_artifact_flags_a_supply_chain_mismatch(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    artifact = tmp_path / "model.joblib"
    artifact.write_bytes(b"trained weights")
    with sqlite_store.transaction() as s:
        lin.register_system(
            s, clock=clock, actor="a", name="fraud", kind="tabular-classifier", owner="risk"
        )
        model = lin.register_model_version(
            s, clock=clock, actor="ci", system="fraud", version="v1", artifact_uri=str(artifact)
        )
    with sqlite_store.read() as s:
        good = lin.verify_artifact(s, system="fraud", version="v1")
        assert good.ok
        assert good.actual == model.sha256
        assert good.failure_mode is None
        artifact.write_bytes(b"trained weights with a backdoor")
        bad = lin.verify_artifact(s, system="fraud", version="v1")
    assert not bad.ok
    assert bad.failure_mode == "supply_chain"
    with pytest.raises(HashMismatchError, match="supply_chain"):
        bad.raise_for_mismatch()


def test_bad_input_is_refused_with_the_field_named(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    with sqlite_store.transaction() as s:
        with pytest.raises(InputError, match="kind 'robot'"):
            lin.register_system(s, clock=clock, actor="a", name="x", kind="robot", owner="o")
        with pytest.raises(InputError, match="sha256 must be 64"):
            lin.register_batch(
                s, clock=clock, actor="a", batch_id="b", source="v", rows=1, sha256="nothex"
            )
        with pytest.raises(NotFoundError, match="system 'ghost' is not registered"):
            lin.get_system(s, name="ghost")
        lin.register_system(
            s, clock=clock, actor="a", name="x", kind="tabular-classifier", owner="o"
        )
        with pytest.raises(InputError, match="give the sha256 of remote artifact"):
            lin.register_model_version(
                s, clock=clock, actor="ci", system="x", version="v1", artifact_uri="s3://m"
            )


def test_sync_systems_from_config_creates_updates_and_reports_strays(
    store: Store, clock: SimulatedClock
) -> None:
    with store.transaction() as s:
        lin.register_system(s, clock=clock, actor="a", name="legacy", kind="other", owner="nobody")
        lin.register_system(
            s, clock=clock, actor="a", name="fraud", kind="tabular-classifier", owner="old-team"
        )
    config = parse_config(
        """
systems:
  fraud: {kind: tabular-classifier, owner: risk-ml, criticality: high,
          fallback: {type: rules, path: rules.py:score}}
  bot: {kind: llm-app, owner: support}
"""
    )
    with store.transaction() as s:
        report = lin.sync_systems_from_config(s, clock=clock, actor="ops", config=config)
    assert (report.created, report.updated, report.unchanged, report.not_in_config) == (
        ["bot"],
        ["fraud"],
        [],
        ["legacy"],
    )
    with store.transaction() as s:
        again = lin.sync_systems_from_config(s, clock=clock, actor="ops", config=config)
        fraud = lin.get_system(s, name="fraud")
    assert again.unchanged == ["bot", "fraud"]
    assert fraud.fallback == {"type": "rules", "path": "rules.py:score"}
    assert fraud.criticality == "high"
