"""``airsoc review`` and ``airsoc charter``: the board from the command line, the charter as
Markdown and PDF, and the severity floor of a declaration."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pypdf import PdfReader

from airsoc.testing import CliResult
from tests.server.governance_support import write_charter_config

Cli = Callable[..., CliResult]


def test_the_review_board_from_the_command_line(cli: Cli) -> None:
    filed = cli(
        "review", "file", "--kind", "tabletop_debrief", "--reference", "TT-2",
        "--title", "Extraction tabletop",
    )  # fmt: skip
    assert filed.exit_code == 0, filed.stderr
    assert filed.stdout.strip() == "review 1: tabletop_debrief TT-2 (pending)"
    listed = cli("review", "list")
    assert "Extraction tabletop" in listed.stdout
    added = cli(
        "review", "add-item", "1", "--title", "Throttle probing clients", "--owner", "platform",
        "--due", "2026-01-02",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert "action item 1: due 2026-01-02, owner platform" in added.stdout
    refused = cli("review", "decide", "1", "--approve", "--text", " ")
    assert refused.exit_code == 1
    assert "a decision needs the reviewer's words" in refused.stderr
    decided = cli("review", "decide", "1", "--approve", "--text", "Good drill", "--actor", "sam")
    assert decided.stdout.strip() == "review 1: approved"
    shown = json.loads(cli("review", "show", "1", "--json").stdout)
    assert [(d["reviewer"], d["decision"]) for d in shown["decisions"]] == [("sam", "approve")]
    # Due in the past (the CLI runs on the wall clock): overdue until done.
    overdue = json.loads(cli("review", "items", "--overdue", "--json").stdout)
    assert [(i["title"], i["overdue"]) for i in overdue] == [("Throttle probing clients", True)]
    assert cli("review", "set-item", "1", "--status", "done").stdout.strip() == (
        "action item 1: done"
    )
    assert cli("review", "items", "--overdue").stdout.strip() == "no overdue action items"
    bad = cli("review", "set-item", "1", "--status", "late")
    assert bad.exit_code == 1
    assert "status" in bad.stderr


def test_the_charter_as_markdown_and_pdf(cli: Cli, tmp_path: Path) -> None:
    config = write_charter_config(tmp_path)
    md = cli("charter", "--config", str(config))
    assert md.exit_code == 0, md.stderr
    assert md.stdout.startswith("# AI SOC charter")
    assert "| fraud-detector | risk-ml | critical | tabular-classifier | sev2 |" in md.stdout
    assert "| MITRE ATLAS | 5.6.0 |" in md.stdout
    assert "| drift-rollback | failure_mode=data_drift |" in md.stdout
    no_out = cli("charter", "--config", str(config), "--format", "pdf")
    assert no_out.exit_code == 1
    assert "a PDF needs --output FILE" in no_out.stderr
    out = tmp_path / "charter.pdf"
    written = cli("charter", "--config", str(config), "--format", "pdf", "--output", str(out))
    assert written.exit_code == 0, written.stderr
    text = "".join(p.extract_text() for p in PdfReader(out).pages)
    assert "AI SOC charter" in text
    assert "fraud-input-drift" in text
    broken = tmp_path / "broken.yaml"
    broken.write_text("governance:\n  criticality:\n    high: {severity_floor: sev9}\n")
    failed = cli("charter", "--config", str(broken))
    assert failed.exit_code == 1
    assert "governance.criticality.high.severity_floor" in failed.stderr


def test_a_declaration_from_the_command_line_meets_the_floor(cli: Cli, tmp_path: Path) -> None:
    config = write_charter_config(tmp_path)
    synced = cli("registry", "sync-systems", "--config", str(config))
    assert synced.exit_code == 0, synced.stderr
    declared = cli(
        "incidents", "declare", "--system", "fraud-detector", "--failure-mode", "data_drift",
        "--summary", "psi 0.4", "--config", str(config), "--json",
    )  # fmt: skip
    assert declared.exit_code == 0, declared.stderr
    assert json.loads(declared.stdout)["severity"] == "sev2"
