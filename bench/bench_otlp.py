"""OTLP trace intake benchmark: spans per second through ``POST /v1/traces`` over real HTTP.

One command: ``python bench/bench_otlp.py`` (``--requests N --spans M`` to change the load).
Each request is one ``ExportTraceServiceRequest`` of M OpenInference LLM spans with captured
content (protobuf, then OTLP/JSON, gzip as exporters send it), posted to the API server
(uvicorn in a thread, SQLite store) with an ``ingest`` token; the answer comes once the turns
are on disk. The baseline, measured in the same run on the same spans, is the codec alone
(decode and normalise, no HTTP, no disk) and the event log alone (append and flush the same
turns). Prints one table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airsoc.clock import SystemClock
from airsoc.lineage import register_system
from airsoc.server.app import create_app
from airsoc.server.auth import add_user, issue_token
from airsoc.serving.testing import serve_in_thread
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.telemetry import EventLog, read_events
from airsoc.telemetry.otlp import decode_export_request, gzip_body, spans_to_turns


def _attr(key: str, value: Any) -> dict[str, Any]:
    kind = "intValue" if isinstance(value, int) else "stringValue"
    return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}


def export_json(request: int, spans: int) -> dict[str, Any]:
    """Return one OTLP/JSON export of ``spans`` OpenInference LLM spans."""
    out = []
    base = 1_767_225_600_000_000_000 + request * 10_000_000_000
    for i in range(spans):
        question = f"Request {request}.{i}: how long are backups kept for the billing database?"
        out.append(
            {
                "traceId": f"{request:016x}{i:016x}",
                "spanId": f"{i + 1:016x}",
                "name": "ChatCompletion",
                "startTimeUnixNano": str(base + i * 1_000_000),
                "endTimeUnixNano": str(base + i * 1_000_000 + 250_000_000),
                "attributes": [
                    _attr("openinference.span.kind", "LLM"),
                    _attr("llm.model_name", "gpt-4o-mini"),
                    _attr("session.id", f"s-{request}"),
                    _attr("user.id", f"u-{i % 7}"),
                    _attr("llm.input_messages.0.message.role", "system"),
                    _attr("llm.input_messages.0.message.content", "Answer from the runbook."),
                    _attr("llm.input_messages.1.message.role", "user"),
                    _attr("llm.input_messages.1.message.content", question),
                    _attr("llm.output_messages.0.message.role", "assistant"),
                    _attr("llm.output_messages.0.message.content", "Backups are kept 35 days."),
                    _attr("retrieval.documents.0.document.id", "runbook-12"),
                    _attr("llm.token_count.prompt", 31),
                    _attr("llm.token_count.completion", 7),
                ],
            }
        )
    resource = {"attributes": [_attr("service.name", "support-bot")]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": out}]}]}


def to_protobuf(body: dict[str, Any]) -> bytes:
    """Return the same export as protobuf bytes."""
    # protobuf's JSON mapping wants base64 ids; OTLP/JSON has hex.
    import base64

    from google.protobuf.json_format import ParseDict  # type: ignore[import-untyped]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    copy = json.loads(json.dumps(body))
    for rs in copy["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for key in ("traceId", "spanId"):
                    s[key] = base64.b64encode(bytes.fromhex(s[key])).decode()
    return bytes(ParseDict(copy, ExportTraceServiceRequest()).SerializeToString())


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--spans", type=int, default=50)
    args = parser.parse_args()
    bodies = [export_json(r, args.spans) for r in range(args.requests)]
    json_bodies = [gzip_body(json.dumps(b).encode()) for b in bodies]
    pb_bodies = [gzip_body(to_protobuf(b)) for b in bodies]
    total = args.requests * args.spans
    rows: list[tuple[str, float]] = []

    started = time.perf_counter()
    turns = []
    for body in pb_bodies:
        spans = decode_export_request(
            body, content_type="application/x-protobuf", content_encoding="gzip"
        )
        turns += spans_to_turns(spans, systems={"support-bot"}).turns
    rows.append(("codec only (protobuf, gzip)", time.perf_counter() - started))

    with tempfile.TemporaryDirectory() as folder:
        log = EventLog(Path(folder))
        started = time.perf_counter()
        log.extend(t.to_event() for t in turns)
        log.flush()
        rows.append(("event log only (append + flush)", time.perf_counter() - started))
        log.close()

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.resolve(data_dir=folder, environ={})
        store = Store.open(settings)
        clock = SystemClock()
        with store.transaction() as s:
            register_system(
                s, clock=clock, actor="bench", name="support-bot", kind="llm-app", owner="ml"
            )
            add_user(s, clock=clock, name="app", role="ingest", actor="bench")
            token = issue_token(s, clock=clock, user="app", name="otel", actor="bench").token
        headers = {"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"}
        app = create_app(settings, clock=clock, store=store)
        with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=120) as client:
            for label, kind, payloads in (
                ("POST /v1/traces protobuf, gzip", "application/x-protobuf", pb_bodies),
                ("POST /v1/traces OTLP/JSON, gzip", "application/json", json_bodies),
            ):
                started = time.perf_counter()
                for body in payloads:
                    answer = client.post(
                        "/v1/traces", content=body, headers={**headers, "Content-Type": kind}
                    )
                    answer.raise_for_status()
                rows.append((label, time.perf_counter() - started))
        stored = read_events(settings.telemetry_dir, "llm_turn").num_rows
        store.close()
    assert stored == 2 * total, (stored, total)

    print(f"{args.requests} requests x {args.spans} spans = {total} LLM spans per row")
    print(f"{'path':<36} {'seconds':>8} {'spans/s':>10} {'vs codec':>9}")
    codec = rows[0][1]
    for label, seconds in rows:
        print(f"{label:<36} {seconds:>8.3f} {total / seconds:>10.0f} {seconds / codec:>8.2f}x")


if __name__ == "__main__":
    main()
