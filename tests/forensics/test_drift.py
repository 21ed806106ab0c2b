"""The drift investigation: a logging bug is a pipeline fault, a shift in one segment is found
in that segment, and delayed labels tell concept drift from covariate shift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from airsoc.clock import SimulatedClock
from airsoc.errors import InputError
from airsoc.forensics.drift import investigate_drift, record_drift_findings
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import list_findings
from airsoc.incidents.service import declare_incident
from airsoc.store import Store
from tests.forensics.drift_generators import event_log

N = 30_000


def test_a_logging_bug_that_halves_clicks_is_a_pipeline_fault_not_drift() -> None:
    reference = event_log(N, seed=1)
    current = event_log(N, seed=2, click_kept=0.5)
    found = investigate_drift(
        reference,
        current,
        features=["region", "price", "dwell", "age"],
        event_column="event",
        label_column="label",
        prediction_column="prediction",
    )
    assert found.classification == "pipeline_fault"
    assert [(m.check, m.subject) for m in found.measurement_anomalies] == [("event_count", "click")]
    assert not [f.feature for f in found.features if f.moved]
    assert found.recommendation.action == "fix_pipeline"
    assert "Do not retrain" in found.recommendation.reason


def test_a_covariate_shift_in_one_region_is_localised_to_that_region() -> None:
    reference = event_log(N, seed=1)
    current = event_log(N, seed=3, region_shift=("north", 12.0))
    found = investigate_drift(
        reference,
        current,
        features=["region", "price", "dwell", "age"],
        event_column="event",
        label_column="label",
        prediction_column="prediction",
    )
    assert not found.measurement_anomalies
    assert [f.feature for f in found.features if f.moved] == ["age"]
    assert found.classification == "covariate_shift"
    assert found.performance is not None
    assert not found.performance.loss
    top = found.segments[0]
    assert "region == north" in top.conditions
    assert all("region == north" in s.conditions for s in found.segments)
    assert sum(s.score for s in found.segments) > 0.9
    assert top.current_share > top.reference_share


def test_delayed_labels_that_show_a_loss_make_it_concept_drift() -> None:
    reference = event_log(N, seed=1)
    current = event_log(N, seed=4, region_shift=("north", 12.0), concept_flip=0.2)
    found = investigate_drift(
        reference,
        current,
        event_column="event",
        label_column="label",
        prediction_column="prediction",
    )
    assert found.classification == "concept_drift"
    assert found.performance is not None
    assert found.performance.loss
    assert found.recommendation.action == "retrain_recent"
    released = investigate_drift(
        reference,
        current,
        event_column="event",
        label_column="label",
        prediction_column="prediction",
        version_changed=True,
    )
    assert released.recommendation.action == "rollback"


def test_the_same_process_is_no_drift() -> None:
    found = investigate_drift(event_log(N, seed=1), event_log(N, seed=5), event_column="event")
    assert found.classification == "no_drift"
    assert not found.measurement_anomalies
    assert not found.segments
    assert found.recommendation.action == "monitor"


def test_a_null_rate_jump_is_a_pipeline_fault() -> None:
    reference = event_log(5000, seed=1)
    current = event_log(5000, seed=6)
    current.loc[np.arange(len(current)) % 3 == 0, "price"] = np.nan
    found = investigate_drift(reference, current, features=["price", "age"])
    assert found.classification == "pipeline_fault"
    assert [(m.check, m.subject) for m in found.measurement_anomalies] == [("null_rate", "price")]


def test_bad_input_is_named() -> None:
    log = event_log(100, seed=1)
    with pytest.raises(InputError, match="reference: no column 'missing'"):
        investigate_drift(log, log, features=["missing"])
    with pytest.raises(InputError, match="reference: the window has no rows"):
        investigate_drift(log.iloc[:0], log)


def test_findings_are_recorded_with_the_root_cause_first(sqlite_store: Store) -> None:
    found = investigate_drift(
        event_log(N, seed=1), event_log(N, seed=2, click_kept=0.5), event_column="event"
    )
    clock = SimulatedClock()
    with sqlite_store.transaction() as s:
        inc = declare_incident(
            s, clock=clock, actor="a", system="shop", failure_mode="data_drift", summary="clicks"
        )
        record_drift_findings(
            s,
            clock=clock,
            blobs=BlobStore(Path(sqlite_store.settings.evidence_dir)),
            incident_id=inc.id,
            investigation=found,
            actor="forensics",
        )
    with sqlite_store.read() as s:
        findings = list_findings(s, incident_id=inc.id)
    assert findings[0].kind.value == "root_cause"
    assert findings[0].data["subject"] == {"type": "event", "name": "click"}
    assert 0.0 <= findings[0].data["score"] <= 1.0
    assert findings[0].data["evidence"]
