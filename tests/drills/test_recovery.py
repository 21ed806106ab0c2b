"""Recovery drills at reduced scale: the platform pauses the pipeline, retrains from what its own
forensics found, brings the candidate in through shadow and canary, and records its SLA."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from airsoc.audit.service import list_entries
from airsoc.clock import SimulatedClock
from airsoc.drills.context import DrillContext
from airsoc.drills.injectors import get_injector
from airsoc.drills.runner import DEFAULT_START, DrillOptions, run_drill
from airsoc.drills.scenario import ExpectedEscalation, load_scenario
from airsoc.drills.scoring import score_drill
from airsoc.drills.traffic import TrafficControl
from airsoc.incidents.service import list_incidents
from airsoc.lineage import get_model_version
from airsoc.lineage.pipelines import pause_pipeline, pipeline_state
from airsoc.response.runs import list_runs
from airsoc.serving import get_route
from tests.drills.stores import drill_store


@pytest.mark.slow
def test_a_fairness_shift_is_paused_retrained_and_restored_within_its_sla(
    tmp_path: Path,
) -> None:
    store = drill_store(tmp_path)
    card = run_drill(
        load_scenario("credit-fairness-shift"), store=store, options=DrillOptions(scale=0.25)
    )
    assert card.passed, card.reasons
    assert card.root_cause_correct
    taken = {s.expected.split()[0]: s for s in card.steps}
    assert taken["pause_pipeline"].at_s is not None
    assert taken["retrain"].at_s is not None
    assert taken["pause_pipeline"].at_s <= taken["retrain"].at_s
    assert card.time_to_recover_s is not None
    with store.read() as s:
        (incident,) = list_incidents(s)
        (run,) = list_runs(s, incident_id=incident.id)
        steps = {st.step_id: st for st in run.steps}
        route = get_route(s, system="credit-scorer")
        served = get_model_version(s, system="credit-scorer", version=str(route.primary_version))
        chain = [e.action for e in list_entries(s, chain="system/credit-scorer")]
        paused_now = pipeline_state(s, system="credit-scorer").paused
    # The retrain followed the investigation: the group it named, the feature that moved.
    named = steps["investigate"].output
    assert (named["group_column"], named["group"]) == ("region", "south")
    assert "debt_ratio" in named["moved_features"]
    assert steps["retrain"].params["options"]["group_features"]["group"] == "south"
    assert steps["retrain"].params["incident"] == incident.ref
    # The retrained version serves after its canary; the pipeline was paused, then resumed.
    assert route.primary_version == steps["retrain"].output["version"] == served.version
    assert steps["canary_check"].output["verdict"] == "promote"
    assert chain.index("pipeline.paused") < chain.index("model.retrained")
    assert chain.index("pipeline.resumed") > chain.index("model.retrained")
    assert not paused_now
    # The time to restore, measured from the fairness monitor, is on the incident with its SLA.
    assert incident.phase == "recovered"
    assert incident.labels["restore_sla_s"] == "86400"
    assert incident.labels["restore_sla_met"] == "True"
    assert 0 < float(incident.labels["time_to_restore_s"]) <= 86400
    store.close()


@pytest.mark.slow
def test_slang_escalates_unacknowledged_then_the_retrain_on_recent_reviews_is_promoted(
    tmp_path: Path,
) -> None:
    store = drill_store(tmp_path)
    scenario = load_scenario("sentiment-slang-drift")
    card = run_drill(scenario, store=store, options=DrillOptions(scale=0.25))
    assert card.passed, card.reasons
    assert card.root_cause_correct
    pages = {s.expected: s for s in card.steps if s.expected.startswith("escalate")}
    first = pages["escalate to pager (level 1)"]
    second = pages["escalate to cx-analytics-lead (level 2)"]
    assert first.at_s is not None
    assert second.at_s is not None
    assert card.time_to_declare_s is not None
    # Nobody acknowledged: the levels were paged their configured time after the declaration.
    assert first.at_s - card.time_to_declare_s == 30 * 60
    assert second.at_s - card.time_to_declare_s == 2 * 3600
    with store.read() as s:
        (incident,) = list_incidents(s)
        (run,) = list_runs(s, incident_id=incident.id)
        steps = {st.step_id: st for st in run.steps}
        route = get_route(s, system="sentiment-model")
    assert steps["root_cause"].output["recommendation"]["action"] == "retrain_recent"
    assert steps["collect"].output["rows"] > 0
    assert route.primary_version == steps["retrain"].output["version"]
    assert incident.phase == "recovered"
    # The same record scored against stricter expectations fails, saying why.
    pages_expected = [
        scenario.expectations.escalation[0].model_copy(update={"within": timedelta(minutes=10)}),
        ExpectedEscalation(receiver="cx-analytics-lead", level=3),
        ExpectedEscalation(receiver="pager", forbidden=True),
    ]
    strict = scenario.model_copy(
        update={
            "expectations": scenario.expectations.model_copy(update={"escalation": pages_expected})
        }
    )
    again = score_drill(
        strict,
        store=store,
        started_at=DEFAULT_START,
        ended_at=DEFAULT_START + scenario.traffic.duration,
    )
    assert not again.passed
    assert any("pager (level 1) came at" in r for r in again.reasons)
    assert any("no escalation page reached cx-analytics-lead (level 3)" in r for r in again.reasons)
    assert any("escalated to pager" in r and "expected no page" in r for r in again.reasons)
    store.close()


def test_a_paused_pipeline_releases_nothing(tmp_path: Path) -> None:
    """The team's pipeline asks the platform before it releases: while the system's pipeline
    is paused, a release inject is refused and says why; nothing is promoted."""
    store = drill_store(tmp_path)
    clock = SimulatedClock()
    with store.transaction() as s:
        pause_pipeline(
            s,
            clock=clock,
            actor="ana",
            system="fraud-detector",
            reason="fairness review",
            incident="INC-1",
        )
    promoted: list[str] = []

    class Promotions:
        def promote(self, system: str, version: str, *, actor: str, reason: str) -> None:
            promoted.append(version)

    ctx = DrillContext(
        clock=clock,
        store=store,
        folder=tmp_path,
        traffic=TrafficControl(seed=1),
        seed=1,
        started_at=clock.now(),
        setup=SimpleNamespace(releases={"retrain": None}),
        releases=Promotions(),
        inject_id="retrain",
    )
    injector = get_injector("release")
    injector.apply(ctx, injector.Params.model_validate({"release": "retrain"}))
    assert promoted == []
    assert any(
        "the release retrain was refused: the pipeline of fraud-detector is paused" in n
        for n in ctx.notes
    ), ctx.notes
    store.close()
