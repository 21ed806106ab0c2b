"""The gateway over HTTP: predictions, routing modes, bad input, client limits, labels, logging."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from airsoc import lineage as lin
from airsoc.serving import control
from airsoc.serving.app import create_app
from airsoc.serving.testing import FakeChatUpstream, serve_in_thread
from airsoc.telemetry import read_events

from .conftest import ROW, CountingFactory, Registry, make_gateway, run_requests


def test_predict_answers_from_the_real_model_and_logs_every_row(
    registry: Registry, tmp_path: Path
) -> None:
    gateway = make_gateway(registry, tmp_path)
    gateway.promote("fraud", "v1", actor="ci", reason="first release")
    low = {"amount": 20.0, "age": 30, "hour": 12}

    async def calls(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(
            "/v1/systems/fraud/predict",
            json={"rows": [ROW, low]},
            headers={"X-Client-ID": "shop-1", "X-Request-ID": "req-1"},
        )

    response = run_requests(gateway, calls)
    assert response.status_code == 200
    body = response.json()
    assert (body["version"], body["mode"], body["predictions"]) == ("v1", "primary", [1, 0])
    assert body["scores"][0] > 0.5 > body["scores"][1]
    assert response.headers["x-airsoc-version"] == "v1"
    gateway.close()
    events = read_events(tmp_path / "telemetry", "prediction", system="fraud").to_pylist()
    assert [(e["request_id"], e["row_index"], e["version"], e["client_id"]) for e in events] == [
        ("req-1", 0, "v1", "shop-1"),
        ("req-1", 1, "v1", "shop-1"),
    ]
    assert json.loads(events[1]["inputs"]) == low
    assert events[0]["latency_ms"] > 0


def test_rows_sent_column_by_column_get_the_same_answer_and_log(
    registry: Registry, tmp_path: Path
) -> None:
    gateway = make_gateway(registry, tmp_path)
    gateway.promote("fraud", "v1", actor="ci", reason="first release")
    low = {"amount": 20.0, "age": 30, "hour": 12}
    columns = {name: [ROW[name], low[name]] for name in ROW}

    async def calls(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        by_rows = await client.post(
            "/v1/systems/fraud/predict",
            json={"rows": [ROW, low]},
            headers={"X-Request-ID": "req-rows"},
        )
        by_columns = await client.post(
            "/v1/systems/fraud/predict",
            json={"columns": columns},
            headers={"X-Request-ID": "req-columns"},
        )
        return by_rows, by_columns

    by_rows, by_columns = run_requests(gateway, calls)
    gateway.close()
    assert by_columns.status_code == 200
    for key in ("predictions", "scores", "version"):
        assert by_columns.json()[key] == by_rows.json()[key]
    events = read_events(tmp_path / "telemetry", "prediction", system="fraud").to_pylist()
    logged = {
        (e["request_id"], e["row_index"]): json.loads(e["inputs"])
        for e in events
        if e["request_id"] == "req-columns"
    }
    assert logged == {("req-columns", 0): ROW, ("req-columns", 1): low}


BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str, str]] = [
    (
        "malformed json",
        {"content": b'{"rows": [', "headers": {"content-type": "application/json"}},
        400,
        "malformed_request",
        "not valid JSON",
    ),
    (
        "NaN literal",
        {"content": b'{"rows": [{"amount": NaN, "age": 1, "hour": 1}]}'},
        400,
        "malformed_request",
        "NaN",
    ),
    (
        "wrong feature name",
        {"json": {"rows": [{"amount": 1.0, "agee": 3, "hour": 1}]}},
        422,
        "input_invalid",
        "missing feature(s) age; unknown feature(s) agee",
    ),
    (
        "wrong type",
        {"json": {"rows": [ROW, {"amount": "12", "age": 3, "hour": 1}]}},
        422,
        "input_invalid",
        "rows[1].amount: expected a number, got '12'",
    ),
    (
        "bool is not a number",
        {"json": {"rows": [{"amount": True, "age": 3, "hour": 1}]}},
        422,
        "input_invalid",
        "rows[0].amount",
    ),
    (
        "float for integer",
        {"json": {"rows": [{"amount": 1.0, "age": 3, "hour": 1.5}]}},
        422,
        "input_invalid",
        "rows[0].hour: expected an integer",
    ),
    ("not rows", {"json": [ROW]}, 422, "input_invalid", '"rows"'),
    (
        "rows and columns",
        {"json": {"rows": [ROW], "columns": {"amount": [1.0]}}},
        422,
        "input_invalid",
        '"columns"',
    ),
    (
        "columns of two lengths",
        {"json": {"columns": {"amount": [1.0, 2.0], "age": [3], "hour": [1]}}},
        422,
        "input_invalid",
        "columns: every column must have one length, got amount: 2, age: 1, hour: 1",
    ),
    (
        "wrong type in a column",
        {"json": {"columns": {"amount": [1.0, "12"], "age": [3, 4], "hour": [1, 2]}}},
        422,
        "input_invalid",
        "columns.amount[1]: expected a number, got '12'",
    ),
    (
        "column missing",
        {"json": {"columns": {"amount": [1.0], "hour": [1]}}},
        422,
        "input_invalid",
        "columns: missing feature(s) age",
    ),
    (
        "column not a list",
        {"json": {"columns": {"amount": 1.0, "age": [3], "hour": [1]}}},
        422,
        "input_invalid",
        "columns.amount: expected a list of values, got float",
    ),
    (
        "too many rows in columns",
        {"json": {"columns": {"amount": [1.0] * 11, "age": [3] * 11, "hour": [1] * 11}}},
        422,
        "input_invalid",
        "at most 10 rows",
    ),
    ("empty rows", {"json": {"rows": []}}, 422, "input_invalid", "non-empty"),
    ("too many rows", {"json": {"rows": [ROW] * 11}}, 422, "input_invalid", "at most 10 rows"),
    ("oversized body", {"content": b" " * 5000}, 413, "payload_too_large", "at most 4096"),
]


@pytest.mark.parametrize(
    ("name", "request_kwargs", "status", "code", "message"),
    BAD_REQUESTS,
    ids=[b[0] for b in BAD_REQUESTS],
)
def test_bad_input_gets_a_clear_4xx_and_never_reaches_the_model(
    registry: Registry,
    tmp_path: Path,
    name: str,
    request_kwargs: dict[str, Any],
    status: int,
    code: str,
    message: str,
) -> None:
    factory = CountingFactory()
    gateway = make_gateway(
        registry, tmp_path, adapter_factory=factory, max_rows=10, max_body_bytes=4096
    )
    gateway.promote("fraud", "v1", actor="ci", reason="release")

    async def calls(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        bad = await client.post("/v1/systems/fraud/predict", **request_kwargs)
        good = await client.post("/v1/systems/fraud/predict", json={"rows": [ROW]})
        return bad, good

    bad, good = run_requests(gateway, calls)
    gateway.close()
    assert bad.status_code == status
    error = bad.json()
    assert error["code"] == code
    assert message in (f"{error['loc']}: " if "loc" in error else "") + error["message"]
    # the model saw only the good request, and the gateway kept serving
    assert factory.calls() == {"v1": 1}
    assert good.status_code == 200


def test_unknown_and_unrouted_systems_are_404(registry: Registry, tmp_path: Path) -> None:
    gateway = make_gateway(registry, tmp_path)

    async def calls(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.post("/v1/systems/ghost/predict", json={"rows": [ROW]}),
            await client.post("/v1/systems/fraud/labels", json={"labels": []}),
        ]

    ghost, unrouted = run_requests(gateway, calls)
    gateway.close()
    assert ghost.status_code == unrouted.status_code == 404
    assert ghost.json() == {
        "code": "not_found",
        "message": "system 'ghost' is not served by this gateway",
    }


def test_canary_and_shadow_shares_hold_over_10k_requests(
    registry: Registry, tmp_path: Path
) -> None:
    factory = CountingFactory()
    gateway = make_gateway(registry, tmp_path, adapter_factory=factory)
    gateway.promote("fraud", "v1", actor="ci", reason="release")
    gateway.change(
        control.set_canary,
        system="fraud",
        version="v2",
        share=0.2,
        actor="ci",
        reason="try v2 on a fifth",
    )
    n = 10_000

    async def send(client: httpx.AsyncClient) -> list[str]:
        versions = []
        for i in range(n):
            r = await client.post(
                "/v1/systems/fraud/predict", json={"rows": [ROW]}, headers={"X-Request-ID": f"c{i}"}
            )
            versions.append(r.json()["version"])
        return versions

    versions = run_requests(gateway, send)
    canary = versions.count("v2")
    sigma = (n * 0.2 * 0.8) ** 0.5
    assert abs(canary - n * 0.2) < 4 * sigma
    assert factory.calls() == {"v1": n - canary, "v2": canary}

    gateway.change(
        control.set_shadow,
        system="fraud",
        version="v2",
        actor="ci",
        reason="mirror a third",
        share=0.3,
    )
    before = factory.calls()
    answered = run_requests(gateway, send)
    mirrored = factory.calls()["v2"] - before["v2"]
    assert set(answered) == {"v1"}
    assert factory.calls()["v1"] - before["v1"] == n
    assert abs(mirrored - n * 0.3) < 4 * (n * 0.3 * 0.7) ** 0.5
    gateway.close()
    events = read_events(tmp_path / "telemetry", "prediction").to_pylist()
    shadow_rows = [e for e in events if e["role"] == "shadow"]
    assert len(shadow_rows) == mirrored
    assert {e["version"] for e in shadow_rows} == {"v2"}
    assert len(events) == 2 * n + mirrored


@pytest.mark.parametrize(
    ("fallback", "status", "expected"),
    [
        (None, 200, {"fallback": "scripted", "message": "Your payment is being reviewed."}),
        ({"type": "human_handoff"}, 202, {"fallback": "human_handoff"}),
        (
            {"type": "rules", "path": "rules.py:score"},
            200,
            {"fallback": "rules", "predictions": ["review"]},
        ),
    ],
    ids=["scripted", "human_handoff", "rules"],
)
def test_fallback_answers_without_touching_the_model(
    registry: Registry,
    tmp_path: Path,
    fallback: dict[str, Any] | None,
    status: int,
    expected: dict[str, Any],
) -> None:
    (tmp_path / "rules.py").write_text("def score(row):\n    return 'review', 0.9\n")
    factory = CountingFactory()
    gateway = make_gateway(registry, tmp_path, adapter_factory=factory, base_dir=tmp_path)
    gateway.promote("fraud", "v1", actor="ci", reason="release")
    gateway.change(
        control.set_fallback,
        system="fraud",
        actor="oncall",
        reason="evasion attack",
        **(fallback or {}),
    )

    async def calls(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.post(
                "/v1/systems/fraud/predict", json={"rows": [ROW]}, headers={"X-Request-ID": f"f{i}"}
            )
            for i in range(20)
        ]

    responses = run_requests(gateway, calls)
    assert factory.calls() == {"v1": 0}
    assert {r.status_code for r in responses} == {status}
    body = responses[0].json()
    assert {k: body[k] for k in expected} == expected
    with registry.store.read() as s:
        parked = control.list_handoffs(s, system="fraud")
    assert len(parked) == (20 if fallback and fallback["type"] == "human_handoff" else 0)
    gateway.change(control.restore, system="fraud", actor="oncall", reason="attack over")
    after = run_requests(
        gateway, lambda c: c.post("/v1/systems/fraud/predict", json={"rows": [ROW]})
    )
    assert after.json()["mode"] == "primary"
    assert factory.calls() == {"v1": 1}
    gateway.close()


def test_isolated_refuses_with_503_and_never_touches_the_model(
    registry: Registry, tmp_path: Path
) -> None:
    factory = CountingFactory()
    gateway = make_gateway(registry, tmp_path, adapter_factory=factory)
    gateway.promote("fraud", "v1", actor="ci", reason="release")
    gateway.change(
        control.isolate, system="fraud", actor="oncall", reason="model extraction in progress"
    )

    async def calls(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.post("/v1/systems/fraud/predict", json={"rows": [ROW]}) for _ in range(50)
        ]

    responses = run_requests(gateway, calls)
    gateway.close()
    assert {r.status_code for r in responses} == {503}
    assert responses[0].json()["code"] == "system_unavailable"
    assert "isolated" in responses[0].json()["message"]
    assert factory.calls() == {"v1": 0}
    statuses = read_events(tmp_path / "telemetry", "prediction").column("status").to_pylist()
    assert statuses == ["refused"] * 50


def test_blocked_and_rate_limited_clients_are_refused(registry: Registry, tmp_path: Path) -> None:
    factory = CountingFactory()
    gateway = make_gateway(registry, tmp_path, adapter_factory=factory)
    gateway.promote("fraud", "v1", actor="ci", reason="release")
    gateway.change(
        control.block_client, client_id="scraper", actor="soc", reason="extraction pattern"
    )
    gateway.change(
        control.limit_client,
        client_id="busy",
        rate_per_second=2.0,
        burst=3,
        actor="soc",
        reason="probing",
    )

    async def burst(client: httpx.AsyncClient) -> list[int]:
        return [
            (
                await client.post(
                    "/v1/systems/fraud/predict", json={"rows": [ROW]}, headers={"X-Client-ID": who}
                )
            ).status_code
            for who in ["scraper"] + ["busy"] * 5 + ["other"]
        ]

    assert run_requests(gateway, burst) == [403, 200, 200, 200, 429, 429, 200]
    registry.clock.advance(timedelta(seconds=1))  # two more tokens
    assert run_requests(gateway, burst)[1:4] == [200, 200, 429]
    gateway.change(
        control.unblock_client, client_id="scraper", actor="soc", reason="false positive"
    )
    assert run_requests(gateway, burst)[0] == 200
    gateway.close()
    assert factory.calls()["v1"] == 4 + 2 + 1 + 1 + 1


def test_delayed_labels_are_logged_by_request_id(registry: Registry, tmp_path: Path) -> None:
    gateway = make_gateway(registry, tmp_path)
    gateway.promote("fraud", "v1", actor="ci", reason="release")

    async def calls(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.post(
                "/v1/systems/fraud/labels",
                json={
                    "labels": [
                        {"request_id": "req-1", "label": 1},
                        {"request_id": "req-2", "label": 0, "row_index": 2},
                    ]
                },
            ),
            await client.post(
                "/v1/systems/fraud/labels",
                json={"labels": [{"request_id": "req-3", "row_index": -1, "label": 1}]},
            ),
        ]

    ok, bad = run_requests(gateway, calls)
    gateway.close()
    assert (ok.status_code, ok.json()) == (202, {"accepted": 2})
    assert (bad.status_code, bad.json()["loc"]) == (422, "labels[0].row_index")
    labels = read_events(tmp_path / "telemetry", "label", system="fraud").to_pylist()
    assert [(e["request_id"], e["row_index"], e["label"]) for e in labels] == [
        ("req-1", 0, "1"),
        ("req-2", 2, "0"),
    ]


def test_labels_sent_column_by_column_are_logged_and_a_bad_one_is_named(
    registry: Registry, tmp_path: Path
) -> None:
    gateway = make_gateway(registry, tmp_path)
    gateway.promote("fraud", "v1", actor="ci", reason="release")
    columns = {"request_id": ["req-1", "req-2"], "row_index": [0, 2], "label": [1, 0]}

    async def calls(client: httpx.AsyncClient) -> list[httpx.Response]:
        path = "/v1/systems/fraud/labels"
        return [
            await client.post(path, json={"columns": columns}),
            await client.post(path, json={"columns": {**columns, "row_index": [0, -1]}}),
            await client.post(path, json={"columns": {**columns, "request_id": ["req-1"]}}),
            await client.post(path, json={"columns": {"request_id": ["r"]}}),
        ]

    ok, negative, short, no_label = run_requests(gateway, calls)
    gateway.close()
    assert (ok.status_code, ok.json()) == (202, {"accepted": 2})
    assert (negative.status_code, negative.json()["loc"]) == (422, "columns.row_index[1]")
    assert short.status_code == 422
    assert "one length" in short.json()["message"]
    assert (no_label.status_code, no_label.json()["loc"]) == (422, "columns")
    labels = read_events(tmp_path / "telemetry", "label", system="fraud").to_pylist()
    assert [(e["request_id"], e["row_index"], e["label"]) for e in labels] == [
        ("req-1", 0, "1"),
        ("req-2", 2, "0"),
    ]


def test_chat_completions_work_with_the_official_openai_client(
    registry: Registry, tmp_path: Path
) -> None:
    upstream = FakeChatUpstream(reply="Refunds are accepted for 30 days.")
    with serve_in_thread(upstream.app) as upstream_url:
        with registry.store.transaction() as s:
            lin.register_system(
                s, clock=registry.clock, actor="a", name="support-bot", kind="llm-app", owner="cx"
            )
            lin.register_model_version(
                s,
                clock=registry.clock,
                actor="ci",
                system="support-bot",
                version="small-1",
                framework="openai",
                artifact_uri=f"{upstream_url}/v1",
                sha256="a" * 64,
                params={"model": "tiny-chat"},
            )
        gateway = make_gateway(registry, tmp_path)
        gateway.promote("support-bot", "small-1", actor="ci", reason="launch")
        with (
            serve_in_thread(create_app(gateway)) as url,
            openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0) as client,
        ):
            messages: Any = [{"role": "user", "content": "Can I return my order?"}]
            answer = client.chat.completions.create(model="support-bot", messages=messages)
            assert answer.choices[0].message.content == "Refunds are accepted for 30 days."
            assert answer.usage is not None
            assert answer.usage.prompt_tokens == 5
            assert upstream.requests[-1]["model"] == "tiny-chat"

            gateway.change(
                control.set_fallback,
                system="support-bot",
                actor="oncall",
                reason="hallucinated policy",
                type="scripted",
                message="Please see our FAQ.",
            )
            scripted = client.chat.completions.create(model="support-bot", messages=messages)
            assert scripted.choices[0].message.content == "Please see our FAQ."
            streamed = list(
                client.chat.completions.create(model="support-bot", messages=messages, stream=True)
            )
            assert [c.choices[0].finish_reason for c in streamed][-1] == "stop"
            assert "".join(c.choices[0].delta.content or "" for c in streamed) == (
                "Please see our FAQ."
            )

            gateway.change(
                control.isolate, system="support-bot", actor="oncall", reason="prompt injection"
            )
            with pytest.raises(openai.APIStatusError) as refused:
                client.chat.completions.create(model="support-bot", messages=messages)
            assert refused.value.status_code == 503
            assert refused.value.code == "system_unavailable"

            with pytest.raises(openai.NotFoundError):
                client.chat.completions.create(model="no-such-bot", messages=messages)
    assert len(upstream.requests) == 1  # fallback and isolation never reached the upstream
    turns = read_events(tmp_path / "telemetry", "llm_turn", system="support-bot").to_pylist()
    assert [(t["mode"], t["status"]) for t in turns] == [
        ("primary", "ok"),
        ("fallback", "scripted"),
        ("fallback", "scripted"),
        ("isolated", "refused"),
    ]
    assert json.loads(turns[0]["messages"]) == messages
    assert turns[0]["completion_tokens"] == 6


def test_a_failing_chat_upstream_is_a_502_in_openai_shape(
    registry: Registry, tmp_path: Path
) -> None:
    upstream = FakeChatUpstream(status_code=500)
    with serve_in_thread(upstream.app) as upstream_url:
        with registry.store.transaction() as s:
            lin.register_system(
                s, clock=registry.clock, actor="a", name="bot", kind="llm-app", owner="cx"
            )
            lin.register_model_version(
                s,
                clock=registry.clock,
                actor="ci",
                system="bot",
                version="m1",
                framework="openai",
                artifact_uri=f"{upstream_url}/v1",
                sha256="a" * 64,
            )
        gateway = make_gateway(registry, tmp_path)
        gateway.promote("bot", "m1", actor="ci", reason="launch")
        response = run_requests(
            gateway,
            lambda c: c.post(
                "/v1/chat/completions",
                json={"model": "bot", "messages": [{"role": "user", "content": "hi"}]},
            ),
        )
        gateway.close()
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "gateway_error"
    assert "answered HTTP 500" in response.json()["error"]["message"]


def test_without_a_trusted_header_the_peer_address_is_the_client(
    registry: Registry, tmp_path: Path
) -> None:
    gateway = make_gateway(
        registry, tmp_path, adapter_factory=CountingFactory(), client_id_header=None
    )
    gateway.promote("fraud", "v1", actor="ci", reason="release")
    gateway.change(control.block_client, client_id="127.0.0.1", actor="soc", reason="scraping")
    response = run_requests(
        gateway,
        lambda c: c.post(
            "/v1/systems/fraud/predict", json={"rows": [ROW]}, headers={"X-Client-ID": "innocent"}
        ),
    )
    gateway.close()
    assert (response.status_code, response.json()["code"]) == (403, "client_blocked")


def test_a_bad_label_deep_in_a_batch_is_named_and_the_batch_is_not_logged(
    registry: Registry, tmp_path: Path
) -> None:
    gateway = make_gateway(registry, tmp_path)
    gateway.promote("fraud", "v1", actor="ci", reason="release")
    good = [{"request_id": f"req-{i}", "row_index": i % 7, "label": i % 2} for i in range(3000)]

    async def calls(client: httpx.AsyncClient) -> list[httpx.Response]:
        out = [await client.post("/v1/systems/fraud/labels", json={"labels": good})]
        for problem in ({"request_id": ""}, {"row_index": True}, {"label": None}):
            labels = [dict(item) for item in good]
            labels[1234].update(problem)
            if problem == {"label": None}:
                del labels[1234]["label"]
            out.append(await client.post("/v1/systems/fraud/labels", json={"labels": labels}))
        surrogate = [dict(item) for item in good]
        surrogate[2999]["request_id"] = "req-\ud800"
        body = json.dumps({"labels": surrogate})  # the lone surrogate as a JSON escape
        out.append(
            await client.post(
                "/v1/systems/fraud/labels",
                content=body,
                headers={"content-type": "application/json"},
            )
        )
        return out

    ok, empty_id, bool_row, no_label, lone = run_requests(gateway, calls)
    gateway.close()
    assert (ok.status_code, ok.json()) == (202, {"accepted": 3000})
    assert [r.status_code for r in (empty_id, bool_row, no_label, lone)] == [422] * 4
    assert empty_id.json()["loc"] == "labels[1234].request_id"
    assert bool_row.json()["loc"] == "labels[1234].row_index"
    assert no_label.json()["loc"] == "labels[1234]"
    assert lone.json()["loc"] == "body.labels[2999].request_id"  # refused on the way in
    labels = read_events(tmp_path / "telemetry", "label", system="fraud")
    assert labels.num_rows == 3000  # the accepted batch, and nothing of the refused ones
