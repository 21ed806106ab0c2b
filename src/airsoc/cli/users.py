"""``airsoc users add|token|list|tokens|revoke|disable|enable``: who may use the API and the
console, with which role.

Changing users and tokens runs as an admin: the user of your API token (``AIRSOC_TOKEN`` or
``airsoc login``); a name given on the command line is refused. The one exception is the first
admin of a store that has none: ``airsoc users add NAME --role admin`` then needs no identity and
prints that admin's first API token.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from airsoc.cli.identity import TOKEN_ENV, RefusedActorOpt, identify, refuse_actor
from airsoc.cli.incidents import JsonOpt
from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state
from airsoc.errors import AuthenticationError, InputError
from airsoc.roles import UserRole, parse_user_role

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)

_MANAGE = "manage users and tokens"


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
    actor: RefusedActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user with a role (and a console password, read without echo or from the env).

    On a store without an admin, the first user must be an admin: it needs no identity, and
    their first API token is printed once.
    """
    from airsoc.server import auth

    refuse_actor(actor, command="airsoc users add")
    parsed = parse_user_role(role)
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
        if not auth.has_admin(s):
            if parsed is not UserRole.ADMIN:
                raise AuthenticationError(
                    "this store has no admin yet: add the first one with "
                    "`airsoc users add NAME --role admin` (it prints their API token)"
                )
            first = auth.bootstrap_admin(s, clock=state.clock, name=name, password=password)
            user = auth.get_user(s, name=name)
        else:
            admin = identify(s, needed=UserRole.ADMIN, action=_MANAGE)
            first = None
            user = auth.add_user(
                s, clock=state.clock, name=name, role=role, password=password, actor=admin.name
            )
    if first is None:
        if as_json:
            print_json(user)
        else:
            console.print(f"added {user.name} ({user.role.value})", markup=False)
        return
    if as_json:
        print_json({**user.model_dump(mode="json"), "token": first.token})
        return
    print(first.token)
    console.print(
        f"added {user.name} (admin), the first admin; above is their API token: keep it now, it "
        f"cannot be shown again. Use it as {TOKEN_ENV} to add users and decide approvals.",
        markup=False,
        style="dim",
    )


@app.command()
def token(
    name: Annotated[str, typer.Argument(help="Whose token")],
    label: Annotated[str, typer.Option("--name", help="Where the token is used")] = "cli",
    actor: RefusedActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue an API token (as an admin); it is printed once and only its hash is kept."""
    from airsoc.server import auth

    refuse_actor(actor, command="airsoc users token")
    with state.store().transaction() as s:
        admin = identify(s, needed=UserRole.ADMIN, action=_MANAGE)
        issued = auth.issue_token(s, clock=state.clock, user=name, name=label, actor=admin.name)
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
        ["name", "role", "added", "by", "status"],
        [
            (
                u.name,
                u.role.value,
                f"{u.created_at:%Y-%m-%d}",
                u.created_by,
                "disabled" if u.disabled else "enabled",
            )
            for u in users
        ],
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
    actor: RefusedActorOpt = None,
) -> None:
    """Revoke an API token (as an admin)."""
    from airsoc.server import auth

    refuse_actor(actor, command="airsoc users revoke")
    with state.store().transaction() as s:
        admin = identify(s, needed=UserRole.ADMIN, action=_MANAGE)
        info = auth.revoke_token(s, clock=state.clock, token_id=token_id, actor=admin.name)
    console.print(f"revoked token {info.id} of {info.user}", markup=False)


@app.command()
def disable(
    name: Annotated[str, typer.Argument(help="Whom to disable")],
    actor: RefusedActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Disable a user (as an admin): their console login, sessions and API tokens are refused."""
    from airsoc.server import auth

    refuse_actor(actor, command="airsoc users disable")
    with state.store().transaction() as s:
        admin = identify(s, needed=UserRole.ADMIN, action=_MANAGE)
        user = auth.disable_user(s, clock=state.clock, name=name, actor=admin.name)
    if as_json:
        print_json(user)
    else:
        console.print(f"disabled {user.name}", markup=False)


@app.command()
def enable(
    name: Annotated[str, typer.Argument(help="Whom to enable again")],
    actor: RefusedActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enable a disabled user (as an admin): their password and unrevoked tokens work again."""
    from airsoc.server import auth

    refuse_actor(actor, command="airsoc users enable")
    with state.store().transaction() as s:
        admin = identify(s, needed=UserRole.ADMIN, action=_MANAGE)
        user = auth.enable_user(s, clock=state.clock, name=name, actor=admin.name)
    if as_json:
        print_json(user)
    else:
        console.print(f"enabled {user.name}", markup=False)
