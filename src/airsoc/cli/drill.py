"""``airsoc drill check FILE`` and ``airsoc drill run SCENARIO``: chaos drills on the demo fleet.

Exit codes: 0 the drill passed (or the file is valid), 1 it failed, 2 bad input (a scenario
with errors, an unknown built-in, a data dir that already holds a run).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli import output as ui
from airsoc.cli.state import state
from airsoc.errors import ConfigError, InputError

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
) -> None:
    """Run a scenario in chaos mode on a simulated clock and print its scorecard.

    The real platform runs in this process (gateway, monitors, alerting, rules, playbooks,
    forensics); the store stays in the data dir, for the console to show afterwards. Exit 0 when
    the drill passed, 1 when it failed, 2 on bad input.
    """
    from airsoc.drills.runner import DrillOptions, run_drill
    from airsoc.drills.scenario import load_scenario
    from airsoc.reporting.drill_report import render_drill_html, render_drill_text
    from airsoc.server.auth import StoreUserDirectory

    try:
        loaded = load_scenario(scenario)
    except (ConfigError, InputError) as exc:
        raise _bad_input(exc) from None
    if data_dir is not None:
        state.reset(data_dir=data_dir, database_url=state.database_url)
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
    raise typer.Exit(0 if card.passed else 1)
