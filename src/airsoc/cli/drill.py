"""``airsoc drill ...``: run scenarios (chaos, real time, tabletop) and check them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli import drill_modes
from airsoc.cli.output import console, print_json

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="A built-in scenario name or a scenario file")],
    seed: Annotated[int | None, typer.Option(help="Seed (default: the scenario's)")] = None,
    # --- wall clock and tabletop (drill_modes) ---
    real_time: Annotated[
        bool, typer.Option("--real-time", help="Run on the wall clock against a running airsoc up")
    ] = False,
    api: Annotated[
        str, typer.Option(help="With --real-time: the running platform's API")
    ] = drill_modes.DEFAULT_API,
    gateway: Annotated[
        str, typer.Option(help="With --real-time: the running platform's gateway")
    ] = drill_modes.DEFAULT_GATEWAY,
    duration: Annotated[
        float | None,
        typer.Option(
            help="With --real-time: stop after this many seconds (default: the traffic's)"
        ),
    ] = None,
    tabletop: Annotated[
        bool, typer.Option("--tabletop", help="Play it as a tabletop exercise in the terminal")
    ] = False,
    answers: Annotated[
        Path | None, typer.Option(help="With --tabletop: scripted answers (YAML or JSON)")
    ] = None,
    player: Annotated[
        list[str] | None, typer.Option(help="With --tabletop: a player's name (repeatable)")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Write the result here (--tabletop: the debrief as .md and .html)"),
    ] = None,
) -> None:
    """Run a drill scenario and print its scorecard; exit 1 when it failed."""
    from airsoc.drills.scenario import load_scenario

    loaded = load_scenario(scenario)
    if tabletop:
        drill_modes.tabletop(loaded, answers=answers, players=player or [], output=output)
        return
    if real_time:
        card = drill_modes.real_time(loaded, api=api, gateway=gateway, duration=duration, seed=seed)
        if output is not None:
            output.write_text(card.model_dump_json(indent=2), encoding="utf-8")
        print_json(card)
        raise typer.Exit(0 if card.passed else 1)
    console.print("chaos mode: not in this build")
    raise typer.Exit(2)


drill_modes.register(app)
