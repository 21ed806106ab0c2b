"""``airsoc incidents serious``: flag, show, change awareness, record reports, render reports."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

from pypdf import PdfReader

from airsoc.testing import CliResult

Cli = Callable[..., CliResult]


def test_a_serious_incident_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    declared = cli(
        "incidents", "declare", "--system", "credit-scorer", "--failure-mode",
        "fairness_regression", "--summary", "loans refused by group", "--severity", "sev1",
    )  # fmt: skip
    assert declared.exit_code == 0, declared.stderr
    unplaced = cli("incidents", "serious", "flag", "1", "--category", "other", "--reason", "r")
    assert unplaced.exit_code != 0
    assert "credit-scorer has no regulatory profile" in unplaced.stderr
    flagged = cli(
        "incidents", "serious", "flag", "1", "--category", "critical-infrastructure",
        "--reason", "loans refused", "--time-zone", "Europe/Berlin", "--aware-at",
        "2026-02-27T23:30:00+01:00", "--aware-reason", "the complaint came in that night",
        "--json",
    )  # fmt: skip
    assert flagged.exit_code == 0, flagged.stderr
    view = json.loads(flagged.stdout)
    # Aware late on Friday 27 February in Berlin: due at the end of Sunday 1 March.
    assert view["due_local"] == "2026-03-02 00:00 CET (Europe/Berlin)"
    bad = cli("incidents", "serious", "update", "1", "--reason", "r", "--aware-at", "yesterday")
    assert bad.exit_code != 0
    assert "not a date and time: 'yesterday'" in bad.stderr
    shown = cli("incidents", "serious", "show", "1")
    assert "report due 2026-03-02 00:00 CET (Europe/Berlin) (2 days)" in shown.stdout
    assert cli("incidents", "serious", "sent", "1", "initial", "--reason", "ref 9").exit_code == 0
    listed = cli("incidents", "serious", "list")
    assert "initial report sent" in listed.stdout
    md = cli("incidents", "serious", "report", "1", "--kind", "final")
    assert md.stdout.startswith("# Serious incident report (final): fairness regression on ")
    out = tmp_path / "final.pdf"
    written = cli("incidents", "serious", "report", "1", "--format", "pdf", "--out", str(out))
    assert written.exit_code == 0, written.stderr
    text = PdfReader(io.BytesIO(out.read_bytes())).pages[0].extract_text()
    assert "Serious incident report (initial)" in text
