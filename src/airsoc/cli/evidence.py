"""``airsoc evidence add|export|list|verify|capture``: an incident's evidence, content-addressed,
with a chain of custody."""

from __future__ import annotations

import mimetypes
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state
from airsoc.errors import DataFileError, HashMismatchError, InputError
from airsoc.incidents import service
from airsoc.incidents.evidence import BlobStore

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)

ActorOpt = Annotated[
    str | None, typer.Option("--actor", help="Who is acting [env: AIRSOC_ACTOR; default: $USER]")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]


def actor_name(actor: str | None) -> str:
    """Return who is acting: --actor, then AIRSOC_ACTOR, then the login name."""
    import getpass
    import os

    return actor or os.environ.get("AIRSOC_ACTOR") or getpass.getuser()


@app.command("add")
def add(
    incident_id: Annotated[int, typer.Argument(help="Incident number")],
    file: Annotated[Path, typer.Argument(help="The file to attach")],
    description: Annotated[str, typer.Option(help="What it shows")] = "",
    source: Annotated[str | None, typer.Option(help="Where it came from")] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Attach a file as evidence (stored by its sha256)."""
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise DataFileError(f"cannot read {file}: {exc.strerror}") from None
    media = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    with state.store().transaction() as s:
        view = service.add_evidence(
            s,
            clock=state.clock,
            blobs=BlobStore(state.settings.evidence_dir),
            incident_id=incident_id,
            content=content,
            name=file.name,
            source=source or f"file:{file.resolve()}",
            actor=actor_name(actor),
            media_type=media,
            description=description,
        )
    if as_json:
        print_json(view)
    else:
        console.print(f"evidence {view.id} sha256:{view.sha256}")


@app.command("export")
def export(
    evidence_id: Annotated[int, typer.Argument(help="Evidence number")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write it")],
    purpose: Annotated[str, typer.Option(help="Why it is accessed (custody log)")],
    actor: ActorOpt = None,
) -> None:
    """Export an evidence blob after checking its hash; the access joins its custody log."""
    with state.store().transaction() as s:
        data = service.read_evidence(
            s,
            clock=state.clock,
            blobs=BlobStore(state.settings.evidence_dir),
            evidence_id=evidence_id,
            actor=actor_name(actor),
            purpose=purpose,
        )
    output.write_bytes(data)
    console.print(f"wrote {output} ({len(data)} bytes, hash verified)")


@app.command("list")
def list_(
    incident_id: Annotated[int, typer.Argument(help="Incident number")],
    as_json: JsonOpt = False,
) -> None:
    """List an incident's evidence: name, sha256 and who collected it."""
    with state.store().read() as s:
        items = service.get_incident(s, incident_id=incident_id).evidence
    if as_json:
        print_json(items)
    else:
        print_table(
            "Evidence",
            ["id", "name", "sha256", "added by"],
            [(e.id, e.name, e.sha256[:16], e.added_by) for e in items],
        )


@app.command()
def verify(
    incident_id: Annotated[
        int | None, typer.Argument(help="Incident number (or --all)", show_default=False)
    ] = None,
    all_incidents: Annotated[bool, typer.Option("--all", help="Every incident")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Re-hash every evidence blob (of one incident, or all); exit 1 naming each blob that is
    missing or whose hash no longer matches."""
    from airsoc.incidents.verification import verify_evidence

    if (incident_id is None) == (not all_incidents):
        raise InputError("name an incident, or give --all")
    with state.store().read() as s:
        checks = verify_evidence(
            s, blobs=BlobStore(state.settings.evidence_dir), incident_id=incident_id
        )
    bad = [c for c in checks if not c.ok]
    if as_json:
        print_json(checks)
    else:
        for c in bad:
            console.print(
                f"INC-{c.incident_id} evidence {c.evidence_id}: {c.problem}", markup=False
            )
        if not bad:
            console.print(f"ok: {len(checks)} evidence blobs, every hash verified")
    if bad:
        raise HashMismatchError(
            f"{len(bad)} of {len(checks)} evidence blobs are missing or altered"
        )


@app.command()
def capture(
    incident_id: Annotated[int, typer.Argument(help="Incident number")],
    window: Annotated[float, typer.Option(help="Hours of telemetry to capture")] = 168.0,
    config: Annotated[
        Path | None, typer.Option(help="The airsoc.yaml in force, captured with the rest")
    ] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Snapshot the telemetry window, the model artifact, the reference, the config, the routing
    state and the lineage of the serving version, with a manifest of every sha256."""
    from airsoc.forensics import capture_evidence

    config_text = None
    if config is not None:
        try:
            config_text = config.read_text(encoding="utf-8")
        except OSError as exc:
            raise DataFileError(f"cannot read {config}: {exc.strerror}") from None
    with state.store().transaction() as s:
        manifest = capture_evidence(
            s,
            clock=state.clock,
            blobs=BlobStore(state.settings.evidence_dir),
            incident_id=incident_id,
            actor=actor_name(actor),
            telemetry_root=state.settings.telemetry_dir,
            window=timedelta(hours=window),
            config_text=config_text,
        )
    if as_json:
        print_json(manifest)
    else:
        console.print(f"captured {len(manifest.items)} items for INC-{incident_id}", markup=False)
