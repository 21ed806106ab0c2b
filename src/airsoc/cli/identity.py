"""Who runs a command that needs an identity: ``airsoc login|logout`` and the token they use.

Approving, rejecting and user administration never trust a name given on the command line: they
run as the user of an API token, taken from the environment variable ``AIRSOC_TOKEN`` (as amtool
takes Alertmanager's), or else from the file ``airsoc login`` writes in the data dir (mode 0600).
The token is checked against the store's users and tokens like the API checks it: a revoked
token or a disabled user is refused.

Example:
    >>> refuse_actor(None, command="airsoc approvals approve")
    >>> refuse_actor("someone-else", command="airsoc approvals approve")
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: --actor: airsoc approvals approve does not take --actor: ...
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from airsoc.cli import output as ui
from airsoc.cli.state import state
from airsoc.errors import AuthenticationError, InputError
from airsoc.roles import UserRole

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airsoc.server.auth import UserView

__all__ = [
    "TOKEN_ENV",
    "TOKEN_FILE_NAME",
    "RefusedActorOpt",
    "identify",
    "login",
    "logout",
    "refuse_actor",
    "register",
    "token_file",
]

#: The environment variable holding the API token a command runs as.
TOKEN_ENV = "AIRSOC_TOKEN"
#: The file in the data dir where ``airsoc login`` keeps its token.
TOKEN_FILE_NAME = "cli-token"

RefusedActorOpt = Annotated[
    str | None, typer.Option("--actor", hidden=True, help="Not accepted: see AIRSOC_TOKEN")
]


def refuse_actor(actor: str | None, *, command: str) -> None:
    """Return quietly without ``--actor``; with it, raise: an identity is never a free name."""
    if actor is not None:
        raise InputError(
            f"{command} does not take --actor: it runs as the user of your API token. "
            f"Set {TOKEN_ENV} to it (airsoc users token NAME prints one) or run "
            "`airsoc login NAME`",
            loc="--actor",
        )


def token_file() -> Path:
    """Return where ``airsoc login`` keeps its token for the current data dir."""
    return state.settings.data_dir / TOKEN_FILE_NAME


def _read_token_file(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuthenticationError(
            f"{path} is readable by other users; run `chmod 600 {path}` or log in again"
        )
    return path.read_text(encoding="utf-8").strip() or None


def _presented_token() -> tuple[str, str] | None:
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return from_env, TOKEN_ENV
    path = token_file()
    from_file = _read_token_file(path)
    return (from_file, str(path)) if from_file else None


def identify(session: Session, *, needed: UserRole, action: str) -> UserView:
    """Return the user whose API token this command runs with, if they hold ``needed``.

    Raises :class:`AuthenticationError` without a valid token (unknown, revoked, or its user
    disabled) and :class:`PermissionDeniedError` when the role is too low.
    """
    from airsoc.server.auth import authenticate_token, require_role

    presented = _presented_token()
    if presented is None:
        raise AuthenticationError(
            f"to {action} airsoc needs to know who you are: set {TOKEN_ENV} to your API token "
            "(an admin prints one with `airsoc users token NAME`) or run `airsoc login NAME`"
        )
    token, source = presented
    try:
        user = authenticate_token(session, clock=state.clock, token=token)
    except AuthenticationError as exc:
        raise AuthenticationError(f"{exc.message} (the token in {source})") from None
    require_role(user, needed, action=action)
    return user


def _write_private(path: Path, content: str) -> None:
    # Created 0600 from the start, then renamed over the old file: never readable by others.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, content.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def login(
    name: Annotated[str, typer.Argument(help="Your user name")],
    password_env: Annotated[
        str | None,
        typer.Option(help="Name of an environment variable holding your password"),
    ] = None,
) -> None:
    """Log in with your console password; later commands run as you (until airsoc logout).

    The token is kept in the data dir (mode 0600); AIRSOC_TOKEN, when set, takes precedence.
    """
    from airsoc.server import auth

    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise InputError(
                f"environment variable {password_env} is empty or unset", loc="--password-env"
            )
    else:
        password = typer.prompt("Password", hide_input=True)
    path = token_file()
    previous = _read_token_file(path)
    with state.store().transaction() as s:
        issued = auth.log_in_for_token(
            s, clock=state.clock, name=name, password=password, token_name="cli login"
        )
        if previous:
            auth.revoke_presented_token(s, clock=state.clock, token=previous)
    _write_private(path, issued.token + "\n")
    ui.console.print(f"logged in as {issued.info.user} ({path})", markup=False)
    if os.environ.get(TOKEN_ENV):
        ui.console.print(f"note: {TOKEN_ENV} is set and takes precedence", markup=False)


def logout() -> None:
    """Revoke the token of airsoc login and forget it."""
    from airsoc.server import auth

    path = token_file()
    previous = _read_token_file(path)
    if previous is None:
        ui.console.print("not logged in", markup=False)
        return
    with state.store().transaction() as s:
        info = auth.revoke_presented_token(s, clock=state.clock, token=previous)
    path.unlink()
    who = f" {info.user}" if info else ""
    ui.console.print(f"logged out{who}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``airsoc login`` and ``airsoc logout`` to ``app``."""
    app.command()(login)
    app.command()(logout)
