"""``airsoc postmortem``: start, add items, review, render in three formats, fleet times."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from airsoc.testing import CliResult

Cli = Callable[..., CliResult]


def test_a_postmortem_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    declared = cli(
        "incidents",
        "declare",
        "--system",
        "credit-scorer",
        "--failure-mode",
        "fairness_regression",
        "--summary",
        "approval gap widened",
        "--severity",
        "sev2",
    )
    assert declared.exit_code == 0, declared.stderr
    started = cli("postmortem", "start", "1", "--json")
    assert started.exit_code == 0, started.stderr
    assert json.loads(started.stdout)["status"] == "draft"
    item = cli("postmortem", "add-item", "1", "--title", "Add a parity monitor", "--owner", "risk")
    assert "action item 1 for risk, due" in item.stdout
    assert cli("postmortem", "review", "1", "--to", "in_review", "--reason", "ready").exit_code == 0
    listed = cli("postmortem", "list")
    assert "In review" in listed.stdout
    md = cli("postmortem", "render", "1")
    assert md.stdout.startswith("# Post-mortem: fairness regression on credit-scorer (INC-1)")
    assert "| Add a parity monitor | risk |" in md.stdout
    out = tmp_path / "pm.pdf"
    assert cli("postmortem", "render", "1", "--format", "pdf", "--out", str(out)).exit_code == 0
    assert out.read_bytes().startswith(b"%PDF")
    no_out = cli("postmortem", "render", "1", "--format", "pdf")
    assert no_out.exit_code != 0
    fleet = json.loads(cli("postmortem", "fleet", "--group-by", "system", "--json").stdout)
    assert [(r["group"], r["incidents"]) for r in fleet] == [("credit-scorer", 1)]
    bad = cli("postmortem", "review", "1", "--to", "closed", "--reason", "skip")
    assert bad.exit_code == 1
    assert "legal moves from in_review: draft, reviewed" in bad.stderr
