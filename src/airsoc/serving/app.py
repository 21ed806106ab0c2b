"""The gateway's HTTP face: a Starlette ASGI app to run under uvicorn.

Endpoints:

- ``POST /v1/systems/{system}/predict``: ``{"rows": [{feature: value}, ...]}`` in,
  ``{"request_id", "system", "version", "mode", "role", "predictions", "scores"}`` out.
- ``POST /v1/systems/{system}/labels``: ``{"labels": [{"request_id", "label", "row_index"}]}``.
- ``POST /v1/chat/completions``: OpenAI-compatible; ``model`` names the system;
  ``"stream": true`` answers server-sent events in OpenAI's chunk format. A system with a guard
  policy (:mod:`airsoc.serving.guard`) has its input scanned before the upstream sees it and its
  output before the caller does; a refused turn is answered in the completion's own shape, with
  the policy's message and ``finish_reason: "content_filter"`` (HTTP 200, header
  ``X-Airsoc-Guard: blocked``), and the upstream never sees it. Streams are scanned in windows
  and cut when one fails (:mod:`airsoc.serving.streaming`).
- ``GET /v1/status`` and ``GET /healthz``.
- ``GET /openapi.json``: the OpenAPI document of all of it (:mod:`airsoc.serving.openapi`).

Before any endpoint runs, :class:`~airsoc.serving.limits.RequestLimitsMiddleware` refuses a body
over ``max_body_bytes`` (413), JSON nested deeper than ``max_json_depth`` and any control
character in the body's strings (422, located).

Clients name themselves with ``X-Client-ID`` and may give ``X-Request-ID``. Every error is a 4xx or
5xx with a JSON body ``{"code", "message", "loc"}`` (OpenAI's ``{"error": {...}}`` on the chat
endpoint); a request that fails validation never reaches a model.

Example:
    >>> import asyncio, httpx
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> app = create_app(Gateway(store=store, clock=SimulatedClock()))
    >>> async def call():
    ...     transport = httpx.ASGITransport(app=app)
    ...     async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
    ...         return await client.post("/v1/systems/ghost/predict", json={"rows": [{}]})
    >>> response = asyncio.run(call())
    >>> response.status_code, response.json()["code"]
    (404, 'not_found')
    >>> store.close()
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route as HttpRoute
from starlette.types import Scope

from airsoc.errors import (
    AirsocError,
    GatewayError,
    InputError,
    InvalidEventError,
    MalformedRequestError,
    SystemUnavailableError,
    TelemetryUnavailableError,
)
from airsoc.lineage.config import GuardConfig
from airsoc.serving import control
from airsoc.serving.adapters import ChatUpstream, ModelAdapter, Output
from airsoc.serving.gateway import Gateway, LoadedVersion, Route, canary_bucket, validate_rows
from airsoc.serving.guard import GuardCheck, message_text
from airsoc.serving.limits import RequestLimits, RequestLimitsMiddleware
from airsoc.serving.openapi import gateway_openapi
from airsoc.serving.retrieval import RetrievalView
from airsoc.serving.streaming import (
    SSE_DONE,
    StreamReport,
    completion_chunks,
    guarded_stream,
    sse,
)
from airsoc.telemetry.schemas import LabelEvent, LLMTurnEvent, PredictionEvent
from airsoc.types import MAX_ROW_ID, control_character_problem

__all__ = ["create_app"]

logger = logging.getLogger("airsoc.serving")

_HOLDING_MESSAGE = "Thanks, a person will follow up on this request shortly."
_MAX_LABELS = 10_000


def create_app(
    gateway: Gateway, *, manage_gateway: bool = True, max_json_depth: int = 64
) -> Starlette:
    """Return the ASGI app serving ``gateway``.

    With ``manage_gateway`` the app starts the gateway's routing poller on startup and closes
    the gateway (flushing its event log) on shutdown. Bodies may hold ``gateway.max_body_bytes``
    and nest ``max_json_depth`` deep.
    """

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if manage_gateway:
            gateway.start()
        try:
            yield
        finally:
            if manage_gateway:
                gateway.close()

    handlers = _Handlers(gateway)
    return Starlette(
        routes=[
            HttpRoute("/v1/systems/{system}/predict", handlers.predict, methods=["POST"]),
            HttpRoute("/v1/systems/{system}/labels", handlers.labels, methods=["POST"]),
            HttpRoute("/v1/chat/completions", handlers.chat, methods=["POST"]),
            HttpRoute("/v1/status", handlers.status, methods=["GET"]),
            HttpRoute("/healthz", handlers.health, methods=["GET"]),
            HttpRoute("/openapi.json", handlers.openapi, methods=["GET"]),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(
                RequestLimitsMiddleware,
                limits=RequestLimits(
                    max_body_bytes=gateway.max_body_bytes, max_json_depth=max_json_depth
                ),
                refuse=_refuse,
                json_always=True,
                json_text=True,
            )
        ],
    )


def _refuse(scope: Scope, error: AirsocError) -> Response:
    return _error_response(error, openai=scope.get("path") == "/v1/chat/completions")


def _error_response(exc: AirsocError, *, openai: bool = False) -> JSONResponse:
    body: dict[str, Any] = exc.to_dict()
    if openai:
        body = {
            "error": {
                "message": str(exc),
                "type": exc.code,
                "code": exc.code,
                "param": exc.loc,
            }
        }
    return JSONResponse(body, status_code=exc.http_status)


def _json_errors(
    openai: bool = False,
) -> Callable[
    [Callable[[_Handlers, Request], Awaitable[Response]]],
    Callable[[_Handlers, Request], Awaitable[Response]],
]:
    def wrap(
        fn: Callable[[_Handlers, Request], Awaitable[Response]],
    ) -> Callable[[_Handlers, Request], Awaitable[Response]]:
        async def handler(self: _Handlers, request: Request) -> Response:
            try:
                return await fn(self, request)
            except TelemetryUnavailableError as exc:
                # The telemetry policy is "refuse": nothing of this request was recorded.
                response = _error_response(exc, openai=openai)
                response.headers["Retry-After"] = self._retry_after()
                return response
            except AirsocError as exc:
                return _error_response(exc, openai=openai)
            except Exception:
                # A bug, not bad input: the caller gets JSON, the operator the traceback.
                logger.exception("gateway: %s %s failed", request.method, request.url.path)
                return _error_response(
                    AirsocError("internal gateway error; see the gateway log"), openai=openai
                )

        handler.__doc__ = fn.__doc__
        return handler

    return wrap


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


class _Handlers:
    """The endpoint functions, sharing one gateway."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        # Request ids: a random prefix per process and a counter (uuid4 costs a syscall).
        self._id_prefix = uuid.uuid4().hex[:12]
        self._id_counter = itertools.count(1)

    def _retry_after(self) -> str:
        log = self.gateway.event_log
        return str(max(1, math.ceil(log.retry_max if log is not None else 1.0)))

    def _next_id(self) -> str:
        return f"{self._id_prefix}{next(self._id_counter):08x}"

    async def _body(self, request: Request) -> Any:
        # Size, depth and control characters were checked by RequestLimitsMiddleware.
        raw = await request.body()
        try:
            return json.loads(raw, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise MalformedRequestError(
                f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedRequestError(f"the body is not valid JSON: {exc}") from None

    def _ids(self, request: Request) -> tuple[str, str]:
        header = self.gateway.client_id_header
        client = (request.headers.get(header) if header else None) or (
            request.client.host if request.client else "anonymous"
        )
        request_id = request.headers.get("x-request-id") or self._next_id()
        if len(request_id) > 100:
            raise InputError("X-Request-ID is longer than 100 characters", loc="X-Request-ID")
        problem = control_character_problem(request_id)
        if problem:
            raise InputError(problem, loc="X-Request-ID")
        return client, request_id

    # ------------------------------------------------------------------ predict

    @_json_errors()
    async def predict(self, request: Request) -> Response:
        """Answer a batch of rows from the system's routed version (or its fallback)."""
        started = time.perf_counter()
        gateway = self.gateway
        snapshot = gateway.snapshot  # the one routing this request sees, start to end
        client, request_id = self._ids(request)
        gateway.admit(snapshot, client)
        route = gateway.route_for(snapshot, request.path_params["system"])
        payload = await self._body(request)
        if route.mode == "isolated":
            self._log_refusal(route, client, request_id, started)
            raise SystemUnavailableError(
                f"system {route.system} is isolated; requests are refused until it is restored"
            )
        rows = validate_rows(payload, route.features, max_rows=gateway.max_rows)
        headers = {"x-request-id": request_id, "x-airsoc-revision": str(route.revision)}
        if route.mode == "fallback":
            return await self._fallback(route, rows, client, request_id, started, headers)
        loaded, role = self._pick(route, request_id)
        try:
            outputs = await self._call(loaded, rows)
        except AirsocError:
            latency = (time.perf_counter() - started) * 1000
            failed = [Output(None)] * len(rows)
            self._log(
                route, loaded.version, role, client, request_id, rows, failed, latency, "error"
            )
            raise
        latency = (time.perf_counter() - started) * 1000
        self._log(route, loaded.version, role, client, request_id, rows, outputs, latency)
        background = None
        if self._mirrored(route, request_id):
            assert route.candidate is not None
            background = BackgroundTask(
                self._shadow, route, route.candidate, rows, client, request_id
            )
        headers["x-airsoc-version"] = loaded.version
        return JSONResponse(
            _answer(request_id, route, loaded.version, role, outputs),
            headers=headers,
            background=background,
        )

    def _pick(self, route: Route, request_id: str) -> tuple[LoadedVersion, str]:
        if route.primary is None:
            raise SystemUnavailableError(f"system {route.system} has no serving version")
        if (
            route.mode == "canary"
            and route.candidate is not None
            and canary_bucket(request_id) < route.share
        ):
            return route.candidate, "canary"
        return route.primary, "primary"

    def _mirrored(self, route: Route, request_id: str) -> bool:
        return (
            route.mode == "shadow"
            and route.candidate is not None
            and canary_bucket(request_id) < route.share
        )

    async def _call(self, loaded: LoadedVersion, rows: Sequence[dict[str, Any]]) -> list[Output]:
        adapter = loaded.require()
        try:
            apredict = getattr(adapter, "apredict", None)
            outputs: list[Output] = (
                await apredict(rows) if apredict is not None else adapter.predict(rows)
            )
        except AirsocError:
            raise
        except Exception as exc:
            raise GatewayError(
                f"model version {loaded.version} failed: {type(exc).__name__}: {exc}"
            ) from exc
        return outputs

    async def _shadow(
        self,
        route: Route,
        candidate: LoadedVersion,
        rows: Sequence[dict[str, Any]],
        client: str,
        request_id: str,
    ) -> None:
        started = time.perf_counter()
        try:
            outputs = await self._call(candidate, rows)
            status = "ok"
        except AirsocError:
            outputs, status = [Output(None)] * len(rows), "error"
        latency = (time.perf_counter() - started) * 1000
        self._log(
            route, candidate.version, "shadow", client, request_id, rows, outputs, latency, status
        )

    async def _fallback(
        self,
        route: Route,
        rows: Sequence[dict[str, Any]],
        client: str,
        request_id: str,
        started: float,
        headers: dict[str, str],
    ) -> Response:
        spec = route.fallback or {}
        kind = spec.get("type", "scripted")
        if kind == "rules":
            if route.rules is None:
                raise SystemUnavailableError(
                    f"system {route.system}: the rules fallback {spec.get('path')} cannot be loaded"
                )
            outputs = await self._call(LoadedVersion("rules", route.rules), rows)
            status, code = "ok", 200
        elif kind == "human_handoff":
            await self._handoff(route.system, request_id, client, {"rows": list(rows)})
            outputs = [Output(None)] * len(rows)
            status, code = "handoff", 202
        else:
            outputs = [Output(None)] * len(rows)
            status, code = "scripted", 200
        latency = (time.perf_counter() - started) * 1000
        self._log(route, None, "fallback", client, request_id, rows, outputs, latency, status)
        body = _answer(request_id, route, None, "fallback", outputs)
        body["fallback"] = kind
        if kind != "rules":
            body["message"] = spec.get("message") or _HOLDING_MESSAGE
        return JSONResponse(body, status_code=code, headers=headers)

    async def _handoff(
        self, system: str, request_id: str, client: str, payload: dict[str, Any]
    ) -> None:
        def park() -> None:
            with self.gateway.store.transaction() as session:
                control.enqueue_handoff(
                    session,
                    clock=self.gateway.clock,
                    system=system,
                    request_id=request_id,
                    client_id=client,
                    payload=payload,
                )

        await run_in_threadpool(park)

    def _log(
        self,
        route: Route,
        version: str | None,
        role: str,
        client: str,
        request_id: str,
        rows: Sequence[dict[str, Any]],
        outputs: Sequence[Output],
        latency_ms: float,
        status: str = "ok",
    ) -> None:
        log = self.gateway.event_log
        if log is None:
            return
        if len(rows) != len(outputs):
            raise ValueError(f"{len(outputs)} outputs for {len(rows)} rows")
        # One batch per request, column by column: the rows share everything but their
        # inputs and outputs.
        log.extend_columns(
            PredictionEvent.kind,
            {
                "request_id": request_id,
                "ts": self.gateway.clock.now(),
                "system": route.system,
                "version": version,
                "mode": route.mode,
                "role": role,
                "client_id": client,
                "latency_ms": latency_ms,
                "status": status,
            },
            {
                "row_index": list(range(len(rows))),
                "inputs": rows,
                "output": [out.prediction for out in outputs],
                "score": [out.score for out in outputs],
            },
        )

    def _log_refusal(self, route: Route, client: str, request_id: str, started: float) -> None:
        latency = (time.perf_counter() - started) * 1000
        self._log(
            route, None, "isolated", client, request_id, [{}], [Output(None)], latency, "refused"
        )

    # ------------------------------------------------------------------ labels

    @_json_errors()
    async def labels(self, request: Request) -> Response:
        """Record ground-truth labels that arrived later, by request id."""
        gateway = self.gateway
        snapshot = gateway.snapshot
        client, _ = self._ids(request)
        gateway.admit(snapshot, client)
        route = gateway.route_for(snapshot, request.path_params["system"])
        payload = await self._body(request)
        request_ids, row_indices, labels = _label_body(payload)
        if gateway.event_log is not None:
            try:
                gateway.event_log.extend_columns(
                    LabelEvent.kind,
                    {"ts": gateway.clock.now(), "system": route.system, "client_id": client},
                    {"request_id": request_ids, "row_index": row_indices, "label": labels},
                )
            except InvalidEventError as exc:  # name the field as the caller sent it
                loc = exc.loc or ""
                if isinstance(payload, dict) and "columns" in payload:
                    loc = re.sub(r"^events\[(\d+)\]\.(\w+)", r"columns.\2[\1]", loc)
                else:
                    loc = loc.replace("events[", "labels[", 1)
                raise InvalidEventError(exc.message, loc=loc or None) from None
        return JSONResponse({"accepted": len(labels)}, status_code=202)

    # ------------------------------------------------------------------ chat

    @_json_errors(openai=True)
    async def chat(self, request: Request) -> Response:
        """Answer an OpenAI chat completion request from the system named by ``model``, through
        the system's guard policy; ``"stream": true`` answers server-sent events."""
        started = time.perf_counter()
        gateway = self.gateway
        snapshot = gateway.snapshot
        client, request_id = self._ids(request)
        gateway.admit(snapshot, client)
        body = await self._body(request)
        if not isinstance(body, dict):
            raise InputError("the body must be a JSON object")
        system = body.get("model")
        if not isinstance(system, str) or not system:
            raise InputError('"model" must name a system served by the gateway', loc="model")
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)
        ):
            raise InputError(
                '"messages" must be a non-empty list of {role, content}', loc="messages"
            )
        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise InputError('"stream" must be true or false', loc="stream")
        route = gateway.route_for(snapshot, system)
        headers = {"x-request-id": request_id, "x-airsoc-revision": str(route.revision)}
        if route.mode == "isolated":
            self._log_turn(
                route, None, "isolated", client, request_id, body, None, started, "refused"
            )
            raise SystemUnavailableError(
                f"system {system} is isolated; requests are refused until it is restored"
            )
        if route.mode == "fallback":
            spec = route.fallback or {}
            message = spec.get("message") or _HOLDING_MESSAGE
            status = "scripted"
            if spec.get("type") == "human_handoff":
                await self._handoff(system, request_id, client, {"messages": messages})
                status = "handoff"
            elif spec.get("type") == "rules" and route.rules is not None:
                outputs = await self._call(LoadedVersion("rules", route.rules), [body])
                message = str(outputs[0].prediction)
                status = "ok"
            answer = self._scripted_completion(request_id, system, message)
            self._log_turn(
                route, None, "fallback", client, request_id, body, answer, started, status
            )
            return _chat_reply(answer, headers, stream=bool(stream))
        policy = gateway.guards.get(system)
        decisions: list[dict[str, Any]] = []
        upstream_body = body
        if policy is not None and policy.input != "off":
            checked = await run_in_threadpool(gateway.guard.check_input, policy, messages)
            decisions += checked.decisions
            if checked.blocked:
                # The upstream never sees a refused turn; the caller gets a refusal in OpenAI's
                # own shape (finish_reason content_filter), so apps need no new error path.
                answer = self._scripted_completion(
                    request_id, system, policy.message, finish_reason="content_filter"
                )
                headers["x-airsoc-guard"] = "blocked"
                self._log_turn(
                    route,
                    None,
                    "guard",
                    client,
                    request_id,
                    body,
                    answer,
                    started,
                    "blocked",
                    guard=decisions,
                )
                return _chat_reply(answer, headers, stream=bool(stream))
            if any(d["action"] == "redact" for d in decisions):
                upstream_body = {**body, "messages": checked.messages}
        loaded, role = self._pick(route, request_id)
        background = None
        if self._mirrored(route, request_id):
            assert route.candidate is not None
            mirrored = {k: v for k, v in upstream_body.items() if k != "stream_options"}
            mirrored["stream"] = False
            background = BackgroundTask(
                self._shadow_chat, route, route.candidate, mirrored, client, request_id
            )
        headers["x-airsoc-version"] = loaded.version
        if stream:
            return await self._stream_chat(
                route,
                loaded,
                role,
                client,
                request_id,
                body,
                upstream_body,
                policy,
                decisions,
                started,
                headers,
                background,
            )
        answer = await self._chat_upstream(loaded).complete(upstream_body)
        delivered = answer
        status = "ok"
        if policy is not None and policy.output != "off":
            delivered, blocked, output = await self._guard_answer(policy, answer)
            decisions += output
            status = "blocked" if blocked else status
        actions = {d["action"] for d in decisions}
        if decisions:
            headers["x-airsoc-guard"] = _guard_header(actions)
        # The log keeps the upstream's own answer (what the model did); the decisions say
        # what the caller got instead.
        self._log_turn(
            route,
            loaded.version,
            role,
            client,
            request_id,
            body,
            answer,
            started,
            status,
            guard=decisions,
        )
        return JSONResponse(delivered, headers=headers, background=background)

    async def _guard_answer(
        self, policy: GuardConfig, answer: dict[str, Any]
    ) -> tuple[dict[str, Any], bool, list[dict[str, Any]]]:
        """Return the answer as the output policy lets it through, whether it was refused, and
        the decisions."""
        choices = []
        decisions: list[dict[str, Any]] = []
        blocked = False
        for choice in answer.get("choices") or []:
            message = choice.get("message") if isinstance(choice, dict) else None
            text = message_text(message.get("content")) if isinstance(message, dict) else None
            if not text:
                choices.append(choice)
                continue
            assert isinstance(message, dict)
            checked = await run_in_threadpool(self.gateway.guard.check_output, policy, text)
            decisions += checked.decisions
            if checked.blocked:
                blocked = True
                message = {**message, "content": policy.message}
                choice = {**choice, "message": message, "finish_reason": "content_filter"}
            elif checked.changed:
                choice = {**choice, "message": {**message, "content": checked.text}}
            choices.append(choice)
        return {**answer, "choices": choices}, blocked, decisions

    async def _stream_chat(
        self,
        route: Route,
        loaded: LoadedVersion,
        role: str,
        client: str,
        request_id: str,
        body: dict[str, Any],
        upstream_body: dict[str, Any],
        policy: GuardConfig | None,
        decisions: list[dict[str, Any]],
        started: float,
        headers: dict[str, str],
        background: BackgroundTask | None,
    ) -> Response:
        chunks = await self._chat_upstream(loaded).stream(upstream_body)
        guard = self.gateway.guard
        check: Callable[[str, str], Awaitable[GuardCheck]] | None = None
        if policy is not None and policy.output != "off":
            output_policy = policy

            async def check(context: str, text: str) -> GuardCheck:
                return await run_in_threadpool(
                    guard.check_output, output_policy, text, stage="stream", context=context
                )

        def on_end(report: StreamReport) -> None:
            self._log_turn(
                route,
                loaded.version,
                role,
                client,
                request_id,
                body,
                report.response(),
                started,
                report.status,
                guard=report.decisions,
            )

        if decisions:
            headers["x-airsoc-guard"] = _guard_header({d["action"] for d in decisions})
        return StreamingResponse(
            guarded_stream(
                chunks,
                check=check,
                action=policy.output if policy is not None else "off",
                window=policy.stream_window if policy is not None else 200,
                report=StreamReport(decisions=list(decisions)),
                on_end=on_end,
            ),
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache"},
            background=background,
        )

    def _chat_upstream(self, loaded: LoadedVersion) -> ChatUpstream:
        adapter: ModelAdapter = loaded.require()
        if not isinstance(adapter, ChatUpstream):
            raise InputError(
                f"version {loaded.version} is not a chat model; use /v1/systems/{{system}}/predict"
            )
        return adapter

    async def _shadow_chat(
        self,
        route: Route,
        candidate: LoadedVersion,
        body: dict[str, Any],
        client: str,
        request_id: str,
    ) -> None:
        started = time.perf_counter()
        try:
            answer: dict[str, Any] | None = await self._chat_upstream(candidate).complete(body)
            status = "ok"
        except AirsocError:
            answer, status = None, "error"
        self._log_turn(
            route, candidate.version, "shadow", client, request_id, body, answer, started, status
        )

    def _scripted_completion(
        self, request_id: str, system: str, message: str, *, finish_reason: str = "stop"
    ) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion",
            "created": int(self.gateway.clock.now().timestamp()),
            "model": system,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": message},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }

    def _log_turn(
        self,
        route: Route,
        version: str | None,
        role: str,
        client: str,
        request_id: str,
        body: Mapping[str, Any],
        answer: Mapping[str, Any] | None,
        started: float,
        status: str = "ok",
        *,
        guard: list[dict[str, Any]] | None = None,
    ) -> None:
        log = self.gateway.event_log
        if log is None:
            return
        usage = (answer or {}).get("usage") or {}
        log.append(
            LLMTurnEvent(
                request_id=request_id,
                ts=self.gateway.clock.now(),
                system=route.system,
                version=version,
                mode=route.mode,
                role=role,
                client_id=client,
                model=str(body.get("model", "")),
                messages=list(body.get("messages", [])),
                response=answer,
                prompt_tokens=usage.get("prompt_tokens"),
                completion_tokens=usage.get("completion_tokens"),
                latency_ms=(time.perf_counter() - started) * 1000,
                status=status,
                document_ids=_document_ids(answer),
                guard=guard or [],
            )
        )

    # ------------------------------------------------------------------ status

    async def status(self, request: Request) -> Response:
        """Return the routing this gateway serves and its event log counts."""
        snapshot = self.gateway.snapshot
        log = self.gateway.event_log
        return JSONResponse(
            {
                "revision": snapshot.revision,
                "systems": {
                    name: {
                        "mode": r.mode,
                        "primary": r.primary.version if r.primary else None,
                        "candidate": r.candidate.version if r.candidate else None,
                        "share": r.share,
                        "revision": r.revision,
                        "retrieval": _retrieval(snapshot.retrieval.get(name)),
                    }
                    for name, r in snapshot.routes.items()
                },
                "event_log": log.stats() if log else None,
                "recovered_loss": log.recovered_loss if log else 0,
            }
        )

    async def health(self, request: Request) -> Response:
        """Return ok."""
        return JSONResponse({"ok": True})

    async def openapi(self, request: Request) -> Response:
        """Return the OpenAPI document of this gateway, with the systems it routes now."""
        snapshot = self.gateway.snapshot
        systems = {name: route.features for name, route in snapshot.routes.items()}
        return JSONResponse(gateway_openapi(systems, max_rows=self.gateway.max_rows))


