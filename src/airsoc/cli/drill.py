"""``airsoc drill check FILE`` and ``airsoc drill run SCENARIO``: chaos drills on the demo fleet;
``run --real-time`` and ``run --tabletop``, ``debriefs`` and ``from-atlas`` come from
:mod:`airsoc.cli.drill_modes`.

Exit codes: 0 the drill passed (or the file is valid), 1 it failed, 2 bad input (a scenario
with errors, an unknown built-in, a data dir that already holds a run).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from airsoc.cli import drill_modes
from airsoc.cli import output as ui
from airsoc.cli.state import state
from airsoc.errors import ConfigError, InputError

if TYPE_CHECKING:
    from airsoc.drills.scorecard import Scorecard

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


class Format(StrEnum):
    """How the scorecard is written."""

    text = "text"
    json = "json"
    html = "html"


def _bad_input(exc: ConfigError | InputError) -> typer.Exit:
    ui.err_console.print(f"error: {exc}", markup=False)
    if isinstance(exc, ConfigError):
        for issue in exc.issues[1:]:
            ui.err_console.print(f"  {issue}", markup=False)
    return typer.Exit(2)


@app.command()
def check(
    scenario: Annotated[str, typer.Argument(help="A scenario file, or a built-in's name")],
) -> None:
    """Validate a scenario; every problem is named by file, key path and line."""
    from airsoc.drills.scenario import load_scenario

    try:
        loaded = load_scenario(scenario)
    except (ConfigError, InputError) as exc:
        raise _bad_input(exc) from None
    ui.console.print(
        f"{scenario}: valid scenario {loaded.name!r}: {len(loaded.injects)} inject(s) over "
        f"{loaded.traffic.duration.total_seconds():g}s on {', '.join(loaded.fleet.systems)}",
        markup=False,
    )


@app.command("list")
def list_scenarios() -> None:
    """List the built-in scenarios."""
    from airsoc.drills.scenario import builtin_scenario_names, load_scenario

    rows = []
    for name in builtin_scenario_names():
        scenario = load_scenario(name)
        rows.append((name, ", ".join(scenario.fleet.systems), (scenario.description or "")[:90]))
    ui.print_table("Built-in scenarios", ["name", "systems", "description"], rows)


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="A built-in scenario's name or a file")],
    seed: Annotated[int | None, typer.Option(help="Seed (default: the scenario's)")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the drill's store stays (default: AIRSOC_DATA_DIR, then ./airsoc-data)"
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="text, json or html")] = Format.text,
    output: Annotated[
        Path | None, typer.Option(help="Write the scorecard here instead of stdout")
    ] = None,
    scale: Annotated[
        float, typer.Option(help="Multiply every client's traffic rate by this", min=0.0001)
    ] = 1.0,
    # --- wall clock and tabletop (airsoc.cli.drill_modes) ---
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
        typer.Option(help="With --real-time: stop after this many seconds (default: its traffic)"),
    ] = None,
    tabletop: Annotated[
        bool, typer.Option("--tabletop", help="Play it as a tabletop exercise in the terminal")
    ] = False,
    replay: Annotated[
        bool,
        typer.Option(
            help="With --tabletop: run the scenario in chaos mode first and reveal what the "
            "platform recorded at each stop"
        ),
    ] = True,
    answers: Annotated[
        Path | None, typer.Option(help="With --tabletop: scripted answers (YAML or JSON)")
    ] = None,
    player: Annotated[
        list[str] | None, typer.Option(help="With --tabletop: a player's name (repeatable)")
    ] = None,
) -> None:
    """Run a scenario in chaos mode on a simulated clock and print its scorecard.

    The real platform runs in this process (gateway, monitors, alerting, rules, playbooks,
    forensics); the store stays in the data dir, for the console to show afterwards. Exit 0 when
    the drill passed, 1 when it failed, 2 on bad input. With --real-time it runs on the wall
    clock against a running airsoc up; with --tabletop it is played by people in the terminal
    (--output PATH then writes the debrief as PATH.md and PATH.html).
    """
    from airsoc.drills.runner import DrillOptions, run_drill
    from airsoc.drills.scenario import load_scenario
    from airsoc.server.auth import StoreUserDirectory

    try:
        loaded = load_scenario(scenario)
    except (ConfigError, InputError) as exc:
        raise _bad_input(exc) from None
    if data_dir is not None:
        state.reset(data_dir=data_dir, database_url=state.database_url)
    if tabletop and real_time:
        raise _bad_input(InputError("choose --tabletop or --real-time, not both"))
    if tabletop:
        drill_modes.tabletop(
            loaded, answers=answers, players=player or [], output=output, replay=replay,
            seed=seed, scale=scale,
        )  # fmt: skip
        return
    if real_time:
        card = drill_modes.real_time(loaded, api=api, gateway=gateway, duration=duration, seed=seed)
        _write_scorecard(card, fmt, output)
        raise typer.Exit(0 if card.passed else 1)
    store = state.store()
    try:
        card = run_drill(
            loaded,
            store=store,
            options=DrillOptions(
                seed=seed,
                scale=scale,
                # The simulated run ends about now, so its timeline reads as the recent past.
                start=(state.clock.now() - loaded.traffic.duration).replace(
                    minute=0, second=0, microsecond=0
                ),
                users=StoreUserDirectory(store, state.clock),
                log=lambda line: ui.err_console.print(line, markup=False),
            ),
        )
    except (ConfigError, InputError) as exc:
        raise _bad_input(exc) from None
    _write_scorecard(card, fmt, output)
    raise typer.Exit(0 if card.passed else 1)


def _write_scorecard(card: Scorecard, fmt: Format, output: Path | None) -> None:
    """Print the scorecard in ``fmt``, or write it to ``output``."""
    from airsoc.reporting.drill_report import render_drill_html, render_drill_text

    data = card.to_json()
    if fmt is Format.json:
        import json

        text = json.dumps(data, indent=2)
    elif fmt is Format.html:
        text = render_drill_html(data)
    else:
        text = render_drill_text(data)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
        ui.err_console.print(f"wrote the scorecard to {output}", markup=False)
    else:
        print(text)


drill_modes.register(app)
