"""``airsoc taxonomy show MODE``: a failure mode's ATLAS and OWASP mapping."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli.output import console, print_json, print_table
from airsoc.incidents.taxonomy import ATLAS_VERSION, FAILURE_MODES, failure_mode

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List the failure modes."""
    modes = list(FAILURE_MODES.values())
    if as_json:
        print_json([dataclasses.asdict(m) for m in modes])
        return
    print_table(
        "Failure modes",
        ["mode", "severity", "what it is", "default containment"],
        [(m.name, m.default_severity, m.summary, m.default_containment) for m in modes],
    )


@app.command()
def show(
    mode: Annotated[str, typer.Argument(help="A failure mode, e.g. data_poisoning")],
    atlas: Annotated[
        Path | None, typer.Option(help="Full ATLAS data file, for descriptions and mitigations")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Show a failure mode with its techniques (and, given --atlas, their details)."""
    from airsoc.incidents.atlas import load_atlas

    fm = failure_mode(mode)
    data = dataclasses.asdict(fm)
    details = load_atlas(atlas) if atlas else None
    if details:
        data["atlas_details"] = [details.describe(t.id) for t in fm.atlas]
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]{fm.name}[/bold]: {fm.summary}")
    console.print(f"signal: {fm.signal}")
    console.print(f"default severity {fm.default_severity}; containment: {fm.default_containment}")
    console.print(f"default playbook: {fm.default_playbook}")
    print_table(
        f"MITRE ATLAS (IDs checked against {ATLAS_VERSION})",
        ["technique", "name", "tactics"],
        [(t.id, t.name, ", ".join(t.tactics)) for t in fm.atlas],
    )
    print_table(
        "OWASP",
        ["list", "id", "name", "version"],
        [(o.list, o.id, o.name, o.version) for o in fm.owasp],
    )
    if details:
        for d in data["atlas_details"]:
            console.print(f"\n[bold]{d['id']} {d['name']}[/bold]")
            console.print(d["description"], markup=False)
            if d["mitigations"]:
                console.print(
                    "mitigations: " + ", ".join(f"{m['id']} {m['name']}" for m in d["mitigations"])
                )
            if d["case_studies"]:
                console.print(
                    "case studies: "
                    + ", ".join(f"{c['id']} {c['name']}" for c in d["case_studies"])
                )
