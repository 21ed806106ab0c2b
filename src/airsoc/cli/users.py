"""``airsoc users add|token|list|revoke``: who may use the API and the console, with which role."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from airsoc.cli.incidents import ActorOpt, JsonOpt, actor_name
from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state
from airsoc.errors import InputError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="The user's name (one word)")],
    role: Annotated[
        str, typer.Option(help="ingest, viewer, responder, approver or admin")
    ] = "viewer",
    password_env: Annotated[
        str | None,
        typer.Option(help="Name of an environment variable holding a console password"),
    ] = None,
    password_prompt: Annotated[
        bool, typer.Option("--password", help="Ask for a console password")
    ] = False,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user with a role (and a console password, read without echo or from the env)."""
    from airsoc.server import auth

    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise InputError(
                f"environment variable {password_env} is empty or unset", loc="--password-env"
            )
    elif password_prompt:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with state.store().transaction() as s:
        user = auth.add_user(
            s, clock=state.clock, name=name, role=role, password=password, actor=actor_name(actor)
        )
    if as_json:
        print_json(user)
    else:
        console.print(f"added {user.name} ({user.role.value})", markup=False)


@app.command()
def token(
    name: Annotated[str, typer.Argument(help="Whose token")],
    label: Annotated[str, typer.Option("--name", help="Where the token is used")] = "cli",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue an API token; it is printed once and only its hash is kept."""
    from airsoc.server import auth

    with state.store().transaction() as s:
        issued = auth.issue_token(
            s, clock=state.clock, user=name, name=label, actor=actor_name(actor)
        )
    if as_json:
        print_json(issued)
    else:
        print(issued.token)
        console.print(
            f"token {issued.info.id} for {name}: keep it now, it cannot be shown again",
            markup=False,
            style="dim",
        )


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List users and their roles."""
    from airsoc.server import auth

    with state.store().read() as s:
        users = auth.list_users(s)
    if as_json:
        print_json(users)
        return
    print_table(
        "Users",
        ["name", "role", "added", "by"],
        [(u.name, u.role.value, f"{u.created_at:%Y-%m-%d}", u.created_by) for u in users],
    )


@app.command()
def tokens(
    name: Annotated[str | None, typer.Argument(help="Only this user's tokens")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List API tokens (never their secrets)."""
    from airsoc.server import auth

    with state.store().read() as s:
        rows = auth.list_tokens(s, user=name)
    if as_json:
        print_json(rows)
        return
    print_table(
        "Tokens",
        ["id", "user", "name", "starts with", "last used", "revoked"],
        [(t.id, t.user, t.name, t.prefix, t.last_used_at, t.revoked_at) for t in rows],
    )


@app.command()
def revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (airsoc users tokens)")],
    actor: ActorOpt = None,
) -> None:
    """Revoke an API token."""
    from airsoc.server import auth

    with state.store().transaction() as s:
        info = auth.revoke_token(s, clock=state.clock, token_id=token_id, actor=actor_name(actor))
    console.print(f"revoked token {info.id} of {info.user}", markup=False)
