"""Users and tokens through the API: admins only, tokens shown once."""

from __future__ import annotations

from airsoc.audit import list_entries
from airsoc.server.auth import AUTH_CHAIN
from tests.server.conftest import PASSWORD, Api
from tests.server.test_console import login


def test_an_admin_adds_a_user_and_issues_a_token_that_works(api: Api) -> None:
    r = api.client.post(
        "/api/v1/users", json={"name": "eve", "role": "approver"}, headers=api.auth("ada")
    )
    assert r.status_code == 201
    assert r.json()["role"] == "approver"
    assert "password" not in r.text
    r = api.client.post("/api/v1/users/eve/tokens", json={"name": "ci"}, headers=api.auth("ada"))
    token = r.json()["token"]
    me = api.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["name"], me["role"]) == ("eve", "approver")
    names = [u["name"] for u in api.client.get("/api/v1/users", headers=api.auth("ada")).json()]
    assert names == ["ada", "dana", "eve", "sam", "vic"]
    assert api.client.get("/api/v1/users", headers=api.auth("sam")).status_code == 403
    r = api.client.post("/api/v1/users/nobody/tokens", json={"name": "x"}, headers=api.auth("ada"))
    assert r.status_code == 404


def test_a_disabled_user_cannot_log_in_or_use_a_token_until_enabled(api_any_store: Api) -> None:
    api = api_any_store
    assert login(api.client, "dana") == "/"
    assert api.client.get("/", follow_redirects=False).status_code == 200
    r = api.client.post("/api/v1/users/dana/disable", headers=api.auth("sam"))
    assert r.status_code == 403
    r = api.client.post("/api/v1/users/dana/disable", headers=api.auth("ada"))
    assert (r.status_code, r.json()["disabled"]) == (200, True)
    # The console session ended, the token and the password are refused.
    assert api.client.get("/", follow_redirects=False).headers["location"] == "/login?next=/"
    me = api.client.get("/api/v1/users/me", headers=api.auth("dana"))
    assert (me.status_code, me.json()["message"]) == (401, "the API token's user is disabled")
    assert "wrong user name or password" in login(api.client, "dana", PASSWORD)
    r = api.client.post("/api/v1/users/ada/disable", headers=api.auth("ada"))
    assert r.status_code == 409
    assert "last enabled admin" in r.json()["message"]
    r = api.client.post("/api/v1/users/dana/enable", headers=api.auth("ada"))
    assert (r.status_code, r.json()["disabled"]) == (200, False)
    assert api.client.get("/api/v1/users/me", headers=api.auth("dana")).json()["name"] == "dana"
    assert login(api.client, "dana") == "/"
    assert (
        api.client.post("/api/v1/users/nobody/enable", headers=api.auth("ada")).status_code == 404
    )
    with api.store.read() as s:
        changes = [
            (e.actor, e.action, e.data.get("user"))
            for e in list_entries(s, chain=AUTH_CHAIN)
            if e.action in {"user.disabled", "user.enabled"}
        ]
    assert changes == [("ada", "user.disabled", "dana"), ("ada", "user.enabled", "dana")]
