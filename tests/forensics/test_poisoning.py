"""The poisoning investigation on a fraud system registered through the real lineage service.

The acceptance scenario (``slow``): 30 weekly batches from three vendors; ``bolt`` hides the
account-takeover pattern as legitimate over weeks 10 to 25, about 10% of all fraud rows. The
investigation only sees the registered files; the generator's truth is used to grade it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from airsoc import lineage
from airsoc.clock import SimulatedClock
from airsoc.errors import HashMismatchError, InputError, NotFoundError
from airsoc.forensics import (
    BatchData,
    PoisoningInvestigation,
    degraded_version,
    investigate_batches,
    investigate_incident,
    investigate_poisoning,
    record_poisoning_findings,
)
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import list_findings
from airsoc.incidents.service import declare_incident, get_incident
from airsoc.settings import Settings
from airsoc.store import Store
from tests.forensics.generators import (
    FEATURES,
    VENDOR_SHARES,
    FraudWorld,
    fraud_world,
    transactions,
)
from tests.forensics.registry import register_world


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FraudWorld, Store]]:
    """The 30-week fraud world, registered on a scratch SQLite store."""
    folder = tmp_path_factory.mktemp("fraud")
    world = fraud_world()
    store = Store.open(Settings.resolve(data_dir=folder / "data", environ={}))
    register_world(store, world, folder / "batches")
    yield world, store
    store.close()


@pytest.fixture(scope="module")
def found(poisoned: tuple[FraudWorld, Store]) -> PoisoningInvestigation:
    """The investigation of the degraded version v3, trusted batches from lineage."""
    _, store = poisoned
    with store.read() as s:
        return investigate_poisoning(s, system="fraud", model_version="v3")


def _fnr(train: pd.DataFrame, test: pd.DataFrame) -> float:
    with threadpool_limits(limits=1):
        model = HistGradientBoostingClassifier(
            max_iter=60, learning_rate=0.2, early_stopping=False, random_state=0
        ).fit(train[FEATURES], train["label"])
    positives = test["label"].to_numpy() == 1
    return float((model.predict(test.loc[positives, FEATURES]) == 0).mean())


@pytest.mark.slow
def test_the_scenario_flips_about_ten_percent_of_fraud(poisoned: tuple[FraudWorld, Store]) -> None:
    world, _ = poisoned
    assert 0.08 <= world.flipped_share() <= 0.12


@pytest.mark.slow
def test_names_the_vendor_first(found: PoisoningInvestigation) -> None:
    assert found.suspect_sources[0].source == "bolt"
    assert [s.source for s in found.suspect_sources] == ["bolt"]
    assert found.failing_slice.kind == "missed_positive"


@pytest.mark.slow
def test_bounds_the_span_within_one_batch(
    found: PoisoningInvestigation, poisoned: tuple[FraudWorld, Store]
) -> None:
    world, _ = poisoned
    first, last = world.span
    assert found.window.first_batch is not None
    assert found.window.last_batch is not None
    assert abs(world.week(found.window.first_batch) - first) <= 1
    assert abs(world.week(found.window.last_batch) - last) <= 1
    assert found.window.start == world.starts[found.window.first_batch]
    assert {b.source for b in found.suspect_batches} == {"bolt"}


@pytest.mark.slow
def test_lists_the_flipped_rows(
    found: PoisoningInvestigation, poisoned: tuple[FraudWorld, Store]
) -> None:
    world, _ = poisoned
    listed = {(s.batch, s.row) for s in found.suspect_samples}
    truth = {(b, int(r)) for b, rows in world.flipped.items() for r in rows}
    hits = len(listed & truth)
    assert hits / len(listed) >= 0.9, "precision"
    assert hits / len(truth) >= 0.9, "recall"


@pytest.mark.slow
def test_clean_set_brings_the_false_negative_rate_back(
    found: PoisoningInvestigation, poisoned: tuple[FraudWorld, Store]
) -> None:
    world, _ = poisoned
    excluded = {c.batch: c.excluded_rows for c in found.clean_training_set}
    assert set(excluded) == set(world.batches)
    clean = pd.concat(
        world.batches[b].drop(index=excluded[b]).drop(columns="pattern") for b in world.batches
    )
    unpoisoned = pd.concat(t.drop(columns="pattern") for t in world.truth.values())
    poisoned_all = pd.concat(f.drop(columns="pattern") for f in world.batches.values())
    test = pd.concat(
        transactions(int(200_000 * share), seed=90_000 + i, shift=0.1 * i)
        for i, share in enumerate(VENDOR_SHARES.values())
    )
    reference = _fnr(unpoisoned, test)
    assert _fnr(poisoned_all, test) > 1.2 * reference, "the scenario must hurt"
    assert _fnr(clean, test) <= 1.1 * reference


@pytest.mark.slow
def test_json_contract_and_recommendation(found: PoisoningInvestigation) -> None:
    out = found.to_json()
    for key in (
        "suspect_sources",
        "suspect_batches",
        "window",
        "suspect_samples",
        "clean_training_set",
        "options",
        "recommendation",
    ):
        assert key in out
    scores = [
        s["score"]
        for k in ("suspect_sources", "suspect_batches", "suspect_samples")
        for s in out[k]
    ]
    assert all(0.0 <= v <= 1.0 for v in scores)
    assert out["window"]["start"].endswith("Z")
    assert all(b["score"] > 0.9 for b in out["suspect_batches"][:10])
    assert {o["action"] for o in out["options"]} == {"rollback", "retrain_without_suspects"}
    retrain = next(o for o in found.options if o.action == "retrain_without_suspects")
    assert retrain.cost["excluded_rows"] == len(found.suspect_samples)
    assert found.recommendation.action == "retrain_without_suspects"
    assert found.clean_set_verified


@pytest.mark.slow
def test_findings_fill_the_incident(
    found: PoisoningInvestigation, poisoned: tuple[FraudWorld, Store]
) -> None:
    _, store = poisoned
    clock = SimulatedClock()
    blobs = BlobStore(store.settings.evidence_dir)
    with store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="rules",
            system="fraud",
            failure_mode="data_poisoning",
            summary="missed fraud doubled",
        )
        record = record_poisoning_findings(
            s, clock=clock, blobs=blobs, incident_id=inc.id, investigation=found, actor="forensics"
        )
    with store.read() as s:
        detail = get_incident(s, incident_id=inc.id)
        findings = list_findings(s, incident_id=inc.id)
    assert detail.data_batches == [b.batch for b in found.suspect_batches]
    assert "v3" in detail.model_versions
    top = findings[0]
    assert top.kind.value == "root_cause"
    assert top.data["subject"]["name"] == "bolt"
    assert top.data["rank"] == 1
    assert top.data["evidence"] == [record.evidence_sha256]
    assert record.evidence_sha256 in {e.sha256 for e in detail.evidence}


# ----------------------------------------------------------------------------- fast checks


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[FraudWorld, Store]]:
    """Eight weeks, no poisoning."""
    world = fraud_world(weeks=8, rows_per_week=800, span=(99, 99), seed=3)
    store = Store.open(Settings.resolve(data_dir=tmp_path / "data", environ={}))
    register_world(store, world, tmp_path / "batches", known_good_weeks=4)
    yield world, store
    store.close()


def test_clean_data_has_no_suspect_source(small: tuple[FraudWorld, Store]) -> None:
    _, store = small
    with store.read() as s:
        found = investigate_poisoning(s, system="fraud", model_version="v3", batch_gain=False)
    assert found.suspect_sources == []
    assert found.suspect_batches == []
    assert len(found.suspect_samples) <= 3
    assert found.window.first_batch is None
    assert any("validation gain skipped" in n for n in found.notes)


def test_a_missing_label_column_is_named(small: tuple[FraudWorld, Store]) -> None:
    _, store = small
    with store.read() as s, pytest.raises(InputError, match="no label column 'is_fraud'"):
        investigate_poisoning(s, system="fraud", model_version="v3", label_column="is_fraud")


def test_an_absent_positive_label_is_named(small: tuple[FraudWorld, Store]) -> None:
    _, store = small
    with store.read() as s, pytest.raises(InputError, match="positive label 7"):
        investigate_poisoning(s, system="fraud", model_version="v3", positive_label=7)


def test_a_tampered_batch_file_is_refused(small: tuple[FraudWorld, Store], tmp_path: Path) -> None:
    _, store = small
    path = tmp_path / "batches" / "acme-w06.parquet"
    frame = pd.read_parquet(path)
    frame["label"] = 1 - frame["label"]
    frame.to_parquet(path, index=False)
    with store.read() as s, pytest.raises(HashMismatchError, match="batch acme-w06"):
        investigate_poisoning(s, system="fraud", model_version="v3")


def test_without_a_known_good_version_trusted_batches_must_be_named(tmp_path: Path) -> None:
    world = fraud_world(weeks=4, rows_per_week=400, span=(99, 99), seed=4)
    store = Store.open(Settings.resolve(data_dir=tmp_path / "data", environ={}))
    register_world(store, world, tmp_path / "batches", known_good_weeks=2)
    with store.transaction() as s:
        lineage.mark_known_good(
            s,
            clock=SimulatedClock(),
            actor="a",
            system="fraud",
            version="v1",
            reason="doubt",
            known_good=False,
        )
    with store.read() as s, pytest.raises(NotFoundError, match="no known-good version"):
        investigate_poisoning(s, system="fraud", model_version="v3")
    store.close()


def test_row_indices_point_into_the_registered_file(small: tuple[FraudWorld, Store]) -> None:
    world, store = small
    trusted = [b for b in world.batches if world.week(b) < 4]
    with store.read() as s:
        found = investigate_poisoning(
            s, system="fraud", model_version="v3", trusted_batches=trusted, batch_gain=False
        )
    for sample in found.suspect_samples:
        assert 0 <= sample.row < len(world.batches[sample.batch])
    assert found.duration_s > 0
    assert set(found.trusted_batches) == set(trusted)
    assert not {b.batch for b in found.batches} & set(trusted)


def test_an_incident_is_investigated_on_the_version_serving_at_detection(
    small: tuple[FraudWorld, Store],
) -> None:
    _, store = small
    clock = SimulatedClock(datetime(2026, 4, 1, tzinfo=UTC))
    with store.transaction() as s:
        lineage.record_deployment(
            s, clock=clock, actor="ci", system="fraud", version="v3", role="primary", reason="ship"
        )
        clock.advance(timedelta(days=2))
        inc = declare_incident(
            s,
            clock=clock,
            actor="rules",
            system="fraud",
            failure_mode="data_poisoning",
            summary="missed fraud",
        )
        clock.advance(timedelta(hours=1))
        lineage.record_deployment(
            s,
            clock=clock,
            actor="oncall",
            system="fraud",
            version="v1",
            role="primary",
            reason="rollback",
        )
    with store.read() as s:
        assert degraded_version(s, incident_id=inc.id) == ("fraud", "v3")
        found = investigate_incident(s, incident_id=inc.id, batch_gain=False)
    assert (found.system, found.model_version) == ("fraud", "v3")


def _weeks(flip_source: str | None) -> list[BatchData]:
    rng = np.random.default_rng(5)
    out = []
    for w in range(8):
        for source in ("a", "b"):
            x = rng.normal(size=(1000, 3))
            y = (x[:, 0] + 0.3 * x[:, 1] > 1.2).astype(int)
            if source == flip_source and 4 <= w <= 6:
                y[(y == 1) & (x[:, 2] > 0)] = 0
            frame = pd.DataFrame(x, columns=["f1", "f2", "f3"]).assign(
                label=y, merchant=[f"m{i % 7}" for i in range(1000)]
            )
            out.append(
                BatchData(
                    f"{source}-{w}",
                    source,
                    datetime(2026, 1, 5, tzinfo=UTC) + timedelta(weeks=w),
                    None,
                    frame,
                )
            )
    return out


def test_a_text_positive_label_names_the_numeric_class_and_left_out_columns_are_said() -> None:
    data = _weeks("b")
    found = investigate_batches(
        data, trusted=[d.batch for d in data[:6]], positive_label="1", batch_gain=False
    )
    assert found.positive_label == 1
    assert found.suspect_sources[0].source == "b"
    assert (found.window.first_batch, found.window.last_batch) == ("b-4", "b-6")
    assert any("merchant" in n for n in found.notes)


def test_clean_batches_give_no_suspects_and_recommend_nothing_risky() -> None:
    data = _weeks(None)
    found = investigate_batches(data, trusted=[d.batch for d in data[:6]], batch_gain=False)
    assert found.suspect_sources == []
    assert found.suspect_batches == []
    assert len(found.suspect_samples) <= 5
    assert all(b.score < 0.9 for b in found.batches)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("vendor", "pattern", "span", "seed"),
    [
        ("acme", "merchant_collusion", (5, 20), 7),
        ("cobalt", "card_testing", (12, 27), 11),
    ],
)
def test_other_vendors_patterns_and_spans(
    vendor: str, pattern: str, span: tuple[int, int], seed: int
) -> None:
    world = fraud_world(vendor=vendor, pattern=pattern, span=span, seed=seed)
    data = [
        BatchData(b, world.sources[b], world.starts[b], None, f.drop(columns="pattern"))
        for b, f in world.batches.items()
    ]
    trusted = [b for b in world.batches if world.week(b) < min(span[0], 10)]
    found = investigate_batches(data, trusted=trusted, batch_gain=False)
    assert found.suspect_sources[0].source == vendor
    assert found.window.first_batch is not None
    assert found.window.last_batch is not None
    assert abs(world.week(found.window.first_batch) - span[0]) <= 1
    assert abs(world.week(found.window.last_batch) - span[1]) <= 1
    listed = {(s.batch, s.row) for s in found.suspect_samples}
    truth = {(b, int(r)) for b, rows in world.flipped.items() for r in rows}
    assert len(listed & truth) / len(listed) >= 0.9
    assert len(listed & truth) / len(truth) >= 0.9
