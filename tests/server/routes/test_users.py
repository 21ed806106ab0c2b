"""Users and tokens through the API: admins only, tokens shown once."""

from __future__ import annotations

from tests.server.conftest import Api


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
