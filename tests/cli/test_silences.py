"""``airsoc silences add|list|expire`` and ``airsoc alerts list``."""

from __future__ import annotations

import json
from collections.abc import Callable

from airsoc.testing import CliResult


def test_add_list_expire(cli: Callable[..., CliResult]) -> None:
    added = cli(
        "silences",
        "add",
        "system=fraud",
        'monitor=~"psi.*"',
        "--duration",
        "2h",
        "--comment",
        "vendor backfill",
        "--json",
    )
    assert added.exit_code == 0, added.stderr
    silence = json.loads(added.stdout)
    assert (silence["created_by"], silence["state"]) == ("tester", "active")
    listed = json.loads(cli("silences", "list", "--json").stdout)
    assert [s["comment"] for s in listed] == ["vendor backfill"]
    expired = cli("silences", "expire", silence["id"][:8])
    assert expired.exit_code == 0, expired.stderr
    assert json.loads(cli("silences", "list", "--json").stdout) == []
    everything = json.loads(cli("silences", "list", "--all", "--json").stdout)
    assert everything[0]["expired_by"] == "tester"
    again = cli("silences", "expire", silence["id"])
    assert again.exit_code == 1
    assert "already expired" in again.stderr


def test_silence_needs_a_comment_and_valid_matchers(cli: Callable[..., CliResult]) -> None:
    assert "comment" in cli("silences", "add", "system=x", "--comment", " ").stderr
    bad = cli("silences", "add", "system~x", "--comment", "why")
    assert bad.exit_code == 1
    assert "invalid matcher" in bad.stderr


def test_alerts_list_empty_and_json(cli: Callable[..., CliResult]) -> None:
    assert cli("alerts", "list").stdout.strip() == "no alerts"
    assert json.loads(cli("alerts", "list", "--json").stdout) == []
    assert cli("alerts", "list", "--status", "weird").exit_code == 1
