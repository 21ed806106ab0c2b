"""An LLM app as teams run it: the ``openai`` client, traced, exported to airsoc over OTLP/HTTP.

The spans are made by a small OpenInference-style instrumentation of the client (the
``openinference-instrumentation-openai`` package is not installed here): a wrapper around
``chat.completions.create`` that sets the attributes that package sets (``openinference.span.kind``,
``llm.model_name``, ``llm.input_messages.N.message.*``, ``llm.output_messages.N.message.*``,
``input.value``, ``output.value``, ``llm.token_count.*``, ``session.id``, ``user.id``) and a
retriever span with ``retrieval.documents.N.document.*``. With ``--hide-content`` it leaves the
text out, as OpenInference's ``OPENINFERENCE_HIDE_INPUTS``/``HIDE_OUTPUTS`` and OpenTelemetry's
default (content capture off) do. The spans go through the official SDK and the official
OTLP/HTTP protobuf exporter (``opentelemetry-exporter-otlp-proto-http``), gzip-compressed with
``--gzip``.

Run: ``python otel_chat_app.py --airsoc URL --token TOKEN --upstream URL --service NAME
--question TEXT [--document ID=TEXT] [--hide-content] [--gzip]``. It prints the trace id.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import openai
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer

_CONTEXT: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("context_attributes", default=())


@contextmanager
def using_attributes(*, session_id: str, user_id: str) -> Iterator[None]:
    """Put a session and user on every span made inside (OpenInference's ``using_attributes``)."""
    token = _CONTEXT.set((("session.id", session_id), ("user.id", user_id)))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def instrument(client: openai.OpenAI, tracer: Tracer, *, hide_content: bool) -> None:
    """Wrap ``client.chat.completions.create`` in an OpenInference LLM span."""
    create = client.chat.completions.create

    def traced(**kwargs: Any) -> Any:
        with tracer.start_as_current_span("ChatCompletion") as span:
            span.set_attribute("openinference.span.kind", "LLM")
            for key, value in _CONTEXT.get():
                span.set_attribute(key, value)
            span.set_attribute("llm.system", "openai")
            span.set_attribute("llm.model_name", kwargs["model"])
            span.set_attribute("llm.invocation_parameters", json.dumps({"model": kwargs["model"]}))
            if not hide_content:
                span.set_attribute("input.value", json.dumps({"messages": kwargs["messages"]}))
                span.set_attribute("input.mime_type", "application/json")
                for i, message in enumerate(kwargs["messages"]):
                    span.set_attribute(f"llm.input_messages.{i}.message.role", message["role"])
                    span.set_attribute(
                        f"llm.input_messages.{i}.message.content", message["content"]
                    )
            response = create(**kwargs)
            span.set_attribute("llm.model_name", response.model)
            if response.usage is not None:
                span.set_attribute("llm.token_count.prompt", response.usage.prompt_tokens)
                span.set_attribute("llm.token_count.completion", response.usage.completion_tokens)
            if not hide_content:
                answer = response.choices[0].message
                span.set_attribute("output.value", answer.content or "")
                span.set_attribute("llm.output_messages.0.message.role", answer.role)
                span.set_attribute("llm.output_messages.0.message.content", answer.content or "")
            return response

    client.chat.completions.create = traced  # type: ignore[method-assign]


def main() -> None:
    """Ask one question through the traced client and export the trace."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--airsoc", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--question", required=True)
    parser.add_argument("--session", default="session-1")
    parser.add_argument("--user", default="user-1")
    parser.add_argument("--document", action="append", default=[])
    parser.add_argument("--hide-content", action="store_true")
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()

    exporter = OTLPSpanExporter(
        endpoint=f"{args.airsoc}/v1/traces",
        headers={"Authorization": f"Bearer {args.token}"},
        compression=Compression.Gzip if args.gzip else Compression.NoCompression,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": args.service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("otel_chat_app")
    client = openai.OpenAI(base_url=f"{args.upstream}/v1", api_key="sk-local", max_retries=0)
    instrument(client, tracer, hide_content=args.hide_content)

    with (
        using_attributes(session_id=args.session, user_id=args.user),
        tracer.start_as_current_span("answer-question") as root,
    ):
        root.set_attribute("openinference.span.kind", "CHAIN")
        context = []
        with tracer.start_as_current_span("retrieve") as retrieve:
            retrieve.set_attribute("openinference.span.kind", "RETRIEVER")
            for i, document in enumerate(args.document):
                doc_id, _, text = document.partition("=")
                retrieve.set_attribute(f"retrieval.documents.{i}.document.id", doc_id)
                if not args.hide_content:
                    retrieve.set_attribute(f"retrieval.documents.{i}.document.content", text)
                context.append(text)
        messages: list[Any] = [
            {"role": "system", "content": "Answer from the context: " + " ".join(context)},
            {"role": "user", "content": args.question},
        ]
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        trace_id = f"{root.get_span_context().trace_id:032x}"
    if not provider.force_flush(60_000):
        raise SystemExit("the spans were not exported")
    provider.shutdown()
    print(trace_id)


if __name__ == "__main__":
    main()
