"""The support bot as an OpenAI-compatible chat upstream: ``POST /v1/chat/completions``.

The gateway's chat endpoint forwards to it (a model version of framework ``openai`` whose
artifact is this app's ``/v1`` URL). The bot answers the last user message; the answer is an
OpenAI ``chat.completion`` that also reports what the answer rests on, so the gateway's turn
log carries it and the LLM monitors read it:

- ``retrieved``: the chunks the answer used (``doc_id``, ``section``, ``text``, ``sha256`` of
  the document), in order;
- ``citations`` (policy IDs), ``mode`` (``rag``, ``scripted`` or ``handoff``) and
  ``session_id`` (the request's ``user``, else ``anonymous``).

Before each answer the app reads the system's retrieval control when it is given one
(``controls``: retrieval disabled, documents removed), so the response actions
``disable_retrieval`` and ``remove_document`` reach the running bot.

Example:
    >>> import httpx
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.serving.testing import serve_in_thread
    >>> app = chat_app(SupportBot.demo(clock=SimulatedClock()))
    >>> with serve_in_thread(app) as url:
    ...     answer = httpx.post(f"{url}/v1/chat/completions", json={"model": "support-bot",
    ...         "messages": [{"role": "user", "content": "How long are backups kept?"}]}).json()
    >>> answer["choices"][0]["message"]["content"][:43]
    'Backups are retained for 35 days and stored'
    >>> answer["mode"], [c["doc_id"] for c in answer["retrieved"]]
    ('rag', ['POL-IT-004', 'POL-IT-004'])
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airsoc.fleet.rag.bot import BotReply, SupportBot
from airsoc.serving import RetrievalView

__all__ = ["chat_app", "chat_completion", "question_of"]

#: Returns the bot's retrieval control now (None: no control, retrieve from every document).
Controls = Callable[[], RetrievalView | None]


def question_of(messages: Any) -> str:
    """Return the text of the last user message; ValueError naming what is wrong otherwise.

    >>> question_of([{"role": "system", "content": "Be brief."},
    ...              {"role": "user", "content": [{"type": "text", "text": "Refunds?"}]}])
    'Refunds?'
    """
    if not isinstance(messages, list) or not messages:
        raise ValueError('"messages" must be a non-empty list of {role, content}')
    users = [m for m in messages if isinstance(m, Mapping) and m.get("role") == "user"]
    if not users:
        raise ValueError('"messages" holds no message with role "user"')
    content = users[-1].get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p
        )
    raise ValueError("the last user message has no text content")


def chat_completion(
    reply: BotReply, *, question: str, model: str, session_id: str, seq: int, created: int
) -> dict[str, Any]:
    """Return the bot's ``reply`` to ``question`` as an OpenAI chat completion (id
    ``chatcmpl-rag-<seq>``, created at ``created`` epoch seconds), with what it rests on.

    >>> from airsoc.fleet.rag.bot import BotReply
    >>> c = chat_completion(BotReply("Hello.", "scripted"), model="bot", session_id="s",
    ...                     seq=1, created=0, question="hi")
    >>> c["object"], c["mode"], c["retrieved"], c["usage"]["total_tokens"]
    ('chat.completion', 'scripted', [], 2)
    """
    prompt_tokens = len(question.split())
    completion_tokens = len(reply.text.split())
    return {
        "id": f"chatcmpl-rag-{seq}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "mode": reply.mode,
        "citations": list(reply.citations),
        "session_id": session_id,
        "retrieved": [
            {"doc_id": c.doc_id, "section": c.section, "text": c.text, "sha256": c.sha256}
            for c in reply.chunks
        ],
    }


def _error(message: str, *, status: int = 400, param: str | None = None) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": None,
            }
        },
        status_code=status,
    )


def chat_app(bot: SupportBot, *, controls: Controls | None = None) -> Starlette:
    """Return an ASGI app answering OpenAI chat completion requests with ``bot``.

    ``controls`` is read before each answer: with retrieval disabled the bot answers from its
    scripts; removed documents are never retrieved.
    """
    seq = itertools.count(1)

    def answer(question: str, session_id: str) -> BotReply:
        view = controls() if controls is not None else None
        return bot.answer(
            question,
            session_id=session_id,
            retrieval=view.enabled if view is not None else True,
            exclude=frozenset(view.removed_documents) if view is not None else frozenset(),
        )

    async def complete(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            return _error(f"the body is not valid JSON: {exc}")
        if not isinstance(body, dict):
            return _error("the body must be a JSON object")
        if body.get("stream"):
            return _error("streaming is not supported", param="stream")
        try:
            question = question_of(body.get("messages"))
        except ValueError as exc:
            return _error(str(exc), param="messages")
        user = body.get("user")
        session_id = user if isinstance(user, str) and user else "anonymous"
        # Retrieval and the store read block: keep them off the event loop.
        reply = await run_in_threadpool(answer, question, session_id)
        return JSONResponse(
            chat_completion(
                reply,
                model=str(body.get("model") or "support-bot"),
                session_id=session_id,
                seq=next(seq),
                created=int(bot.clock.now().timestamp()),
                question=question,
            )
        )

    return Starlette(routes=[Route("/v1/chat/completions", complete, methods=["POST"])])
