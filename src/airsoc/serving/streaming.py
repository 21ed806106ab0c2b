"""Streamed chat completions: server-sent events in OpenAI's chunk format, relayed through the
gateway's guard window by window.

The relay holds the upstream's chunks until the text they carry fills a window
(``GuardConfig.stream_window`` characters), scans that window with the tail of what was already
sent before it (so a sentence cut in two by the window is read whole), and only then sends the
chunks on. At the end of the upstream's stream the remaining tail is scanned the same way. When
a window fails, ``block`` cuts the stream: the caller gets a last chunk with ``finish_reason``
``content_filter`` and ``[DONE]``, and the upstream's connection is closed; ``redact`` sends the
window's text redacted in one chunk instead of its chunks and goes on; ``log`` sends every chunk
as it comes and scans behind it. A failed check follows ``on_error``.

Example:
    >>> import asyncio
    >>> chunk = completion_chunks({"id": "c1", "created": 0, "model": "m", "choices": [
    ...     {"index": 0, "message": {"role": "assistant", "content": "Hi"},
    ...      "finish_reason": "stop"}]})
    >>> [c["choices"][0]["delta"] for c in chunk]
    [{'role': 'assistant', 'content': 'Hi'}, {}]
    >>> sse(chunk[1])[:6], SSE_DONE
    (b'data: ', b'data: [DONE]\\n\\n')
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airsoc.errors import AirsocError
from airsoc.serving.guard import GuardCheck

__all__ = [
    "SSE_DONE",
    "StreamReport",
    "completion_chunks",
    "guarded_stream",
    "sse",
]

SSE_DONE = b"data: [DONE]\n\n"
#: How much of the text already sent is scanned again with the next window.
_CONTEXT_CHARS = 120


def sse(payload: Mapping[str, Any]) -> bytes:
    """Return one server-sent event carrying ``payload`` as JSON.

    >>> sse({"a": 1})
    b'data: {"a": 1}\\n\\n'
    """
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def completion_chunks(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return a whole chat completion as the chunks a stream of it would carry."""
    base = {
        "id": answer.get("id"),
        "object": "chat.completion.chunk",
        "created": answer.get("created"),
        "model": answer.get("model"),
    }
    chunks: list[dict[str, Any]] = []
    finals: list[dict[str, Any]] = []
    for choice in answer.get("choices", []):
        message = choice.get("message") or {}
        delta = {"role": message.get("role", "assistant"), "content": message.get("content")}
        chunks.append({**base, "choices": [{"index": choice.get("index", 0), "delta": delta}]})
        finals.append(
            {
                "index": choice.get("index", 0),
                "delta": {},
                "finish_reason": choice.get("finish_reason", "stop"),
            }
        )
    chunks.append({**base, "choices": finals})
    return chunks


def _delta_text(chunk: Mapping[str, Any]) -> str:
    text = []
    for choice in chunk.get("choices") or []:
        if isinstance(choice, Mapping):
            content = (choice.get("delta") or {}).get("content")
            if isinstance(content, str):
                text.append(content)
    return "".join(text)


@dataclass
class StreamReport:
    """What the caller of a stream received, for the turn's event."""

    content: str = ""
    upstream: str = ""
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    first: dict[str, Any] | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"

    def response(self) -> dict[str, Any]:
        """Return the stream as one chat completion with the text the upstream sent (what the
        model did; the guard's decisions say what the caller got), for the log."""
        first = self.first or {}
        return {
            "id": first.get("id"),
            "object": "chat.completion",
            "created": first.get("created"),
            "model": first.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.upstream},
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": self.usage,
        }


async def guarded_stream(
    chunks: AsyncIterator[dict[str, Any]],
    *,
    check: Callable[[str, str], Awaitable[GuardCheck]] | None,
    action: str,
    window: int,
    report: StreamReport,
    on_end: Callable[[StreamReport], None],
) -> AsyncIterator[bytes]:
    """Yield the upstream's ``chunks`` as server-sent events, scanned in windows by
    ``check(context, window)`` (None: not scanned) and acted on as ``action`` (block, redact or
    log) says; ``on_end`` gets the report once the stream is over, however it ended, and
    before the client is sent the stream's last event: a client that has read the end of its
    stream finds its turn in the event log."""
    held: list[dict[str, Any]] = []
    pending = ""
    sent = ""
    holding = check is not None and action in ("block", "redact")

    def emit(chunk: dict[str, Any]) -> bytes:
        nonlocal sent
        if report.first is None:
            report.first = chunk
        text = _delta_text(chunk)
        sent += text
        report.content += text
        for choice in chunk.get("choices") or []:
            if isinstance(choice, Mapping) and choice.get("finish_reason"):
                report.finish_reason = str(choice["finish_reason"])
        if chunk.get("usage"):
            report.usage = dict(chunk["usage"])
        return sse(chunk)

    def cut(template: Mapping[str, Any]) -> bytes:
        report.status = "blocked"
        report.finish_reason = "content_filter"
        return sse(
            {
                "id": template.get("id"),
                "object": "chat.completion.chunk",
                "created": template.get("created"),
                "model": template.get("model"),
                "choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}],
            }
        )

    ended = False

    def end() -> None:
        nonlocal ended
        if not ended:
            ended = True
            on_end(report)

    async def scan(text: str) -> GuardCheck:
        assert check is not None
        result = await check(sent[-_CONTEXT_CHARS:], text)
        report.decisions += result.decisions
        return result

    try:
        try:
            async for chunk in chunks:
                text = _delta_text(chunk)
                report.upstream += text
                if chunk.get("usage"):
                    report.usage = dict(chunk["usage"])
                if not holding:
                    yield emit(chunk)
                    if check is not None and text:
                        pending += text
                        if len(pending) >= window:
                            await scan(pending)
                            pending = ""
                    continue
                held.append(chunk)
                pending += text
                if len(pending) < window:
                    continue
                result = await scan(pending)
                if result.blocked:
                    last = cut(chunk)
                    end()
                    yield last
                    yield SSE_DONE
                    return
                if result.changed:
                    finals = [c for c in held if not _delta_text(c) and _is_final(c)]
                    yield emit(_text_chunk(held[0], result.text))
                    held = finals
                else:
                    for c in held:
                        yield emit(c)
                    held = []
                pending = ""
        except AirsocError as exc:
            report.status = "error"
            end()
            yield sse({"error": {"message": str(exc), "type": exc.code, "code": exc.code}})
            return
        if pending and check is not None:
            result = await scan(pending)
            if holding and result.blocked:
                last = cut(held[-1] if held else report.first or {})
                end()
                yield last
                yield SSE_DONE
                return
            if holding and result.changed and held:
                finals = [c for c in held if not _delta_text(c) and _is_final(c)]
                yield emit(_text_chunk(held[0], result.text))
                held = finals
        last_chunks = [emit(c) for c in held]
        end()
        for data in last_chunks:
            yield data
        yield SSE_DONE
    finally:
        end()  # first: closing below may be cut short when the caller went away
        closer = getattr(chunks, "aclose", None)
        if closer is not None:
            await closer()


def _is_final(chunk: Mapping[str, Any]) -> bool:
    return any(
        isinstance(c, Mapping) and c.get("finish_reason") for c in chunk.get("choices") or []
    ) or bool(chunk.get("usage"))


def _text_chunk(template: Mapping[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": template.get("id"),
        "object": "chat.completion.chunk",
        "created": template.get("created"),
        "model": template.get("model"),
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }
