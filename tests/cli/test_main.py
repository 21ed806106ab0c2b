"""The airsoc command end to end, as a user types it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from airsoc.testing import CliResult

Cli = Callable[..., CliResult]
ATLAS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "atlas" / "ATLAS.yaml"


def test_init_declare_work_and_show(cli: Cli, tmp_path: Path) -> None:
    assert cli("init").exit_code == 0
    assert (tmp_path / "airsoc.yaml").exists()
    assert (tmp_path / "airsoc-data" / "airsoc.db").exists()
    declared = cli(
        "incidents",
        "declare",
        "--system",
        "fraud-detector",
        "--failure-mode",
        "data_poisoning",
        "--severity",
        "sev2",
        "--summary",
        "vendor batch flips labels",
        "--json",
    )
    assert declared.exit_code == 0, declared.stderr
    incident = json.loads(declared.stdout)
    assert incident["ref"] == "INC-1"
    assert incident["severity"] == "sev2"
    assert cli("incidents", "transition", "1", "triaged", "--reason", "confirmed").exit_code == 0
    assert cli("incidents", "assign", "1", "incident_commander", "--to", "dana").exit_code == 0
    assert cli("incidents", "note", "1", "quarantining batch 17").exit_code == 0
    evidence = tmp_path / "sample.csv"
    evidence.write_text("id,label\n1,0\n")
    assert (
        cli("incidents", "evidence", "add", "1", str(evidence), "--description", "sample").exit_code
        == 0
    )
    shown = cli("incidents", "show", "1", "--json")
    detail = json.loads(shown.stdout)
    assert detail["phase"] == "triaged"
    assert [r["person"] for r in detail["roles"]] == ["dana"]
    assert [e["action"] for e in detail["timeline"]] == [
        "incident.declared",
        "incident.transitioned",
        "incident.role_assigned",
        "incident.note",
        "incident.evidence_added",
    ]
    assert all(e["actor"] == "tester" for e in detail["timeline"])
    assert detail["evidence"][0]["custody"][0]["action"] == "collected"
    listed = json.loads(cli("incidents", "list", "--json").stdout)
    assert [i["id"] for i in listed] == [1]
    assert "INC-1" in cli("incidents", "list").stdout
    assert "incident.transitioned" in cli("incidents", "show", "1").stdout
    assert cli("audit", "verify").exit_code == 0


def test_update_sets_the_nist_impact_assessment(cli: Cli) -> None:
    args = ("--system", "s", "--failure-mode", "data_drift", "--summary", "x")
    assert cli("incidents", "declare", *args).exit_code == 0
    first = cli("incidents", "update", "1", "--reason", "sized", "--functional-impact", "high")
    assert first.exit_code == 0, first.stderr
    result = cli(
        "incidents",
        "update",
        "1",
        "--reason",
        "more",
        "--recoverability",
        "regular",
        "--severity",
        "sev2",
        "--next-step",
        "retrain",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    inc = json.loads(result.stdout)
    assert inc["impact"]["functional"] == "high"
    assert inc["impact"]["recoverability"] == "regular"
    assert (inc["severity"], inc["next_steps"]) == ("sev2", ["retrain"])
    bad = cli("incidents", "update", "1", "--reason", "x", "--severity", "urgent")
    assert bad.exit_code == 1
    assert "unknown severity 'urgent'" in bad.stderr
    worse = cli("incidents", "update", "1", "--reason", "x", "--functional-impact", "huge")
    assert worse.exit_code == 1
    assert worse.stderr.startswith("error: functional: Input should be 'none', 'low'")


def test_bad_input_is_one_line_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    ok = cli(
        "incidents", "declare", "--system", "s", "--failure-mode", "data_drift", "--summary", "x"
    )
    assert ok.exit_code == 0
    cases = [
        (("incidents", "transition", "1", "fixed", "--reason", "r"), "unknown phase 'fixed'"),
        (("incidents", "transition", "1", "closed", "--reason", "r"), "legal moves from detected"),
        (
            ("incidents", "declare", "--system", "s", "--failure-mode", "drift", "--summary", "x"),
            "unknown failure mode",
        ),
        (
            (
                "incidents",
                "declare",
                "--system",
                "s",
                "--failure-mode",
                "data_drift",
                "--summary",
                "x",
                "--severity",
                "p1",
            ),
            "unknown severity",
        ),
        (("incidents", "show", "7"), "incident 7 not found"),
        (("incidents", "assign", "1", "boss", "--to", "x"), "unknown role 'boss'"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 1, args
        assert message in result.stderr, (args, result.stderr)
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
    detail = json.loads(cli("incidents", "show", "1", "--json").stdout)
    assert detail["phase"] == "detected"
    assert len(detail["timeline"]) == 1
    assert len(json.loads(cli("incidents", "list", "--json").stdout)) == 1


def test_config_check(cli: Cli, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("systems: {fraud: {kind: tabular-classifier, owner: risk}}\n")
    assert cli("config", "check", str(good)).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "systems: {fraud: {kind: tabular-classifier, owner: risk, colour: red}}\n"
        "monitors:\n  - {name: m, system: fraud, detector: d, window: soon}\n"
    )
    result = cli("config", "check", str(bad))
    assert result.exit_code == 1
    assert "systems.fraud.colour: unknown key (got 'red')" in result.stderr
    assert "monitors[0].window: invalid duration 'soon'" in result.stderr


def test_taxonomy_show_with_atlas_details(cli: Cli) -> None:
    result = cli("taxonomy", "show", "data_poisoning", "--atlas", str(ATLAS), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    details = {d["id"]: d for d in data["atlas_details"]}
    assert details["AML.T0020"]["name"] == "Poison Training Data"
    assert details["AML.T0020"]["mitigations"]
    assert details["AML.T0020"]["case_studies"]
    missing = cli("taxonomy", "show", "data_poisoning", "--atlas", "nowhere.yaml")
    assert missing.exit_code == 1
    assert "ATLAS data file nowhere.yaml not found" in missing.stderr


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("airsoc")
    result = subprocess.run(
        [str(exe), "--data-dir", str(tmp_path / "d"), "incidents", "show", "3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: incident 3 not found"


def test_up_demo_runs_the_scenario(cli: Cli) -> None:
    result = cli("up", "--demo", "--scripted")
    assert result.exit_code == 0, result.stderr
    assert "audit chain verified: True" in result.stdout
    assert "post-mortem reviewed" in result.stdout
