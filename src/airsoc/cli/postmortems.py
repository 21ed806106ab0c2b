"""``airsoc postmortem ...``: start, list, show, render and review post-mortems; fleet metrics."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, cast

import typer

from airsoc.cli.incidents import ActorOpt, JsonOpt, actor_name
from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state
from airsoc.errors import InputError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command()
def start(
    incident_id: Annotated[int, typer.Argument(help="Incident number (INC-<n>)")],
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open the draft post-mortem of an incident."""
    from airsoc.reporting import postmortems as pm

    with state.store().transaction() as s:
        view = pm.create_postmortem(
            s, clock=state.clock, incident_id=incident_id, actor=actor_name(actor)
        )
    if as_json:
        print_json(view)
    else:
        console.print(f"post-mortem {view.id} of INC-{incident_id}: {view.status_label}")


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="Only this status")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List post-mortems, newest first."""
    from airsoc.reporting import postmortems as pm

    with state.store().read() as s:
        rows = pm.list_postmortems(s, status=status)
    if as_json:
        print_json(rows)
        return
    print_table(
        "Post-mortems",
        ["id", "incident", "status", "open items", "updated"],
        [
            (
                p.id,
                f"INC-{p.incident_id}",
                p.status_label,
                sum(1 for i in p.action_items if i.status == "open"),
                f"{p.updated_at:%Y-%m-%d %H:%M}",
            )
            for p in rows
        ],
    )


@app.command()
def show(
    postmortem_id: Annotated[int, typer.Argument(help="Post-mortem number")],
    as_json: JsonOpt = False,
) -> None:
    """Show a post-mortem's status, action items and review history."""
    from airsoc.reporting import postmortems as pm

    with state.store().read() as s:
        view = pm.get_postmortem(s, postmortem_id=postmortem_id)
    if as_json:
        print_json(view)
        return
    console.print(f"post-mortem {view.id} of INC-{view.incident_id}: {view.status_label}")
    print_table(
        "Action items",
        ["id", "action", "owner", "due", "status"],
        [(i.id, i.title, i.owner, f"{i.due_at:%Y-%m-%d}", i.status) for i in view.action_items],
    )


@app.command("render")
def render_report(
    postmortem_id: Annotated[int, typer.Argument(help="Post-mortem number")],
    fmt: Annotated[str, typer.Option("--format", help="md, html or pdf")] = "md",
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout")] = None,
) -> None:
    """Render the post-mortem as Markdown, HTML (with charts) or PDF."""
    from airsoc.reporting.render import render_postmortem

    if out is None and fmt == "pdf":
        raise InputError("a PDF needs --out FILE", loc="--out")
    with state.store().read() as s:
        data = render_postmortem(
            s, postmortem_id=postmortem_id, fmt=fmt, now=state.clock.now()
        ).data
    if out is None:
        sys.stdout.write(data.decode())
        return
    out.write_bytes(data)
    console.print(f"wrote {out}")


@app.command()
def review(
    postmortem_id: Annotated[int, typer.Argument(help="Post-mortem number")],
    to: Annotated[str, typer.Option(help="in_review, reviewed, closed or draft")],
    reason: Annotated[str, typer.Option(help="Why")],
    actor: ActorOpt = None,
) -> None:
    """Move a post-mortem's review on."""
    from airsoc.reporting import postmortems as pm

    with state.store().transaction() as s:
        view = pm.transition_postmortem(
            s,
            clock=state.clock,
            postmortem_id=postmortem_id,
            to=to,
            actor=actor_name(actor),
            reason=reason,
        )
    console.print(f"post-mortem {view.id}: {view.status_label}")


@app.command("add-item")
def add_item(
    postmortem_id: Annotated[int, typer.Argument(help="Post-mortem number")],
    title: Annotated[str, typer.Option(help="What to change")],
    owner: Annotated[str, typer.Option(help="Who owns it")],
    actor: ActorOpt = None,
) -> None:
    """Add an action item (due by the incident's severity)."""
    from airsoc.reporting import postmortems as pm

    with state.store().transaction() as s:
        item = pm.add_action_item(
            s,
            clock=state.clock,
            postmortem_id=postmortem_id,
            item=pm.ActionItemIn(title=title, owner=owner),
            actor=actor_name(actor),
        )
    console.print(f"action item {item.id} for {item.owner}, due {item.due_at:%Y-%m-%d}")


@app.command()
def fleet(
    group_by: Annotated[str, typer.Option(help="failure_mode or system")] = "failure_mode",
    period: Annotated[str, typer.Option(help="day, week, month or all")] = "week",
    as_json: JsonOpt = False,
) -> None:
    """Show MTTD/MTTA/MTTC/MTTR by failure mode or system over time."""
    from airsoc.reporting.timing import GroupBy, Period, fleet_metrics, format_duration

    if group_by not in ("failure_mode", "system"):
        raise InputError("use failure_mode or system", loc="--group-by")
    if period not in ("day", "week", "month", "all"):
        raise InputError("use day, week, month or all", loc="--period")
    with state.store().read() as s:
        rows = fleet_metrics(s, group_by=cast(GroupBy, group_by), period=cast(Period, period))
    if as_json:
        print_json(rows)
        return
    print_table(
        "Response times",
        ["period", group_by.replace("_", " "), "incidents", "MTTD", "MTTA", "MTTC", "MTTR"],
        [
            (
                r.period,
                r.group,
                r.incidents,
                format_duration(r.mttd_seconds),
                format_duration(r.mtta_seconds),
                format_duration(r.mttc_seconds),
                format_duration(r.mttr_seconds),
            )
            for r in rows
        ],
    )
