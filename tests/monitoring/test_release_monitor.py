"""Release monitors: a version judged against its own validation evidence, delayed-label
performance against the known-good version's, and the batch screen over new batches."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airsoc import lineage
from airsoc.clock import SimulatedClock
from airsoc.errors import DetectionError, HashMismatchError, InputError
from airsoc.monitoring import BUILTIN_EVALUATORS
from airsoc.monitoring.alerts import Alert
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.evaluators import ValidationReference, concept_drift, release_regression
from airsoc.monitoring.monitors import MonitorScheduler, WindowData
from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.serving.control import promote
from airsoc.store import Store
from airsoc.telemetry import EventLog, LabelEvent, PredictionEvent
from airsoc.testing import CliResult

SYSTEM = "fraud"


def _validation(path: Path, *, n: int = 3000, seed: int = 0) -> Path:
    """Write a validation file: 3% positives scored high, the rest low."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.03).astype(int)
    score = np.where(label == 1, rng.beta(8, 2, n), rng.beta(1, 30, n))
    pd.DataFrame({"score": score, "label": label}).to_parquet(path, index=False)
    return path


def _registry(store: Store, clock: SimulatedClock, tmp_path: Path) -> None:
    """``fraud`` v1 (known-good, validated) serves; v2 is validated; v3 has no evidence."""
    with store.transaction() as s:
        lineage.register_system(
            s, clock=clock, actor="a", name=SYSTEM, kind="tabular-classifier", owner="risk"
        )
        for version, seed in (("v1", 1), ("v2", 2), ("v3", None)):
            evidence = (
                lineage.describe_validation(_validation(tmp_path / f"{version}.parquet", seed=seed))
                if seed is not None
                else None
            )
            lineage.register_model_version(
                s,
                clock=clock,
                actor="ci",
                system=SYSTEM,
                version=version,
                artifact_uri=f"s3://m/{version}",
                sha256=str(seed or 9) * 64,
                validation=evidence,
            )
        lineage.mark_known_good(
            s, clock=clock, actor="a", system=SYSTEM, version="v1", reason="reviewed"
        )
        promote(s, clock=clock, actor="a", system=SYSTEM, version="v1", reason="first")


def _traffic(
    root: Path,
    clock: SimulatedClock,
    version: str,
    *,
    n: int,
    recall: float,
    seed: int,
    role: str = "primary",
    spread: float = 30.0,
) -> None:
    """Log ``n`` answered rows of ``version`` with delayed labels; a share ``recall`` of the
    frauds is caught."""
    rng = np.random.default_rng(seed)
    log = EventLog(root)
    for i in range(n):
        fraud = rng.random() < 0.03
        caught = fraud and rng.random() < recall
        score = float(rng.beta(8, 2) if caught else rng.beta(1, spread))
        request = f"{version}-{seed}-{i}"
        log.append(
            PredictionEvent(
                request_id=request,
                ts=clock.now(),
                system=SYSTEM,
                version=version,
                role=role,
                inputs={"amount": 1.0},
                output=int(score >= 0.5),
                score=score,
            )
        )
        log.append(LabelEvent(request_id=request, ts=clock.now(), system=SYSTEM, label=int(fraud)))
    log.close()


def _monitor(detector: str, **extra: object) -> MonitorConfig:
    return MonitorConfig.model_validate(
        {"name": detector, "system": SYSTEM, "detector": detector, "window": "1h",
         "every": "1h", **extra}
    )  # fmt: skip


RELEASE = _monitor("release_regression", reference={"validation": "production"})
PERFORMANCE = _monitor(
    "concept_drift",
    reference={"validation": "known_good"},
    thresholds={"alpha": 0.001, "min_drop": 0.1},
    params={"positive": 1},
)


def _run(source: EventLogTelemetry, clock: SimulatedClock, monitor: MonitorConfig) -> list[str]:
    window = WindowData(
        clock.now() - timedelta(hours=1),
        clock.now() + timedelta(seconds=1),
        source.window(monitor, clock.now() - timedelta(hours=1), clock.now() + timedelta(1)),
        source.reference(monitor),
    )
    return [v.decision for v in BUILTIN_EVALUATORS[monitor.detector](monitor, window)]


