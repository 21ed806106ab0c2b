"""Users, roles, API tokens and console sessions: the service functions behind the API and CLI.

Secrets are never stored: API tokens and session cookies are kept as their sha256 (they are
256-bit random, so a fast hash is enough); passwords are hashed with scrypt and a random salt.
The plaintext of a token is returned once, when it is issued.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     dana = add_user(s, clock=clock, name="dana", role="responder", actor="admin")
    ...     issued = issue_token(s, clock=clock, user="dana", name="laptop", actor="admin")
    >>> issued.token.startswith("airsoc_"), issued.info.prefix == issued.token[:12]
    (True, True)
    >>> with store.transaction() as s:
    ...     authenticate_token(s, clock=clock, token=issued.token).name
    'dana'
    >>> require_role(dana, UserRole.APPROVER, action="approve a playbook step")
    Traceback (most recent call last):
    ...
    airsoc.errors.PermissionDeniedError: dana is a responder; to approve a playbook step needs ...
    >>> store.close()
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import (
    AuthenticationError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from airsoc.roles import UserRole, parse_user_role
from airsoc.server.models import ApiTokenRow, UserRow, WebSessionRow
from airsoc.store import Store

__all__ = [
    "AUTH_CHAIN",
    "SESSION_LIFETIME",
    "USER_NAME_PATTERN",
    "IssuedToken",
    "StoreUserDirectory",
    "TokenInfo",
    "UserRole",
    "UserView",
    "WebLogin",
    "add_user",
    "authenticate_token",
    "check_separate_approver",
    "end_web_session",
    "get_user",
    "hash_password",
    "issue_token",
    "list_tokens",
    "list_users",
    "parse_user_role",
    "require_role",
    "revoke_token",
    "session_user",
    "start_web_session",
    "verify_password",
]

#: The audit chain that records user, token and login changes.
AUTH_CHAIN = "auth/users"
#: What a user name may contain.
USER_NAME_PATTERN = r"^[A-Za-z0-9._@-]{1,200}$"
#: How long a console login lasts.
SESSION_LIFETIME = timedelta(hours=12)
_TOKEN_PREFIX = "airsoc_"
# scrypt work factors (n=2**14, r=8, p=1: ~16 MiB, tens of milliseconds per check).
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class UserView(BaseModel):
    """A user as the API shows it (never with a secret)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: UserRole
    disabled: bool
    created_at: datetime
    created_by: str


class TokenInfo(BaseModel):
    """An API token's public facts: its owner, name and first characters."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedToken(BaseModel):
    """A newly issued token: ``token`` is shown this once and never stored."""

    token: str
    info: TokenInfo


class WebLogin(BaseModel):
    """A console login: the cookie secret (shown once), its CSRF token and the user."""

    secret: str
    csrf_token: str
    user: UserView
    expires_at: datetime


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of ``password`` in a self-describing text form.

    >>> hash_password("correct horse").startswith("scrypt$16384$8$1$")
    True
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    enc = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${enc(salt).decode()}${enc(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Return whether ``password`` matches a hash made by :func:`hash_password`.

    >>> verify_password("s3cret", hash_password("s3cret")), verify_password("x", hash_password("y"))
    (True, False)
    """
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    actual = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=32,
    )
    return hmac.compare_digest(actual, base64.b64decode(digest))


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def add_user(
    session: Session,
    *,
    clock: Clock,
    name: str,
    role: str,
    actor: str,
    password: str | None = None,
) -> UserView:
    """Create a user with a role (and optionally a console password) and return it."""
    parsed = parse_user_role(role)
    if not re.fullmatch(USER_NAME_PATTERN, name):
        raise InputError(
            f"a user name is letters, digits and . _ @ - only, got {name!r}", loc="name"
        )
    if password is not None and len(password) < 8:
        raise InputError("a password needs at least 8 characters", loc="password")
    if session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none():
        raise ConflictError(f"user {name!r} already exists", loc="name")
    row = UserRow(
        name=name,
        role=parsed.value,
        password_hash=hash_password(password) if password else None,
        disabled=False,
        created_at=clock.now(),
        created_by=actor,
    )
    session.add(row)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=AUTH_CHAIN,
        actor=actor,
        action="user.added",
        data={"user": name, "role": parsed.value, "password_set": password is not None},
    )
    return UserView.model_validate(row)


def _user_row(session: Session, name: str) -> UserRow:
    row = session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"user {name!r} not found (airsoc users add {name} --role ...)")
    return row


def get_user(session: Session, *, name: str) -> UserView:
    """Return the user called ``name``."""
    return UserView.model_validate(_user_row(session, name))


def list_users(session: Session) -> list[UserView]:
    """Return every user, by name."""
    rows = session.execute(select(UserRow).order_by(UserRow.name)).scalars()
    return [UserView.model_validate(r) for r in rows]


def _token_info(row: ApiTokenRow, user: str) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user=user,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def issue_token(session: Session, *, clock: Clock, user: str, name: str, actor: str) -> IssuedToken:
    """Issue an API token for ``user``; the returned plaintext is the only copy."""
    owner = _user_row(session, user)
    if not name.strip():
        raise InputError("a token needs a name saying where it is used", loc="name")
    token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiTokenRow(
        user_id=owner.id,
        name=name.strip(),
        token_hash=_sha256(token),
        prefix=token[:12],
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=AUTH_CHAIN,
        actor=actor,
        action="token.issued",
        data={"user": user, "token_id": row.id, "name": row.name, "prefix": row.prefix},
    )
    return IssuedToken(token=token, info=_token_info(row, owner.name))


