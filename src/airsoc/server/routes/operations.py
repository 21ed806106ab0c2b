"""The REST routes of the table of operations, generated from it: one ``POST`` per operation.

Each route takes the operation's parameters named in its path (``{system}``, ``{client_id}``,
``{batch_id}``, ``{source}``) from the path and the others, with a ``reason``, from a strict
JSON body; it needs the operation's role and answers with what the service returns. The
OpenAPI document names the operation, its role and whether it is destructive
(``x-airsoc-operation``). Nothing
here is written per operation: a new row in :data:`airsoc.runtime.operations.OPERATIONS` is a
new route.

Example:
    >>> from fastapi import APIRouter
    >>> router = APIRouter(prefix="/gateway")
    >>> add_operation_routes(router, group="gateway")
    >>> sorted(r.path for r in router.routes)[:2]
    ['/gateway/clients/{client_id}/block', '/gateway/clients/{client_id}/limit']
"""

from __future__ import annotations

import inspect
import re
from typing import Annotated, Any, get_type_hints

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, create_model

from airsoc.runtime.operations import OPERATIONS, Operation
from airsoc.server.auth import UserView, require_role
from airsoc.server.deps import Ctx, requires
from airsoc.server.errors import error_responses
from airsoc.server.routes.incidents import Prose

__all__ = ["add_operation_routes", "body_model", "path_fields"]

_CHANGE = error_responses(403, 404, 409, 422)


def path_fields(operation: Operation) -> list[str]:
    """Return the parameters the route of ``operation`` takes from its path.

    >>> from airsoc.runtime.operations import get_operation
    >>> path_fields(get_operation("remove_document"))
    ['system']
    """
    return re.findall(r"\{(\w+)\}", operation.path)


def body_model(operation: Operation) -> type[BaseModel]:
    """Return the JSON body of the route of ``operation``: its other parameters and a reason.

    >>> from airsoc.runtime.operations import get_operation
    >>> sorted(body_model(get_operation("fallback")).model_fields)
    ['message', 'reason', 'type']
    """
    skip = set(path_fields(operation)) | operation.api_omits
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in operation.params.model_fields.items()
        if name not in skip
    }
    model: type[BaseModel] = create_model(
        "".join(p.capitalize() for p in operation.name.split("_")) + "In",
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"{operation.summary} Why goes on the audit timeline.",
        reason=(Prose, ...),
        **fields,
    )
    return model


_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@:+-]*$"
_CLIENT = r"^[^/\s\x00-\x1f\x7f-\x9f]+$"


def _path_param(operation: Operation, name: str) -> Any:
    # A path segment holds no slash: names as the other routes of the API take them.
    pattern = _CLIENT if name == "client_id" else _NAME
    info = operation.params.model_fields[name]
    return Annotated[
        str, Path(min_length=1, max_length=200, pattern=pattern, description=info.description)
    ]


def _route(operation: Operation) -> tuple[Any, Any]:
    body = body_model(operation)
    in_path = path_fields(operation)
    result = get_type_hints(operation.function())["return"]
    user_dep = Annotated[UserView, Depends(requires(operation.role, operation.permission))]

    def endpoint(ctx: Any, user: UserView, body: BaseModel, **path: str) -> Any:
        values = {**path, **body.model_dump()}
        reason = values.pop("reason")
        # Some values need more than the route's role (revoking a source needs an approver).
        require_role(user, operation.required_role(values), action=operation.permission)
        with ctx.store.transaction() as s:
            return operation.call(s, clock=ctx.clock, actor=user.name, reason=reason, **values)

    params = [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=_path_param(operation, n))
        for n in in_path
    ]
    params += [
        inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=body),
        inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Ctx),
        inspect.Parameter("user", inspect.Parameter.KEYWORD_ONLY, annotation=user_dep),
    ]
    endpoint.__signature__ = inspect.Signature(params, return_annotation=result)  # type: ignore[attr-defined]
    endpoint.__name__ = operation.name
    endpoint.__doc__ = operation.summary
    return endpoint, result


def add_operation_routes(router: APIRouter, *, group: str) -> None:
    """Add to ``router`` the route of every operation whose command is in ``group``.

    ``router``'s prefix is taken off each operation's path.
    """
    prefix = router.prefix
    for operation in OPERATIONS:
        if operation.command.split()[0] != group:
            continue
        endpoint, result = _route(operation)
        path = operation.path.removeprefix(prefix) if prefix else operation.path
        router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            response_model=result,
            responses=_CHANGE,
            name=operation.name,
            summary=operation.summary.rstrip("."),
            openapi_extra={
                "x-airsoc-operation": {
                    "name": operation.name,
                    "role": operation.role.value,
                    "destructive": operation.destructive,
                }
            },
        )
