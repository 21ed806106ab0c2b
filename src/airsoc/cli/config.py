"""``airsoc config check FILE``: validate a configuration whole, naming every error's location."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli.output import console

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="The configuration file")] = Path("airsoc.yaml"),
) -> None:
    """Validate a configuration file whole (schema, references, the playbooks it lists).

    Exit 1 listing every problem with its location; nothing is applied from a bad file.
    """
    from airsoc.runtime.config import load_checked_config

    cfg, playbooks = load_checked_config(file)
    console.print(
        f"{file}: ok ({len(cfg.systems)} systems, {len(cfg.monitors)} monitors, "
        f"{len(cfg.receivers)} receivers, {len(cfg.incident_rules)} incident rules, "
        f"{len(playbooks)} playbooks)"
    )
