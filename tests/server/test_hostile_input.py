"""Hostile input never gets a 500: NUL and control characters, IDs beyond 64 bits, deep JSON,
oversized and endless bodies, made-up methods, and broken config files. Each is refused with a
4xx naming what was wrong (or a config error naming file and key), on SQLite and PostgreSQL, at
the API, the console and the gateway."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from airsoc import lineage as lin
from airsoc.clock import SimulatedClock
from airsoc.errors import ConfigError
from airsoc.runtime.config import load_checked_config
from airsoc.server.app import create_app
from airsoc.serving.adapters import RulesAdapter
from airsoc.serving.gateway import Gateway
from airsoc.serving.limits import RequestLimits
from airsoc.store import Store
from airsoc.telemetry import EventLog
from tests.server.conftest import PASSWORD, Api, Story, seed_operations
from tests.serving.conftest import run_requests

HUGE = "99999999999999999999"
JUST_OVER_64_BITS = 9223372036854775808
DEEP = b"[" * 1000 + b"]" * 1000


@pytest.fixture
def story(api_any_store: Api) -> Story:
    return seed_operations(api_any_store.store, api_any_store.clock)


def _api_requests(story: Story) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(user, method, path, request keywords) of every hostile API request."""
    inc = story.incident_id
    nul, bell, c1 = "a\x00b", "a\x07b", "a\x85b"
    reqs: list[tuple[str, str, str, dict[str, Any]]] = [
        ("vic", "GET", "/api/v1/incidents?system=a%00b", {}),
        ("vic", "GET", "/api/v1/incidents?system=a%01b", {}),
        ("vic", "GET", "/api/v1/monitors?system=a%00b", {}),
        ("vic", "GET", "/api/v1/signals?monitor=a%00b", {}),
        ("vic", "GET", "/api/v1/alerts?system=%00", {}),
        ("vic", "GET", "/api/v1/batches?source=a%00b", {}),
        ("vic", "GET", "/api/v1/monitors/a%00b/signals", {}),
        ("vic", "GET", "/api/v1/taxonomy/failure-modes/a%00b", {}),
        ("vic", "GET", f"/api/v1/systems/{story.system}/last-known-good?before_batch=%00", {}),
        ("dana", "GET", f"/api/v1/incidents/{inc}/evidence/1/content?purpose=a%00", {}),
        ("vic", "GET", f"/api/v1/incidents/{HUGE}", {}),
        ("vic", "GET", f"/api/v1/incidents/{HUGE}/timeline", {}),
        ("vic", "GET", f"/api/v1/playbook-runs/{HUGE}", {}),
        ("vic", "GET", f"/api/v1/postmortems/{HUGE}", {}),
        ("vic", "GET", f"/api/v1/playbook-runs?incident_id={HUGE}", {}),
        ("sam", "POST", f"/api/v1/approvals/{HUGE}/approve", {"json": {"reason": "ok"}}),
        (
            "dana",
            "POST",
            f"/api/v1/incidents/{inc}/merge",
            {"json": {"into": JUST_OVER_64_BITS, "reason": "dup"}},
        ),
        (
            "dana",
            "PATCH",
            f"/api/v1/incidents/{inc}",
            {"json": {"changes": {"related_incidents": [JUST_OVER_64_BITS]}}},
        ),
    ]
    for text in (nul, bell, c1):
        reqs += [
            (
                "dana",
                "POST",
                "/api/v1/incidents",
                {"json": {"system": text, "failure_mode": "data_drift", "summary": "s"}},
            ),
            (
                "dana",
                "POST",
                "/api/v1/incidents",
                {"json": {"system": "s", "failure_mode": "data_drift", "summary": text}},
            ),
            (
                "dana",
                "POST",
                "/api/v1/incidents",
                {
                    "json": {
                        "system": "s",
                        "failure_mode": "data_drift",
                        "summary": "s",
                        "labels": {text: "v"},
                    }
                },
            ),
            ("dana", "POST", f"/api/v1/incidents/{inc}/notes", {"json": {"text": text}}),
            (
                "dana",
                "PATCH",
                f"/api/v1/incidents/{inc}",
                {"json": {"changes": {"impact": {"notes": text}}, "reason": text}},
            ),
            (
                "dana",
                "POST",
                f"/api/v1/incidents/{inc}/transitions",
                {"json": {"to": "triaged", "reason": text}},
            ),
            (
                "dana",
                "POST",
                f"/api/v1/incidents/{inc}/roles",
                {"json": {"role": "scribe", "person": text}},
            ),
            (
                "dana",
                "POST",
                f"/api/v1/incidents/{inc}/findings",
                {"json": {"title": "t", "detail": text}},
            ),
            (
                "sam",
                "POST",
                f"/api/v1/approvals/{story.approval_id}/approve",
                {"json": {"reason": text}},
            ),
            (
                "dana",
                "POST",
                f"/api/v1/gateway/routes/{story.system}/isolate",
                {"json": {"reason": text}},
            ),
            (
                "dana",
                "POST",
                f"/api/v1/gateway/retrieval/{story.system}/remove-document",
                {"json": {"reason": "r", "document": text}},
            ),
            ("ada", "POST", "/api/v1/users/dana/tokens", {"json": {"name": text}}),
            (
                "dana",
                "POST",
                f"/api/v1/incidents/{inc}/evidence",
                {"files": {"file": ("e.txt", b"x")}, "data": {"source": text}},
            ),
        ]
    reqs.append(
        ("dana", "POST", "/api/v1/incidents", {"content": DEEP, "headers": _JSON}),
    )
    return reqs


