"""``airsoc users``: add users, issue tokens that work against the API, list and revoke."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from airsoc.testing import CliResult
from tests.cli.identities import first_admin

Cli = Callable[..., CliResult]


def test_add_issue_list_and_revoke(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRSOC_TOKEN", first_admin(cli))
    monkeypatch.setenv("DANA_PASSWORD", "dana-console-pass")
    added = cli("users", "add", "dana", "--role", "responder", "--password-env", "DANA_PASSWORD")
    assert added.exit_code == 0, added.stderr
    assert added.stdout.strip() == "added dana (responder)"
    issued = cli("users", "token", "dana", "--name", "laptop")
    token = issued.stdout.splitlines()[0]
    assert token.startswith("airsoc_")
    assert "cannot be shown again" in issued.stdout
    users = json.loads(cli("users", "list", "--json").stdout)
    assert [(u["name"], u["role"]) for u in users] == [("ada", "admin"), ("dana", "responder")]
    assert "dana-console-pass" not in json.dumps(users)
    tokens = json.loads(cli("users", "tokens", "dana", "--json").stdout)
    assert tokens[0]["prefix"] == token[:12]
    assert token not in json.dumps(tokens)
    assert cli("users", "revoke", str(tokens[0]["id"])).exit_code == 0
    after = json.loads(cli("users", "tokens", "dana", "--json").stdout)
    assert after[0]["revoked_at"] is not None


def test_errors_are_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRSOC_TOKEN", first_admin(cli))
    bad = cli("users", "add", "x", "--role", "boss")
    assert bad.exit_code == 1
    assert bad.stderr.strip() == (
        "error: role: unknown user role 'boss'; known: ingest, viewer, responder, approver, admin"
    )
    missing = cli("users", "token", "ghost")
    assert missing.exit_code == 1
    assert "user 'ghost' not found" in missing.stderr
