"""Failed console logins are throttled per user name and per client address (429, Retry-After)."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from airsoc.clock import SimulatedClock
from airsoc.errors import AuthenticationError, RateLimitedError, StoreError
from airsoc.server.auth import LoginThrottle, ThrottlePolicy
from tests.server.conftest import PASSWORD, Api
from tests.server.test_console import csrf_of


def post_login(client: TestClient, user: str, password: str) -> tuple[int, str, str | None]:
    page = client.get("/login").text
    r = client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    return r.status_code, r.text, r.headers.get("retry-after")


def test_five_wrong_passwords_lock_the_user_until_the_window_passes(api: Api) -> None:
    for _ in range(5):
        assert post_login(api.client, "dana", "guess")[0] == 401
    status, text, retry_after = post_login(api.client, "dana", PASSWORD)
    assert status == 429  # even the right password: it is not looked at while locked
    assert "too many failed logins" in text
    assert retry_after == "900"
    api.clock.advance(timedelta(minutes=10))
    status, _, retry_after = post_login(api.client, "dana", PASSWORD)
    assert (status, retry_after) == (429, "300")
    assert post_login(api.client, "sam", PASSWORD)[0] == 303  # another user is not locked
    api.clock.advance(timedelta(minutes=5))
    assert post_login(api.client, "dana", PASSWORD)[0] == 303


def test_a_successful_login_resets_the_count(api: Api) -> None:
    for _ in range(4):
        assert post_login(api.client, "dana", "guess")[0] == 401
    assert post_login(api.client, "dana", PASSWORD)[0] == 303
    for _ in range(4):
        assert post_login(api.client, "dana", "guess")[0] == 401
    assert post_login(api.client, "dana", PASSWORD)[0] == 303


def test_one_address_guessing_many_names_is_locked_out(api: Api) -> None:
    for i in range(20):
        assert post_login(api.client, f"user{i}", "guess")[0] == 401
    status, _, retry_after = post_login(api.client, "dana", PASSWORD)
    assert (status, retry_after) == (429, "900")
    with TestClient(api.app, client=("10.1.2.3", 40000)) as elsewhere:
        assert post_login(elsewhere, "dana", PASSWORD)[0] == 303
    api.clock.advance(timedelta(minutes=15))
    assert post_login(api.client, "dana", PASSWORD)[0] == 303


def test_parallel_guesses_cannot_overtake_the_count() -> None:
    throttle = LoginThrottle(SimulatedClock(), ThrottlePolicy(per_user=2))
    with ExitStack() as running:
        running.enter_context(throttle.attempt(user="dana", address="a"))
        running.enter_context(throttle.attempt(user="dana", address="b"))
        # Two checks still running: a third is refused before either finished.
        with pytest.raises(RateLimitedError), throttle.attempt(user="dana", address="c"):
            pass
    # Both succeeded: the count is clear again.
    with throttle.attempt(user="dana", address="c"):
        pass


def test_an_error_that_is_not_a_wrong_password_is_not_counted() -> None:
    throttle = LoginThrottle(SimulatedClock(), ThrottlePolicy(per_user=1))
    with pytest.raises(StoreError), throttle.attempt(user="dana", address="a"):
        raise StoreError("the store is down")
    with pytest.raises(AuthenticationError), throttle.attempt(user="dana", address="a"):
        raise AuthenticationError("wrong user name or password")
    with pytest.raises(RateLimitedError), throttle.attempt(user="dana", address="a"):
        pass


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(SimulatedClock(), ThrottlePolicy(max_keys=10, per_address=10**6))
    for i in range(100):
        with pytest.raises(AuthenticationError), throttle.attempt(user=f"u{i}", address="a"):
            raise AuthenticationError("wrong")
    assert len(throttle._by_key) <= 10