def test_validation_files_are_described_and_checked(tmp_path: Path) -> None:
    record = lineage.describe_validation(_validation(tmp_path / "v.parquet"))
    assert record["rows"] == 3000
    assert record["labelled"]
    assert record["metrics"]["recall"] > 0.9
    assert set(lineage.read_validation(record).columns) == {"score", "label", "prediction"}
    (tmp_path / "bad.csv").write_text("score,label\n0.2,0\n1.7,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"score row 1 is 1.7, not a number in \[0, 1\]"):
        lineage.describe_validation(tmp_path / "bad.csv")
    (tmp_path / "none.csv").write_text("p,label\n0.2,0\n", encoding="utf-8")
    with pytest.raises(InputError, match="no 'score' column"):
        lineage.describe_validation(tmp_path / "none.csv")
    _validation(tmp_path / "v.parquet", seed=5)  # the file changed after registration
    with pytest.raises(HashMismatchError, match="the registry holds"):
        lineage.read_validation(record)


def test_a_release_is_judged_against_its_own_validation_not_its_predecessor(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    _registry(sqlite_store, clock, tmp_path)
    source = EventLogTelemetry(store=sqlite_store, base_dir=tmp_path)
    _traffic(source.root, clock, "v1", n=3000, recall=1.0, seed=1)
    assert _run(source, clock, RELEASE) == ["ok"]
    assert _run(source, clock, PERFORMANCE).count("drift") == 0
    clock.advance(timedelta(hours=2))
    with sqlite_store.transaction() as s:
        promote(s, clock=clock, actor="ci", system=SYSTEM, version="v2", reason="retrain")
    # v2 scores differently from v1 (a wider score spread) yet as its own validation said.
    _traffic(source.root, clock, "v2", n=3000, recall=1.0, seed=2)
    reference = source.reference(RELEASE)
    assert isinstance(reference, ValidationReference)
    assert reference.version == "v2"
    assert _run(source, clock, RELEASE) == ["ok"]
    clock.advance(timedelta(hours=2))
    # The same version losing two thirds of its recall departs from its validation.
    _traffic(source.root, clock, "v2", n=3000, recall=0.3, seed=3)
    assert _run(source, clock, RELEASE) == ["drift"]
    assert "drift" in _run(source, clock, PERFORMANCE)


def test_a_version_without_evidence_is_skipped_and_performance_still_watches(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    _registry(sqlite_store, clock, tmp_path)
    source = EventLogTelemetry(store=sqlite_store, base_dir=tmp_path)
    with sqlite_store.transaction() as s:
        promote(s, clock=clock, actor="ci", system=SYSTEM, version="v3", reason="pipeline")
    _traffic(source.root, clock, "v3", n=3000, recall=0.2, seed=4)
    window = source.window(RELEASE, clock.now() - timedelta(hours=1), clock.now() + timedelta(1))
    (verdict,) = release_regression(RELEASE, WindowData(clock.now(), clock.now(), window,
                                                         source.reference(RELEASE)))  # fmt: skip
    assert verdict.decision == "ok"
    assert verdict.status == "skipped"
    assert verdict.reason == "no validation evidence for version v3"
    verdicts = concept_drift(
        PERFORMANCE, WindowData(clock.now(), clock.now(), window, source.reference(PERFORMANCE))
    )
    recall = next(v for v in verdicts if v.subject == "recall")
    assert recall.decision == "drift"
    assert recall.evidence["model_version"] == "v3"
    with pytest.raises(DetectionError, match="v3 has no validation evidence"):
        concept_drift(
            PERFORMANCE,
            WindowData(clock.now(), clock.now(), window, ValidationReference(SYSTEM, "v3")),
        )
    with pytest.raises(DetectionError, match="needs reference"):
        release_regression(RELEASE, WindowData(clock.now(), clock.now(), window, None))


def test_a_version_promoted_a_moment_ago_waits_for_scores_without_going_blind(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    """A fresh release has too few live scores to judge: the run says skipped and why, and the
    monitor that judged v1 a moment before is not called blind (a benign release stays quiet);
    with enough scores it judges v2 again."""
    _registry(sqlite_store, clock, tmp_path)
    alerts: list[Alert] = []
    scheduler = MonitorScheduler(
        monitors=[RELEASE],
        store=sqlite_store,
        clock=clock,
        source=EventLogTelemetry(store=sqlite_store, base_dir=tmp_path),
        sink=alerts.append,
        evaluators=BUILTIN_EVALUATORS,
    )
    root = EventLogTelemetry(store=sqlite_store, base_dir=tmp_path).root
    _traffic(root, clock, "v1", n=3000, recall=1.0, seed=1)
    clock.advance(timedelta(hours=1))
    first = scheduler.run(RELEASE)
    assert first.status == "ran", [v.reason for v in first.verdicts]
    clock.advance(timedelta(minutes=30))
    with sqlite_store.transaction() as s:
        promote(s, clock=clock, actor="ci", system=SYSTEM, version="v2", reason="retrain")
    _traffic(root, clock, "v2", n=20, recall=1.0, seed=2)
    clock.advance(timedelta(hours=1))
    waiting = scheduler.run(RELEASE)
    assert waiting.status == "skipped"
    assert "live scores for version v2" in waiting.verdicts[0].reason
    assert waiting.blind is None
    assert alerts == []
    _traffic(root, clock, "v2", n=3000, recall=1.0, seed=3)
    clock.advance(timedelta(hours=1))
    judged = scheduler.run(RELEASE)
    assert judged.status == "ran", [v.reason for v in judged.verdicts]
    assert alerts == []


def test_the_batch_screen_watches_every_source_and_is_not_blind_between_batches(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)

    def batch(name: str, *, flip: bool = False) -> Path:
        x = rng.normal(size=(1500, 3))
        label = (x[:, 0] + 0.5 * x[:, 1] > 1.2).astype(int)
        if flip:
            label = np.where(x[:, 0] > 1.5, 0, label)
        path = tmp_path / f"{name}.csv"
        pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": label}).to_csv(path)
        return path

    def register(s: object, name: str, source: str, path: Path) -> None:
        lineage.register_batch(
            s,  # type: ignore[arg-type]
            clock=clock,
            actor="etl",
            batch_id=name,
            source=source,
            rows=1500,
            sha256=lineage.sha256_file(path),
            uri=str(path),
        )

    with sqlite_store.transaction() as s:
        lineage.register_system(
            s, clock=clock, actor="a", name=SYSTEM, kind="tabular-classifier", owner="risk"
        )
        for name in ("t1", "t2"):
            register(s, name, "acme", batch(name))
        lineage.register_model_version(
            s, clock=clock, actor="ci", system=SYSTEM, version="v1", artifact_uri="s3://m/v1",
            sha256="1" * 64, training_batches=["t1", "t2"],
        )  # fmt: skip
        lineage.mark_known_good(
            s, clock=clock, actor="a", system=SYSTEM, version="v1", reason="reviewed"
        )
    screen = _monitor(
        "data_poisoning",
        window="10m",
        every="10m",
        window_kind="sliding",
        reference={"model_version": "known_good"},
        params={"source": "*", "label": "y", "columns": ["a", "b", "c"]},
        failure_mode="data_poisoning",
    )
    alerts: list[object] = []
    scheduler = MonitorScheduler(
        monitors=[screen],
        store=sqlite_store,
        clock=clock,
        source=EventLogTelemetry(store=sqlite_store, base_dir=tmp_path),
        sink=alerts.append,
        evaluators=BUILTIN_EVALUATORS,
    )
    clock.advance(timedelta(hours=1))
    with sqlite_store.transaction() as s:
        register(s, "acme-3", "acme", batch("acme-3"))
        register(s, "bright-1", "brightline", batch("bright-1", flip=True))
    clock.advance(timedelta(minutes=1))
    run = scheduler.run(screen)
    assert run.error is None, run.error
    decisions = {v.evidence["batch_id"]: v.decision for v in run.verdicts}
    assert decisions == {"acme-3": "ok", "bright-1": "drift"}
    clock.advance(timedelta(hours=1))
    quiet = scheduler.run(screen)  # no new batch: quiet, not blind
    assert quiet.status == "skipped"
    assert quiet.blind is None


def test_register_model_takes_validation_evidence(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    assert cli("registry", "register-system", "fraud", "--kind", "tabular-classifier",
               "--owner", "risk").exit_code == 0  # fmt: skip
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"weights")
    evidence = _validation(tmp_path / "val.parquet")
    done = cli("registry", "register-model", "fraud", "v1", "--artifact", str(artifact),
               "--validation", str(evidence), "--json")  # fmt: skip
    assert done.exit_code == 0, done.stdout
    record = json.loads(done.stdout)["metrics"]["validation"]
    assert record["rows"] == 3000
    assert record["sha256"] == lineage.sha256_file(evidence)
    bad = cli("registry", "register-model", "fraud", "v2", "--artifact", str(artifact),
              "--validation", str(tmp_path / "missing.csv"))  # fmt: skip
    assert bad.exit_code != 0
    assert "missing.csv does not exist" in bad.stdout + bad.stderr


def test_a_canary_is_compared_with_the_primary_on_delayed_labels_not_on_scores(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    _registry(sqlite_store, clock, tmp_path)
    source = EventLogTelemetry(store=sqlite_store, base_dir=tmp_path)
    _traffic(source.root, clock, "v1", n=6000, recall=1.0, seed=5)
    # The canary scores its legit rows differently (a retrain) and catches as much fraud.
    _traffic(source.root, clock, "v2", n=6000, recall=1.0, seed=6, role="canary", spread=15)
    _traffic(source.root, clock, "v3", n=6000, recall=1.0, seed=7, role="shadow", spread=15)
    window = source.window(RELEASE, clock.now() - timedelta(hours=1), clock.now() + timedelta(1))
    assert set(window["role"]) == {"primary", "canary"}  # a shadow answer is nobody's answer
    verdicts = release_regression(
        RELEASE, WindowData(clock.now(), clock.now(), window, source.reference(RELEASE))
    )
    assert [(v.subject, v.decision) for v in verdicts] == [
        ("version:v1", "ok"),
        ("canary:v2", "ok"),
    ]
    clock.advance(timedelta(hours=2))
    _traffic(source.root, clock, "v1", n=6000, recall=1.0, seed=8)
    _traffic(source.root, clock, "v2", n=6000, recall=0.3, seed=9, role="canary")
    window = source.window(RELEASE, clock.now() - timedelta(hours=1), clock.now() + timedelta(1))
    primary, canary = release_regression(
        RELEASE, WindowData(clock.now(), clock.now(), window, source.reference(RELEASE))
    )
    assert primary.decision == "ok"
    assert canary.decision == "drift"
    assert canary.failure_mode == "release_regression"
    assert canary.evidence["model_version"] == "v2"
    assert "canary v2 performs worse than the primary: recall" in (canary.reason or "")
