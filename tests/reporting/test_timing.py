"""Response times per incident and across the fleet."""

from __future__ import annotations

from datetime import timedelta

from airsoc import lineage
from airsoc.clock import SimulatedClock
from airsoc.incidents.service import declare_incident, transition_incident
from airsoc.reporting.timing import fleet_metrics, format_duration, incident_times
from airsoc.serving.control import promote
from airsoc.store import Store
from airsoc.telemetry import EventLog, LLMTurnEvent


def run(store: Store, clock: SimulatedClock, system: str, mode: str, contain_after: int) -> int:
    with store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="system:monitor/x",
            system=system,
            failure_mode=mode,
            summary="signal",
            started_at=clock.now() - timedelta(minutes=10),
        )
    clock.advance(timedelta(minutes=contain_after))
    with store.transaction() as s:
        transition_incident(
            s, clock=clock, incident_id=inc.id, to="contained", actor="playbook:1", reason="auto"
        )
    clock.advance(timedelta(minutes=1))
    with store.transaction() as s:
        transition_incident(
            s, clock=clock, incident_id=inc.id, to="recovered", actor="dana", reason="ok"
        )
    return inc.id


def test_machines_do_not_count_as_acknowledging(sqlite_store: Store, clock: SimulatedClock) -> None:
    iid = run(sqlite_store, clock, "fraud", "data_drift", contain_after=4)
    with sqlite_store.read() as s:
        t = incident_times(s, incident_id=iid)
    assert (t.ttd_seconds, t.ttc_seconds, t.ttr_seconds) == (600, 240, 300)
    assert t.tta_seconds == 300  # the playbook contained it; dana was the first person, at 5 min


def test_fleet_means_by_mode_and_system_per_week(store: Store, clock: SimulatedClock) -> None:
    run(store, clock, "fraud", "data_drift", contain_after=4)
    run(store, clock, "credit", "data_drift", contain_after=8)
    clock.advance(timedelta(days=7))
    run(store, clock, "fraud", "prompt_injection", contain_after=2)
    with store.transaction() as s:
        fp = declare_incident(
            s, clock=clock, actor="dana", system="fraud", failure_mode="data_drift", summary="noise"
        )
        transition_incident(
            s, clock=clock, incident_id=fp.id, to="false_positive", actor="dana", reason="noise"
        )
    with store.read() as s:
        by_mode = fleet_metrics(s, group_by="failure_mode", period="week")
        by_system = fleet_metrics(s, group_by="system", period="all")
        with_fp = fleet_metrics(s, group_by="system", period="all", include_false_positives=True)
    assert [(m.period, m.group, m.incidents, m.mttc_seconds) for m in by_mode] == [
        ("2026-02-23", "data_drift", 2, 360.0),
        ("2026-03-02", "prompt_injection", 1, 120.0),
    ]
    assert [(m.group, m.incidents) for m in by_system] == [("credit", 1), ("fraud", 2)]
    assert [(m.group, m.incidents) for m in with_fp] == [("credit", 1), ("fraud", 3)]
    assert format_duration(by_mode[0].mttd_seconds) == "10 min"


def test_time_to_detect_counts_from_the_promotion_of_the_bad_version(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    with sqlite_store.transaction() as s:
        lineage.register_system(
            s, clock=clock, actor="ops", name="credit-scorer", kind="tabular-classifier",
            owner="risk",
        )  # fmt: skip
        for version in ("v1", "v2"):
            lineage.register_model_version(
                s, clock=clock, actor="ops", system="credit-scorer", version=version,
                artifact_uri=f"s3://models/{version}", sha256="a" * 64,
            )  # fmt: skip
        promote(s, clock=clock, actor="ops", system="credit-scorer", version="v1", reason="r")
    clock.advance(timedelta(hours=2))
    with sqlite_store.transaction() as s:
        promote(s, clock=clock, actor="ci", system="credit-scorer", version="v2", reason="r")
    clock.advance(timedelta(minutes=30))
    with sqlite_store.transaction() as s:
        # The declarer records the declaration itself as the start: the evidence knows better.
        inc = declare_incident(
            s, clock=clock, actor="dana", system="credit-scorer", failure_mode="data_drift",
            summary="scores shifted", model_versions=["credit-scorer:v2"],
            started_at=clock.now(),
        )  # fmt: skip
        # An incident of another system with only a recorded start keeps that start.
        other = declare_incident(
            s, clock=clock, actor="dana", system="fraud", failure_mode="data_drift",
            summary="psi 0.4", started_at=clock.now() - timedelta(minutes=10),
        )  # fmt: skip
    with sqlite_store.read() as s:
        one = incident_times(s, incident_id=inc.id)
        fleet = fleet_metrics(s, group_by="system", period="all")
        assert incident_times(s, incident_id=other.id).ttd_seconds == 600
    assert one.ttd_seconds == 30 * 60
    means = [(m.group, m.mttd_seconds) for m in fleet]
    assert means == [("credit-scorer", 1800.0), ("fraud", 600.0)]


def test_fleet_time_to_detect_of_llm_incidents_counts_from_their_first_flagged_turns(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    flagged = [
        {"stage": "input", "check": "prompt_injection", "decision": "drift", "action": "log"}
    ]
    clean = [{"stage": "input", "check": "prompt_injection", "decision": "ok", "action": "allow"}]
    log = EventLog(sqlite_store.settings.telemetry_dir)
    start = clock.now()
    for minute, guard in ((0, clean), (10, flagged), (12, clean), (70, flagged), (75, flagged)):
        log.append(
            LLMTurnEvent(
                request_id=f"t{minute}", ts=start + timedelta(minutes=minute),
                system="support-bot", version="v1", client_id="help-center", user_id="u",
                session_id="s", guard=guard,
            )
        )  # fmt: skip
    log.close()
    ids = []
    for minutes in (30, 60):  # alarms at minute 30 and at minute 90
        clock.advance(timedelta(minutes=minutes))
        with sqlite_store.transaction() as s:
            ids.append(
                declare_incident(
                    s, clock=clock, actor="system:monitor/support-injection",
                    system="support-bot", failure_mode="prompt_injection", summary="planted",
                    started_at=clock.now(),
                ).id
            )  # fmt: skip
    with sqlite_store.read() as s:
        one = [incident_times(s, incident_id=i).ttd_seconds for i in ids]
        (fleet,) = fleet_metrics(s, group_by="system", period="all")
    # The first flagged turn before each alarm, within the week before it: minute 10 for both.
    assert one == [20 * 60, 80 * 60]
    assert fleet.mttd_seconds == 50 * 60
