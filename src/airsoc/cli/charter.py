"""``airsoc charter``: the AI SOC's charter, generated from ``airsoc.yaml``, as Markdown or PDF."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from airsoc.cli.output import console
from airsoc.cli.state import state
from airsoc.errors import InputError

__all__ = ["charter", "register"]


def charter(
    config: Annotated[Path, typer.Option(help="The configuration to describe")] = Path(
        "airsoc.yaml"
    ),
    fmt: Annotated[Literal["md", "pdf"], typer.Option("--format", help="md or pdf")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", help="Write here instead of stdout")
    ] = None,
) -> None:
    """Print or write the charter: scope, roles, severities, escalation, SLAs, detectors,
    threat intelligence and playbooks, with SLAs measured on the incidents in the store."""
    from airsoc.reporting.charter import render_charter_markdown, render_charter_pdf
    from airsoc.runtime.config import load_checked_config
    from airsoc.server.routes.charter import charter_from

    if output is None and fmt == "pdf":
        raise InputError("a PDF needs --output FILE", loc="--output")
    loaded, playbooks = load_checked_config(config)
    with state.store().read() as s:
        built = charter_from(s, config=loaded, playbooks=playbooks, clock=state.clock)
    data = render_charter_pdf(built) if fmt == "pdf" else render_charter_markdown(built).encode()
    if output is None:
        sys.stdout.write(data.decode())
        return
    output.write_bytes(data)
    console.print(f"wrote {output}")


def register(app: typer.Typer) -> None:
    """Add ``airsoc charter`` to ``app``."""
    app.command()(charter)
