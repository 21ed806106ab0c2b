"""Every mutating route, found in the app's route table, refuses a viewer with a clear 403."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from airsoc.server.app import create_app
from airsoc.server.console import CSRF_FIELD
from tests.server.conftest import PASSWORD, Api

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
#: Mutating routes anyone may call, and why.
PUBLIC = {("POST", "/login"): "logging in is how a user gets a session"}
#: Telemetry intake: the ingest role and every role above it may send.
INTAKE = {
    ("POST", "/v1/traces"): "OTLP traces from apps",
    ("POST", "/api/v1/scan"): "inline scans by apps, with their service token",
}


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """Return (method, path) of every endpoint, routers included, as the app serves them."""
    found = []
    for route in iter_route_contexts(app.routes):
        if route.path is not None and route.methods and route.endpoint is not None:
            found += [(m, route.path) for m in sorted(route.methods)]
    return found


def mutating_routes(api: Api) -> list[tuple[str, str]]:
    return [(m, p) for m, p in route_table(api.app) if m in MUTATING]


def fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def console_login(api: Api, user: str) -> str:
    page = api.client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    r = api.client.post(
        "/login",
        data={"username": user, "password": PASSWORD, CSRF_FIELD: token.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    overview = api.client.get("/").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', overview)
    assert csrf
    return csrf.group(1)


def test_a_viewer_is_refused_on_every_mutating_route(api: Api) -> None:
    routes = mutating_routes(api)
    api_routes = [(m, p) for m, p in routes if p.startswith("/api/")]
    console_routes = [(m, p) for m, p in routes if not p.startswith("/api/")]
    assert len(api_routes) >= 14
    assert len(console_routes) >= 6
    for method, path in api_routes:
        if (method, path) in INTAKE:
            continue
        r = api.client.request(method, fill(path), json={}, headers=api.auth("vic"))
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        body = r.json()
        assert body["code"] == "permission_denied", (method, path)
        assert re.match(r"vic is a viewer; to .+ needs the \w+ role or higher", body["message"])

    csrf = console_login(api, "vic")
    for method, path in console_routes:
        if (method, path) in PUBLIC or (method, path) in INTAKE:
            continue
        if path == "/logout":  # every role may log out; checked below with a wrong CSRF token
            continue
        r = api.client.request(method, fill(path), data={CSRF_FIELD: csrf}, follow_redirects=False)
        assert r.status_code == 403, (method, path, r.status_code)
        assert "vic is a viewer; to change" in r.text, (method, path)


def test_without_a_token_every_api_route_answers_401(api: Api) -> None:
    checked = 0
    for method, path in route_table(api.app):
        if path.startswith("/api/") and method != "HEAD":
            r = api.client.request(method, fill(path), json={})
            assert r.status_code == 401, (method, path)
            assert r.headers["www-authenticate"] == "Bearer"
            checked += 1
    assert checked >= 25


def test_a_console_form_without_the_csrf_token_is_refused(api: Api) -> None:
    console_login(api, "dana")
    r = api.client.post(
        "/incidents/1/notes", data={"text": "hi", CSRF_FIELD: "forged"}, follow_redirects=False
    )
    assert r.status_code == 403
    assert "CSRF token is missing or stale" in r.text
    r = api.client.post("/logout", data={}, follow_redirects=False)
    assert r.status_code == 403


def test_the_route_table_lists_what_the_app_factory_was_given(api: Api) -> None:
    bare = create_app(api.store.settings, clock=api.clock, store=api.store, routers=())
    paths = {p for _m, p in route_table(bare)}
    assert not any(p.startswith("/api/") for p in paths)
    assert "/healthz" in paths
    assert "/" in paths


def test_an_ingest_token_is_refused_on_every_api_route(api: Api) -> None:
    from airsoc.server.auth import add_user, issue_token

    with api.store.transaction() as s:
        add_user(s, clock=api.clock, name="otel", role="ingest", actor="setup")
        token = issue_token(s, clock=api.clock, user="otel", name="app", actor="setup").token
    checked = 0
    for method, path in route_table(api.app):
        if path.startswith("/api/") and method != "HEAD" and (method, path) not in INTAKE:
            r = api.client.request(
                method, fill(path), json={}, headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 403, (method, path, r.status_code)
            assert (
                "otel is a ingest; to use the API beyond sending telemetry" in r.json()["message"]
            )
            checked += 1
    assert checked >= 30
