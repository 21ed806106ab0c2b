"""Tabletop mode: the scenario revealed step by step, answers and decisions recorded with their
times, a stored debrief compared with the playbook and the ideal timeline, exported as Markdown
and HTML, and listed for the review board."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from airsoc.audit import list_entries
from airsoc.clock import SimulatedClock
from airsoc.drills.scenario import load_scenario
from airsoc.drills.tabletop import (
    Prompt,
    ScriptedAnswers,
    StoreReveal,
    get_debrief,
    list_debriefs,
    load_answers,
    plan_from_scenario,
    run_tabletop,
)
from airsoc.errors import DataFileError
from airsoc.incidents.service import declare_incident, transition_incident
from airsoc.reporting.review import review_queue
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.testing import CliResult

Cli = Callable[..., CliResult]
AIRSOC = str(Path(sys.executable).with_name("airsoc"))
ATLAS_FIXTURE = Path(__file__).parent / "data" / "atlas-mini.yaml"


def _answers(path: Path, items: object) -> Path:
    path.write_text(json.dumps({"answers": items}), encoding="utf-8")
    return path


def test_a_scripted_tabletop_is_stored_compared_and_exported(cli: Cli, tmp_path: Path) -> None:
    answers = _answers(
        tmp_path / "answers.json",
        [
            {"answer": "Its validation evidence; nothing to declare.",
             "decision": "check_validation_evidence"},
            {"answer": "Capture evidence, then investigate.", "decision": "capture_evidence"},
            {"answer": "Roll back to the known-good v2.", "decision": "rollback"},
        ],
    )  # fmt: skip
    result = cli(
        "drill", "run", "live-demo", "--tabletop", "--no-replay", "--answers", str(answers),
        "--player", "dana", "--player", "lee", "--output", str(tmp_path / "out" / "debrief"),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    # Revealed in time order: the benign release, then the fault, each with its prompts.
    assert out.index("benign change retrain: release(release=retrain") < out.index(
        "fault poisoned-release: release(release=fault"
    )
    assert out.index("What do you check?") < out.index("What do you do first?")
    markdown = (tmp_path / "out" / "debrief.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Tabletop debrief: live-demo (DRL-1)\n")
    assert "players: dana, lee" in markdown
    assert "| evidence | capture_evidence | yes | T+00:01 |" in markdown
    assert "| quarantine | quarantine_batch | no | - |" in markdown
    assert (
        "| declare data_poisoning at sev2 or worse | declare_incident | T+00:06 | - | missed |"
        in markdown
    )
    assert "| rollback | rollback | - | T+00:01 | in time |" in markdown
    assert "Decisions outside the playbook and the timeline: check_validation_evidence" in markdown
    html = (tmp_path / "out" / "debrief.html").read_text(encoding="utf-8")
    assert "<h1>Tabletop debrief: live-demo (DRL-1)</h1>" in html
    assert "<td>capture_evidence</td>" in html

    listed = cli("drill", "debriefs", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [
        (d["kind"], d["ref"], d["status"], d["scenario"]) for d in json.loads(listed.stdout)
    ] == [("tabletop_debrief", "DRL-1", "open", "live-demo")]
    store = Store.open(Settings.resolve(data_dir=tmp_path / "airsoc-data", environ={}))
    try:
        with store.read() as s:
            (item,) = list_debriefs(s)
            assert item.title == "Tabletop debrief: live-demo"
            # The debrief waits in the review board's queue.
            assert [(q.kind, q.reference) for q in review_queue(s)] == [
                ("tabletop_debrief", "DRL-1")
            ]
            (entry,) = list_entries(s, chain="drill/1")
            assert entry.action == "drill.debrief_recorded"
            assert entry.actor == "dana,lee"
            assert entry.data["decisions"] == [
                "check_validation_evidence", "capture_evidence", "rollback"
            ]  # fmt: skip
    finally:
        store.close()


def test_the_players_answer_at_the_terminal(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRSOC_")}
    env["AIRSOC_DATA_DIR"] = str(tmp_path / "data")
    # One prompt per line of input: a decision number (a wrong one is asked again), an answer.
    typed = "9\n1\nvalidation evidence\n1\nevidence first\n\nno decision yet\n"
    result = subprocess.run(
        [AIRSOC, "drill", "run", "live-demo", "--tabletop", "--no-replay", "--player", "sam"],
        input=typed, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "choose 1 to 3" in result.stdout
    assert "| T+00:01 | The investigation names the brightline-data batch." in result.stdout
    assert "| - | no decision yet |" in result.stdout
    assert "| evidence | capture_evidence | yes | T+00:01 |" in result.stdout


def test_an_atlas_skeleton_is_played_as_a_tabletop(cli: Cli, tmp_path: Path) -> None:
    scenario = tmp_path / "atlas.yaml"
    made = cli("drill", "from-atlas", "AML.CS9001", "--atlas", str(ATLAS_FIXTURE),
               "--output", str(scenario))  # fmt: skip
    assert made.exit_code == 0, made.stderr
    assert "4 injects, 11 prompts" in made.stdout
    # Answers by prompt id; the discussion prompts carry ATLAS's mitigations as their ideal.
    answers = _answers(
        tmp_path / "answers.json",
        {f"prompt-{i}": f"answer {i}" for i in range(1, 12)},
    )
    played = cli("drill", "run", str(scenario), "--tabletop", "--answers", str(answers))
    assert played.exit_code == 0, played.stderr
    assert "Poison Training Data (AML.T0020)" in played.stdout
    assert "ATLAS lists: AML.M0007 Sanitize Training Data" in played.stdout
    assert "## Compared with the playbook `poisoned-training-data`" in played.stdout
    printed = cli("drill", "from-atlas", "AML.CS9001", "--atlas", str(ATLAS_FIXTURE))
    assert printed.stdout == scenario.read_text(encoding="utf-8")
    both = cli("drill", "run", str(scenario), "--tabletop", "--real-time")
    assert both.exit_code == 2
    assert "choose --tabletop or --real-time, not both" in both.stderr
    missing = cli("drill", "from-atlas", "AML.CS0404", "--atlas", str(ATLAS_FIXTURE))
    assert missing.exit_code == 1
    assert "case study AML.CS0404 is not in ATLAS 5.6.0" in missing.stderr


def test_scripted_answers_that_do_not_fit_are_named(tmp_path: Path) -> None:
    prompt = Prompt(id="p1", text="First?", options=("rollback", "retrain"))
    with pytest.raises(DataFileError, match=r"answers: 0 answers, but prompt 'p1' is number 1"):
        ScriptedAnswers([]).answer(prompt)
    with pytest.raises(DataFileError, match=r"decision 'wait' is not one of rollback, retrain"):
        ScriptedAnswers([{"answer": "x", "decision": "wait"}]).answer(prompt)
    with pytest.raises(DataFileError, match=r"answers: \[0\]: unknown key 'why'"):
        ScriptedAnswers([{"answer": "x", "why": "y"}]).answer(prompt)
    with pytest.raises(DataFileError, match=r"no answer for prompt 'p1'"):
        ScriptedAnswers({"p2": "x"}).answer(prompt)
    bad = tmp_path / "bad.yaml"
    bad.write_text("answers: 3\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"bad\.yaml: answers must be a list or a mapping"):
        load_answers(bad)
    with pytest.raises(DataFileError, match=r"answers file .*none\.yaml not found"):
        load_answers(tmp_path / "none.yaml")


def test_the_plan_follows_the_scenario() -> None:
    plan = plan_from_scenario(load_scenario("live-demo"))
    assert [(s.at_s, len(s.prompts)) for s in plan.stops] == [(30.0, 1), (60.0, 2), (600.0, 0)]
    assert plan.playbook is not None
    assert plan.playbook.name == "poisoned-training-data"
    assert ("contain", "rollback") in plan.playbook.steps
    assert [(i.expected, i.by_s) for i in plan.ideal][:2] == [
        ("declare data_poisoning at sev2 or worse", 360.0),
        ("rollback", None),
    ]


def test_a_stop_reveals_what_the_store_recorded(sqlite_store: Store) -> None:
    clock = SimulatedClock()
    started = clock.now()
    clock.advance(timedelta(minutes=10))
    with sqlite_store.transaction() as s:
        incident = declare_incident(
            s, clock=clock, actor="system:monitor/fraud-batch-screen", system="fraud-detector",
            failure_mode="data_poisoning", summary="label disagreement on one batch",
        )  # fmt: skip
    clock.advance(timedelta(minutes=20))
    with sqlite_store.transaction() as s:
        transition_incident(
            s, clock=clock, incident_id=incident.id, to="contained", actor="playbook:x",
            reason="rolled back",
        )  # fmt: skip
    reveal = StoreReveal(sqlite_store, started_at=started, systems=["fraud-detector"])
    assert reveal.state(5 * 60) == []
    assert reveal.state(15 * 60) == ["INC-1 data_poisoning on fraud-detector (sev2): detected"]
    assert reveal.state(45 * 60) == ["INC-1 data_poisoning on fraud-detector (sev2): contained"]
    (declared,) = reveal.excerpts(0, 15 * 60)
    assert declared.startswith(
        "T+00:10 incident/1 system:monitor/fraud-batch-screen: incident.declared"
    )
    (moved,) = reveal.excerpts(15 * 60, 45 * 60)
    assert "incident.transitioned rolled back" in moved
    assert reveal.charts(45 * 60) == []


def test_debriefs_are_stored_and_listed_on_every_store(store: Store) -> None:
    plan = plan_from_scenario(load_scenario("live-demo"))
    clock = SimulatedClock()
    answers = ScriptedAnswers(["first", {"answer": "second", "decision": "rollback"}, "third"])
    debrief = run_tabletop(plan, answers=answers, store=store, clock=clock, players=[], out=None)
    clock.advance(timedelta(hours=1))
    again = run_tabletop(
        plan, answers=ScriptedAnswers(["a", "b", "c"]), store=store, clock=clock,
        players=["kim"], out=None,
    )  # fmt: skip
    with store.read() as s:
        assert [(d.ref, d.status) for d in list_debriefs(s)] == [
            (again.ref, "open"), (debrief.ref, "open")
        ]  # fmt: skip
        assert list_debriefs(s, status="closed") == []
        stored = get_debrief(s, debrief_id=debrief.id)
    assert [a.decision for a in stored.answers] == [None, "rollback", None]
    assert stored.answers[1].answered_at == debrief.answers[1].answered_at
    assert stored.markdown == debrief.markdown
    assert "| contain | rollback | yes | T+00:01 |" in stored.markdown


REPLAYED = """
name: poisoned-release-tabletop
description: The poisoned release, replayed for a tabletop.
fleet: {systems: [fraud-detector], monitor_every: 5m, approval_timeout: 5m}
traffic:
  duration: 1h
  step: 1m
  label_delay: 5m
  streams:
    - {system: fraud-detector, client: checkout, rate: 6000, rows_per_request: 50}
