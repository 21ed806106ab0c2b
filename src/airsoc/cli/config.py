"""``airsoc config check FILE``: validate a configuration whole, naming every error's location."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli.output import console
from airsoc.config import load_config

__all__ = ["app"]

app = typer.Typer(help="The airsoc.yaml configuration.", no_args_is_help=True)


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="The configuration file")] = Path("airsoc.yaml"),
) -> None:
    """Validate a configuration file; exit 1 listing every problem with its location."""
    cfg = load_config(file)
    console.print(
        f"{file}: ok ({len(cfg.systems)} systems, {len(cfg.monitors)} monitors, "
        f"{len(cfg.receivers)} receivers, {len(cfg.incident_rules)} incident rules)"
    )
