"""``airsoc init`` and ``airsoc up``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli.output import console
from airsoc.cli.state import state
from airsoc.config import STARTER_CONFIG

__all__ = ["register"]


def init(
    config: Annotated[Path, typer.Option(help="Where to write the starter configuration")] = Path(
        "airsoc.yaml"
    ),
    force: Annotated[bool, typer.Option(help="Overwrite an existing configuration")] = False,
) -> None:
    """Write a commented starter airsoc.yaml and create the data dir and its database."""
    if config.exists() and not force:
        console.print(f"{config} exists; kept it (use --force to overwrite)")
    else:
        config.write_text(STARTER_CONFIG, encoding="utf-8")
        console.print(f"wrote {config}")
    store = state.store()
    console.print(f"data dir {state.settings.data_dir} ready (database: {store.safe_url})")


def up(
    demo: Annotated[bool, typer.Option(help="Run the demo scenario")] = False,
) -> None:
    """Start the platform on the configured store (with --demo: the demo scenario)."""
    from airsoc.demo.scenario import run_demo

    store = state.store()
    if demo:
        run_demo(store=store, settings=state.settings, clock=state.clock, out=console)
    else:
        console.print(f"airsoc store ready at {store.safe_url}; nothing else to start yet")


def register(app: typer.Typer) -> None:
    """Add the set-up commands to ``app``."""
    app.command()(init)
    app.command()(up)
