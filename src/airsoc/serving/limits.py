"""Bounds on what an HTTP client may send, checked before an app parses anything or looks up who
is asking: body size, JSON depth and control characters in text. The gateway and the REST API
both run behind :class:`RequestLimitsMiddleware`.

- A ``Content-Length`` over the limit is refused at once with 413; a chunked body is counted as
  it arrives and refused when it passes the limit, so no client makes the server hold more.
- JSON and form bodies (at most ``max_body_bytes``) are read whole, then checked before the app
  parses them: JSON nested deeper than ``max_json_depth`` is refused, and so is a control
  character in a form field or (with ``json_text``) in any string or key of a JSON body, with
  its location. Other bodies (file uploads, up to ``max_upload_bytes`` on the paths named as
  upload paths) stream through, counted.
- The path and every query parameter are checked for control characters too.

Example:
    >>> import asyncio, httpx
    >>> from starlette.applications import Starlette
    >>> from starlette.responses import JSONResponse
    >>> from starlette.routing import Route
    >>> async def echo(request):
    ...     return JSONResponse(await request.json())
    >>> def refuse(scope, error):
    ...     return JSONResponse(error.to_dict(), status_code=error.http_status)
    >>> app = RequestLimitsMiddleware(
    ...     Starlette(routes=[Route("/echo", echo, methods=["POST"])]),
    ...     limits=RequestLimits(max_body_bytes=100, max_json_depth=3), refuse=refuse,
    ...     json_text=True)
    >>> async def post(body):
    ...     transport = httpx.ASGITransport(app=app)
    ...     async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
    ...         r = await client.post("/echo", content=body,
    ...                               headers={"content-type": "application/json"})
    ...         return r.status_code, r.json()
    >>> asyncio.run(post(b'{"a": [1]}'))
    (200, {'a': [1]})
    >>> asyncio.run(post(b"[" * 200))[1]["code"]
    'payload_too_large'
    >>> asyncio.run(post(b"[[[[1]]]]"))[1]["message"]
    'the JSON body nests arrays and objects deeper than 3 levels'
    >>> asyncio.run(post(b'{"note": "a\\\\u0000b"}'))[1]["loc"]
    'body.note'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airsoc.errors import AirsocError, InputError, MalformedRequestError, PayloadTooLargeError
from airsoc.types import (
    control_character_problem,
    find_control_character_in_json,
    json_depth_exceeds,
)

__all__ = ["BodyTooLarge", "Refuse", "RequestLimits", "RequestLimitsMiddleware"]

#: Builds the answer refusing a request, in the app's own error format.
Refuse = Callable[[Scope, AirsocError], Response]

# A JSON escape of a control character or a surrogate (or raw bytes: DEL, C1 in UTF-8). A hit
# only means the body is parsed and walked to find where; the walk decides (a pair is fine).
_CONTROL_HINT = re.compile(
    rb"\\u00[01][0-9a-fA-F]|\\u00[89][0-9a-fA-F]|\\u007[fF]|\\u[dD][89a-fA-F]"
    rb"|\x7f|\xc2[\x80-\x9f]"
)


@dataclass(frozen=True)
class RequestLimits:
    """How much a client may send: body bytes (JSON and forms), upload bytes (files on the
    upload paths) and JSON nesting depth.

    >>> RequestLimits().max_body_bytes, RequestLimits().max_json_depth
    (1048576, 64)
    """

    max_body_bytes: int = 1 << 20
    max_upload_bytes: int = 100 << 20
    max_json_depth: int = 64

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_upload_bytes", "max_json_depth"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}", loc=name)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit; carries the airsoc error.

    It is an HTTP exception so that frameworks which wrap body errors (FastAPI turns any other
    into a 400) pass it on as a 413.
    """

    def __init__(self, error: PayloadTooLargeError) -> None:
        super().__init__(status_code=413, detail=error.message)
        self.error = error


