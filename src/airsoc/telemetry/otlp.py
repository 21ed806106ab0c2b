"""Return LLM turns decoded from OTLP/HTTP trace exports (protobuf or JSON, gzip or not).

A pure codec: bytes in, :class:`OtlpTurn` objects and an OTLP partial-success response out; no
store, no server. The API route that receives ``POST /v1/traces`` calls
:func:`decode_export_request`, then :func:`spans_to_turns`, writes the turns' events to the
event log, and answers with :func:`encode_export_response`.

**Wire formats.** ``application/x-protobuf`` bodies are ``ExportTraceServiceRequest`` messages
(decoded with the ``opentelemetry-proto`` package, extra ``otlp``); ``application/json`` bodies
are OTLP/JSON, where trace and span ids are hex strings (not base64 as in protobuf's own JSON
mapping) and 64-bit integers may be strings. ``Content-Encoding: gzip`` (or a gzip magic
number) is inflated, up to ``max_bytes``.

**Which system a span belongs to.** The resource attribute ``service.name``, unless a
``system_attribute`` is configured, which is looked up on the span and then on its resource.
With ``systems`` given, spans of any other system are rejected and counted with the reason, as
OTLP's partial success reports them.

**Which spans are turns.** A span is an LLM turn when it carries any of: a ``gen_ai.*`` model,
provider, system or operation attribute, GenAI prompt/completion events, OpenInference's
``openinference.span.kind = LLM`` or ``llm.input_messages.*``, or OpenLLMetry's
``llm.request.type`` / ``gen_ai.prompt.N.*``. A trace with no such span but a Traceloop
workflow span carrying ``traceloop.entity.input`` gives one turn from that span. Retrieved
documents found on any span of the trace (OpenInference ``retrieval.documents.N.document.*``)
are attached to the trace's turns.

**Precedence of attribute styles** (per field, the first style that has a value wins):

1. OpenTelemetry GenAI semantic conventions, current form: ``gen_ai.input.messages``,
   ``gen_ai.output.messages``, ``gen_ai.system_instructions``, ``gen_ai.conversation.id``,
   ``gen_ai.request.model`` / ``gen_ai.response.model``, ``gen_ai.provider.name``,
   ``gen_ai.usage.input_tokens`` / ``output_tokens``;
2. GenAI, older event-based forms: span events ``gen_ai.content.prompt`` (attribute
   ``gen_ai.prompt``) and ``gen_ai.content.completion`` (attribute ``gen_ai.completion``); else
   per-message events ``gen_ai.system|user|assistant|tool.message`` (``content``) and
   ``gen_ai.choice`` (``message``); ``gen_ai.system``, ``gen_ai.usage.prompt_tokens`` /
   ``completion_tokens``;
3. OpenInference: ``llm.input_messages.N.message.role|content``,
   ``llm.output_messages.N.message.content``, ``input.value``, ``output.value``,
   ``llm.model_name``, ``session.id``, ``user.id``, ``llm.token_count.prompt|completion``;
4. OpenLLMetry (Traceloop): ``gen_ai.prompt.N.role|content``, ``gen_ai.completion.N.content``,
   ``traceloop.entity.input`` / ``traceloop.entity.output``,
   ``traceloop.association.properties.session_id|user_id``.

The session falls back to ``session_id`` then the trace id; the user id to ``enduser.id``.
Content capture is off by default in OpenTelemetry instrumentations: a turn without any prompt
or completion text has ``content_captured=False``, so content-based detectors can report
``skipped: content not captured`` instead of ``ok``.

Example:
    >>> messages = [{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]
    >>> def attr(key, text):
    ...     return {"key": key, "value": {"stringValue": text}}
    >>> body = json.dumps({"resourceSpans": [{
    ...   "resource": {"attributes": [attr("service.name", "support-bot")]},
    ...   "scopeSpans": [{"spans": [{
    ...     "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
    ...     "name": "chat gpt-4o", "startTimeUnixNano": "1767225600000000000",
    ...     "endTimeUnixNano": "1767225600250000000",
    ...     "attributes": [attr("gen_ai.request.model", "gpt-4o"),
    ...                    attr("gen_ai.conversation.id", "c-42"),
    ...                    attr("gen_ai.input.messages", json.dumps(messages))]}]}]}]})
    >>> spans = decode_export_request(body.encode(), content_type="application/json")
    >>> result = spans_to_turns(spans, systems={"support-bot"})
    >>> turn = result.turns[0]
    >>> turn.system, turn.session_id, turn.model, turn.prompt, turn.latency_ms
    ('support-bot', 'c-42', 'gpt-4o', 'Hi', 250.0)
    >>> turn.trace_id, turn.content_captured, result.rejected_spans
    ('5b8efff798038103d269b633813fc60c', True, 0)
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from airsoc.errors import MalformedRequestError, PayloadTooLargeError
from airsoc.telemetry.schemas import LLMTurnEvent

__all__ = [
    "MAX_BODY_BYTES",
    "Document",
    "OtlpSpan",
    "OtlpTurn",
    "SpanEvent",
    "TraceImport",
    "decode_export_request",
    "encode_export_response",
    "gzip_body",
    "spans_to_turns",
]

#: Largest (inflated) request body accepted, in bytes.
MAX_BODY_BYTES = 16 * 1024 * 1024
Style = Literal["gen_ai", "gen_ai_events", "openinference", "openllmetry"]
_STATUS_ERROR = 2


@dataclass(frozen=True)
class SpanEvent:
    """An event recorded on a span: its name, time and attributes."""

    name: str
    time_unix_nano: int
    attributes: dict[str, Any]


@dataclass(frozen=True)
class OtlpSpan:
    """One span of an export request, flattened with its resource's attributes; ids in hex."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_unix_nano: int
    end_unix_nano: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: tuple[SpanEvent, ...] = ()
    status_code: int = 0
    status_message: str = ""


