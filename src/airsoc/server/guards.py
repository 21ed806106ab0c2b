"""What the web app does before any route runs: refuse hostile requests and set the headers that
keep the console safe in a browser.

- :class:`~airsoc.serving.limits.RequestLimitsMiddleware` with the app's
  :class:`~airsoc.serving.limits.RequestLimits`: bodies over ``max_body_bytes`` (evidence uploads:
  ``max_upload_bytes``) get 413 before the body is read or the token is checked; JSON nested
  deeper than ``max_json_depth``, and control characters in the path, the query or a console
  form, get 422 naming where. Text fields of JSON bodies refuse control characters in their
  models (:data:`airsoc.types.Text`), so the OpenAPI document says so too.
- Every answer carries ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``; pages also
  carry a ``Content-Security-Policy`` that allows only the console's own stylesheet and script
  files (no inline script), requests to itself (the live updates), and no framing
  (``frame-ancestors 'none'``). Under ``/api/`` (JSON, and the post-mortem report as a
  self-contained HTML page with its own ``<style>``) inline style is allowed and nothing else.
  The interactive API docs (``/docs``, ``/redoc``) load Swagger UI and ReDoc from the app itself
  (:mod:`airsoc.server.apidocs`): scripts from ``'self'`` only; inline style, which both
  libraries inject, and ReDoc's blob: worker are allowed there.

Example:
    >>> from airsoc.errors import PayloadTooLargeError
    >>> refuse = refusal(error_page=None)
    >>> r = refuse({"type": "http", "path": "/api/v1/incidents", "headers": []},
    ...            PayloadTooLargeError("too big", loc="body"))
    >>> r.status_code, bytes(r.body)
    (413, b'{"code":"payload_too_large","message":"too big","loc":"body"}')
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airsoc.errors import AirsocError
from airsoc.server.errors import ErrorBody, ErrorPage
from airsoc.serving.limits import Refuse, RequestLimits, RequestLimitsMiddleware

__all__ = [
    "CONSOLE_CSP",
    "DOCS_CSP",
    "UPLOAD_PATHS",
    "SecurityHeadersMiddleware",
    "install_guards",
    "refusal",
]

#: Routes whose bodies are files: they stream (to disk) up to ``max_upload_bytes``.
UPLOAD_PATHS = (re.compile(r"^/api/v1/incidents/[^/]+/evidence/?$"),)

#: The console's policy: its own stylesheet, images and script files (no inline script), requests
#: only to itself, forms only to itself, and never inside a frame (clickjacking).
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_API_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
#: The API docs' policy: Swagger UI and ReDoc from the app itself, never from elsewhere.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_DOCS = ("/docs", "/redoc")


def refusal(*, error_page: ErrorPage | None) -> Refuse:
    """Return how the app refuses a request before it reached a route: :class:`ErrorBody` JSON
    for the API, ``error_page`` (the console's) elsewhere."""

    def refuse(scope: Scope, error: AirsocError) -> Response:
        path = str(scope.get("path", ""))
        if error_page is not None and not path.startswith("/api/"):
            return error_page(Request(scope), status=error.http_status, message=str(error))
        body = ErrorBody(code=error.code, message=error.message, loc=error.loc)
        return JSONResponse(body.model_dump(exclude_none=True), status_code=error.http_status)

    return refuse


class SecurityHeadersMiddleware:
    """ASGI middleware adding the browser-facing security headers to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on and add the headers to the answer's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if path.startswith(_DOCS):
            csp = DOCS_CSP
        else:
            csp = _API_CSP if path.startswith("/api/") else CONSOLE_CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                for name, value in (
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ):
                    if name not in names:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def install_guards(app: FastAPI, *, limits: RequestLimits, error_page: ErrorPage) -> None:
    """Add the request limits and the security headers to ``app`` (call before the metrics
    middleware, so refused requests are counted too)."""
    app.add_middleware(
        RequestLimitsMiddleware,
        limits=limits,
        refuse=refusal(error_page=error_page),
        upload_paths=UPLOAD_PATHS,
    )
    app.add_middleware(SecurityHeadersMiddleware)