injects:
  - {id: retrain, at: 5m, kind: release, benign: true, params: {release: retrain}}
  - {id: poisoned-release, at: 15m, kind: release, params: {release: fault}}
expectations:
  incident: {failure_mode: data_poisoning, system: fraud-detector, within: 20m}
  containment:
    - {action: rollback, params: {to: last_known_good}}
tabletop:
  - after: poisoned-release
    prompt: The vendor pipeline just promoted v3. What do you watch?
  - at: 40m
    prompt: Where does the incident stand, and what next?
    choices: [rollback, quarantine_batch, retrain]
"""


def test_a_tabletop_reveals_what_the_platform_recorded(cli: Cli, tmp_path: Path) -> None:
    scenario = tmp_path / "tabletop.yaml"
    scenario.write_text(REPLAYED, encoding="utf-8")
    answers = _answers(
        tmp_path / "answers.json",
        ["the batch screen", {"answer": "quarantine the batch", "decision": "quarantine_batch"}],
    )
    result = cli("drill", "run", str(scenario), "--tabletop", "--answers", str(answers))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "running poisoned-release-tabletop in chaos mode first" in out
    fault, later, end = out.index("T+00:15\n"), out.index("T+00:40\n"), out.index("T+01:00\n")
    # Before the prompt after the fault: the release in the log, the monitors' charts, and
    # no incident yet; by 40 minutes the platform's incident and its phase.
    assert (
        "drill:release-pipeline: routing.promote retrained with the new brightline-data"
        in (out[fault:later])
    )
    assert "fraud-performance recall" in out[fault:later]
    assert "incident state" not in out[fault:later]
    assert re.search(r"incident state\n +INC-1 data_poisoning on fraud-detector \(sev2\): "
                     r"contained", out[later:end])  # fmt: skip
    assert "incident/1 playbook:1: playbook.succeeded" in out[later:end]
    assert "end of the exercise" in out[end:]
    assert "| quarantine | quarantine_batch | yes | T+00:40 |" in out
