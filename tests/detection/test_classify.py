from __future__ import annotations

from airsoc.detection import Verdict, classify_failure_mode


def _v(detector: str, decision: str, mode: str | None, subject: str = "s") -> Verdict:
    return Verdict.model_validate(
        {
            "detector": detector,
            "method": "m",
            "subject": subject,
            "decision": decision,
            "failure_mode": mode,
            "reason": f"{detector} {decision}",
        }
    )


def test_pipeline_fault_is_ruled_out_first() -> None:
    got = classify_failure_mode(
        [
            _v("data_drift", "drift", "data_drift"),
            _v("performance", "drift", "concept_drift"),
            _v("data_quality", "drift", "pipeline_fault", subject="zip"),
        ]
    )
    assert got.failure_mode == "pipeline_fault"
    assert got.evidence["subjects"] == ["zip"]
    assert "also seen: concept_drift, data_drift" in got.reason


def test_concept_beats_prediction_beats_data_drift() -> None:
    data = _v("data_drift", "drift", "data_drift")
    outputs = _v("model_output", "drift", "prediction_drift")
    labels = _v("performance", "drift", "concept_drift")
    assert classify_failure_mode([data, outputs, labels]).failure_mode == "concept_drift"
    assert classify_failure_mode([data, outputs]).failure_mode == "prediction_drift"
    assert classify_failure_mode([data]).failure_mode == "data_drift"


def test_warnings_alone_give_a_warning_and_nothing_gives_ok() -> None:
    got = classify_failure_mode([_v("data_drift", "warn", None)])
    assert (got.decision, got.failure_mode) == ("warn", "data_drift")
    assert classify_failure_mode([_v("data_drift", "ok", None)]).decision == "ok"