_LabelColumns = tuple[list[str], list[int], list[Any]]


def _label_body(payload: Any) -> _LabelColumns:
    """Return the request ids, row indices and labels of a labels body: a list of items
    (``{"labels": [{"request_id", "row_index", "label"}, ...]}``) or the same column by column
    (``{"columns": {"request_id": [...], "row_index": [...], "label": [...]}}``, ``row_index``
    optional); refuse a bad one, naming where.

    >>> _label_body({"columns": {"request_id": ["r1", "r1"], "row_index": [0, 1],
    ...                          "label": [1, 0]}})
    (['r1', 'r1'], [0, 1], [1, 0])
    >>> _label_body({"columns": {"request_id": ["r1"], "label": [1, 0]}})
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: columns: every column must have one length, got request_id: 1, \
label: 2
    """
    shape = (
        'the body must be {"labels": [{"request_id": ..., "label": ...}, ...]} or '
        '{"columns": {"request_id": [...], "row_index": [...], "label": [...]}}'
    )
    if not isinstance(payload, dict) or not ("labels" in payload or "columns" in payload):
        raise InputError(shape)
    if "labels" in payload:  # other keys are the caller's own, as they always were
        items = payload["labels"]
        if not isinstance(items, list) or not items:
            raise InputError(shape, loc="labels")
        if len(items) > _MAX_LABELS:
            raise InputError(f"at most {_MAX_LABELS} labels per request", loc="labels")
        return _label_columns(items) or _checked_labels(items)
    columns = payload["columns"]
    if not isinstance(columns, dict) or not {"request_id", "label"} <= columns.keys():
        raise InputError('"columns" needs "request_id" and "label" lists', loc="columns")
    extra = sorted(columns.keys() - {"request_id", "row_index", "label"})
    if extra:
        raise InputError(f"unknown column(s) {', '.join(extra)}", loc="columns")
    for name, values in columns.items():
        if not isinstance(values, list):
            raise InputError(
                f"expected a list of values, got {type(values).__name__}", loc=f"columns.{name}"
            )
    if len({len(values) for values in columns.values()}) != 1:
        sizes = ", ".join(f"{name}: {len(values)}" for name, values in columns.items())
        raise InputError(f"every column must have one length, got {sizes}", loc="columns")
    n = len(columns["label"])
    if n == 0:
        raise InputError("the columns hold no labels", loc="columns")
    if n > _MAX_LABELS:
        raise InputError(f"at most {_MAX_LABELS} labels per request", loc="columns")
    ids, labels = columns["request_id"], columns["label"]
    rows = columns.get("row_index", [0] * n)
    if not _label_columns_ok("request_id", ids):
        i = next(i for i, v in enumerate(ids) if not _label_columns_ok("request_id", [v]))
        raise InputError(
            "request_id must be a string of 1 to 100 characters", loc=f"columns.request_id[{i}]"
        )
    if not _label_columns_ok("row_index", rows):
        i = next(i for i, v in enumerate(rows) if not _label_columns_ok("row_index", [v]))
        raise InputError(
            f"row_index must be an integer from 0 to {MAX_ROW_ID}", loc=f"columns.row_index[{i}]"
        )
    return ids, rows, labels


