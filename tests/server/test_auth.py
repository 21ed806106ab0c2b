"""Users, roles, tokens and sessions: secrets stored only as hashes, never logged."""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from airsoc.audit import list_entries
from airsoc.clock import SimulatedClock
from airsoc.errors import (
    AuthenticationError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from airsoc.roles import UserRole
from airsoc.server.auth import (
    AUTH_CHAIN,
    BOOTSTRAP_ACTOR,
    SESSION_LIFETIME,
    add_user,
    authenticate_token,
    bootstrap_admin,
    check_separate_approver,
    disable_user,
    enable_user,
    end_web_session,
    get_user,
    has_admin,
    hash_password,
    issue_token,
    list_tokens,
    log_in_for_token,
    require_role,
    revoke_presented_token,
    revoke_token,
    session_user,
    start_web_session,
    verify_password,
)
from airsoc.server.models import ApiTokenRow, UserRow, WebSessionRow
from airsoc.store import Store
from tests.server.conftest import PASSWORD, Api


def test_tokens_are_stored_as_sha256_only(store: Store, clock: SimulatedClock) -> None:
    with store.transaction() as s:
        add_user(s, clock=clock, name="dana", role="responder", actor="ada")
        issued = issue_token(s, clock=clock, user="dana", name="laptop", actor="ada")
    with store.read() as s:
        row = s.execute(select(ApiTokenRow)).scalar_one()
        assert row.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
        assert issued.token not in {row.name, row.prefix, row.token_hash}
        assert len(issued.token) > 40
    with store.transaction() as s:
        assert authenticate_token(s, clock=clock, token=issued.token).name == "dana"
        with pytest.raises(AuthenticationError, match="unknown or revoked"):
            authenticate_token(s, clock=clock, token=issued.token + "x")
    with store.transaction() as s:
        revoke_token(s, clock=clock, token_id=issued.info.id, actor="ada")
    with store.transaction() as s, pytest.raises(AuthenticationError):
        authenticate_token(s, clock=clock, token=issued.token)
    with store.read() as s:
        assert list_tokens(s, user="dana")[0].revoked_at == clock.now()
        actions = [e.action for e in list_entries(s, chain=AUTH_CHAIN)]
    assert actions == ["user.added", "token.issued", "token.revoked"]


def test_passwords_are_salted_scrypt_hashes(sqlite_store: Store, clock: SimulatedClock) -> None:
    first, second = hash_password("hunter22hunter"), hash_password("hunter22hunter")
    assert first != second
    assert verify_password("hunter22hunter", first)
    assert not verify_password("hunter22hunteR", first)
    assert not verify_password("x", "bcrypt$garbage")
    with sqlite_store.transaction() as s:
        add_user(s, clock=clock, name="sam", role="approver", password=PASSWORD, actor="ada")
    with sqlite_store.read() as s:
        stored = s.execute(select(UserRow.password_hash)).scalar_one()
    assert stored is not None
    assert PASSWORD not in stored
    assert stored.startswith("scrypt$")


def test_user_input_is_checked(sqlite_store: Store, clock: SimulatedClock) -> None:
    with sqlite_store.transaction() as s:
        with pytest.raises(InputError, match="unknown user role 'boss'"):
            add_user(s, clock=clock, name="x", role="boss", actor="ada")
        with pytest.raises(InputError, match="letters, digits"):
            add_user(s, clock=clock, name="two words", role="viewer", actor="ada")
        with pytest.raises(InputError, match="at least 8"):
            add_user(s, clock=clock, name="x", role="viewer", password="short", actor="ada")
        add_user(s, clock=clock, name="x", role="viewer", actor="ada")
        with pytest.raises(ConflictError, match="already exists"):
            add_user(s, clock=clock, name="x", role="admin", actor="ada")


def test_sessions_end_after_their_lifetime_or_on_logout(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    with sqlite_store.transaction() as s:
        add_user(s, clock=clock, name="dana", role="responder", password=PASSWORD, actor="ada")
        with pytest.raises(AuthenticationError, match="wrong user name or password"):
            start_web_session(s, clock=clock, name="dana", password="nope-nope")
        with pytest.raises(AuthenticationError, match="wrong user name or password"):
            start_web_session(s, clock=clock, name="nobody", password=PASSWORD)
        web = start_web_session(s, clock=clock, name="dana", password=PASSWORD)
    with sqlite_store.read() as s:
        user, csrf = session_user(s, clock=clock, secret=web.secret)
        assert (user.name, csrf) == ("dana", web.csrf_token)
        assert s.get(WebSessionRow, web.secret) is None  # keyed by the hash, not the secret
    clock.advance(SESSION_LIFETIME + timedelta(seconds=1))
    with sqlite_store.read() as s, pytest.raises(AuthenticationError, match="log in again"):
        session_user(s, clock=clock, secret=web.secret)
    with sqlite_store.transaction() as s:
        again = start_web_session(s, clock=clock, name="dana", password=PASSWORD)
        end_web_session(s, secret=again.secret)
    with sqlite_store.read() as s, pytest.raises(AuthenticationError):
        session_user(s, clock=clock, secret=again.secret)


def test_roles_are_ordered_and_refusals_say_what_is_needed(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    with sqlite_store.transaction() as s:
        add_user(s, clock=clock, name="vic", role="viewer", actor="ada")
        add_user(s, clock=clock, name="sam", role="approver", actor="ada")
        vic, sam = get_user(s, name="vic"), get_user(s, name="sam")
    require_role(sam, UserRole.RESPONDER, action="declare an incident")
    with pytest.raises(PermissionDeniedError) as err:
        require_role(vic, UserRole.RESPONDER, action="declare an incident")
    assert str(err.value) == (
        "vic is a viewer; to declare an incident needs the responder role or higher"
    )
    assert err.value.http_status == 403


def test_an_approval_must_come_from_someone_else() -> None:
    check_separate_approver(requester="dana", approver="sam", subject="step contain of run 3")
    with pytest.raises(PermissionDeniedError, match="dana requested step contain of run 3"):
        check_separate_approver(requester="dana", approver="dana", subject="step contain of run 3")


def test_secrets_never_reach_the_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    r = api.client.post(
        "/api/v1/users",
        json={"name": "eve", "role": "responder", "password": "eve-password-123"},
        headers=api.auth("ada"),
    )
    assert r.status_code == 201
    r = api.client.post("/api/v1/users/eve/tokens", json={"name": "ci"}, headers=api.auth("ada"))
    issued = r.json()["token"]
    assert (
        api.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {issued}"}).json()[
            "name"
        ]
        == "eve"
    )
    api.client.get("/api/v1/incidents", headers={"Authorization": "Bearer wrong-token-value"})
    page = api.client.get("/login").text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    api.client.post(
        "/login", data={"username": "eve", "password": "eve-password-typo", "csrf_token": csrf}
    )
    page = api.client.get("/login").text
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    api.client.post(
        "/login",
        data={"username": "eve", "password": "eve-password-123", "csrf_token": csrf},
        follow_redirects=False,
    )
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "console login refused for user 'eve'" in logged  # the logs do record what happened
    for secret in (
        "eve-password-123",
        "eve-password-typo",
        issued,
        "wrong-token-value",
        api.client.cookies.get("airsoc_session") or "no-session",
        *api.tokens.values(),
    ):
        assert secret not in logged


def test_the_first_admin_is_bootstrapped_once(store: Store, clock: SimulatedClock) -> None:
    with store.transaction() as s:
        assert not has_admin(s)
        add_user(s, clock=clock, name="vic", role="viewer", actor="ops")
        assert not has_admin(s)
        first = bootstrap_admin(s, clock=clock, name="ada", password=PASSWORD)
    with store.transaction() as s:
        assert has_admin(s)
        assert authenticate_token(s, clock=clock, token=first.token).role is UserRole.ADMIN
        with pytest.raises(ConflictError, match=r"already has an admin \(ada\)"):
            bootstrap_admin(s, clock=clock, name="eve")
    with store.read() as s:
        assert s.execute(select(func.count()).select_from(UserRow)).scalar_one() == 2
        bootstrapped = [
            (e.actor, e.action) for e in list_entries(s, chain=AUTH_CHAIN) if e.actor != "ops"
        ]
    assert bootstrapped == [(BOOTSTRAP_ACTOR, "user.added"), (BOOTSTRAP_ACTOR, "token.issued")]


def test_two_bootstraps_at_once_make_one_admin(store: Store, clock: SimulatedClock) -> None:
    inserted, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with store.transaction() as s:
            bootstrap_admin(s, clock=clock, name="ada")
            inserted.set()
            release.wait(60)

    def second() -> None:
        try:
            with store.transaction() as s:
                bootstrap_admin(s, clock=clock, name="eve")
            outcome["eve"] = "added"
        except ConflictError as exc:
            outcome["eve"] = exc.message

    a = threading.Thread(target=first)
    a.start()
    assert inserted.wait(60)
    b = threading.Thread(target=second)
    b.start()
    if not store.settings.is_sqlite:
        # Wait until the second bootstrap queues on the lock the first one holds.
        waiting = 0
        while not waiting and b.is_alive():
            with store.read() as s:
                waiting = s.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                        " AND objid = 7265373 AND database = (SELECT oid FROM pg_database"
                        " WHERE datname = current_database())"
                    )
                ).scalar_one()
    release.set()
    a.join(60)
    b.join(60)
    assert str(outcome["eve"]).startswith("the store already has an admin (ada)")
    with store.read() as s:
        assert [u.name for u in s.execute(select(UserRow)).scalars()] == ["ada"]


