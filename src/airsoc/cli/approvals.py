"""``airsoc approvals list|approve|reject``: decide on playbook steps that wait for a person.

Deciding runs as the user of your API token (``AIRSOC_TOKEN`` or ``airsoc login``), who needs the
approver role, like ``POST /api/v1/approvals/{id}/approve``; a name given on the command line is
refused, so the four-eyes rule compares real identities.
"""

from __future__ import annotations

from typing import Annotated

import typer

from airsoc.cli.identity import RefusedActorOpt, identify, refuse_actor
from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state
from airsoc.roles import UserRole

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)

ReasonOpt = Annotated[str, typer.Option(help="Why (required)")]


@app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Decided ones too")] = False,
    incident: Annotated[int | None, typer.Option(help="Only this incident")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List pending approvals (with --all, every approval)."""
    from airsoc.response.approvals import list_approvals

    with state.store().read() as s:
        rows = list_approvals(s, status=None if all_ else "pending", incident_id=incident)
    if as_json:
        print_json(rows)
        return
    print_table(
        "Approvals",
        ["id", "incident", "step", "what", "role", "requested by", "status", "decided by"],
        [
            (
                a.id,
                f"INC-{a.incident_id}",
                a.step_id,
                a.summary,
                a.role,
                a.requested_by,
                a.status,
                a.decided_by,
            )
            for a in rows
        ],
    )


def _decide(approval_id: int, actor: str | None, reason: str, approve: bool) -> None:
    from airsoc.server.routes.approvals import decide

    refuse_actor(actor, command=f"airsoc approvals {'approve' if approve else 'reject'}")
    with state.store().transaction() as s:
        user = identify(s, needed=UserRole.APPROVER, action="approve playbook steps")
        view = decide(
            s,
            clock=state.clock,
            approval_id=approval_id,
            user=user,
            approve=approve,
            reason=reason,
        )
    console.print(f"approval {view.id} {view.status} by {view.decided_by}", markup=False)


@app.command()
def approve(
    approval_id: Annotated[int, typer.Argument(help="The approval id")],
    reason: ReasonOpt,
    actor: RefusedActorOpt = None,
) -> None:
    """Approve a waiting step as the user of AIRSOC_TOKEN (or airsoc login); never your own."""
    _decide(approval_id, actor, reason, True)


@app.command()
def reject(
    approval_id: Annotated[int, typer.Argument(help="The approval id")],
    reason: ReasonOpt,
    actor: RefusedActorOpt = None,
) -> None:
    """Reject a waiting step as the user of AIRSOC_TOKEN (or airsoc login); the run stops."""
    _decide(approval_id, actor, reason, False)
