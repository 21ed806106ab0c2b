"""``airsoc export ocsf``: hand airsoc's records to other tools in their own formats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli.output import console
from airsoc.cli.state import state

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Export records in other tools' formats."""


@app.command("ocsf")
def ocsf(
    incident: Annotated[int, typer.Option("--incident", help="The incident number (INC-<n>)")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file (.json: an array; .jsonl: one record a line); "
            "default: standard output",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="A configuration whose playbooks to add to the defaults"
        ),
    ] = None,
) -> None:
    """Write an incident's updates as OCSF Detection Findings (class 2004), with remediation.

    One record per state change: declared (Create), each phase change (Update), closed (Close).

    Example: ``airsoc export ocsf --incident 42 --output inc-42.ocsf.json``
    """
    from airsoc.response.ocsf import export_incident_findings
    from airsoc.response.playbooks import default_playbooks
    from airsoc.runtime.config import load_checked_config
    from airsoc.runtime.registries import build_action_registry

    registry = build_action_registry()
    playbooks = {p.name: p for p in default_playbooks(registry=registry)}
    path = config or (Path("airsoc.yaml") if Path("airsoc.yaml").exists() else None)
    if path is not None:
        _, configured = load_checked_config(path, registry=registry)
        playbooks.update({p.name: p for p in configured})
    with state.store().read() as s:
        records, text = export_incident_findings(
            s, incident_id=incident, playbooks=list(playbooks.values()), path=output
        )
    if output is None:
        typer.echo(text, nl=False)
    else:
        console.print(f"wrote {len(records)} OCSF records of incident {incident} to {output}")
