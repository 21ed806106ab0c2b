"""``airsoc forensics``: the platform's investigations, for scripts and responders."""

from __future__ import annotations

from typing import Annotated

import typer

from airsoc.cli import output as ui
from airsoc.cli.state import state
from airsoc.errors import InputError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command()
def poisoning(
    incident: Annotated[
        int | None, typer.Option(help="The incident whose model version to investigate")
    ] = None,
    system: Annotated[str | None, typer.Option(help="The system (with --model-version)")] = None,
    model_version: Annotated[
        str | None, typer.Option(help="The degraded model version (with --system)")
    ] = None,
    trusted_batch: Annotated[
        list[str] | None,
        typer.Option(help="A trusted batch; repeat (default: the last known-good version's)"),
    ] = None,
    label_column: Annotated[str, typer.Option(help="The label column of the batches")] = "label",
    positive_label: Annotated[
        str, typer.Option(help="The class whose misses matter (e.g. fraud)")
    ] = "1",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Find which source, batches and rows poisoned a model version, bound the window, propose
    a clean training set, and weigh rollback against retraining. Exit 0 when it ran."""
    from airsoc.forensics import investigate_incident, investigate_poisoning

    if (incident is None) == (system is None and model_version is None):
        raise InputError("name an incident, or a system and a model version (not both)")
    with state.store().read() as s:
        if incident is not None:
            result = investigate_incident(
                s,
                incident_id=incident,
                trusted_batches=trusted_batch,
                label_column=label_column,
                positive_label=positive_label,
            )
        else:
            if system is None or model_version is None:
                raise InputError("a system needs its model version, and the other way round")
            result = investigate_poisoning(
                s,
                system=system,
                model_version=model_version,
                trusted_batches=trusted_batch,
                label_column=label_column,
                positive_label=positive_label,
            )
    body = result.to_json()
    if as_json:
        ui.print_json(body)
        return
    for source in body["suspect_sources"][:3]:
        ui.console.print(f"suspect source {source['source']}: {source['score']:.2f}", markup=False)
    window = body["window"]
    ui.console.print(
        f"window: {window['first_batch']} .. {window['last_batch']}; "
        f"{len(body['suspect_samples'])} suspect rows; "
        f"recommendation: {body['recommendation']['action']} ({body['recommendation']['reason']})",
        markup=False,
    )
