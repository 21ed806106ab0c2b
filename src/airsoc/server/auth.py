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
import math
import re
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import (
    AuthenticationError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from airsoc.roles import UserRole, parse_user_role
from airsoc.server.models import ApiTokenRow, UserRow, WebSessionRow
from airsoc.store import Store

__all__ = [
    "AUTH_CHAIN",
    "BOOTSTRAP_ACTOR",
    "SESSION_LIFETIME",
    "USER_NAME_PATTERN",
    "IssuedToken",
    "LoginThrottle",
    "StoreUserDirectory",
    "ThrottlePolicy",
    "TokenInfo",
    "UserRole",
    "UserView",
    "WebLogin",
    "add_user",
    "authenticate_token",
    "bootstrap_admin",
    "check_separate_approver",
    "disable_user",
    "enable_user",
    "end_web_session",
    "get_user",
    "has_admin",
    "hash_password",
    "issue_token",
    "list_tokens",
    "list_users",
    "log_in_for_token",
    "parse_user_role",
    "require_role",
    "revoke_presented_token",
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
#: Who creates the first admin of a store that has none.
BOOTSTRAP_ACTOR = "system:bootstrap"
# Any fixed number: PostgreSQL's lock that makes "is there an admin yet?" and the insert one step.
_BOOTSTRAP_LOCK_KEY = 7265373
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


def _check_password(session: Session, *, name: str, password: str) -> UserRow:
    # One message for an unknown user, a disabled one, no password and a wrong one.
    row = session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none()
    ok = (
        row is not None
        and not row.disabled
        and row.password_hash is not None
        and verify_password(password, row.password_hash)
    )
    if not ok or row is None:
        raise AuthenticationError("wrong user name or password")
    return row


def start_web_session(session: Session, *, clock: Clock, name: str, password: str) -> WebLogin:
    """Check a console login and open a session; the same message for any wrong detail."""
    row = _check_password(session, name=name, password=password)
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


def log_in_for_token(
    session: Session, *, clock: Clock, name: str, password: str, token_name: str
) -> IssuedToken:
    """Check a user's password and return a new API token for them (a login from a terminal).

    The same message answers any wrong detail, and a disabled user cannot log in.
    """
    row = _check_password(session, name=name, password=password)
    issued = issue_token(session, clock=clock, user=row.name, name=token_name, actor=row.name)
    append_entry(
        session,
        clock=clock,
        chain=AUTH_CHAIN,
        actor=row.name,
        action="user.logged_in",
        data={"token_id": issued.info.id, "via": token_name},
    )
    return issued


def revoke_presented_token(session: Session, *, clock: Clock, token: str) -> TokenInfo | None:
    """Revoke the token whose secret is ``token`` (a logout), as its owner; None if unknown."""
    row = session.execute(
        select(ApiTokenRow).where(ApiTokenRow.token_hash == _sha256(token))
    ).scalar_one_or_none()
    if row is None:
        return None
    owner = session.get(UserRow, row.user_id)
    assert owner is not None
    return revoke_token(session, clock=clock, token_id=row.id, actor=owner.name)


def has_admin(session: Session) -> bool:
    """Return whether the store has an admin who is not disabled."""
    found = session.execute(
        select(UserRow.id).where(UserRow.role == UserRole.ADMIN.value, UserRow.disabled.is_(False))
    ).first()
    return found is not None


def bootstrap_admin(
    session: Session, *, clock: Clock, name: str, password: str | None = None
) -> IssuedToken:
    """Create the first admin of a store that has none and return their first API token.

    This needs no identity (nobody could have one yet), so it is refused as soon as an admin
    exists; concurrent attempts are serialised (SQLite's write lock, a PostgreSQL advisory lock).

    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     first = bootstrap_admin(s, clock=clock, name="ada")
    >>> first.info.user, first.token.startswith("airsoc_")
    ('ada', True)
    >>> with store.transaction() as s:
    ...     bootstrap_admin(s, clock=clock, name="eve")
    Traceback (most recent call last):
    ...
    airsoc.errors.ConflictError: the store already has an admin (ada); ...
    >>> store.close()
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _BOOTSTRAP_LOCK_KEY})
    admins = session.execute(
        select(UserRow.name).where(
            UserRow.role == UserRole.ADMIN.value, UserRow.disabled.is_(False)
        )
    ).scalars()
    names = sorted(admins)
    if names:
        raise ConflictError(
            f"the store already has an admin ({', '.join(names)}); adding users now needs an "
            "admin's identity"
        )
    add_user(
        session, clock=clock, name=name, role="admin", password=password, actor=BOOTSTRAP_ACTOR
    )
    return issue_token(session, clock=clock, user=name, name="first admin", actor=BOOTSTRAP_ACTOR)


def _set_disabled(
    session: Session, *, clock: Clock, name: str, disabled: bool, actor: str
) -> UserView:
    row = session.execute(
        select(UserRow).where(UserRow.name == name).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"user {name!r} not found")
    if row.disabled == disabled:
        return UserView.model_validate(row)
    if disabled and row.role == UserRole.ADMIN.value:
        others = session.execute(
            select(UserRow.id).where(
                UserRow.role == UserRole.ADMIN.value,
                UserRow.disabled.is_(False),
                UserRow.id != row.id,
            )
        ).first()
        if others is None:
            raise ConflictError(
                f"{name} is the last enabled admin; add or enable another admin first, or "
                "nobody could manage users"
            )
    row.disabled = disabled
    if disabled:
        # Console sessions end now; API tokens are kept but refused until the user is enabled.
        session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == row.id))
    append_entry(
        session,
        clock=clock,
        chain=AUTH_CHAIN,
        actor=actor,
        action="user.disabled" if disabled else "user.enabled",
        data={"user": name},
    )
    session.flush()
    return UserView.model_validate(row)


def disable_user(session: Session, *, clock: Clock, name: str, actor: str) -> UserView:
    """Disable ``name``: their console login, sessions and API tokens are refused until enabled.

    Disabling the last enabled admin is refused.

    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store, clock = scratch_store(), SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = add_user(s, clock=clock, name="ada", role="admin", actor="setup")
    ...     _ = add_user(s, clock=clock, name="dana", role="responder", actor="ada")
    ...     issued = issue_token(s, clock=clock, user="dana", name="laptop", actor="ada")
    ...     disable_user(s, clock=clock, name="dana", actor="ada").disabled
    True
    >>> with store.transaction() as s:
    ...     authenticate_token(s, clock=clock, token=issued.token)
    Traceback (most recent call last):
    ...
    airsoc.errors.AuthenticationError: the API token's user is disabled
    >>> with store.transaction() as s:
    ...     enable_user(s, clock=clock, name="dana", actor="ada").disabled
    False
    >>> store.close()
    """
    return _set_disabled(session, clock=clock, name=name, disabled=True, actor=actor)


def enable_user(session: Session, *, clock: Clock, name: str, actor: str) -> UserView:
    """Enable ``name`` again: their password and unrevoked API tokens work as before."""
    return _set_disabled(session, clock=clock, name=name, disabled=False, actor=actor)


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failed logins a sliding ``window`` allows per user name and per client address.

    >>> ThrottlePolicy().per_user, ThrottlePolicy().window
    (5, datetime.timedelta(seconds=900))
    """

    per_user: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    #: How many user names and addresses are remembered at most (oldest forgotten first).
    max_keys: int = 100_000


class _Attempt:
    # Compared by identity: a released attempt removes exactly itself.
    __slots__ = ("at", "user")

    def __init__(self, at: float, user: str) -> None:
        self.at = at
        self.user = user


class LoginThrottle:
    """Failed logins per user name and per client address, in this process's memory.

    ``attempt`` counts a login before its password is checked, so parallel guesses cannot
    overtake the count; a wrong password leaves it counted, a success clears that user's
    failures (also from that address's count), and any other error takes the attempt back.
    When a user name or an address reached its limit within the sliding window, the next
    attempt is refused with :class:`RateLimitedError` (``retry_after`` seconds) without
    looking at the password. The state lives in memory: one server process keeps one count;
    several processes behind one address would each keep their own.

    >>> from airsoc.clock import SimulatedClock
    >>> clock = SimulatedClock()
    >>> throttle = LoginThrottle(clock, ThrottlePolicy(per_user=2, window=timedelta(minutes=1)))
    >>> def wrong_password() -> None:
    ...     with throttle.attempt(user="dana", address="10.0.0.9"):
    ...         raise AuthenticationError("wrong user name or password")
    >>> for _ in range(2):
    ...     try:
    ...         wrong_password()
    ...     except AuthenticationError:
    ...         pass
    >>> try:
    ...     wrong_password()
    ... except RateLimitedError as exc:
    ...     exc.retry_after
    60
    >>> clock.advance(timedelta(minutes=1))
    >>> with throttle.attempt(user="dana", address="10.0.0.9"):
    ...     pass
    """

    def __init__(self, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self.clock = clock
        self.policy = policy or ThrottlePolicy()
        self._lock = threading.Lock()
        self._by_key: OrderedDict[tuple[str, str], deque[_Attempt]] = OrderedDict()

    @contextmanager
    def attempt(self, *, user: str, address: str) -> Iterator[None]:
        """Count a login of ``user`` from ``address`` around the block that checks it."""
        entry = self._reserve(user, address)
        try:
            yield
        except AuthenticationError:
            raise
        except BaseException:
            self._release(entry, address)
            raise
        self._succeeded(user, address)

    def _limits(self, user: str, address: str) -> list[tuple[tuple[str, str], int]]:
        return [
            (("user", user), self.policy.per_user),
            (("address", address), self.policy.per_address),
        ]

    def _live(self, key: tuple[str, str], now: float) -> deque[_Attempt]:
        found = self._by_key.get(key)
        if found is None:
            found = self._by_key[key] = deque()
        self._by_key.move_to_end(key)
        horizon = now - self.policy.window.total_seconds()
        while found and found[0].at <= horizon:
            found.popleft()
        return found

    def _reserve(self, user: str, address: str) -> _Attempt:
        with self._lock:
            now = self.clock.monotonic()
            window = self.policy.window.total_seconds()
            waits = []
            for key, limit in self._limits(user, address):
                attempts = self._live(key, now)
                if len(attempts) >= limit:
                    # Free again once enough of the oldest failures have left the window.
                    waits.append(attempts[len(attempts) - limit].at + window - now)
            if waits:
                self._forget_idle()
                retry = max(1, math.ceil(max(waits)))
                raise RateLimitedError(
                    f"too many failed logins for this user or from this address; try again in "
                    f"{retry} s",
                    retry_after=retry,
                )
            entry = _Attempt(now, user)
            for key, _ in self._limits(user, address):
                self._by_key[key].append(entry)
            self._forget_idle()
            return entry

    def _release(self, entry: _Attempt, address: str) -> None:
        with self._lock:
            for key, _ in self._limits(entry.user, address):
                attempts = self._by_key.get(key)
                if attempts is not None and entry in attempts:
                    attempts.remove(entry)

    def _succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._by_key.pop(("user", user), None)
            attempts = self._by_key.get(("address", address))
            if attempts:
                kept = [a for a in attempts if a.user != user]
                attempts.clear()
                attempts.extend(kept)

    def _forget_idle(self) -> None:
        # Bounded memory: drop empty counts, then (many names or addresses) the oldest touched.
        if len(self._by_key) <= self.policy.max_keys:
            return
        for key in [k for k, v in self._by_key.items() if not v]:
            del self._by_key[key]
        while len(self._by_key) > self.policy.max_keys:
            self._by_key.popitem(last=False)


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
