"""The ``airsoc`` commands of the table of operations, generated from it.

Each operation becomes ``airsoc GROUP COMMAND ARGUMENTS... --reason WHY [--option ...]``
(e.g. ``airsoc gateway rollback SYSTEM --reason ...``, ``airsoc registry quarantine-batch
BATCH_ID --reason ... --cascade``): the parameters the table lists as arguments are positional,
the others are options, with ``--actor`` and ``--json`` on every command. Building the commands
reads only the table; the services load when a command runs, so ``airsoc --help`` stays fast.

Example:
    >>> import os, tempfile
    >>> from airsoc.testing import run_cli
    >>> os.environ["AIRSOC_DATA_DIR"] = tempfile.mkdtemp()
    >>> _ = run_cli("registry", "register-system", "bot", "--kind", "rag-app", "--owner", "cx")
    >>> run_cli("gateway", "disable-retrieval", "bot", "--reason", "cites ghosts").stdout
    'bot: retrieval off; removed documents: none\\n'
    >>> del os.environ["AIRSOC_DATA_DIR"]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import typer

from airsoc.cli.incidents import ActorOpt, JsonOpt, actor_name
from airsoc.cli.output import console, print_json
from airsoc.cli.state import state
from airsoc.runtime.operations import OPERATIONS, Operation, get_operation

__all__ = ["CommandHooks", "add_operation_commands", "route_line", "rule", "said"]

_KEYWORD = inspect.Parameter.KEYWORD_ONLY
_METAVARS = {"client_id": "CLIENT"}


@dataclass(frozen=True)
class CommandHooks:
    """What a command adds to its operation: extra options, a switch to another operation
    (``choose``, given the extra options' values) and a step after the change (``after``)."""

    options: Sequence[inspect.Parameter] = ()
    choose: Callable[[Mapping[str, Any]], str | None] | None = None
    after: Callable[[Any, Mapping[str, Any], bool], None] | None = None


def said(operation: Operation, result: Any) -> str:
    """Return the line the CLI prints after ``operation`` returned ``result``.

    >>> from airsoc.serving.control import ClientRuleView
    >>> from datetime import datetime, UTC
    >>> rule = ClientRuleView(client_id="bot-7", blocked=True, rate_per_second=None, burst=None,
    ...                       updated_by="ana", updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    ...                       reason="scraping")
    >>> said(get_operation("block_client"), rule)
    'client bot-7 blocked'
    """
    kind = type(result).__name__
    if kind == "RouteView":
        return route_line(result)
    if kind == "ClientRuleView":
        if operation.name == "rate_limit_client":
            return f"client {result.client_id} limited to {result.rate_per_second or 'unlimited'}/s"
        return f"client {result.client_id} {'blocked' if result.blocked else 'not blocked'}"
    if kind == "BatchView":
        return f"batch {result.batch_id} {result.status}"
    if kind == "RetrievalView":
        removed = ", ".join(result.removed_documents) or "none"
        state_ = "on" if result.enabled else "off"
        return f"{result.system}: retrieval {state_}; removed documents: {removed}"
    if kind == "RetrainReport":
        return f"{result.system}: trained {result.version} on {len(result.batches)} batches"
    if kind in ("ShadowReport", "CanaryReport"):
        verdict = (
            result.verdict if kind == "CanaryReport" else ("ready" if result.ready else "not ready")
        )
        return f"{result.system}: {verdict}; " + "; ".join(result.reasons or ["no objection"])
    if isinstance(result, list):
        names = ", ".join(b.batch_id for b in result) or "none"
        return f"quarantined {len(result)} batches: {names}"
    return str(result)


def route_line(route: Any) -> str:
    """Return one line saying how a system is routed (a :class:`~airsoc.serving.RouteView`)."""
    candidate = (
        f", {route.candidate_version} at {route.candidate_share:.0%}"
        if route.candidate_version
        else ""
    )
    return (
        f"{route.system}: {route.mode} (primary {route.primary_version or 'none'}{candidate}); "
        f"routing revision {route.revision}"
    )


def _option_type(annotation: Any) -> Any:
    """Return the type typer parses a parameter as (a Literal or a name is a plain string)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _option_type(get_args(annotation)[0])
    if origin in (Union, UnionType):
        inner = [a for a in get_args(annotation) if a is not NoneType]
        return _option_type(inner[0]) | None if len(inner) == 1 else str | None
    if origin is Literal:
        return str
    return annotation


def _parameters(operation: Operation, hooks: CommandHooks) -> list[inspect.Parameter]:
    fields = operation.params.model_fields
    params = [
        inspect.Parameter(
            name,
            _KEYWORD,
            annotation=Annotated[
                str,
                typer.Argument(
                    help=fields[name].description or "",
                    metavar=_METAVARS.get(name, name.upper()),
                ),
            ],
        )
        for name in operation.arguments
    ]
    params.append(
        inspect.Parameter(
            "reason",
            _KEYWORD,
            annotation=Annotated[str, typer.Option(help="Why (recorded on the audit timeline)")],
        )
    )
    for name, info in fields.items():
        if name in operation.arguments or name in operation.cli_omits:
            continue
        flag = operation.options.get(name, "--" + name.replace("_", "-"))
        kind = _option_type(info.annotation)
        decls = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        option = typer.Option(*decls, help=info.description or "")
        params.append(
            inspect.Parameter(
                name,
                _KEYWORD,
                annotation=Annotated[kind, option],
                default=inspect.Parameter.empty if info.is_required() else info.default,
            )
        )
    params += list(hooks.options)
    params += [
        inspect.Parameter("actor", _KEYWORD, annotation=ActorOpt, default=None),
        inspect.Parameter("as_json", _KEYWORD, annotation=JsonOpt, default=False),
    ]
    return params


def _command(operation: Operation, hooks: CommandHooks) -> Callable[..., None]:
    extra_names = {p.name for p in hooks.options}

    def command(**values: Any) -> None:
        extra = {k: values.pop(k) for k in list(values) if k in extra_names}
        actor = actor_name(values.pop("actor"))
        as_json = bool(values.pop("as_json"))
        reason = values.pop("reason")
        chosen = hooks.choose(extra) if hooks.choose else None
        op = get_operation(chosen) if chosen else operation
        params = {k: v for k, v in values.items() if k in op.params.model_fields}
        with state.store().transaction() as s:
            result = op.call(s, clock=state.clock, actor=actor, reason=reason, **params)
        if as_json:
            print_json(result)
        else:
            console.print(said(op, result), markup=False)
        if hooks.after is not None:
            hooks.after(result, extra, as_json)

    command.__signature__ = inspect.Signature(_parameters(operation, hooks))  # type: ignore[attr-defined]
    command.__name__ = operation.command.split()[1].replace("-", "_")
    command.__doc__ = operation.summary
    return command


def add_operation_commands(
    app: typer.Typer, *, group: str, hooks: Mapping[str, CommandHooks] | None = None
) -> None:
    """Add to ``app`` the command of every operation whose command is in ``group``.

    ``hooks`` (by operation name) keep what a command did before the table: extra options, a
    switch to a sibling operation, a step after the change.
    """
    for operation in OPERATIONS:
        where, _, name = operation.command.partition(" ")
        if where != group:
            continue
        hook = (hooks or {}).get(operation.name, CommandHooks())
        app.command(name, help=operation.summary, epilog=rule(operation))(_command(operation, hook))


def rule(operation: Operation) -> str:
    """Return what a command's help says about the operation's role and destructiveness.

    >>> rule(get_operation("restore"))
    'Through the API this needs the responder role.'
    >>> "Destructive" in rule(get_operation("set_canary"))
    True
    """
    text = f"Through the API this needs the {operation.role.value} role."
    if operation.destructive:
        text += " Destructive: a playbook step doing it needs a second person to approve."
    return text
