"""Who a command runs as: the bootstrap admin, AIRSOC_TOKEN, ``airsoc login``, disabled users."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from airsoc.audit import list_entries
from airsoc.server.auth import AUTH_CHAIN, BOOTSTRAP_ACTOR
from airsoc.settings import Settings
from airsoc.store import Store
from tests.cli.identities import Cli, add_with_token, first_admin


def auth_timeline(tmp_path: Path) -> list[tuple[str, str, object]]:
    store = Store.open(Settings.resolve(data_dir=tmp_path / "airsoc-data", environ={}))
    try:
        with store.read() as s:
            return [
                (e.actor, e.action, e.data.get("user")) for e in list_entries(s, chain=AUTH_CHAIN)
            ]
    finally:
        store.close()


def test_the_first_admin_needs_no_identity_and_only_once(cli: Cli, tmp_path: Path) -> None:
    viewer_first = cli("users", "add", "vic", "--role", "viewer")
    assert viewer_first.exit_code == 1
    assert "no admin yet" in viewer_first.stderr
    added = cli("users", "add", "ada", "--role", "admin")
    assert added.exit_code == 0, added.stderr
    token = added.stdout.splitlines()[0]
    assert token.startswith("airsoc_")
    assert "the first admin" in added.stdout
    again = cli("users", "add", "eve", "--role", "admin")
    assert again.exit_code == 1
    assert "AIRSOC_TOKEN" in again.stderr
    assert [u["name"] for u in json.loads(cli("users", "list", "--json").stdout)] == ["ada"]
    assert auth_timeline(tmp_path)[:2] == [
        (BOOTSTRAP_ACTOR, "user.added", "ada"),
        (BOOTSTRAP_ACTOR, "token.issued", "ada"),
    ]


def test_user_administration_runs_as_an_admin_token_never_a_name(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    admin = first_admin(cli)
    sam = add_with_token(cli, monkeypatch, admin_token=admin, name="sam", role="approver")
    for command in (
        ("users", "add", "eve", "--role", "viewer"),
        ("users", "token", "sam"),
        ("users", "revoke", "1"),
        ("users", "disable", "sam"),
        ("users", "enable", "sam"),
    ):
        nobody = cli(*command)
        assert nobody.exit_code == 1, command
        assert "set AIRSOC_TOKEN" in nobody.stderr, command
        named = cli(*command, "--actor", "ada")
        assert named.exit_code == 1, command
        assert "does not take --actor: it runs as the user of your API token" in named.stderr
    monkeypatch.setenv("AIRSOC_TOKEN", sam)
    not_admin = cli("users", "add", "eve", "--role", "viewer")
    assert not_admin.exit_code == 1
    assert "sam is a approver; to manage users and tokens needs the admin role" in (
        not_admin.stderr
    )
    monkeypatch.setenv("AIRSOC_TOKEN", admin + "x")
    forged = cli("users", "add", "eve", "--role", "viewer")
    assert forged.exit_code == 1
    assert "unknown or revoked (the token in AIRSOC_TOKEN)" in forged.stderr
    monkeypatch.setenv("AIRSOC_TOKEN", admin)
    assert cli("users", "add", "eve", "--role", "viewer").exit_code == 0
    assert ("ada", "user.added", "eve") in auth_timeline(tmp_path)


def test_a_disabled_user_is_refused_and_enabling_restores(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    admin = first_admin(cli)
    sam = add_with_token(cli, monkeypatch, admin_token=admin, name="sam", role="admin")
    monkeypatch.setenv("AIRSOC_TOKEN", admin)
    disabled = cli("users", "disable", "sam")
    assert disabled.exit_code == 0, disabled.stderr
    assert "disabled sam" in disabled.stdout
    assert "disabled" in cli("users", "list").stdout
    monkeypatch.setenv("AIRSOC_TOKEN", sam)
    refused = cli("users", "add", "eve", "--role", "viewer")
    assert refused.exit_code == 1
    assert "the API token's user is disabled" in refused.stderr
    monkeypatch.setenv("AIRSOC_TOKEN", admin)
    last = cli("users", "disable", "ada")
    assert last.exit_code == 1
    assert "ada is the last enabled admin" in last.stderr
    assert cli("users", "enable", "sam").exit_code == 0
    monkeypatch.setenv("AIRSOC_TOKEN", sam)
    assert cli("users", "add", "eve", "--role", "viewer").exit_code == 0
    timeline = auth_timeline(tmp_path)
    assert ("ada", "user.disabled", "sam") in timeline
    assert ("ada", "user.enabled", "sam") in timeline
    assert ("sam", "user.added", "eve") in timeline


def test_login_keeps_a_private_token_and_logout_revokes_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    admin = first_admin(cli)
    monkeypatch.setenv("AIRSOC_TOKEN", admin)
    monkeypatch.setenv("SAM_PASSWORD", "sam-console-pass")
    assert (
        cli("users", "add", "sam", "--role", "admin", "--password-env", "SAM_PASSWORD").exit_code
        == 0
    )
    monkeypatch.delenv("AIRSOC_TOKEN")
    monkeypatch.setenv("WRONG", "not-sams-password")
    wrong = cli("login", "sam", "--password-env", "WRONG")
    assert wrong.exit_code == 1
    assert "wrong user name or password" in wrong.stderr
    logged_in = cli("login", "sam", "--password-env", "SAM_PASSWORD")
    assert logged_in.exit_code == 0, logged_in.stderr
    token_file = tmp_path / "airsoc-data" / "cli-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert cli("users", "add", "eve", "--role", "viewer").exit_code == 0
    assert ("sam", "user.added", "eve") in auth_timeline(tmp_path)
    token_file.chmod(0o644)
    loose = cli("users", "add", "vic", "--role", "viewer")
    assert loose.exit_code == 1
    assert "readable by other users" in loose.stderr
    token_file.chmod(0o600)
    secret = token_file.read_text().strip()
    assert "logged out sam" in cli("logout").stdout
    assert not token_file.exists()
    token_file.write_text(secret)
    token_file.chmod(0o600)
    revoked = cli("users", "add", "vic", "--role", "viewer")
    assert revoked.exit_code == 1
    assert "unknown or revoked" in revoked.stderr
