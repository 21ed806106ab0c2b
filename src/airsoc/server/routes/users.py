"""``/api/v1/users``: who am I, and (admins) users, their API tokens, disabling and enabling."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status
from pydantic import BaseModel, ConfigDict, Field

from airsoc.roles import UserRole
from airsoc.server import auth
from airsoc.server.auth import UserView
from airsoc.server.deps import Ctx, CurrentUser, requires
from airsoc.server.errors import error_responses
from airsoc.types import NonBlank, Text

__all__ = ["TokenCreate", "UserCreate", "router"]

router = APIRouter(prefix="/users", tags=["users"])

Admin = Annotated[UserView, Depends(requires(UserRole.ADMIN, "manage users and tokens"))]
UserName = Annotated[str, Path(pattern=auth.USER_NAME_PATTERN)]


class UserCreate(BaseModel):
    """A new user; the password is only needed to log in to the console."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=auth.USER_NAME_PATTERN)
    role: UserRole
    password: Annotated[Text, Field(min_length=8, max_length=1000)] | None = Field(None, repr=False)


class TokenCreate(BaseModel):
    """Where a new API token will be used (a name for it)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[NonBlank, Field(min_length=1, max_length=200)]


@router.get("/me", response_model=UserView, responses=error_responses())
def me(user: CurrentUser) -> UserView:
    """Return the user the token belongs to."""
    return user


@router.get("", response_model=list[UserView], responses=error_responses(403))
def list_users(ctx: Ctx, _admin: Admin) -> list[UserView]:
    """List users (admins only)."""
    with ctx.store.read() as s:
        return auth.list_users(s)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserView,
    responses=error_responses(403, 409, 422),
)
def add_user(body: UserCreate, ctx: Ctx, admin: Admin) -> UserView:
    """Add a user with a role (admins only)."""
    with ctx.store.transaction() as s:
        return auth.add_user(
            s,
            clock=ctx.clock,
            name=body.name,
            role=body.role.value,
            password=body.password,
            actor=admin.name,
        )


@router.post(
    "/{name}/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=auth.IssuedToken,
    responses=error_responses(403, 404, 422),
)
def issue_token(name: UserName, body: TokenCreate, ctx: Ctx, admin: Admin) -> auth.IssuedToken:
    """Issue an API token for a user; the token is in this answer only (admins only)."""
    with ctx.store.transaction() as s:
        return auth.issue_token(s, clock=ctx.clock, user=name, name=body.name, actor=admin.name)


@router.post(
    "/{name}/disable",
    response_model=UserView,
    responses=error_responses(403, 404, 409, 422),
)
def disable_user(name: UserName, ctx: Ctx, admin: Admin) -> UserView:
    """Disable a user: console login, sessions and API tokens are refused (admins only).

    The last enabled admin cannot be disabled (409).
    """
    with ctx.store.transaction() as s:
        return auth.disable_user(s, clock=ctx.clock, name=name, actor=admin.name)


@router.post("/{name}/enable", response_model=UserView, responses=error_responses(403, 404, 422))
def enable_user(name: UserName, ctx: Ctx, admin: Admin) -> UserView:
    """Enable a disabled user again; their unrevoked tokens work again (admins only)."""
    with ctx.store.transaction() as s:
        return auth.enable_user(s, clock=ctx.clock, name=name, actor=admin.name)
