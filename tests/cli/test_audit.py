"""``airsoc audit``: tampering with the store is named, and anchored heads catch deletions."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from airsoc.testing import CliResult

Cli = Callable[..., CliResult]


def _declare(cli: Cli) -> None:
    args = ("--system", "fraud", "--failure-mode", "data_poisoning", "--severity", "sev2")
    assert cli("incidents", "declare", *args, "--summary", "flipped labels").exit_code == 0
    assert cli("incidents", "note", "1", "looking at batch 17").exit_code == 0


def _sql(tmp_path: Path, statement: str) -> None:
    with sqlite3.connect(tmp_path / "airsoc-data" / "airsoc.db") as db:
        db.execute(statement)


def test_a_record_edited_behind_the_timeline_is_named(cli: Cli, tmp_path: Path) -> None:
    _declare(cli)
    assert cli("audit", "verify").exit_code == 0
    _sql(tmp_path, "UPDATE incidents SET severity = 'sev5'")
    found = cli("audit", "verify")
    assert found.exit_code == 1
    assert "record_disagrees" in found.stderr
    assert "sev5" in found.stderr


def test_an_anchor_catches_a_deleted_chain(cli: Cli, tmp_path: Path) -> None:
    _declare(cli)
    anchor = tmp_path / "heads.json"
    assert cli("audit", "anchor", "-o", str(anchor)).exit_code == 0
    assert cli("audit", "verify", "--anchor", str(anchor)).exit_code == 0
    _sql(tmp_path, "DELETE FROM audit_entries WHERE chain = 'incident/1'")
    _sql(tmp_path, "DELETE FROM audit_chains WHERE chain = 'incident/1'")
    found = cli("audit", "verify", "--anchor", str(anchor))
    assert found.exit_code == 1
    assert "incident/1" in found.stderr
    assert "chain_deleted" in found.stderr


def test_upgrade_reports_every_chain(cli: Cli) -> None:
    _declare(cli)
    upgraded = cli("audit", "upgrade")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert "left as they are" in upgraded.stdout
