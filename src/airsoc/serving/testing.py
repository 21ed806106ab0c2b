"""Test doubles shipped with the gateway: a real uvicorn server in a thread, and a local
OpenAI-compatible chat upstream that speaks the real wire format (for drills, demos and tests).

Example:
    >>> import httpx
    >>> upstream = FakeChatUpstream(reply="Our refund window is 30 days.")
    >>> with serve_in_thread(upstream.app) as url:
    ...     answer = httpx.post(f"{url}/v1/chat/completions", json={
    ...         "model": "tiny", "messages": [{"role": "user", "content": "refunds?"}]}).json()
    >>> answer["object"], answer["choices"][0]["message"]["content"]
    ('chat.completion', 'Our refund window is 30 days.')
    >>> upstream.requests[0]["model"]
    'tiny'
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["FakeChatUpstream", "serve_in_thread"]


@contextmanager
def serve_in_thread(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on ``port`` (0: a free one) in a thread; yield its base
    URL.

    The app's lifespan runs, so a gateway app starts its routing poller and, on exit, closes.
    """
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


class FakeChatUpstream:
    """An OpenAI-compatible ``POST /v1/chat/completions`` answering ``reply`` and recording
    every request body it received (``requests``).

    With ``"stream": true`` it answers server-sent events in OpenAI's chunk format: a role
    chunk, the reply in pieces of ``chunk_chars`` characters, a final chunk with
    ``finish_reason`` (and ``usage`` when ``stream_options.include_usage`` asks), then
    ``[DONE]``."""

    def __init__(self, *, reply: str = "ok", status_code: int = 200, chunk_chars: int = 7) -> None:
        self.reply = reply
        self.status_code = status_code
        self.chunk_chars = chunk_chars
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])]
        )

    async def _complete(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        if self.status_code != 200:
            return JSONResponse(
                {
                    "error": {
                        "message": "upstream failure",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                },
                status_code=self.status_code,
            )
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion_tokens = len(self.reply.split())
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                self._events(body["model"], usage if include_usage else None),
                media_type="text/event-stream",
            )
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1_767_225_600,
                "model": body["model"],
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.reply, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
        )

    async def _events(self, model: str, usage: dict[str, int] | None) -> AsyncIterator[str]:
        base = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion.chunk",
            "created": 1_767_225_600,
            "model": model,
            "system_fingerprint": "fp_fake",
        }

        def event(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"

        yield event({"role": "assistant", "content": ""})
        step = max(1, self.chunk_chars)
        for i in range(0, len(self.reply), step):
            yield event({"content": self.reply[i : i + step]})
        yield event({}, "stop")
        if usage is not None:
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"