_JSON = {"content-type": "application/json"}


def test_hostile_api_requests_get_a_located_4xx(api_any_store: Api, story: Story) -> None:
    api = api_any_store
    api.client.cookies.clear()
    failures = []
    for user, method, path, kwargs in _api_requests(story):
        headers = {**api.auth(user), **kwargs.pop("headers", {})}
        r = api.client.request(method, path, headers=headers, **kwargs)
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        if not 400 <= r.status_code < 500 or not body.get("message"):
            failures.append(f"{method} {path} {kwargs}: {r.status_code} {r.text[:200]}")
    assert failures == [], "\n".join(failures)
    # the refusal names the parameter, and a viewer's NUL query is 422, not a database error
    r = api.client.get("/api/v1/incidents?system=a%00b", headers=api.auth("vic"))
    assert (r.status_code, r.json()["loc"]) == (422, "query.system")
    assert "U+0000" in r.json()["message"]
    r = api.client.post(
        f"/api/v1/incidents/{story.incident_id}/notes",
        headers=api.auth("dana"),
        json={"text": "a\x00b"},
    )
    assert r.json()["loc"] == "body.text"
    assert r.json()["message"].startswith("body.text: contains the control character U+0000")
    # nothing hostile reached the store
    timeline = api.client.get(
        f"/api/v1/incidents/{story.incident_id}/timeline", headers=api.auth("vic")
    ).json()
    assert not any("\x00" in str(entry) for entry in timeline)


def _login(client: TestClient, user: str) -> str:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    r = client.post(
        "/login",
        data={"username": user, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    overview = client.get("/").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', overview)
    assert found
    return found.group(1)


def test_hostile_console_requests_get_an_error_page(api_any_store: Api, story: Story) -> None:
    client = api_any_store.client
    csrf = _login(client, "dana")
    inc = story.incident_id
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/incidents/{HUGE}", {}),
        ("GET", f"/incidents/{JUST_OVER_64_BITS}", {}),
        ("GET", f"/postmortems/{HUGE}", {}),
        ("GET", f"/incidents/{inc}/evidence/{HUGE}", {}),
        ("GET", "/systems/a%00b", {}),
        (
            "POST",
            f"/incidents/{inc}/transition",
            {"data": {"csrf_token": csrf, "to": "merged", "merged_into": str(JUST_OVER_64_BITS)}},
        ),
        ("POST", f"/incidents/{inc}/notes", {"data": {"csrf_token": csrf, "text": "a\x00b"}}),
        (
            "POST",
            f"/incidents/{inc}/roles",
            {"data": {"csrf_token": csrf, "role": "scribe", "person": "a\x01"}},
        ),
    ]
    failures = []
    for method, path, kwargs in requests:
        r = client.request(method, path, follow_redirects=False, **kwargs)
        if not 400 <= r.status_code < 500 or "<html" not in r.text:
            failures.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
    assert failures == [], "\n".join(failures)


def test_the_console_keeps_out_of_frames_and_scripts(api_any_store: Api) -> None:
    r = api_any_store.client.get("/login")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    # scripts only from the app's own files: no inline script, no other origin
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "style-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", r.text, flags=re.S)
    assert scripts == [""]  # the one static script, nothing inline
    assert '<script src="/static/live.js" defer>' in r.text
    assert " style=" not in r.text
    api = api_any_store.client.get("/api/v1/incidents")
    assert api.headers["x-content-type-options"] == "nosniff"
    # the HTML report under /api/ keeps its own <style>, and no frame may hold it either
    assert "style-src 'unsafe-inline'" in api.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in api.headers["content-security-policy"]


def test_bodies_over_the_limit_are_refused_before_authentication(
    store: Store, clock: SimulatedClock
) -> None:
    app = create_app(
        store.settings,
        clock=clock,
        store=store,
        limits=RequestLimits(max_body_bytes=10_000, max_upload_bytes=50_000),
    )
    with TestClient(app) as client:
        # declared too large: refused without a token and without reading the body
        r = client.post("/api/v1/incidents", content=b"{" + b" " * 20_000 + b"}", headers=_JSON)
        assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
        # no Content-Length (chunked): counted as it streams, refused when it passes the limit
        r = client.post("/api/v1/incidents", content=iter([b"[" + b"0," * 3000] * 3), headers=_JSON)
        assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
        # a console form too
        r = client.post("/login", data={"username": "x" * 20_000, "password": "p"})
        assert r.status_code == 413
        # and a made-up method is counted as "other", never by its name
        client.request("FOOBAR", "/api/v1/incidents")
        metrics = client.get("/metrics").text
        assert 'method="other"' in metrics
        assert "FOOBAR" not in metrics


def test_evidence_over_the_upload_cap_is_refused_and_nothing_is_stored(
    api_any_store: Api, story: Story, tmp_path: Path
) -> None:
    api = api_any_store
    app = create_app(
        api.store.settings,
        clock=api.clock,
        store=api.store,
        limits=RequestLimits(max_body_bytes=10_000, max_upload_bytes=200_000),
    )
    evidence = api.store.settings.evidence_dir
    before = sorted(evidence.rglob("*")) if evidence.exists() else []
    with TestClient(app) as client:
        r = client.post(
            f"/api/v1/incidents/{story.incident_id}/evidence",
            headers=api.auth("dana"),
            files={"file": ("big.bin", b"\x00" * 300_000)},
            data={"source": "disk"},
        )
        assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
        after = sorted(evidence.rglob("*")) if evidence.exists() else []
        assert after == before
        # under the cap (and over the JSON limit) it is stored
        r = client.post(
            f"/api/v1/incidents/{story.incident_id}/evidence",
            headers=api.auth("dana"),
            files={"file": ("ok.bin", b"\x01" * 150_000)},
            data={"source": "disk"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["size"] == 150_000


# ------------------------------------------------------------------------------ gateway


@pytest.fixture
def gateway(store: Store, clock: SimulatedClock, tmp_path: Path) -> Iterator[Gateway]:
    with store.transaction() as s:
        lin.register_system(
            s, clock=clock, actor="ci", name="fraud", kind="tabular-classifier", owner="risk"
        )
        lin.register_model_version(
            s,
            clock=clock,
            actor="ci",
            system="fraud",
            version="v1",
            artifact_uri="mem://v1",
            sha256="1" * 64,
            input_schema={"amount": "number", "note": "string"},
        )
    gw = Gateway(
        store=store,
        clock=clock,
        event_log=EventLog(tmp_path / "telemetry", flush_interval=0.05),
        owns_event_log=True,
        max_body_bytes=50_000,
        adapter_factory=lambda m: RulesAdapter(lambda row: (1, 0.9), features=m.input_schema),
    )
    gw.promote("fraud", "v1", actor="ci", reason="release")
    yield gw
    gw.close()


_GATEWAY_PATHS = ("/v1/systems/fraud/predict", "/v1/systems/fraud/labels", "/v1/chat/completions")


def _gateway_requests() -> list[tuple[str, dict[str, Any]]]:
    reqs: list[tuple[str, dict[str, Any]]] = []
    for path in _GATEWAY_PATHS:
        reqs += [
            (path, {"content": DEEP, "headers": _JSON}),
            (path, {"content": b'{"rows": ' + DEEP + b"}", "headers": _JSON}),
            (path, {"content": b"[" * 100_000, "headers": _JSON}),
            (path, {"content": b'{"a": "' + b"x" * 60_000 + b'"}'}),
            (path, {"chunks": [b'{"a": "', b"x" * 30_000, b"x" * 30_000, b'"}']}),
        ]
    row = {"amount": 1.0, "note": "a\x00b"}
    reqs += [
        ("/v1/systems/fraud/predict", {"json": {"rows": [row]}}),
        ("/v1/systems/fraud/predict", {"json": {"rows": [{"amount": 1.0, "note": "\x1b[2J"}]}}),
        (
            "/v1/systems/fraud/labels",
            {"json": {"labels": [{"request_id": "x", "label": 1, "row_index": 2147483648}]}},
        ),
        (
            "/v1/systems/fraud/labels",
            {"content": b'{"labels": [{"request_id": "\\ud800", "label": 1}]}', "headers": _JSON},
        ),
        ("/v1/systems/fraud/labels", {"json": {"labels": [{"request_id": "a\x00", "label": 1}]}}),
        (
            "/v1/chat/completions",
            {"json": {"model": "fraud", "messages": [{"role": "user", "content": "\x00"}]}},
        ),
        ("/v1/chat/completions", {"json": {"model": "a\x00b", "messages": [{"role": "u"}]}}),
    ]
    return reqs


async def _stream(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def test_hostile_gateway_requests_get_a_4xx_and_the_gateway_keeps_serving(
    gateway: Gateway,
) -> None:
    async def calls(client: httpx.AsyncClient) -> list[tuple[str, httpx.Response]]:
        out = []
        for path, kwargs in _gateway_requests():
            if "chunks" in kwargs:  # no Content-Length: the gateway counts what streams in
                kwargs = {"content": _stream(kwargs.pop("chunks"))}
            out.append((path, await client.post(path, **kwargs)))
        good = await client.post(
            "/v1/systems/fraud/predict", json={"rows": [{"amount": 1.0, "note": "tab\tok"}]}
        )
        out.append(("good", good))
        return out

    results = run_requests(gateway, calls)
    good = results.pop()[1]
    failures = [
        f"{path}: {r.status_code} {r.text[:200]}"
        for path, r in results
        if not 400 <= r.status_code < 500
    ]
    assert failures == [], "\n".join(failures)
    assert good.status_code == 200, good.text
    by_status = {r.status_code for _, r in results}
    assert by_status <= {400, 404, 413, 422}
    deep = dict(results[:1])["/v1/systems/fraud/predict"].json()
    assert deep == {
        "code": "input_invalid",
        "message": "the JSON body nests arrays and objects deeper than 64 levels",
        "loc": "body",
    }
    chat = [r for path, r in results if path == "/v1/chat/completions"]
    assert all("error" in r.json() for r in chat)  # OpenAI's shape, even for a refusal


# ------------------------------------------------------------------------------ config

_BAD_CONFIGS: list[tuple[str, str, dict[str, str], str]] = [
    ("empty", "", {}, "defines nothing"),
    ("comment only", "# systems: {}\n", {}, "defines nothing"),
    (
        "unknown detector",
        "systems: {s: {kind: tabular-classifier, owner: o}}\n"
        "monitors: [{name: m, system: s, detector: nosuchdetector, window: 1h, every: 5m}]\n",
        {},
        "monitors[0].detector",
    ),
    (
        "threshold without a metric",
        "systems: {s: {kind: tabular-classifier, owner: o}}\n"
        "monitors: [{name: m, system: s, detector: threshold, window: 1h, every: 5m}]\n",
        {},
        "monitors[0].metric",
    ),
    (
        "condition syntax in a rule",
        "incident_rules: [{when: 'failure_mode == '}]\n",
        {},
        "incident_rules[0].when",
    ),
    (
        "condition syntax in a playbook",
        "playbooks: [playbooks/*.yaml]\n",
        {
            "playbooks/x.yaml": (
                "name: x\non: {failure_mode: data_drift}\nsteps:\n"
                "  - {id: a, action: notify, with: {receiver: r}}\n"
                "  - {id: b, action: notify, with: {receiver: r},\n"
                "     when: \"severity == == 'sev1'\"}\n"
            )
        },
        "x.yaml: steps[1].when",
    ),
    (
        "alias bomb",
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "systems: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
        {},
        "",
    ),
]


@pytest.mark.parametrize(
    ("text", "files", "where"),
    [c[1:] for c in _BAD_CONFIGS],
    ids=[c[0] for c in _BAD_CONFIGS],
)
def test_broken_configs_are_refused_with_their_location(
    tmp_path: Path, text: str, files: dict[str, str], where: str
) -> None:
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    path = tmp_path / "airsoc.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_checked_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert where in message
    assert len(message) < 2000  # a located error, never a dump of what the file expands to
