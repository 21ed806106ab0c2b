"""What routes share: the server context (store, clock, blobs) and the auth dependencies.

A route that changes anything declares the role it needs with :func:`requires`; the check runs
before the request body is even looked at, so a viewer gets 403 whatever they send.

Example:
    >>> from airsoc.roles import UserRole
    >>> dep = requires(UserRole.RESPONDER, "declare an incident")
    >>> dep.needed, dep.action
    (<UserRole.RESPONDER: 'responder'>, 'declare an incident')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from airsoc.alerting import AlertingEngine
from airsoc.clock import Clock
from airsoc.errors import AuthenticationError
from airsoc.incidents.evidence import BlobStore
from airsoc.roles import UserRole
from airsoc.runtime.health import PartStatus
from airsoc.server.auth import LoginThrottle, UserView, authenticate_token, require_role
from airsoc.settings import Settings
from airsoc.store import Store

__all__ = [
    "Ctx",
    "CurrentUser",
    "ServerContext",
    "bearer_scheme",
    "current_user",
    "get_context",
    "requires",
    "token_user",
]


@dataclass
class ServerContext:
    """The store, clock, settings and evidence blobs every route works with; ``alerting`` is the
    engine alerts from Alertmanager are routed through (None: they are only stored);
    ``login_throttle`` counts this process's failed console logins."""

    settings: Settings
    store: Store
    clock: Clock
    blobs: BlobStore
    cookie_secure: bool = False
    alerting: AlertingEngine | None = None
    readiness: Callable[[], Sequence[PartStatus]] | None = None
    login_throttle: LoginThrottle = field(init=False)

    def __post_init__(self) -> None:
        self.login_throttle = LoginThrottle(self.clock)


def get_context(request: Request) -> ServerContext:
    """Return the server context the app was created with."""
    ctx: ServerContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServerContext, Depends(get_context)]

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An API token from `airsoc users token NAME`.",
    scheme_name="ApiToken",
)


def token_user(
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> UserView:
    """Return the user whose bearer token came with the request (any role), or raise 401's
    error; only telemetry intake takes it directly."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("send an API token: Authorization: Bearer <token>")
    with ctx.store.transaction() as session:
        return authenticate_token(session, clock=ctx.clock, token=credentials.credentials)


def current_user(user: Annotated[UserView, Depends(token_user)]) -> UserView:
    """Return the user whose bearer token came with the request, or raise 401's error; an
    ``ingest`` token (telemetry senders) gets 403's error, it may only send telemetry."""
    require_role(user, UserRole.VIEWER, action="use the API beyond sending telemetry")
    return user


CurrentUser = Annotated[UserView, Depends(current_user)]


class requires:  # noqa: N801 - used like a function in Depends(requires(...))
    """A dependency that returns the current user if they hold ``needed``, else raises 403."""

    def __init__(self, needed: UserRole, action: str) -> None:
        self.needed = needed
        self.action = action

    def __call__(self, user: CurrentUser) -> UserView:
        """Return ``user`` after checking the role."""
        require_role(user, self.needed, action=self.action)
        return user
