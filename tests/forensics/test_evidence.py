"""Evidence capture: every item stored with custody, a manifest that verifies, tampering named."""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from airsoc import lineage, serving
from airsoc.clock import SimulatedClock
from airsoc.errors import NotFoundError
from airsoc.forensics import EvidenceManifest, capture_evidence, verify_manifest
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.service import declare_incident, get_incident
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.telemetry import EventLog, LabelEvent, PredictionEvent

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


@dataclass
class Scene:
    store: Store
    blobs: BlobStore
    clock: SimulatedClock
    incident_id: int
    artifact: Path
    batch_file: Path


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    """A routed fraud system with a local artifact, a training batch, telemetry and an incident."""
    store = Store.open(Settings.resolve(data_dir=tmp_path / "data", environ={}))
    clock = SimulatedClock(NOW - timedelta(days=30))
    artifact = tmp_path / "model.pkl"
    artifact.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    batch_file = tmp_path / "acme-1.csv"
    batch_file.write_text("amount,label\n1.0,0\n2.0,1\n")
    with store.transaction() as s:
        lineage.register_system(
            s, clock=clock, actor="a", name="fraud", kind="tabular-classifier", owner="risk"
        )
        lineage.register_batch(
            s,
            clock=clock,
            actor="etl",
            batch_id="acme-1",
            source="acme",
            rows=2,
            sha256=lineage.sha256_file(batch_file),
            uri=str(batch_file),
        )
        lineage.register_model_version(
            s,
            clock=clock,
            actor="ci",
            system="fraud",
            version="v1",
            artifact_uri=str(artifact),
            training_batches=["acme-1"],
        )
        serving.promote(s, clock=clock, actor="ci", system="fraud", version="v1", reason="ship")
    log = EventLog(store.settings.telemetry_dir)
    for day in range(10):
        ts = NOW - timedelta(days=day, hours=1)
        log.append(
            PredictionEvent(
                request_id=f"r{day}",
                ts=ts,
                system="fraud",
                version="v1",
                inputs={"amount": day},
                output=day % 2,
            )
        )
        log.append(LabelEvent(request_id=f"r{day}", ts=ts, system="fraud", label=day % 2))
    log.append(PredictionEvent(request_id="other", ts=NOW, system="chat", output=1))
    log.close()
    clock.advance(NOW - clock.now())
    with store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="rules",
            system="fraud",
            failure_mode="data_poisoning",
            summary="recall fell",
        )
    yield Scene(store, BlobStore(store.settings.evidence_dir), clock, inc.id, artifact, batch_file)
    store.close()


def _capture(scene: Scene, **kwargs: object) -> EvidenceManifest:
    with scene.store.transaction() as s:
        return capture_evidence(
            s,
            clock=scene.clock,
            blobs=scene.blobs,
            incident_id=scene.incident_id,
            actor="responder",
            telemetry_root=scene.store.settings.telemetry_dir,
            config_text="systems:\n  fraud: {kind: tabular-classifier}\n",
            **kwargs,  # type: ignore[arg-type]
        )


def test_captures_every_item_with_its_hash_and_custody(scene: Scene) -> None:
    manifest = _capture(scene)
    by_name = {i.name: i for i in manifest.items}
    assert manifest.serving_version == "v1"
    assert {i.kind for i in manifest.items} == {
        "telemetry",
        "model",
        "reference",
        "config",
        "routing",
        "lineage",
    }
    assert all(i.status == "captured" for i in manifest.items)
    model = by_name["model/model.pkl"]
    assert model.detail["matches_registry"] is True
    assert model.sha256 == lineage.sha256_file(scene.artifact)
    assert by_name["reference/acme-1.csv"].sha256 == lineage.sha256_file(scene.batch_file)
    with scene.store.read() as s:
        detail = get_incident(s, incident_id=scene.incident_id)
    stored = {e.name: e for e in detail.evidence}
    assert set(stored) == {*by_name, "evidence-manifest.json"}
    assert all(e.custody[0].action == "collected" for e in stored.values())
    assert stored["evidence-manifest.json"].sha256 == manifest.manifest_sha256
    body = json.loads(scene.blobs.get(manifest.manifest_sha256))
    assert {i["name"]: i["sha256"] for i in body["items"]} == {
        n: i.sha256 for n, i in by_name.items()
    }