class RequestLimitsMiddleware:
    """ASGI middleware enforcing :class:`RequestLimits` before the app runs (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RequestLimits,
        refuse: Refuse,
        upload_paths: Sequence[re.Pattern[str]] = (),
        json_always: bool = False,
        json_text: bool = False,
    ) -> None:
        """``upload_paths`` get ``max_upload_bytes`` and stream through; with ``json_always``
        every body is checked as JSON whatever its content type (the gateway reads them so);
        with ``json_text`` every string of a JSON body is checked for control characters (an
        app whose models type each field checks them there, with a schema saying so)."""
        self.app = app
        self.limits = limits
        self.refuse = refuse
        self.upload_paths = tuple(upload_paths)
        self.json_always = json_always
        self.json_text = json_text

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request, or pass it on with a ``receive`` that cannot exceed the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_url(scope)
            upload = any(p.match(scope["path"]) for p in self.upload_paths)
            limit = self.limits.max_upload_bytes if upload else self.limits.max_body_bytes
            headers = Headers(scope=scope)
            _check_declared_length(headers.get("content-length"), limit)
            kind = None if upload else self._kind(headers.get("content-type"))
            if kind is not None:
                body = await _read_whole(receive, limit)
                self._check_body(kind, body)
                receive = _replay(body, receive)
        except AirsocError as exc:
            await self.refuse(scope, exc)(scope, receive, send)
            return
        await self._stream(scope, receive, send, limit)

    def _kind(self, content_type: str | None) -> str | None:
        media = (content_type or "").split(";")[0].strip().lower()
        if media == "application/x-www-form-urlencoded":
            return "form"
        if self.json_always or media == "application/json" or media.endswith("+json"):
            return "json"
        return None

    def _check_body(self, kind: str, body: bytes) -> None:
        if not body:
            return
        if kind == "form":
            _check_pairs(body.decode("latin-1"), "form")
            return
        depth = self.limits.max_json_depth
        if json_depth_exceeds(body, depth):
            raise InputError(
                f"the JSON body nests arrays and objects deeper than {depth} levels", loc="body"
            )
        if not self.json_text or _CONTROL_HINT.search(body) is None:
            return
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return  # not JSON: the app answers that in its own words
        found = find_control_character_in_json(document, "body")
        if found is not None:
            loc, problem = found
            raise InputError(problem, loc=loc)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(_too_large(None, limit))
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:
            if started:
                raise
            await self.refuse(scope, exc.error)(scope, receive, send)


def _too_large(declared: int | None, limit: int) -> PayloadTooLargeError:
    size = f"has {declared} bytes" if declared is not None else "is larger than that"
    return PayloadTooLargeError(
        f"the request body {size}; at most {limit} bytes are accepted here", loc="body"
    )


def _check_declared_length(declared: str | None, limit: int) -> None:
    if declared is None:
        return
    if not declared.isdigit() or len(declared) > 20:
        raise MalformedRequestError(
            f"Content-Length {declared[:40]!r} is not a number of bytes", loc="Content-Length"
        )
    if int(declared) > limit:
        raise _too_large(int(declared), limit)


async def _read_whole(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the app sees an empty body and the disconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(None, limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _check_url(scope: Scope) -> None:
    problem = control_character_problem(scope["path"])
    if problem:
        raise InputError(f"the path {problem}", loc="path")
    query = scope.get("query_string", b"")
    if query:
        _check_pairs(query.decode("latin-1"), "query")


def _check_pairs(encoded: str, where: str) -> None:
    pairs: list[tuple[str, Any]] = parse_qsl(
        encoded, keep_blank_values=True, encoding="utf-8", errors="replace"
    )
    for name, value in pairs:
        problem = control_character_problem(name) or control_character_problem(value)
        if problem:
            shown = name[:100].encode("unicode_escape").decode("ascii")
            raise InputError(problem, loc=f"{where}.{shown}")
