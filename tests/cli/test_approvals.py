"""``airsoc approvals approve|reject`` run as the user of an API token: four-eyes holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airsoc.audit import list_entries
from airsoc.response.approvals import list_approvals
from airsoc.settings import Settings
from airsoc.store import Store
from tests.cli.identities import Cli, add_with_token, first_admin


def waiting_rollback(cli: Cli, *, requester: str, commander: str) -> tuple[int, int]:
    """Declare a poisoning incident with ``commander`` as incident commander and start its
    playbook as ``requester``; return the incident and the rollback's approval."""
    declared = cli(
        "incidents", "declare", "--system", "fraud", "--failure-mode", "data_poisoning",
        "--summary", "labels flipped", "--json",
    )  # fmt: skip
    incident = json.loads(declared.stdout)["id"]
    assert cli("incidents", "assign", str(incident), "ic", "--to", commander).exit_code == 0
    ran = cli(
        "playbooks", "run", "poisoned-training-data", "--incident", str(incident),
        "--actor", requester,
    )  # fmt: skip
    assert ran.exit_code == 0, ran.stderr
    (pending,) = json.loads(cli("approvals", "list", "--json").stdout)
    assert pending["requested_by"] == requester
    return incident, pending["id"]


def test_the_requester_cannot_approve_by_naming_someone_else(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = first_admin(cli)
    dana = add_with_token(cli, monkeypatch, admin_token=admin, name="dana", role="approver")
    add_with_token(cli, monkeypatch, admin_token=admin, name="sam", role="approver")
    _, approval = waiting_rollback(cli, requester="dana", commander="sam")
    # The bypass: dana requested the rollback and claims to be sam.
    monkeypatch.setenv("AIRSOC_TOKEN", dana)
    for decision in ("approve", "reject"):
        bypass = cli("approvals", decision, str(approval), "--reason", "lgtm", "--actor", "sam")
        assert bypass.exit_code == 1
        assert "does not take --actor" in bypass.stderr
    monkeypatch.setenv("AIRSOC_ACTOR", "sam")  # the old way to name someone: ignored here
    own = cli("approvals", "approve", str(approval), "--reason", "lgtm")
    assert own.exit_code == 1
    assert "dana requested" in own.stderr
    assert "cannot also approve it" in own.stderr
    monkeypatch.delenv("AIRSOC_TOKEN")
    anonymous = cli("approvals", "approve", str(approval), "--reason", "lgtm")
    assert anonymous.exit_code == 1
    assert "set AIRSOC_TOKEN" in anonymous.stderr
    assert json.loads(cli("approvals", "list", "--json").stdout)[0]["status"] == "pending"


def test_an_approver_token_approves_and_the_real_identity_is_recorded(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    admin = first_admin(cli)
    add_with_token(cli, monkeypatch, admin_token=admin, name="dana", role="approver")
    sam = add_with_token(cli, monkeypatch, admin_token=admin, name="sam", role="approver")
    vic = add_with_token(cli, monkeypatch, admin_token=admin, name="vic", role="viewer")
    incident, approval = waiting_rollback(cli, requester="dana", commander="sam")
    monkeypatch.setenv("AIRSOC_TOKEN", vic)
    viewer = cli("approvals", "approve", str(approval), "--reason", "lgtm")
    assert viewer.exit_code == 1
    assert "vic is a viewer; to approve playbook steps needs the approver role" in viewer.stderr
    monkeypatch.setenv("AIRSOC_TOKEN", sam)
    approved = cli("approvals", "approve", str(approval), "--reason", "v6 passed the review")
    assert approved.exit_code == 0, approved.stderr
    assert f"approval {approval} approved by sam" in approved.stdout
    store = Store.open(Settings.resolve(data_dir=tmp_path / "airsoc-data", environ={}))
    try:
        with store.read() as s:
            (decided,) = list_approvals(s, status=None)
            entries = list_entries(s, chain=f"incident/{incident}")
    finally:
        store.close()
    assert (decided.status, decided.decided_by) == ("approved", "sam")
    granted = [e for e in entries if e.action == "playbook.approval_granted"]
    assert [(e.actor, e.reason) for e in granted] == [("sam", "v6 passed the review")]