def test_the_telemetry_window_holds_the_system_and_the_window_only(scene: Scene) -> None:
    manifest = _capture(scene, window=timedelta(days=3))
    item = next(i for i in manifest.items if i.name == "telemetry/prediction.parquet")
    assert item.sha256 is not None
    table = pq.read_table(io.BytesIO(scene.blobs.get(item.sha256)))
    assert table.num_rows == 3 == item.detail["rows"]
    assert set(table.column("system").to_pylist()) == {"fraud"}


def test_routing_and_lineage_are_read_not_changed(scene: Scene) -> None:
    with scene.store.read() as s:
        before = serving.get_route(s, system="fraud")
    manifest = _capture(scene)
    with scene.store.read() as s:
        assert serving.get_route(s, system="fraud") == before
    routing = next(i for i in manifest.items if i.name == "routing.json")
    assert routing.sha256 is not None
    state = json.loads(scene.blobs.get(routing.sha256))
    assert state["route"]["primary_version"] == "v1"
    assert state["route"]["revision"] == before.revision


def test_the_manifest_verifies(scene: Scene) -> None:
    _capture(scene)
    with scene.store.read() as s:
        check = verify_manifest(s, blobs=scene.blobs, incident_id=scene.incident_id)
    assert check.ok
    assert check.manifests == 1
    assert len(check.items) == 10
    assert all(c.status == "ok" for c in check.items)


def test_a_tampered_blob_is_caught_and_named(scene: Scene) -> None:
    manifest = _capture(scene)
    item = next(i for i in manifest.items if i.name == "telemetry/label.parquet")
    assert item.sha256 is not None
    scene.blobs.path(item.sha256).write_bytes(b"rewritten")
    with scene.store.read() as s:
        check = verify_manifest(s, blobs=scene.blobs, incident_id=scene.incident_id)
    assert not check.ok
    assert [c.name for c in check.items if c.status != "ok"] == ["telemetry/label.parquet"]
    assert "telemetry/label.parquet" in check.problems[0]
    assert "altered" in check.problems[0]


def test_a_missing_blob_and_an_altered_manifest_are_named(scene: Scene) -> None:
    manifest = _capture(scene)
    scene.blobs.path(next(i for i in manifest.items if i.kind == "model").sha256 or "").unlink()
    with scene.store.read() as s:
        check = verify_manifest(s, blobs=scene.blobs, incident_id=scene.incident_id)
    assert any("model/model.pkl" in p and "missing" in p for p in check.problems)
    scene.blobs.path(manifest.manifest_sha256).write_bytes(b"{}")
    with scene.store.read() as s:
        check = verify_manifest(s, blobs=scene.blobs, incident_id=scene.incident_id)
    assert any("evidence-manifest.json" in p for p in check.problems)


def test_what_cannot_be_captured_is_listed_with_the_reason(scene: Scene) -> None:
    with scene.store.transaction() as s:
        lineage.register_model_version(
            s,
            clock=scene.clock,
            actor="ci",
            system="fraud",
            version="v2",
            artifact_uri="s3://models/v2",
            sha256="b" * 64,
        )
        serving.promote(
            s, clock=scene.clock, actor="ci", system="fraud", version="v2", reason="ship"
        )
    with scene.store.transaction() as s:
        manifest = capture_evidence(
            s,
            clock=scene.clock,
            blobs=scene.blobs,
            incident_id=scene.incident_id,
            actor="responder",
            telemetry_root=scene.store.settings.telemetry_dir,
        )
    absent = {i.name: i.detail["reason"] for i in manifest.items if i.status == "not_captured"}
    assert "s3://models/v2" in absent["model"]
    assert absent["config.yaml"] == "no config text given"


def test_an_unknown_incident_is_not_found(scene: Scene) -> None:
    with scene.store.transaction() as s, pytest.raises(NotFoundError, match="incident 99"):
        capture_evidence(
            s,
            clock=scene.clock,
            blobs=scene.blobs,
            incident_id=99,
            actor="r",
            telemetry_root=scene.store.settings.telemetry_dir,
        )
