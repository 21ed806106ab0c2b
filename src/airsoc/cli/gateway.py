"""``airsoc gateway ...``: run the serving gateway and change its routing.

Routing changes are written to the store; a running gateway (in another process) applies them
within its poll interval (10 ms by default). The controls (rollback, fallback, isolate, restore,
canary, shadow, block, unblock, limit, and the retrieval controls ``disable-retrieval``,
``enable-retrieval``, ``remove-document``, ``restore-document``) are generated from the table
of operations (:mod:`airsoc.cli.operations`).

Example:
    >>> import os, tempfile
    >>> from airsoc.testing import run_cli
    >>> os.environ["AIRSOC_DATA_DIR"] = tempfile.mkdtemp()
    >>> run_cli("gateway", "status").stdout.strip()
    'no routes'
    >>> del os.environ["AIRSOC_DATA_DIR"]
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from airsoc.cli.incidents import ActorOpt, JsonOpt, actor_name
from airsoc.cli.operations import CommandHooks, add_operation_commands, route_line
from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state

__all__ = ["app"]

app = typer.Typer(help="The serving gateway: serve, route, contain.", no_args_is_help=True)

SystemArg = Annotated[str, typer.Argument(help="The system")]
ReasonOpt = Annotated[str, typer.Option(help="Why (recorded on the audit timeline)")]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8400,
    poll_interval: Annotated[float, typer.Option(help="Seconds between routing checks")] = 0.01,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body accepted")] = 1 << 20,
    rules_dir: Annotated[
        Path | None, typer.Option(help="Where relative rules-fallback paths start")
    ] = None,
    log_name: Annotated[
        str, typer.Option(help="Telemetry writer name (one per gateway process)")
    ] = "gateway",
    client_header: Annotated[
        str, typer.Option(help="Header naming the client ('' to use the peer address)")
    ] = "X-Client-ID",
) -> None:
    """Serve every routed system over HTTP (until interrupted)."""
    import uvicorn

    from airsoc.serving.app import create_app
    from airsoc.serving.gateway import Gateway

    gateway = Gateway.open(
        store=state.store(),
        clock=state.clock,
        poll_interval=poll_interval,
        max_body_bytes=max_body_bytes,
        base_dir=rules_dir or Path.cwd(),
        log_name=log_name,
        client_id_header=client_header or None,
    )
    if gateway.event_log is not None and gateway.event_log.recovered_loss:
        console.print(
            f"warning: the previous gateway stopped uncleanly and lost "
            f"{gateway.event_log.recovered_loss} telemetry events"
        )
    console.print(
        f"airsoc gateway on http://{host}:{port} ({len(gateway.snapshot.routes)} systems routed)"
    )
    uvicorn.run(create_app(gateway), host=host, port=port, log_level="warning", access_log=False)


@app.command()
def status(
    system: Annotated[str | None, typer.Argument(help="Only this system")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show how each system is routed, and the client rules."""
    from airsoc.serving import control

    with state.store().read() as s:
        routes = [control.get_route(s, system=system)] if system else control.list_routes(s)
        rules = control.list_client_rules(s)
        revision = control.current_revision(s)
    if as_json:
        print_json(
            {
                "revision": revision,
                "routes": [r.model_dump(mode="json") for r in routes],
                "clients": [c.model_dump(mode="json") for c in rules],
            }
        )
        return
    print_table(
        "Routes",
        ["system", "mode", "primary", "candidate", "share", "revision", "by", "reason"],
        [
            (
                r.system,
                r.mode,
                r.primary_version,
                r.candidate_version,
                f"{r.candidate_share:.0%}" if r.candidate_version else "",
                r.revision,
                r.updated_by,
                r.reason,
            )
            for r in routes
        ],
    )
    if rules:
        print_table(
            "Client rules",
            ["client", "blocked", "rate/s", "burst", "by", "reason"],
            [
                (
                    c.client_id,
                    "yes" if c.blocked else "",
                    c.rate_per_second,
                    c.burst,
                    c.updated_by,
                    c.reason,
                )
                for c in rules
            ],
        )


@app.command()
def promote(
    system: SystemArg,
    version: Annotated[str, typer.Argument(help="The version to serve")],
    reason: ReasonOpt,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Serve a version as the system's primary."""
    from airsoc.serving.control import promote as serve_version

    with state.store().transaction() as s:
        route = serve_version(
            s,
            clock=state.clock,
            actor=actor_name(actor),
            system=system,
            version=version,
            reason=reason,
        )
    if as_json:
        print_json(route)
    else:
        console.print(route_line(route), markup=False)


@app.command()
def handoffs(
    system: Annotated[str | None, typer.Option(help="Only this system")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List requests waiting for a person (human-handoff fallback)."""
    from airsoc.serving import control

    with state.store().read() as s:
        rows = control.list_handoffs(s, system=system)
    if as_json:
        print_json(rows)
        return
    print_table(
        "Hand-offs",
        ["id", "system", "request", "client", "at"],
        [
            (h.id, h.system, h.request_id, h.client_id, f"{h.created_at:%Y-%m-%d %H:%M:%S}")
            for h in rows
        ],
    )


def _after_rollback(route: Any, extra: Mapping[str, Any], as_json: bool) -> None:
    """Move an MLflow alias to the version now served, when asked to."""
    uri = extra.get("mlflow_tracking_uri")
    if not uri or not route.primary_version:
        return
    from airsoc.lineage import get_model_version
    from airsoc.lineage.mlflow import switch_alias

    alias = extra.get("mlflow_alias") or "production"
    with state.store().read() as s:
        model = get_model_version(s, system=route.system, version=route.primary_version)
    number = switch_alias(tracking_uri=uri, model=model, alias=alias)
    if not as_json:
        console.print(f"MLflow alias {alias} now points at version {number}")


_KW = inspect.Parameter.KEYWORD_ONLY
add_operation_commands(
    app,
    group="gateway",
    hooks={
        "rollback": CommandHooks(
            options=(
                inspect.Parameter(
                    "mlflow_tracking_uri",
                    _KW,
                    annotation=Annotated[
                        str | None,
                        typer.Option(
                            help="Also move an MLflow alias to the version (extra: mlflow)"
                        ),
                    ],
                    default=None,
                ),
                inspect.Parameter(
                    "mlflow_alias",
                    _KW,
                    annotation=Annotated[str, typer.Option(help="The MLflow alias to move")],
                    default="production",
                ),
            ),
            after=_after_rollback,
        ),
        "block_client": CommandHooks(
            options=(
                inspect.Parameter(
                    "unblock",
                    _KW,
                    annotation=Annotated[bool, typer.Option(help="Lift the block instead")],
                    default=False,
                ),
            ),
            choose=lambda extra: "unblock_client" if extra.get("unblock") else None,
        ),
    },
)
