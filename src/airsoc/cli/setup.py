"""``airsoc init`` and ``airsoc up``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from airsoc.cli import output as ui
from airsoc.cli.state import state

__all__ = ["register"]


def init(
    config: Annotated[Path, typer.Option(help="Where to write the starter configuration")] = Path(
        "airsoc.yaml"
    ),
    force: Annotated[bool, typer.Option(help="Overwrite an existing configuration")] = False,
) -> None:
    """Write a commented starter airsoc.yaml and create the data dir and its database."""
    from airsoc.runtime.config import STARTER_CONFIG

    if config.exists() and not force:
        ui.console.print(f"{config} exists; kept it (use --force to overwrite)")
    else:
        config.write_text(STARTER_CONFIG, encoding="utf-8")
        ui.console.print(f"wrote {config}")
    store = state.store()
    ui.console.print(f"data dir {state.settings.data_dir} ready (database: {store.safe_url})")


def up(
    demo: Annotated[
        bool, typer.Option(help="Run the demo: fleet, traffic and a scheduled fault")
    ] = False,
    config: Annotated[Path, typer.Option(help="The configuration to run (without --demo)")] = Path(
        "airsoc.yaml"
    ),
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    api_port: Annotated[int, typer.Option(help="Port of the API and console")] = 8000,
    gateway_port: Annotated[int, typer.Option(help="Port of the serving gateway")] = 8400,
    bot_port: Annotated[
        int, typer.Option(help="With --demo: port of the support bot's chat upstream")
    ] = 8401,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until Ctrl-C)")
    ] = None,
    fault_after: Annotated[
        float, typer.Option(help="With --demo: inject the fault after this many seconds")
    ] = 60.0,
    monitor_every: Annotated[
        float, typer.Option(help="With --demo, on first start: seconds between monitor runs")
    ] = 15.0,
    approval_timeout: Annotated[
        float,
        typer.Option(help="With --demo, on first start: seconds the rollback waits for approval"),
    ] = 30.0,
    tick: Annotated[float, typer.Option(help="Seconds between rounds of the worker")] = 1.0,
) -> None:
    """Start the API and console, the gateway, the monitors and the playbook worker."""
    from airsoc.server.app import create_app
    from airsoc.server.auth import StoreUserDirectory

    if TYPE_CHECKING:
        from fastapi import FastAPI

        from airsoc.runtime.health import PartStatus

    store = state.store()

    def api_app(readiness: Callable[[], list[PartStatus]]) -> FastAPI:
        app = create_app(state.settings, clock=state.clock, store=store, readiness=readiness)
        if not demo and config.exists():
            from airsoc.server.routes.scan import serve_config_documents

            serve_config_documents(app, config)  # grounding indexes for POST /api/v1/scan
        return app

    if demo:
        from airsoc.drills.live import DemoOptions, run_live_demo

        try:
            run_live_demo(
                store=store,
                settings=state.settings,
                clock=state.clock,
                out=ui.console,
                options=DemoOptions(
                    host=host,
                    api_port=api_port,
                    gateway_port=gateway_port,
                    bot_port=bot_port,
                    duration=duration,
                    fault_after=fault_after,
                    monitor_every=monitor_every,
                    approval_timeout=approval_timeout,
                    tick_interval=tick,
                ),
                api_app=api_app,
                users=StoreUserDirectory(store, state.clock),
            )
        except KeyboardInterrupt:  # while the fleet trains or the servers start
            ui.console.print("stopped")
        return
    from airsoc.monitoring.sources import EventLogTelemetry
    from airsoc.runtime.platform import Platform, PlatformOptions

    platform = Platform(
        store=store,
        clock=state.clock,
        api_app=api_app,
        options=PlatformOptions(
            config_path=config,
            host=host,
            api_port=api_port,
            gateway_port=gateway_port,
            tick_interval=tick,
            source=EventLogTelemetry(store=store, base_dir=config.parent),
            on_error=lambda text: ui.console.print(text, markup=False),
        ),
    )
    platform.start()
    ui.console.print(
        f"airsoc on {platform.api_url}/ (API at /api/v1); gateway on {platform.gateway_url}"
    )
    why = platform.run(
        duration=duration,
        on_ready=lambda: ui.console.print(
            f"watching {config}; Ctrl-C or SIGTERM stops (the event log is drained first)"
        ),
        on_stopping=lambda why: ui.console.print(f"stopping ({why})..."),
    )
    ui.console.print(f"stopped ({why})")


def register(app: typer.Typer) -> None:
    """Add the set-up commands to ``app``."""
    app.command()(init)
    app.command()(up)