def list_tokens(session: Session, *, user: str | None = None) -> list[TokenInfo]:
    """Return API tokens (never their secrets), optionally only those of ``user``."""
    query = select(ApiTokenRow, UserRow.name).join(UserRow).order_by(ApiTokenRow.id)
    if user:
        query = query.where(UserRow.name == user)
    return [_token_info(row, name) for row, name in session.execute(query)]


def revoke_token(session: Session, *, clock: Clock, token_id: int, actor: str) -> TokenInfo:
    """Revoke an API token so it no longer authenticates; return its facts."""
    row = session.get(ApiTokenRow, token_id)
    if row is None:
        raise NotFoundError(f"API token {token_id} not found")
    owner = session.get(UserRow, row.user_id)
    assert owner is not None
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        append_entry(
            session,
            clock=clock,
            chain=AUTH_CHAIN,
            actor=actor,
            action="token.revoked",
            data={"user": owner.name, "token_id": row.id, "prefix": row.prefix},
        )
    session.flush()
    return _token_info(row, owner.name)


def authenticate_token(session: Session, *, clock: Clock, token: str) -> UserView:
    """Return the user a bearer token belongs to, or raise :class:`AuthenticationError`."""
    row = session.execute(
        select(ApiTokenRow).where(ApiTokenRow.token_hash == _sha256(token))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        raise AuthenticationError("the API token is unknown or revoked")
    user = session.get(UserRow, row.user_id)
    if user is None or user.disabled:
        raise AuthenticationError("the API token's user is disabled")
    row.last_used_at = clock.now()
    return UserView.model_validate(user)


def start_web_session(session: Session, *, clock: Clock, name: str, password: str) -> WebLogin:
    """Check a console login and open a session; the same message for any wrong detail."""
    row = session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none()
    ok = (
        row is not None
        and not row.disabled
        and row.password_hash is not None
        and verify_password(password, row.password_hash)
    )
    if not ok or row is None:
        raise AuthenticationError("wrong user name or password")
    if row.role == UserRole.INGEST:
        raise AuthenticationError("an ingest account only sends telemetry; it has no console")
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    web = WebSessionRow(
        id=_sha256(secret),
        user_id=row.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    session.add(web)
    append_entry(session, clock=clock, chain=AUTH_CHAIN, actor=row.name, action="user.logged_in")
    session.flush()
    return WebLogin(
        secret=secret,
        csrf_token=web.csrf_token,
        user=UserView.model_validate(row),
        expires_at=web.expires_at,
    )


def session_user(session: Session, *, clock: Clock, secret: str) -> tuple[UserView, str]:
    """Return the user of a live console session and the session's CSRF token."""
    web = session.get(WebSessionRow, _sha256(secret))
    if web is None or web.expires_at <= clock.now():
        raise AuthenticationError("the console session has ended; log in again")
    user = session.get(UserRow, web.user_id)
    if user is None or user.disabled:
        raise AuthenticationError("the console session's user is disabled")
    return UserView.model_validate(user), web.csrf_token


def end_web_session(session: Session, *, secret: str) -> None:
    """Forget a console session (log out); an unknown secret is not an error."""
    web = session.get(WebSessionRow, _sha256(secret))
    if web is not None:
        session.delete(web)
        session.flush()


def require_role(user: UserView, needed: UserRole, *, action: str) -> None:
    """Return quietly if ``user`` holds ``needed`` (or a higher role); else raise 403's error."""
    if user.role.rank < needed.rank:
        raise PermissionDeniedError(
            f"{user.name} is a {user.role.value}; to {action} needs the {needed.value} role "
            "or higher"
        )


def check_separate_approver(*, requester: str, approver: str, subject: str) -> None:
    """Return quietly if ``approver`` is not ``requester``; one person never approves their own.

    >>> check_separate_approver(requester="dana", approver="sam", subject="step contain")
    >>> check_separate_approver(requester="dana", approver="dana", subject="step contain")
    Traceback (most recent call last):
    ...
    airsoc.errors.PermissionDeniedError: dana requested step contain and cannot also approve it; ...
    """
    if requester == approver:
        raise PermissionDeniedError(
            f"{approver} requested {subject} and cannot also approve it; "
            "another approver must decide"
        )


@dataclass
class StoreUserDirectory:
    """The users of ``store`` as a directory the demo fleet can fill (it may not import the
    server itself)."""

    store: Store
    clock: Clock
    actor: str = "system:demo"

    def names(self) -> set[str]:
        """Return the names of the users that exist."""
        with self.store.read() as s:
            return {u.name for u in list_users(s)}

    def add(self, *, name: str, role: str, password: str) -> None:
        """Create the user ``name`` with ``role`` and a console ``password``."""
        with self.store.transaction() as s:
            add_user(s, clock=self.clock, name=name, role=role, actor=self.actor, password=password)