def test_disabling_refuses_every_way_in_and_keeps_one_admin(
    store: Store, clock: SimulatedClock
) -> None:
    with store.transaction() as s:
        add_user(s, clock=clock, name="ada", role="admin", actor="ops")
        add_user(s, clock=clock, name="dana", role="responder", password=PASSWORD, actor="ada")
        issued = issue_token(s, clock=clock, user="dana", name="laptop", actor="ada")
        web = start_web_session(s, clock=clock, name="dana", password=PASSWORD)
    with store.transaction() as s:
        assert disable_user(s, clock=clock, name="dana", actor="ada").disabled
        assert disable_user(s, clock=clock, name="dana", actor="ada").disabled  # no second entry
        assert s.execute(select(WebSessionRow)).first() is None
        with pytest.raises(ConflictError, match="ada is the last enabled admin"):
            disable_user(s, clock=clock, name="ada", actor="ada")
        with pytest.raises(NotFoundError):
            disable_user(s, clock=clock, name="nobody", actor="ada")
    for way_in in (
        lambda s: authenticate_token(s, clock=clock, token=issued.token),
        lambda s: session_user(s, clock=clock, secret=web.secret),
        lambda s: start_web_session(s, clock=clock, name="dana", password=PASSWORD),
        lambda s: log_in_for_token(
            s, clock=clock, name="dana", password=PASSWORD, token_name="cli login"
        ),
    ):
        with store.transaction() as s, pytest.raises(AuthenticationError):
            way_in(s)
    with store.transaction() as s:
        assert not enable_user(s, clock=clock, name="dana", actor="ada").disabled
        assert authenticate_token(s, clock=clock, token=issued.token).name == "dana"
        login = log_in_for_token(
            s, clock=clock, name="dana", password=PASSWORD, token_name="cli login"
        )
        assert authenticate_token(s, clock=clock, token=login.token).name == "dana"
        assert revoke_presented_token(s, clock=clock, token=login.token) is not None
        assert revoke_presented_token(s, clock=clock, token="airsoc_unknown") is None
        with pytest.raises(AuthenticationError):
            authenticate_token(s, clock=clock, token=login.token)
    with store.read() as s:
        actions = [(e.actor, e.action) for e in list_entries(s, chain=AUTH_CHAIN)]
    assert actions.count(("ada", "user.disabled")) == 1
    assert ("ada", "user.enabled") in actions
    assert ("dana", "user.logged_in") in actions
    assert ("dana", "token.revoked") in actions
