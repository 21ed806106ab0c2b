"""Users with real API tokens for CLI tests: the first admin, then anyone the admin adds."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from airsoc.testing import CliResult

Cli = Callable[..., CliResult]


def first_admin(cli: Cli, name: str = "ada") -> str:
    """Add the store's first admin (the bootstrap, no identity) and return their API token."""
    added = cli("users", "add", name, "--role", "admin", "--json")
    assert added.exit_code == 0, added.stderr
    token: str = json.loads(added.stdout)["token"]
    return token


def add_with_token(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, *, admin_token: str, name: str, role: str
) -> str:
    """Add ``name`` with ``role`` as the admin of ``admin_token`` and return a token of theirs."""
    monkeypatch.setenv("AIRSOC_TOKEN", admin_token)
    try:
        assert cli("users", "add", name, "--role", role).exit_code == 0
        issued = cli("users", "token", name, "--json")
        assert issued.exit_code == 0, issued.stderr
    finally:
        monkeypatch.delenv("AIRSOC_TOKEN")
    token: str = json.loads(issued.stdout)["token"]
    return token