def _label_columns_ok(name: str, values: list[Any]) -> bool:
    """Whether a request-id or row-index column is well formed, checked at C speed."""
    if name == "request_id":
        return (
            set(map(type, values)) == {str}
            and min(map(len, values)) >= 1
            and max(map(len, values)) <= 100
        )
    return set(map(type, values)) == {int} and min(values) >= 0 and max(values) <= MAX_ROW_ID


def _label_columns(items: list[Any]) -> _LabelColumns | None:
    """Return the request ids, row indices and labels of a labels body when every item is
    well formed, checked column by column at C speed; None when something is wrong (then
    :func:`_checked_labels` names it).

    >>> _label_columns([{"request_id": "r1", "label": 1}, {"request_id": "r1", "row_index": 1,
    ...                  "label": 0}])
    (['r1', 'r1'], [0, 1], [1, 0])
    >>> _label_columns([{"request_id": "r1"}]) is None
    True
    """
    if not all(type(item) is dict and "label" in item for item in items):
        return None
    ids = [item.get("request_id") for item in items]
    rows = [item.get("row_index", 0) for item in items]
    if _label_columns_ok("request_id", ids) and _label_columns_ok("row_index", rows):
        return ids, rows, [item["label"] for item in items]
    return None


def _checked_labels(items: list[Any]) -> _LabelColumns:
    """Return the columns of a labels body, item by item; refuse the first bad item, naming it.

    >>> _checked_labels([{"request_id": "r1", "row_index": -1, "label": 0}])
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: labels[0].row_index: row_index must be an integer from 0 to \
2147483647
    """
    request_ids: list[str] = []
    row_indices: list[int] = []
    labels: list[Any] = []
    for i, item in enumerate(items):
        where = f"labels[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("request_id"), str):
            raise InputError('each label needs a string "request_id"', loc=where)
        if not 1 <= len(item["request_id"]) <= 100:
            raise InputError("request_id must have 1 to 100 characters", loc=f"{where}.request_id")
        if "label" not in item:
            raise InputError('each label needs a "label"', loc=where)
        row_index = item.get("row_index", 0)
        if type(row_index) is not int or not 0 <= row_index <= MAX_ROW_ID:
            raise InputError(
                f"row_index must be an integer from 0 to {MAX_ROW_ID}", loc=f"{where}.row_index"
            )
        request_ids.append(item["request_id"])
        row_indices.append(row_index)
        labels.append(item["label"])
    return request_ids, row_indices, labels


