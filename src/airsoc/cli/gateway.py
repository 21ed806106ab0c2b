"""``airsoc gateway ...``: run the serving gateway and change its routing.

Routing changes are written to the store; a running gateway (in another process) applies them
within its poll interval (10 ms by default).

Example:
    >>> import os, tempfile
    >>> from airsoc.testing import run_cli
    >>> os.environ["AIRSOC_DATA_DIR"] = tempfile.mkdtemp()
    >>> run_cli("gateway", "status").stdout.strip()
    'no routes'
    >>> del os.environ["AIRSOC_DATA_DIR"]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from airsoc.cli.incidents import ActorOpt, JsonOpt, actor_name
from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state
from airsoc.serving import control
from airsoc.serving.control import RouteView

__all__ = ["app"]

app = typer.Typer(help="The serving gateway: serve, route, contain.", no_args_is_help=True)

SystemArg = Annotated[str, typer.Argument(help="The system")]
ReasonOpt = Annotated[str, typer.Option(help="Why (recorded on the audit timeline)")]


def _change(fn: Any, as_json: bool, **kwargs: Any) -> RouteView:
    with state.store().transaction() as s:
        route: RouteView = fn(s, clock=state.clock, **kwargs)
    if as_json:
        print_json(route)
        return route
    candidate = (
        f", {route.candidate_version} at {route.candidate_share:.0%}"
        if route.candidate_version
        else ""
    )
    console.print(
        f"{route.system}: {route.mode} (primary {route.primary_version or 'none'}{candidate}); "
        f"routing revision {route.revision}",
        markup=False,
    )
    return route


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
    _change(
        control.promote,
        as_json,
        system=system,
        version=version,
        actor=actor_name(actor),
        reason=reason,
    )


@app.command()
def rollback(
    system: SystemArg,
    reason: ReasonOpt,
    to: Annotated[str, typer.Option(help="'last_known_good' or a version")] = "last_known_good",
    before_batch: Annotated[
        str | None, typer.Option(help="Known-good before this batch arrived")
    ] = None,
    mlflow_tracking_uri: Annotated[
        str | None, typer.Option(help="Also move an MLflow alias to the version (extra: mlflow)")
    ] = None,
    mlflow_alias: Annotated[str, typer.Option(help="The MLflow alias to move")] = "production",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Roll back to the last known-good version (or --to a version)."""
    route = _change(
        control.rollback,
        as_json,
        system=system,
        to=to,
        before_batch=before_batch,
        actor=actor_name(actor),
        reason=reason,
    )
    if mlflow_tracking_uri and route.primary_version:
        from airsoc.lineage import get_model_version
        from airsoc.lineage.mlflow import switch_alias

        with state.store().read() as s:
            model = get_model_version(s, system=system, version=route.primary_version)
        number = switch_alias(tracking_uri=mlflow_tracking_uri, model=model, alias=mlflow_alias)
        if not as_json:
            console.print(f"MLflow alias {mlflow_alias} now points at version {number}")


@app.command()
def fallback(
    system: SystemArg,
    reason: ReasonOpt,
    kind: Annotated[
        str | None, typer.Option("--type", help="rules|scripted|human_handoff (default: config)")
    ] = None,
    path: Annotated[str | None, typer.Option(help="Rules: file.py:function")] = None,
    message: Annotated[str | None, typer.Option(help="Scripted / hand-off message")] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer from the fallback; no model is called."""
    spec = None
    if kind is not None:
        spec = {k: v for k, v in {"type": kind, "path": path, "message": message}.items() if v}
    _change(
        control.set_fallback,
        as_json,
        system=system,
        fallback=spec,
        actor=actor_name(actor),
        reason=reason,
    )


@app.command()
def isolate(
    system: SystemArg, reason: ReasonOpt, actor: ActorOpt = None, as_json: JsonOpt = False
) -> None:
    """Refuse every request with a clear status; no model is called."""
    _change(control.isolate, as_json, system=system, actor=actor_name(actor), reason=reason)


@app.command()
def restore(
    system: SystemArg, reason: ReasonOpt, actor: ActorOpt = None, as_json: JsonOpt = False
) -> None:
    """Leave fallback or isolation, or end a canary or shadow."""
    _change(control.restore, as_json, system=system, actor=actor_name(actor), reason=reason)


@app.command()
def canary(
    system: SystemArg,
    version: Annotated[str, typer.Argument(help="The candidate version")],
    share: Annotated[float, typer.Option(help="Share of traffic, 0..1")],
    reason: ReasonOpt,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a share of the traffic to a candidate version."""
    _change(
        control.set_canary,
        as_json,
        system=system,
        version=version,
        share=share,
        actor=actor_name(actor),
        reason=reason,
    )


@app.command()
def shadow(
    system: SystemArg,
    version: Annotated[str, typer.Argument(help="The candidate version")],
    reason: ReasonOpt,
    share: Annotated[float, typer.Option(help="Share of traffic mirrored, (0, 1]")] = 1.0,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mirror the traffic to a candidate version (its answers are logged, not returned)."""
    _change(
        control.set_shadow,
        as_json,
        system=system,
        version=version,
        share=share,
        actor=actor_name(actor),
        reason=reason,
    )


@app.command()
def block(
    client: Annotated[str, typer.Argument(help="The client id (X-Client-ID)")],
    reason: ReasonOpt,
    unblock: Annotated[bool, typer.Option(help="Lift the block instead")] = False,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Block (or unblock) a client."""
    fn = control.unblock_client if unblock else control.block_client
    with state.store().transaction() as s:
        rule = fn(s, clock=state.clock, actor=actor_name(actor), client_id=client, reason=reason)
    if as_json:
        print_json(rule)
    else:
        console.print(f"client {client} {'blocked' if rule.blocked else 'not blocked'}")


@app.command()
def limit(
    client: Annotated[str, typer.Argument(help="The client id (X-Client-ID)")],
    reason: ReasonOpt,
    rate: Annotated[
        float | None, typer.Option(help="Requests per second (omit to lift the limit)")
    ] = None,
    burst: Annotated[int | None, typer.Option(help="Requests allowed at once")] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rate-limit a client."""
    with state.store().transaction() as s:
        rule = control.limit_client(
            s,
            clock=state.clock,
            actor=actor_name(actor),
            client_id=client,
            rate_per_second=rate,
            burst=burst,
            reason=reason,
        )
    if as_json:
        print_json(rule)
    else:
        console.print(f"client {client} limited to {rule.rate_per_second or 'unlimited'}/s")


@app.command()
def handoffs(
    system: Annotated[str | None, typer.Option(help="Only this system")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List requests waiting for a person (human-handoff fallback)."""
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
