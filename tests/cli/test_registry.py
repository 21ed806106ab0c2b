"""``airsoc registry``: the registry from the command line, tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from airsoc.testing import CliResult


def _ok(cli: Callable[..., CliResult], *args: str) -> CliResult:
    result = cli(*args)
    assert result.exit_code == 0, (args, result.stderr)
    return result


def test_registry_commands_answer_lineage_questions(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    (tmp_path / "airsoc.yaml").write_text(
        "systems:\n  fraud: {kind: tabular-classifier, owner: risk, criticality: high}\n"
    )
    assert "created 1" in _ok(cli, "registry", "sync-systems").stdout
    pd.DataFrame({"amount": [1.0, 2.0], "label": [0, 1]}).to_csv(tmp_path / "b1.csv", index=False)
    _ok(
        cli,
        "registry",
        "register-batch",
        "b1",
        "--source",
        "acme",
        "--file",
        "b1.csv",
        "--start",
        "2026-03-01",
        "--end",
        "2026-03-02",
    )
    _ok(
        cli,
        "registry",
        "register-batch",
        "b2",
        "--source",
        "globex",
        "--rows",
        "10",
        "--sha256",
        "a" * 64,
    )
    for version, batches in (("v1", ["b1"]), ("v2", ["b1", "b2"])):
        args = [
            "registry",
            "register-model",
            "fraud",
            version,
            "--artifact",
            f"s3://models/{version}",
            "--sha256",
            version[1] * 64,
            "--feature",
            "amount=number",
        ]
        for b in batches:
            args += ["--batch", b]
        _ok(cli, *args)
    _ok(cli, "registry", "mark-known-good", "fraud", "v1", "--reason", "reviewed")

    batch = json.loads(_ok(cli, "registry", "batches", "--source", "acme", "--json").stdout)[0]
    assert (batch["rows"], batch["schema"]) == (2, {"amount": "double", "label": "int64"})
    in_range = json.loads(
        _ok(
            cli, "registry", "batches", "--source", "acme", "--start", "2026-03-01T12:00", "--json"
        ).stdout
    )
    assert [b["batch_id"] for b in in_range] == ["b1"]
    trained = json.loads(
        _ok(cli, "registry", "lineage", "--system", "fraud", "--version", "v2", "--json").stdout
    )
    assert [b["batch_id"] for b in trained] == ["b1", "b2"]
    good = json.loads(
        _ok(
            cli,
            "registry",
            "lineage",
            "--system",
            "fraud",
            "--batch",
            "b2",
            "--last-known-good",
            "--json",
        ).stdout
    )
    assert good["version"] == "v1"
    table = _ok(cli, "registry", "lineage", "--batch", "b2").stdout
    assert "rollback to" in table
    assert "v1" in table

    _ok(cli, "registry", "quarantine-batch", "b2", "--reason", "label flips", "--cascade")
    models = json.loads(_ok(cli, "registry", "models", "--json").stdout)
    assert {m["version"]: m["status"] for m in models} == {"v1": "candidate", "v2": "quarantined"}
    _ok(cli, "registry", "release-batch", "b2", "--reason", "false alarm")
    timeline = json.loads(_ok(cli, "registry", "timeline", "--batch", "b2", "--json").stdout)
    assert [e["action"] for e in timeline] == [
        "batch.registered",
        "batch.quarantined",
        "batch.released",
    ]
    assert "fraud" in _ok(cli, "registry", "systems").stdout


def test_registry_errors_name_the_problem(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    missing = cli("registry", "register-batch", "b", "--source", "x")
    assert (missing.exit_code, missing.stderr.strip()) == (
        1,
        "error: give --file, or both --rows and --sha256",
    )
    (tmp_path / "data.txt").write_text("x")
    wrong = cli("registry", "register-batch", "b", "--source", "x", "--file", "data.txt")
    assert "use a .csv or .parquet file" in wrong.stderr
    bad_time = cli("registry", "batches", "--source", "x", "--start", "yesterday")
    assert "--start: 'yesterday' is not an ISO date" in bad_time.stderr
    assert cli("registry", "lineage").exit_code == 1
