"""``airsoc evidence``: one group for an incident's evidence; a tampered blob is named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from airsoc.incidents.evidence import BlobStore
from airsoc.testing import CliResult

Cli = Callable[..., CliResult]


def test_add_list_verify_and_a_tampered_blob(cli: Cli, tmp_path: Path) -> None:
    args = ("--system", "fraud", "--failure-mode", "data_poisoning", "--summary", "flips")
    assert cli("incidents", "declare", *args).exit_code == 0
    sample = tmp_path / "sample.csv"
    sample.write_text("id,label\n1,0\n")
    assert cli("evidence", "add", "1", str(sample)).exit_code == 0
    other = tmp_path / "other.csv"
    other.write_text("id,label\n2,1\n")
    assert cli("incidents", "evidence", "add", "1", str(other)).exit_code == 0  # the alias
    listed = json.loads(cli("evidence", "list", "1", "--json").stdout)
    assert [e["name"] for e in listed] == ["sample.csv", "other.csv"]
    assert cli("evidence", "verify", "--all").exit_code == 0
    blobs = BlobStore(tmp_path / "airsoc-data" / "evidence")
    blobs.path(listed[1]["sha256"]).write_bytes(b"id,label\n2,0\n")
    found = cli("evidence", "verify", "1")
    assert found.exit_code == 1
    assert "evidence 2" in found.stdout
    assert "evidence 1:" not in found.stdout
    assert str(tmp_path) not in found.stdout + found.stderr


def test_capture_writes_a_manifest(cli: Cli) -> None:
    system = ("fraud", "--kind", "tabular-classifier", "--owner", "risk")
    assert cli("registry", "register-system", *system).exit_code == 0
    args = ("--system", "fraud", "--failure-mode", "data_poisoning", "--summary", "flips")
    assert cli("incidents", "declare", *args).exit_code == 0
    captured = cli("evidence", "capture", "1", "--json")
    assert captured.exit_code == 0, captured.stderr
    manifest = json.loads(captured.stdout)
    assert manifest["incident_id"] == 1
    assert all(len(item["sha256"]) == 64 for item in manifest["items"] if item.get("sha256"))
