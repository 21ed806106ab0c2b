"""The wall-clock, tabletop and ATLAS parts of ``airsoc drill``: ``run --real-time``,
``run --tabletop``, ``debriefs`` and ``from-atlas`` (``airsoc.cli.drill`` wires them in).

Example:
    >>> from airsoc.cli.main import load_group
    >>> {"from-atlas", "debriefs"} <= set(load_group("drill").list_commands(None))
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state
from airsoc.errors import InputError

if TYPE_CHECKING:
    from airsoc.drills.scenario import Scenario
    from airsoc.drills.scorecard import Scorecard

__all__ = ["debriefs", "from_atlas", "real_time", "register", "tabletop"]

DEFAULT_API = "http://127.0.0.1:8000"
DEFAULT_GATEWAY = "http://127.0.0.1:8400"


def real_time(
    scenario: Scenario,
    *,
    api: str,
    gateway: str,
    duration: float | None,
    seed: int | None,
) -> Scorecard:
    """Run ``scenario`` on the wall clock against the running platform at ``api`` and
    ``gateway`` (serving this data dir's store); return its scorecard."""
    from datetime import timedelta

    import httpx

    from airsoc.drills.live import StoreReleases, run_live_drill
    from airsoc.fleet.setup import prepare_demo
    from airsoc.server.auth import StoreUserDirectory

    for name, url in (("gateway", f"{gateway}/v1/status"), ("API", f"{api}/readyz")):
        try:
            httpx.get(url, timeout=10).raise_for_status()
        except httpx.HTTPError as exc:
            raise InputError(
                f"no running airsoc {name} at {url} ({exc}); start the platform on this data "
                f"dir first (airsoc up --config {state.settings.data_dir}/demo/airsoc.yaml)",
                loc=name.lower(),
            ) from None
    store = state.store()
    setup = prepare_demo(
        store=store,
        clock=state.clock,
        users=StoreUserDirectory(store, state.clock),
        monitor_every=scenario.fleet.monitor_every.total_seconds(),
        approval_timeout=scenario.fleet.approval_timeout.total_seconds(),
    )
    if duration is not None:
        scenario = scenario.model_copy(
            update={
                "traffic": scenario.traffic.model_copy(
                    update={"duration": timedelta(seconds=duration)}
                )
            }
        )
    console.print(
        f"real-time drill {scenario.name} against {gateway} (console {api}/); "
        f"{scenario.traffic.duration.total_seconds():g}s on the wall clock, Ctrl-C stops"
    )
    result = run_live_drill(
        scenario,
        store=store,
        clock=state.clock,
        gateway_url=gateway,
        setup=setup,
        releases=StoreReleases(store, state.clock),
        out=console,
        seed=seed,
    )
    return result.scorecard


def tabletop(
    scenario: Scenario,
    *,
    answers: Path | None,
    players: list[str],
    output: Path | None,
    replay: bool = True,
    seed: int | None = None,
    scale: float = 1.0,
) -> int:
    """Play ``scenario`` as a tabletop exercise in the terminal (or with scripted
    ``answers``); store the debrief, write it as Markdown and HTML; return its id.

    With ``replay`` and a scenario that sends traffic, the scenario first runs in chaos mode in
    the data dir, and each stop also reveals what the platform recorded by then (log excerpts,
    monitor charts, incident state)."""
    from airsoc.drills.runner import DrillOptions, run_drill
    from airsoc.drills.tabletop import (
        Reveal,
        StoreReveal,
        TerminalAnswers,
        debrief_html,
        load_answers,
        plan_from_scenario,
        run_tabletop,
    )

    plan = plan_from_scenario(scenario)
    source = load_answers(answers) if answers is not None else TerminalAnswers(console)
    store = state.store()
    reveal: Reveal | None = None
    if replay and scenario.traffic.streams:
        console.print(
            f"running {scenario.name} in chaos mode first, to reveal what the platform recorded"
        )
        from airsoc.server.auth import StoreUserDirectory

        start = state.clock.now().replace(minute=0, second=0, microsecond=0)
        card = run_drill(
            scenario,
            store=store,
            options=DrillOptions(
                seed=seed, scale=scale, start=start, users=StoreUserDirectory(store, state.clock)
            ),
        )
        console.print(
            f"the platform's run: {'passed' if card.passed else 'failed'} its expectations "
            "(the debrief shows what you decided, the reveal what the platform did)"
        )
        reveal = StoreReveal(store, started_at=start, systems=scenario.fleet.systems)
    console.print(f"[bold]tabletop exercise[/bold]: {plan.title}")
    debrief = run_tabletop(
        plan,
        answers=source,
        store=store,
        clock=state.clock,
        players=players,
        out=console,
        reveal=reveal,
    )
    if output is not None:
        markdown = output.with_suffix(".md")
        html = output.with_suffix(".html")
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            markdown.write_text(debrief.markdown, encoding="utf-8")
            html.write_text(debrief_html(debrief), encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the debrief to {output}: {exc}") from None
        console.print(f"debrief {debrief.ref} written to {markdown} and {html}")
    else:
        console.print(f"debrief {debrief.ref} stored (airsoc drill debriefs)")
    return debrief.id


def from_atlas(
    case_study: Annotated[str, typer.Argument(help="ATLAS case study ID, e.g. AML.CS0000")],
    atlas: Annotated[
        Path, typer.Option(help="The MITRE ATLAS data file (ATLAS.yaml)", exists=False)
    ],
    output: Annotated[
        Path | None, typer.Option(help="Write the scenario here (default: print it)")
    ] = None,
    failure_mode: Annotated[
        str | None,
        typer.Option(help="The failure mode to expect (default: mapped from the techniques)"),
    ] = None,
) -> None:
    """Turn an ATLAS case study into a tabletop scenario skeleton."""
    from airsoc.drills.atlas_loader import case_study_scenario, scenario_yaml
    from airsoc.drills.scenario import parse_scenario
    from airsoc.incidents.atlas import load_atlas

    skeleton = case_study_scenario(load_atlas(atlas), case_study, failure_mode=failure_mode)
    text = scenario_yaml(skeleton)
    parse_scenario(text, source=f"ATLAS {case_study}")  # what it writes is a valid scenario
    if output is None:
        print(text, end="")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc}") from None
    console.print(
        f"wrote {output}: {len(skeleton['injects'])} injects, {len(skeleton['tabletop'])} "
        f"prompts; play it with airsoc drill run {output} --tabletop"
    )


def debriefs(
    status: Annotated[str | None, typer.Option(help="Only this status")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List the debriefs of tabletop exercises, newest first."""
    from airsoc.drills.tabletop import list_debriefs

    with state.store().read() as s:
        items = list_debriefs(s, status=status)
    if as_json:
        print_json(items)
        return
    print_table(
        "Debriefs",
        ["ref", "scenario", "title", "status", "finished"],
        [(d.ref, d.scenario, d.title, d.status, f"{d.created_at:%Y-%m-%d %H:%M}") for d in items],
    )


def register(app: typer.Typer) -> None:
    """Add ``from-atlas`` and ``debriefs`` to the ``airsoc drill`` group."""
    app.command("from-atlas")(from_atlas)
    app.command("debriefs")(debriefs)
