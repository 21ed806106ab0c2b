"""The course of an LLM incident measured from the event log: the first turn the guard flagged
starts the impact; turns, sessions and users are counted; an incident not yet contained is
ongoing and its impact runs to now."""

from __future__ import annotations

from datetime import timedelta

from airsoc.clock import SimulatedClock
from airsoc.incidents.service import declare_incident, get_incident, transition_incident
from airsoc.reporting.course import incident_course
from airsoc.reporting.report import build_report
from airsoc.store import Store
from airsoc.telemetry import EventLog, LLMTurnEvent

FLAGGED = [{"stage": "input", "check": "prompt_injection", "decision": "drift", "action": "log"}]
CLEAN = [{"stage": "input", "check": "prompt_injection", "decision": "ok", "action": "allow"}]


def test_the_first_flagged_turn_starts_an_llm_incident(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    log = EventLog(sqlite_store.settings.telemetry_dir)
    start = clock.now()

    def turn(minute: int, user: str, session: str, guard: list[dict[str, str]]) -> None:
        log.append(
            LLMTurnEvent(
                request_id=f"t{minute}-{user}", ts=start + timedelta(minutes=minute),
                system="support-bot", version="v1", client_id="help-center", user_id=user,
                session_id=session, guard=guard,
            )
        )  # fmt: skip

    turn(0, "u1", "s1", CLEAN)
    turn(10, "u2", "s2", FLAGGED)  # the first planted instruction
    turn(12, "u2", "s2", CLEAN)
    turn(15, "u3", "s3", FLAGGED)
    turn(50, "u4", "s4", CLEAN)  # after containment: not counted
    log.close()
    clock.advance(timedelta(minutes=20))
    with sqlite_store.transaction() as s:
        inc = declare_incident(
            s, clock=clock, actor="system:monitor/support-injection", system="support-bot",
            failure_mode="prompt_injection", summary="planted instructions in questions",
        )  # fmt: skip
    with sqlite_store.read() as s:
        course = incident_course(s, get_incident(s, incident_id=inc.id), now=clock.now())
        ongoing = build_report(s, incident_id=inc.id, now=clock.now() + timedelta(minutes=5))
    assert course.impact_start.at == start + timedelta(minutes=10)
    assert course.impact_start.evidence == "the first turn the gateway guard flagged (event log)"
    assert course.ttd_seconds == 10 * 60
    assert (course.contained.at, course.contained.reason) == (None, "not contained yet")
    assert dict(ongoing.impact)["Duration of impact"] == (
        "15 min so far (still ongoing: not contained yet)"
    )
    assert {m[0]: m[1] for m in ongoing.metrics}["Time to contain (TTC)"] == "unknown"
    clock.advance(timedelta(minutes=25))
    with sqlite_store.transaction() as s:
        transition_incident(
            s, clock=clock, incident_id=inc.id, to="contained", actor="dana",
            reason="retrieval disabled",
        )  # fmt: skip
    with sqlite_store.read() as s:
        course = incident_course(s, get_incident(s, incident_id=inc.id), now=clock.now())
        report = build_report(s, incident_id=inc.id, now=clock.now())
    # From the first flagged turn to the move to contained, by dana: 35 minutes.
    assert course.contained.evidence == "the incident's move to contained by dana"
    assert course.ttc_seconds == 35 * 60
    counts = course.counts
    assert (counts.turns, counts.sessions, counts.users) == (3, 2, 2)
    impact = dict(report.impact)
    assert impact["LLM turns served by support-bot"] == "3"
    assert impact["Sessions affected"] == "2"
    assert impact["Users affected"] == "2"
    assert "ongoing" not in impact["Duration of impact"]
    assert "Predictions served by support-bot" not in impact
