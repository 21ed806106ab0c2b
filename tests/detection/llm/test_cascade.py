from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airsoc.detection.llm.cascade import CascadeDetector
from airsoc.detection.llm.grounding import GroundingChecker
from airsoc.detection.llm.turns import ChunkRef, Turn
from airsoc.fleet.rag.policies import policy_index

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CHUNK = ChunkRef(
    doc_id="POL-CS-001",
    section="1",
    text="Customers on monthly plans can request a full refund within 14 days of the first "
    "payment.",
)
GOOD = (
    "Monthly plans can request a full refund within 14 days of the first payment (POL-CS-001 §1)."
)
BAD = "Refunds are available for 90 days on every plan under POL-CS-077."


@pytest.fixture(scope="module")
def detector() -> CascadeDetector:
    return CascadeDetector(GroundingChecker(policy_index()))


def _turns(n: int, bad_from: int, **bad: object) -> list[Turn]:
    return [
        Turn(session_id=f"s{i}", at=T0 + timedelta(minutes=5 * i), answer=GOOD, retrieved=[CHUNK])
        if i < bad_from
        else Turn(
            session_id=f"s{i}",
            at=T0 + timedelta(minutes=5 * i),
            answer=BAD,
            retrieved=[CHUNK],
            **bad,
        )
        for i in range(n)
    ]


def test_repeated_fabrication_is_a_cascade_with_onset_and_spread(detector: CascadeDetector) -> None:
    verdict = detector.detect(_turns(48, 24))
    assert verdict.decision == "drift"
    assert verdict.evidence["started_at"] == (T0 + timedelta(minutes=120)).isoformat()
    claim = verdict.evidence["repeated_claims"][0]
    assert claim["sessions"] == 24
    assert claim["sessions_per_hour"] == pytest.approx(23 / (23 * 5 / 60), rel=0.01)
    assert verdict.evidence["growth_per_hour"] > 0


def test_upvoted_and_reingested_ungrounded_answers_amplify(detector: CascadeDetector) -> None:
    turns = _turns(30, 20, feedback=1, reingested=True)
    verdict = detector.detect(turns)
    assert verdict.evidence["feedback"] == {"upvoted_ungrounded": 10, "reingested_ungrounded": 10}
    assert {"AML.T0070", "AML.T0071"} <= set(verdict.evidence["atlas"])


def test_grounded_traffic_and_empty_windows_are_ok(detector: CascadeDetector) -> None:
    assert detector.detect(_turns(20, 99)).decision == "ok"
    assert detector.detect([]).reason == "no turns in the window"
    single = detector.detect(_turns(3, 2))
    assert single.decision != "drift"