def _document_ids(answer: Mapping[str, Any] | None) -> list[str]:
    """Return the ids of the documents a RAG upstream says it retrieved (its answer's
    ``retrieved`` chunks), each once, in retrieval order.

    >>> _document_ids({"retrieved": [{"doc_id": "POL-1"}, {"doc_id": "POL-1"}, {"x": 1}]})
    ['POL-1']
    """
    chunks = (answer or {}).get("retrieved")
    if not isinstance(chunks, list):
        return []
    ids = (c.get("doc_id") for c in chunks if isinstance(c, Mapping))
    return list(dict.fromkeys(str(i) for i in ids if isinstance(i, str) and i))


def _guard_header(actions: set[str]) -> str:
    """Return the ``X-Airsoc-Guard`` header: the strongest action the guard took."""
    for action in ("block", "fail_closed", "redact", "fail_open", "log"):
        if action in actions:
            return {"block": "blocked", "redact": "redacted", "log": "logged"}.get(action, action)
    return "allowed"


def _chat_reply(answer: dict[str, Any], headers: dict[str, str], *, stream: bool) -> Response:
    """Return a completion the gateway wrote itself, whole or as a stream."""
    if not stream:
        return JSONResponse(answer, headers=headers)

    async def events() -> AsyncIterator[bytes]:
        for chunk in completion_chunks(answer):
            yield sse(chunk)
        yield SSE_DONE

    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _retrieval(view: RetrievalView | None) -> dict[str, Any]:
    if view is None:
        return {"enabled": True, "removed_documents": []}
    return {"enabled": view.enabled, "removed_documents": list(view.removed_documents)}


def _answer(
    request_id: str, route: Route, version: str | None, role: str, outputs: Sequence[Output]
) -> dict[str, Any]:
    scores = [o.score for o in outputs]
    return {
        "request_id": request_id,
        "system": route.system,
        "version": version,
        "mode": route.mode,
        "role": role,
        "predictions": [o.prediction for o in outputs],
        "scores": scores if any(s is not None for s in scores) else None,
    }
