"""``airsoc incidents serious ...``: flag a serious incident (EU AI Act Article 73), show its
due date, change its category or awareness time, record the reports sent, render the reports."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from airsoc.cli.evidence import ActorOpt, JsonOpt, actor_name
from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state
from airsoc.errors import InputError

if TYPE_CHECKING:
    from airsoc.reporting.regulatory import SeriousIncidentView

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)

IncidentArg = Annotated[int, typer.Argument(help="Incident number")]


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"not a date and time: {text!r} (e.g. 2026-03-27T10:00:00+01:00)", loc="--aware-at"
        ) from None
    if value.tzinfo is None:
        raise InputError(f"give the UTC offset too: {text!r} (e.g. +01:00)", loc="--aware-at")
    return value


def _print(view: SeriousIncidentView, as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    console.print(
        f"{view.ref}: serious incident ({view.category_label}); aware {view.aware_local}; "
        f"report due {view.due_local} ({view.days} days); {view.status}",
        markup=False,
    )


@app.command()
def flag(
    incident_id: IncidentArg,
    category: Annotated[
        str, typer.Option(help="widespread_infringement, critical_infrastructure, death, other")
    ],
    reason: Annotated[str, typer.Option(help="Why it is a serious incident")],
    aware_at: Annotated[
        str | None, typer.Option(help="When the provider became aware (ISO 8601); default now")
    ] = None,
    aware_reason: Annotated[str, typer.Option(help="Why that awareness time")] = "",
    time_zone: Annotated[
        str | None, typer.Option(help="Count the days here; default: the system's, airsoc.yaml")
    ] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Flag an incident as a serious incident; its report's due date starts from awareness."""
    from airsoc.reporting import regulatory

    with state.store().transaction() as s:
        view = regulatory.flag_serious(
            s,
            clock=state.clock,
            incident_id=incident_id,
            category=category,
            actor=actor_name(actor),
            reason=reason,
            aware_at=_when(aware_at),
            aware_reason=aware_reason,
            time_zone=time_zone,
        )
    _print(view, as_json)


@app.command()
def update(
    incident_id: IncidentArg,
    reason: Annotated[str, typer.Option(help="Why (recorded on the timeline)")],
    category: Annotated[str | None, typer.Option(help="A new category")] = None,
    aware_at: Annotated[str | None, typer.Option(help="A new awareness time (ISO 8601)")] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a serious incident's category or awareness time (its due date follows)."""
    from airsoc.reporting import regulatory

    with state.store().transaction() as s:
        view = regulatory.update_serious(
            s,
            clock=state.clock,
            incident_id=incident_id,
            actor=actor_name(actor),
            reason=reason,
            category=category,
            aware_at=_when(aware_at),
        )
    _print(view, as_json)


@app.command()
def show(incident_id: IncidentArg, as_json: JsonOpt = False) -> None:
    """Show a serious incident's category, awareness, due date and status."""
    from airsoc.reporting import regulatory

    with state.store().read() as s:
        view = regulatory.get_serious(s, incident_id=incident_id, now=state.clock.now())
    if view is None:
        raise InputError(f"INC-{incident_id} is not flagged as a serious incident")
    _print(view, as_json)


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List serious incidents, the soonest due first."""
    from airsoc.reporting import regulatory

    with state.store().read() as s:
        views = regulatory.list_serious(s, now=state.clock.now())
    if as_json:
        print_json(views)
        return
    print_table(
        "Serious incidents",
        ["incident", "category", "aware", "due", "status"],
        [(v.ref, v.category.value, v.aware_local, v.due_local, v.status) for v in views],
    )


@app.command()
def sent(
    incident_id: IncidentArg,
    kind: Annotated[str, typer.Argument(help="initial or final")],
    reason: Annotated[str, typer.Option(help="e.g. the submission's reference")] = "",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that the initial or final report went to the authority (reminders stop)."""
    from airsoc.reporting import regulatory

    with state.store().transaction() as s:
        view = regulatory.record_report(
            s, clock=state.clock, incident_id=incident_id, kind=kind, actor=actor_name(actor),
            reason=reason,
        )  # fmt: skip
    _print(view, as_json)


@app.command()
def report(
    incident_id: IncidentArg,
    kind: Annotated[str, typer.Option(help="initial or final")] = "initial",
    fmt: Annotated[str, typer.Option("--format", help="md, html or pdf")] = "md",
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout")] = None,
) -> None:
    """Render the initial or final report as Markdown, HTML or PDF."""
    from airsoc.reporting.regulatory_report import render_regulatory_report

    if out is None and fmt == "pdf":
        raise InputError("a PDF needs --out FILE", loc="--out")
    with state.store().read() as s:
        data = render_regulatory_report(
            s, incident_id=incident_id, kind=kind, fmt=fmt, now=state.clock.now()
        ).data
    if out is None:
        sys.stdout.write(data.decode())
        return
    out.write_bytes(data)
    console.print(f"wrote {out}")
