"""``POST /v1/traces``: OTLP/HTTP trace intake; an app's LLM calls become turns in the event log.

The path is OTLP's own (``/v1/traces`` beside ``/api/v1``), so an OpenTelemetry exporter needs
only the server's address: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://host:8000/v1/traces`` and
``OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>``. Bodies are
``application/x-protobuf`` or ``application/json``, gzip-compressed or not.

**Who may send.** A token of the ``ingest`` role (made for telemetry senders: it can do nothing
else) or of any higher role.

**Which system.** A span belongs to the system named by its resource's ``service.name``, or by
the attribute the setting ``otlp_system_attribute`` names (environment
``AIRSOC_OTLP_SYSTEM_ATTRIBUTE``). Spans of systems not registered in airsoc, and turns the
event log cannot hold, are rejected and counted, with the reasons, in OTLP's partial-success
response (``ExportTraceServiceResponse.partial_success``), in the request's content type.

The answer comes once the turns are on disk, so an exporter that got 200 may forget the spans.
Decoding and normalisation are :mod:`airsoc.telemetry.otlp`'s.

Example:
    >>> import json, tempfile
    >>> from fastapi.testclient import TestClient
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.lineage import register_system
    >>> from airsoc.server.app import create_app
    >>> from airsoc.server.auth import add_user, issue_token
    >>> from airsoc.settings import Settings
    >>> settings = Settings.resolve(data_dir=tempfile.mkdtemp())
    >>> app = create_app(settings, clock=SimulatedClock())
    >>> with TestClient(app) as client:
    ...     with app.state.ctx.store.transaction() as s:
    ...         _ = register_system(s, clock=app.state.ctx.clock, actor="admin", name="bot",
    ...                             kind="llm-app", owner="ml")
    ...         _ = add_user(s, clock=app.state.ctx.clock, name="app", role="ingest",
    ...                      actor="admin")
    ...         token = issue_token(s, clock=app.state.ctx.clock, user="app", name="otel",
    ...                             actor="admin").token
    ...     body = {"resourceSpans": [{"resource": {"attributes": [
    ...         {"key": "service.name", "value": {"stringValue": "other"}}]},
    ...         "scopeSpans": [{"spans": [{"traceId": "01" * 16, "spanId": "02" * 8,
    ...         "name": "chat", "attributes": [
    ...             {"key": "gen_ai.system", "value": {"stringValue": "openai"}}]}]}]}]}
    ...     answer = client.post("/v1/traces", json=body,
    ...                          headers={"Authorization": f"Bearer {token}"})
    ...     answer.status_code, answer.json()
    ...     client.get("/api/v1/incidents",
    ...                headers={"Authorization": f"Bearer {token}"}).status_code
    (200, {'partialSuccess': {'rejectedSpans': '1', 'errorMessage': "1 span rejected: \
unknown system 'other'"}})
    403
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from airsoc.errors import InvalidEventError, PayloadTooLargeError
from airsoc.lineage import list_systems
from airsoc.roles import UserRole
from airsoc.server.auth import UserView, require_role
from airsoc.server.deps import ServerContext, get_context, token_user
from airsoc.server.errors import error_responses
from airsoc.telemetry import EventLog
from airsoc.telemetry.otlp import (
    MAX_BODY_BYTES,
    OtlpTurn,
    TraceImport,
    decode_export_request,
    encode_export_response,
    spans_to_turns,
)
from airsoc.telemetry.schemas import LLMTurnEvent, validate_event

__all__ = ["TRACES_PATH", "close_intake", "import_traces", "router"]

#: OTLP/HTTP's default path for traces.
TRACES_PATH = "/v1/traces"
#: The event log's writer name for turns from traces (one writer per server process).
INTAKE_LOG = "otlp"

router = APIRouter(tags=["telemetry"])
_lock = threading.Lock()


def _sender(user: Annotated[UserView, Depends(token_user)]) -> UserView:
    require_role(user, UserRole.INGEST, action="send traces")
    return user


def _intake_log(app: FastAPI, ctx: ServerContext) -> EventLog:
    """Return the app's event-log writer for trace turns, opened on first use."""
    with _lock:
        log: EventLog | None = getattr(app.state, "otlp_log", None)
        if log is None:
            log = EventLog(ctx.settings.telemetry_dir, name=INTAKE_LOG)
            app.state.otlp_log = log
        return log


def close_intake(app: FastAPI) -> None:
    """Write the trace turns still queued and release the writer (at the app's shutdown)."""
    with _lock:
        log: EventLog | None = getattr(app.state, "otlp_log", None)
        app.state.otlp_log = None
    if log is not None:
        log.close()


def import_traces(
    ctx: ServerContext, log: EventLog, body: bytes, *, content_type: str, encoding: str | None
) -> TraceImport:
    """Return the import of one export request, its turns written to ``log`` and on disk."""
    spans = decode_export_request(body, content_type=content_type, content_encoding=encoding)
    with ctx.store.read() as s:
        systems = {v.name for v in list_systems(s)}
    result = spans_to_turns(
        spans, systems=systems, system_attribute=ctx.settings.otlp_system_attribute
    )
    kept: list[OtlpTurn] = []
    events: list[LLMTurnEvent] = []
    refused: Counter[str] = Counter()
    for turn in result.turns:
        event = turn.to_event()
        try:
            validate_event(event)
        except InvalidEventError as exc:
            refused[f"turn cannot be stored: {exc}"] += 1
            continue
        kept.append(turn)
        events.append(event)
    if events:
        log.extend(events)
        log.flush()
    if not refused:
        return result
    rejections = Counter(result.rejections)
    rejections.update(refused)
    return TraceImport(kept, result.accepted_spans - sum(refused.values()), dict(rejections))


async def _body(request: Request) -> bytes:
    """Return the request body, refusing it once it passes :data:`MAX_BODY_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLargeError(f"OTLP body exceeds {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    TRACES_PATH,
    responses={
        200: {
            "description": "ExportTraceServiceResponse, with partial_success when spans "
            "were rejected",
            "content": {"application/x-protobuf": {}, "application/json": {}},
        },
        **error_responses(400),
    },
    response_class=Response,
)
async def export_traces(
    request: Request,
    ctx: Annotated[ServerContext, Depends(get_context)],
    _user: Annotated[UserView, Depends(_sender)],
) -> Response:
    """Take an OTLP/HTTP trace export; LLM spans become turns in the event log."""
    body = await _body(request)
    content_type = request.headers.get("content-type", "application/x-protobuf")
    log = _intake_log(request.app, ctx)
    result = await run_in_threadpool(
        import_traces,
        ctx,
        log,
        body,
        content_type=content_type,
        encoding=request.headers.get("content-encoding"),
    )
    kind = content_type.split(";")[0].strip().lower()
    reply_type = "application/json" if kind == "application/json" else "application/x-protobuf"
    answer = encode_export_response(
        result.rejected_spans, result.error_message, content_type=reply_type
    )
    return Response(answer, media_type=reply_type)
