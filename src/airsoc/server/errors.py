"""How the API answers errors: ``{code, message, loc}`` with the status of the error class.

Every route documents the errors it can answer with :func:`error_responses`, so the OpenAPI spec
lists them and clients (and schemathesis) can rely on it.

Example:
    >>> sorted(error_responses(404, 422))
    [401, 404, 422]
    >>> ErrorBody(code="not_found", message="incident 9 not found").model_dump(exclude_none=True)
    {'code': 'not_found', 'message': 'incident 9 not found'}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from airsoc.errors import AirsocError, AuthenticationError
from airsoc.types import NON_BLANK_PATTERN, TEXT_PATTERN, control_character_problem

__all__ = ["ErrorBody", "ErrorIssue", "ErrorPage", "error_responses", "install_error_handlers"]

logger = logging.getLogger("airsoc.server")

_DESCRIPTIONS = {
    400: "The request is malformed.",
    401: "No valid API token (send `Authorization: Bearer <token>`).",
    403: "The user's role does not allow this.",
    404: "The object does not exist.",
    409: "The request conflicts with the object's current state (e.g. an illegal transition).",
    413: "The request body is larger than the server accepts.",
    422: "A value is not acceptable; `loc` names it.",
    503: "The state store cannot be reached.",
}


class ErrorIssue(BaseModel):
    """One problem with a request value."""

    loc: str
    message: str


class ErrorBody(BaseModel):
    """Every API error: a stable code (see docs/errors.md), a message and where the problem is."""

    code: str = Field(description="Stable error code, e.g. `illegal_transition`")
    message: str
    loc: str | None = Field(None, description="What in the request was wrong, e.g. `body.to`")
    issues: list[ErrorIssue] | None = Field(None, description="Every problem, for 422 answers")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return OpenAPI ``responses`` for these statuses (401 always: every route needs a token)."""
    wanted = sorted({401, *statuses})
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in wanted}


def _message(error: Mapping[str, Any]) -> str:
    """Return pydantic's message, or for the shared text patterns what is actually wrong."""
    pattern = (error.get("ctx") or {}).get("pattern")
    value = error.get("input")
    if pattern in (TEXT_PATTERN, NON_BLANK_PATTERN) and isinstance(value, str):
        problem = control_character_problem(value)
        if problem:
            return problem
        if pattern == NON_BLANK_PATTERN:
            return "must hold a character that is not white space"
    return str(error.get("msg"))


def _is_api(request: Request) -> bool:
    # /v1/ is OTLP's intake (/v1/traces): machines, never a console user.
    return request.url.path.startswith(("/api/", "/v1/"))


class ErrorPage(Protocol):
    """Renders the console's page for an error (the console passes its own in)."""

    def __call__(self, request: Request, *, status: int, message: str) -> Response:
        """Return the HTML page telling a console user what went wrong."""
        ...


def install_error_handlers(app: FastAPI, *, error_page: ErrorPage) -> None:
    """Answer airsoc errors, validation errors and HTTP errors with :class:`ErrorBody`.

    Outside ``/api/`` (and OTLP's ``/v1/``) a console user gets ``error_page`` instead (or the
    login page for a 401).
    """

    def _console_error(request: Request, status: int, message: str) -> Response:
        if status == 401:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return error_page(request, status=status, message=message)

    async def airsoc_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AirsocError)
        if exc.http_status >= 500:
            logger.error("%s %s failed: %s", request.method, request.url.path, exc.to_dict())
        if not _is_api(request):
            return _console_error(request, exc.http_status, str(exc))
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
        body = ErrorBody(code=exc.code, message=exc.message, loc=exc.loc)
        return JSONResponse(
            body.model_dump(exclude_none=True), status_code=exc.http_status, headers=headers
        )

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        issues = [
            ErrorIssue(loc=".".join(str(p) for p in e.get("loc", ())), message=_message(e))
            for e in exc.errors()
        ]
        first = issues[0] if issues else ErrorIssue(loc="", message="invalid request")
        if not _is_api(request):
            return _console_error(request, 422, f"{first.loc}: {first.message}")
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        body = ErrorBody(
            code="input_invalid",
            message=f"{first.loc}: {first.message}{more}",
            loc=first.loc or None,
            issues=issues,
        )
        return JSONResponse(body.model_dump(exclude_none=True), status_code=422)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        if not _is_api(request):
            return _console_error(request, exc.status_code, str(exc.detail))
        body = ErrorBody(code=code, message=str(exc.detail))
        return JSONResponse(
            body.model_dump(exclude_none=True),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    app.add_exception_handler(AirsocError, airsoc_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
