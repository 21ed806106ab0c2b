"""``airsoc playbooks list|show|check|test|run`` and ``airsoc approvals list|approve|reject``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from airsoc.testing import CliResult
from tests.cli.identities import add_with_token, first_admin


def test_list_shows_one_default_per_failure_mode(cli: Callable[..., CliResult]) -> None:
    listed = json.loads(cli("playbooks", "list", "--json").stdout)
    modes = {p["on"]["failure_mode"] for p in listed}
    assert len(listed) == 14
    assert "data_poisoning" in modes
    assert "poisoned-training-data" in cli("playbooks", "list").stdout


def test_show_and_check(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    shown = cli("playbooks", "show", "poisoned-training-data")
    assert "1. evidence: capture_evidence" in shown.stdout
    assert "4. contain: rollback" in shown.stdout
    assert "approval by incident_commander" in shown.stdout
    (tmp_path / "bad.yaml").write_text(
        "name: b\nsteps:\n  - id: x\n    action: notify\n    when: 'item.score > '\n"
    )
    checked = cli("playbooks", "check", "bad.yaml")
    assert checked.exit_code == 1
    assert "steps[0].when" in checked.stderr


def test_dry_run_prints_every_step_with_templates_filled(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    (tmp_path / "inc.json").write_text(
        json.dumps(
            {
                "system": "fraud-detector",
                "failure_mode": "data_poisoning",
                "severity": "sev2",
                "data_batches": ["vendor-17", "vendor-18"],
            }
        )
    )
    result = cli("playbooks", "test", "inc.json")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "poisoned-training-data:" in out
    assert "rollback(system='fraud-detector', to='last_known_good')" in out
    quarantine = "quarantine_batch(batch_id='vendor-17', cascade=False, reason="
    assert quarantine + "'suspected poisoning (INC-0)')" in out
    assert "needs approval by incident_commander within 0:15:00 (four-eyes)" in out
    data = json.loads(cli("playbooks", "test", "inc.json", "--json").stdout)
    assert [s["step_id"] for s in data["poisoned-training-data"]] == [
        "evidence",
        "investigate",
        "probation",
        "contain",
        "quarantine",
        "contained",
        "postmortem",
        "tell",
    ]


def test_run_waits_for_approval_and_approvals_decide(
    cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = first_admin(cli)
    tester = add_with_token(cli, monkeypatch, admin_token=admin, name="tester", role="approver")
    bob = add_with_token(cli, monkeypatch, admin_token=admin, name="bob", role="approver")
    declared = cli(
        "incidents",
        "declare",
        "--system",
        "fraud",
        "--failure-mode",
        "data_poisoning",
        "--summary",
        "labels flipped",
        "--json",
    )
    inc = json.loads(declared.stdout)["id"]
    assert cli("incidents", "assign", str(inc), "ic", "--to", "bob").exit_code == 0
    ran = cli("playbooks", "run", "poisoned-training-data", "--incident", str(inc))
    assert ran.exit_code == 0, ran.stderr
    assert "waiting_approval" in ran.stdout
    pending = json.loads(cli("approvals", "list", "--json").stdout)
    assert [(a["step_id"], a["requested_by"]) for a in pending] == [("contain", "tester")]
    monkeypatch.setenv("AIRSOC_TOKEN", tester)
    own = cli("approvals", "approve", str(pending[0]["id"]), "--reason", "ok")
    assert own.exit_code == 1
    assert "tester requested the rollback of run 1 and cannot also approve it" in own.stderr
    monkeypatch.setenv("AIRSOC_TOKEN", bob)
    rejected = cli("approvals", "reject", str(pending[0]["id"]), "--reason", "not yet")
    assert rejected.exit_code == 0, rejected.stderr
    assert "rejected by bob" in rejected.stdout
    assert "no approvals" in cli("approvals", "list").stdout
    decided = json.loads(cli("approvals", "list", "--all", "--json").stdout)
    assert decided[0]["reason"] == "not yet"