@dataclass(frozen=True)
class Document:
    """A retrieved document as a trace reports it: its id and, where captured, its text."""

    id: str
    text: str | None = None


@dataclass(frozen=True)
class OtlpTurn:
    """One LLM call reported by a trace, normalised from whichever attribute style it used."""

    trace_id: str
    span_id: str
    system: str
    session_id: str
    started_at: datetime
    latency_ms: float
    style: Style
    user_id: str | None = None
    model: str = ""
    messages: tuple[dict[str, str], ...] = ()
    completion: str | None = None
    documents: tuple[Document, ...] = ()
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    status: Literal["ok", "error"] = "ok"

    @property
    def prompt(self) -> str | None:
        """Return the last user message (the question), or None when not captured."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message["content"]
        return self.messages[-1]["content"] if self.messages else None

    @property
    def content_captured(self) -> bool:
        """Return whether the trace carried any prompt or completion text."""
        return bool(self.messages) or self.completion is not None

    @property
    def document_ids(self) -> list[str]:
        """Return the ids of the retrieved documents, in retrieval order."""
        return [d.id for d in self.documents]

    def to_event(self) -> LLMTurnEvent:
        """Return the turn as an event-log record (``request_id`` is ``<trace id>:<span id>``).

        The ids (trace, span, session, user, retrieved documents) and whether content was
        captured are kept on the event; retrieved documents with text are also attached to the
        response as ``retrieved`` chunks, where the LLM monitors read them.

        >>> t = OtlpTurn(trace_id="ab", span_id="cd", system="bot", session_id="s",
        ...              started_at=datetime(2026, 1, 1, tzinfo=UTC), latency_ms=5.0,
        ...              style="gen_ai", messages=({"role": "user", "content": "hi"},))
        >>> e = t.to_event()
        >>> e.request_id, e.system, e.messages, e.response
        ('ab:cd', 'bot', [{'role': 'user', 'content': 'hi'}], None)
        >>> e.trace_id, e.span_id, e.session_id, e.content_captured
        ('ab', 'cd', 's', True)
        >>> d = OtlpTurn(trace_id="ab", span_id="ce", system="bot", session_id="s",
        ...              started_at=datetime(2026, 1, 1, tzinfo=UTC), latency_ms=5.0,
        ...              style="openinference", completion="Yes.",
        ...              documents=(Document("policy-7", "Refunds within 30 days."),))
        >>> d.to_event().response
        {'content': 'Yes.', 'session_id': 's', 'retrieved': [{'doc_id': 'policy-7', \
'text': 'Refunds within 30 days.'}]}
        """
        response: Any = self.completion
        retrieved = [{"doc_id": d.id, "text": d.text} for d in self.documents if d.text is not None]
        if retrieved:
            response = {
                "content": self.completion,
                "session_id": self.session_id,
                "retrieved": retrieved,
            }
        return LLMTurnEvent(
            request_id=f"{self.trace_id}:{self.span_id}",
            ts=self.started_at,
            system=self.system,
            client_id=self.user_id or "anonymous",
            model=self.model,
            messages=[dict(m) for m in self.messages],
            response=response,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            latency_ms=self.latency_ms,
            status=self.status,
            trace_id=self.trace_id,
            span_id=self.span_id,
            session_id=self.session_id,
            user_id=self.user_id,
            document_ids=self.document_ids,
            content_captured=self.content_captured,
        )

    def to_turn_record(self) -> dict[str, Any]:
        """Return the fields of an LLM detector's turn (``session_id``, ``at``, ``user``, ...).

        Documents without captured text are left out of ``retrieved`` (which needs text); their
        ids stay in :attr:`document_ids`.

        >>> t = OtlpTurn(trace_id="ab", span_id="cd", system="bot", session_id="s",
        ...              started_at=datetime(2026, 1, 1, tzinfo=UTC), latency_ms=5.0,
        ...              style="openinference", completion="Yes.",
        ...              documents=(Document("policy-7", "Refunds within 30 days."),))
        >>> r = t.to_turn_record()
        >>> r["session_id"], r["user"], r["answer"], r["retrieved"]
        ('s', '', 'Yes.', [{'doc_id': 'policy-7', 'text': 'Refunds within 30 days.'}])
        """
        return {
            "session_id": self.session_id,
            "at": self.started_at,
            "user": self.prompt or "",
            "answer": self.completion or "",
            "retrieved": [
                {"doc_id": d.id, "text": d.text} for d in self.documents if d.text is not None
            ],
        }


@dataclass(frozen=True)
class TraceImport:
    """Return-type of :func:`spans_to_turns`: turns, and the spans accepted and rejected."""

    turns: list[OtlpTurn]
    accepted_spans: int
    rejections: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_spans(self) -> int:
        """Return how many spans were rejected (for OTLP's partial success)."""
        return sum(self.rejections.values())

    @property
    def error_message(self) -> str:
        """Return the reasons for rejected spans, one clause per reason ('' when none).

        >>> TraceImport([], 3, {"unknown system 'x'": 2}).error_message
        "2 spans rejected: unknown system 'x'"
        """
        parts = [
            f"{n} span{'s' if n != 1 else ''} rejected: {r}" for r, n in self.rejections.items()
        ]
        return "; ".join(parts)


# -- decoding ---------------------------------------------------------------------------------


def _inflate(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity") and not body.startswith(b"\x1f\x8b"):
        if len(body) > max_bytes:
            raise PayloadTooLargeError(f"OTLP body of {len(body)} bytes exceeds {max_bytes}")
        return body
    if encoding not in ("", "identity", "gzip"):
        raise MalformedRequestError(f"unsupported Content-Encoding {content_encoding!r}; use gzip")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise MalformedRequestError(f"body is not valid gzip: {exc}") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise PayloadTooLargeError(f"inflated OTLP body exceeds {max_bytes} bytes")
    return out


def decode_export_request(
    body: bytes,
    *,
    content_type: str,
    content_encoding: str | None = None,
    max_bytes: int = MAX_BODY_BYTES,
) -> list[OtlpSpan]:
    """Return the spans of an OTLP ``ExportTraceServiceRequest`` (protobuf or JSON).

    >>> decode_export_request(b"{}", content_type="application/json")
    []
    >>> decode_export_request(b"[", content_type="application/json")
    Traceback (most recent call last):
    ...
    airsoc.errors.MalformedRequestError: OTLP/JSON body is not valid JSON: ...
    """
    raw = _inflate(body, content_encoding, max_bytes)
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        return _from_json(raw)
    if kind in ("application/x-protobuf", "application/protobuf"):
        return _from_protobuf(raw)
    raise MalformedRequestError(
        f"unsupported Content-Type {content_type!r}; use application/x-protobuf or application/json"
    )


def _any_value(value: Any) -> Any:
    """Return the Python value of an OTLP/JSON ``AnyValue`` object."""
    if not isinstance(value, Mapping):
        return value
    for key in ("stringValue", "string_value"):
        if key in value:
            return value[key]
    for key in ("boolValue", "bool_value"):
        if key in value:
            return bool(value[key])
    for key in ("intValue", "int_value"):
        if key in value:
            return int(value[key])
    for key in ("doubleValue", "double_value"):
        if key in value:
            return float(value[key])
    for key in ("arrayValue", "array_value"):
        if key in value:
            return [_any_value(v) for v in (value[key] or {}).get("values", [])]
    for key in ("kvlistValue", "kvlist_value"):
        if key in value:
            return _attributes((value[key] or {}).get("values", []))
    for key in ("bytesValue", "bytes_value"):
        if key in value:
            return base64.b64decode(value[key]).hex()
    return None


def _attributes(items: Iterable[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if isinstance(item, Mapping) and "key" in item:
            out[str(item["key"])] = _any_value(item.get("value"))
    return out


def _get(obj: Mapping[str, Any], camel: str, default: Any = None) -> Any:
    if camel in obj:
        return obj[camel]
    snake = re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()
    return obj.get(snake, default)


_HEX_ID = re.compile(r"^[0-9a-fA-F]*$")


def _hex_id(value: Any, size: int, what: str) -> str:
    text = str(value or "")
    if not _HEX_ID.match(text) or len(text) not in (0, 2 * size):
        raise MalformedRequestError(
            f"OTLP/JSON {what} {text[:40]!r} is not {2 * size} hex digits (OTLP/JSON ids are hex)"
        )
    return text.lower()


def _status_code(code: Any) -> int:
    """Return a span status code given as a number or an enum name (``STATUS_CODE_ERROR``)."""
    names = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": _STATUS_ERROR}
    if isinstance(code, str):
        return names.get(code, int(code) if code.isdigit() else 0)
    return int(code) if isinstance(code, int) else 0


def _from_json(raw: bytes) -> list[OtlpSpan]:
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedRequestError(f"OTLP/JSON body is not valid JSON: {exc}") from None
    if not isinstance(doc, Mapping):
        raise MalformedRequestError("OTLP/JSON body must be an object with resourceSpans")
    spans: list[OtlpSpan] = []
    try:
        for rs in _get(doc, "resourceSpans", []) or []:
            resource = _attributes((_get(rs, "resource", {}) or {}).get("attributes", []))
            for ss in _get(rs, "scopeSpans", []) or []:
                for s in _get(ss, "spans", []) or []:
                    status = _get(s, "status", {}) or {}
                    spans.append(
                        OtlpSpan(
                            trace_id=_hex_id(_get(s, "traceId"), 16, "traceId"),
                            span_id=_hex_id(_get(s, "spanId"), 8, "spanId"),
                            parent_span_id=_hex_id(_get(s, "parentSpanId"), 8, "parentSpanId"),
                            name=str(s.get("name", "")),
                            start_unix_nano=int(_get(s, "startTimeUnixNano", 0) or 0),
                            end_unix_nano=int(_get(s, "endTimeUnixNano", 0) or 0),
                            attributes=_attributes(s.get("attributes", [])),
                            resource=resource,
                            events=tuple(
                                SpanEvent(
                                    str(e.get("name", "")),
                                    int(_get(e, "timeUnixNano", 0) or 0),
                                    _attributes(e.get("attributes", [])),
                                )
                                for e in s.get("events", []) or []
                            ),
                            status_code=_status_code(status.get("code", 0)),
                            status_message=str(status.get("message", "")),
                        )
                    )
    except (AttributeError, TypeError, ValueError) as exc:
        raise MalformedRequestError(f"OTLP/JSON body has an unexpected shape: {exc}") from None
    return spans


def _pb_value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_pb_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return bytes(value.bytes_value).hex()
    return getattr(value, which)


def _pb_attributes(items: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: _pb_value(kv.value) for kv in items}


def _from_protobuf(raw: bytes) -> list[OtlpSpan]:
    try:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise MalformedRequestError(
            "OTLP protobuf needs the 'otlp' extra (pip install 'airsoc[otlp]'); "
            "or send application/json"
        ) from None
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(raw)
    except Exception as exc:  # google.protobuf.message.DecodeError, the only one it raises
        raise MalformedRequestError(f"OTLP protobuf body does not decode: {exc}") from None
    spans: list[OtlpSpan] = []
    for rs in request.resource_spans:
        resource = _pb_attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                spans.append(
                    OtlpSpan(
                        trace_id=bytes(s.trace_id).hex(),
                        span_id=bytes(s.span_id).hex(),
                        parent_span_id=bytes(s.parent_span_id).hex(),
                        name=s.name,
                        start_unix_nano=int(s.start_time_unix_nano),
                        end_unix_nano=int(s.end_time_unix_nano),
                        attributes=_pb_attributes(s.attributes),
                        resource=resource,
                        events=tuple(
                            SpanEvent(e.name, int(e.time_unix_nano), _pb_attributes(e.attributes))
                            for e in s.events
                        ),
                        status_code=int(s.status.code),
                        status_message=s.status.message,
                    )
                )
    return spans


def encode_export_response(
    rejected_spans: int = 0,
    error_message: str = "",
    *,
    content_type: str = "application/x-protobuf",
) -> bytes:
    """Return an ``ExportTraceServiceResponse`` body, with partial success when spans were rejected.

    The body is empty of fields on full success, as the OTLP specification asks.

    >>> encode_export_response(content_type="application/json")
    b'{}'
    >>> encode_export_response(2, "unknown system", content_type="application/json")
    b'{"partialSuccess": {"rejectedSpans": "2", "errorMessage": "unknown system"}}'
    """
    partial: dict[str, Any] = {}
    if rejected_spans or error_message:
        partial = {"rejectedSpans": str(int(rejected_spans)), "errorMessage": error_message}
    if content_type.split(";")[0].strip().lower() == "application/json":
        return json.dumps({"partialSuccess": partial} if partial else {}).encode()
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    response = ExportTraceServiceResponse()
    if partial:
        response.partial_success.rejected_spans = int(rejected_spans)
        response.partial_success.error_message = error_message
    return bytes(response.SerializeToString())


# -- spans to turns ---------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """Return a text value; structured values (lists, dicts) as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _parts_text(message: Mapping[str, Any]) -> str | None:
    """Return the text of a GenAI message: ``parts[*].content`` of text parts, or ``content``."""
    parts = message.get("parts")
    if isinstance(parts, list):
        texts = [
            str(p.get("content"))
            for p in parts
            if isinstance(p, Mapping) and p.get("type", "text") == "text" and p.get("content")
        ]
        return "\n".join(texts) if texts else None
    content = message.get("content")
    if isinstance(content, list):  # OpenAI-style content parts
        texts = [str(p.get("text")) for p in content if isinstance(p, Mapping) and p.get("text")]
        return "\n".join(texts) if texts else None
    return _text(content) if content is not None else None


def _messages_from(value: Any, default_role: str) -> list[dict[str, str]]:
    """Return ``[{role, content}]`` from a JSON/structured message list or a plain string."""
    value = _maybe_json(value)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [{"role": default_role, "content": value}]
    if isinstance(value, Mapping):
        if "messages" in value:
            return _messages_from(value["messages"], default_role)
        value = [value]
    out = []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                text = _parts_text(item)
                if text is not None:
                    out.append({"role": str(item.get("role", default_role)), "content": text})
            elif item is not None:
                out.append({"role": default_role, "content": _text(item) or ""})
    return out


_INDEXED = re.compile(r"^(?P<prefix>.+?)\.(?P<n>\d+)\.(?P<rest>.+)$")


def _indexed(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Return ``prefix.N.rest`` attributes grouped by N, in index order."""
    groups: dict[int, dict[str, Any]] = defaultdict(dict)
    for key, value in attrs.items():
        if not key.startswith(prefix + "."):
            continue
        m = _INDEXED.match(key)
        if m and m.group("prefix") == prefix:
            groups[int(m.group("n"))][m.group("rest")] = value
    return [groups[i] for i in sorted(groups)]


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    return None


def _event_attr(span: OtlpSpan, event_name: str, attr: str) -> Any:
    for event in span.events:
        if event.name == event_name and attr in event.attributes:
            return event.attributes[attr]
    return None


_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}


def _message_events(span: OtlpSpan) -> tuple[list[dict[str, str]], str | None]:
    """Return the per-message GenAI events (``gen_ai.user.message``, ..., ``gen_ai.choice``)."""
    messages: list[dict[str, str]] = []
    choices: list[str] = []
    for event in span.events:
        a = event.attributes
        if event.name in _MESSAGE_EVENTS:
            text = _first(a.get("content"), a.get("gen_ai.event.content"))
            parsed = _maybe_json(text)
            if isinstance(parsed, Mapping):
                text = _parts_text(parsed)
            if text is not None:
                messages.append({"role": _MESSAGE_EVENTS[event.name], "content": _text(text) or ""})
        elif event.name == "gen_ai.choice":
            message = _maybe_json(_first(a.get("message"), a.get("gen_ai.event.content")))
            text = _parts_text(message) if isinstance(message, Mapping) else _text(message)
            if text is None:
                text = _text(a.get("content"))
            if text is not None:
                choices.append(text)
    return messages, ("\n".join(choices) if choices else None)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _is_llm_span(span: OtlpSpan) -> bool:
    a = span.attributes
    if any(
        k in a
        for k in (
            "gen_ai.operation.name",
            "gen_ai.system",
            "gen_ai.provider.name",
            "gen_ai.request.model",
            "gen_ai.input.messages",
            "llm.request.type",
        )
    ):
        return a.get("gen_ai.operation.name") not in ("embeddings", "retrieval")
    if str(a.get("openinference.span.kind", "")).upper() == "LLM":
        return True
    if any(k.startswith(("llm.input_messages.", "gen_ai.prompt.")) for k in a):
        return True
    return any(
        e.name in ("gen_ai.content.prompt", "gen_ai.content.completion", "gen_ai.choice")
        or e.name in _MESSAGE_EVENTS
        for e in span.events
    )


def _documents(span: OtlpSpan) -> list[Document]:
    docs = []
    for group in _indexed(span.attributes, "retrieval.documents"):
        doc_id = group.get("document.id")
        text = group.get("document.content")
        if doc_id is None and text is None:
            continue
        docs.append(Document(str(doc_id if doc_id is not None else ""), _text(text)))
    return docs


def _span_turn(span: OtlpSpan, system: str, docs: Sequence[Document]) -> OtlpTurn:
    a = span.attributes
    # Messages in, by precedence: GenAI current, GenAI events, OpenInference, OpenLLMetry.
    style: Style
    instructions = _messages_from(a.get("gen_ai.system_instructions"), "system")
    prompt_event = _event_attr(span, "gen_ai.content.prompt", "gen_ai.prompt")
    event_messages, event_choice = _message_events(span)
    oi_in = [
        {"role": str(g.get("message.role", "user")), "content": _text(g["message.content"]) or ""}
        for g in _indexed(a, "llm.input_messages")
        if g.get("message.content") is not None
    ]
    ol_in = [
        {"role": str(g.get("role", "user")), "content": _text(g["content"]) or ""}
        for g in _indexed(a, "gen_ai.prompt")
        if g.get("content") is not None
    ]
    if a.get("gen_ai.input.messages") is not None:
        messages, style = (
            instructions + _messages_from(a["gen_ai.input.messages"], "user"),
            "gen_ai",
        )
    elif prompt_event is not None:
        messages, style = _messages_from(prompt_event, "user"), "gen_ai_events"
    elif event_messages:
        messages, style = event_messages, "gen_ai_events"
    elif oi_in:
        messages, style = oi_in, "openinference"
    elif a.get("input.value") is not None:
        messages, style = _messages_from(a["input.value"], "user"), "openinference"
    elif ol_in:
        messages, style = ol_in, "openllmetry"
    elif a.get("traceloop.entity.input") is not None:
        messages, style = _entity_messages(a["traceloop.entity.input"]), "openllmetry"
    else:
        messages = []
        style = _style_by_markers(a)
    # The answer, by the same precedence.
    completion_event = _event_attr(span, "gen_ai.content.completion", "gen_ai.completion")
    oi_out = [
        _text(g["message.content"]) or ""
        for g in _indexed(a, "llm.output_messages")
        if g.get("message.content") is not None
    ]
    ol_out = [
        _text(g["content"]) or ""
        for g in _indexed(a, "gen_ai.completion")
        if g.get("content") is not None
    ]
    completion: str | None = None
    if a.get("gen_ai.output.messages") is not None:
        completion = _joined(_messages_from(a["gen_ai.output.messages"], "assistant"))
    elif completion_event is not None:
        completion = _joined(_messages_from(completion_event, "assistant"))
    elif event_choice is not None:
        completion = event_choice
    elif oi_out:
        completion = "\n".join(oi_out)
    elif a.get("output.value") is not None:
        completion = _joined(_messages_from(a["output.value"], "assistant"))
    elif ol_out:
        completion = "\n".join(ol_out)
    elif a.get("traceloop.entity.output") is not None:
        completion = _joined(_entity_messages(a["traceloop.entity.output"]))
    session = _first(
        a.get("gen_ai.conversation.id"),
        a.get("session.id"),
        a.get("traceloop.association.properties.session_id"),
        a.get("session_id"),
    )
    user = _first(
        a.get("user.id"),
        a.get("traceloop.association.properties.user_id"),
        a.get("enduser.id"),
    )
    model = _first(
        a.get("gen_ai.response.model"),
        a.get("gen_ai.request.model"),
        a.get("llm.model_name"),
        a.get("llm.response.model"),
        a.get("llm.request.model"),
    )
    start = span.start_unix_nano
    return OtlpTurn(
        trace_id=span.trace_id,
        span_id=span.span_id,
        system=system,
        session_id=str(session) if session is not None else span.trace_id,
        user_id=str(user) if user is not None else None,
        started_at=datetime.fromtimestamp(start // 1_000_000_000, tz=UTC).replace(
            microsecond=(start % 1_000_000_000) // 1000
        ),
        latency_ms=max(span.end_unix_nano - start, 0) / 1e6,
        style=style,
        model=str(model or ""),
        messages=tuple(messages),
        completion=completion,
        documents=tuple(_documents(span)) or tuple(docs),
        prompt_tokens=_int(
            _first(
                a.get("gen_ai.usage.input_tokens"),
                a.get("gen_ai.usage.prompt_tokens"),
                a.get("llm.token_count.prompt"),
                a.get("llm.usage.prompt_tokens"),
            )
        ),
        completion_tokens=_int(
            _first(
                a.get("gen_ai.usage.output_tokens"),
                a.get("gen_ai.usage.completion_tokens"),
                a.get("llm.token_count.completion"),
                a.get("llm.usage.completion_tokens"),
            )
        ),
        status="error" if span.status_code == _STATUS_ERROR else "ok",
    )


def _joined(messages: Sequence[Mapping[str, str]]) -> str | None:
    return "\n".join(m["content"] for m in messages) if messages else None


def _entity_messages(value: Any) -> list[dict[str, str]]:
    """Return messages from a Traceloop entity payload (``{"inputs": ...}`` or outputs)."""
    value = _maybe_json(value)
    if isinstance(value, Mapping):
        for key in ("inputs", "outputs", "args", "kwargs"):
            if key in value:
                return _entity_messages(value[key])
        for key in ("messages", "question", "query", "input", "prompt", "answer", "output"):
            if key in value:
                return _messages_from(value[key], "user")
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return _messages_from(value[0], "user")
    return _messages_from(value, "user")


def _style_by_markers(attrs: Mapping[str, Any]) -> Style:
    if "openinference.span.kind" in attrs or "llm.model_name" in attrs:
        return "openinference"
    if "llm.request.type" in attrs or any(k.startswith("traceloop.") for k in attrs):
        return "openllmetry"
    return "gen_ai"


def _system_of(span: OtlpSpan, system_attribute: str | None) -> Any:
    if system_attribute:
        return _first(span.attributes.get(system_attribute), span.resource.get(system_attribute))
    return span.resource.get("service.name")


def spans_to_turns(
    spans: Sequence[OtlpSpan],
    *,
    systems: Collection[str] | None = None,
    system_attribute: str | None = None,
) -> TraceImport:
    """Return the LLM turns in ``spans``, with counts of accepted and rejected spans.

    ``systems`` lists the systems airsoc knows (None accepts any); a span whose system is
    missing or unknown is rejected with the reason. ``system_attribute`` names the attribute
    (span first, then resource) that holds the system, instead of ``service.name``.

    >>> s = OtlpSpan(trace_id="01" * 16, span_id="02" * 8, parent_span_id="", name="llm",
    ...              start_unix_nano=0, end_unix_nano=1_000_000, resource={"service.name": "x"},
    ...              attributes={"gen_ai.system": "openai"})
    >>> r = spans_to_turns([s], systems={"support-bot"})
    >>> r.turns, r.rejected_spans, r.error_message
    ([], 1, "1 span rejected: unknown system 'x'")
    >>> t = spans_to_turns([s]).turns[0]
    >>> t.content_captured, t.session_id == "01" * 16
    (False, True)
    """
    rejections: Counter[str] = Counter()
    by_trace: dict[str, list[tuple[OtlpSpan, str]]] = defaultdict(list)
    accepted = 0
    for span in spans:
        system = _system_of(span, system_attribute)
        if system is None or system == "":
            where = system_attribute or "service.name"
            rejections[f"no {where} to name the system"] += 1
            continue
        if systems is not None and str(system) not in systems:
            rejections[f"unknown system {str(system)!r}"] += 1
            continue
        accepted += 1
        by_trace[span.trace_id].append((span, str(system)))
    turns: list[OtlpTurn] = []
    for members in by_trace.values():
        docs = [d for span, _ in members for d in _documents(span)]
        llm = [(span, system) for span, system in members if _is_llm_span(span)]
        if not llm:
            llm = [
                (span, system)
                for span, system in members
                if "traceloop.entity.input" in span.attributes
                and span.attributes.get("traceloop.span.kind") in ("workflow", "agent", None)
            ][:1]
        turns.extend(_span_turn(span, system, docs) for span, system in llm)
    turns.sort(key=lambda t: (t.started_at, t.trace_id, t.span_id))
    return TraceImport(turns, accepted, dict(rejections))


def gzip_body(body: bytes) -> bytes:
    """Return ``body`` gzip-compressed, as OTLP exporters send it (for clients and tests).

    >>> decode_export_request(gzip_body(b"{}"), content_type="application/json",
    ...                       content_encoding="gzip")
    []
    """
    return gzip.compress(body, mtime=0)
