"""``airsoc silences add|list|expire``: mute alerts for a while, saying who and why."""

from __future__ import annotations

from typing import Annotated

import typer

from airsoc.cli.incidents import actor_name
from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state
from airsoc.errors import InputError
from airsoc.types import parse_duration

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command()
def add(
    matchers: Annotated[
        list[str], typer.Argument(help='Matchers, e.g. system=fraud monitor=~"psi.*"')
    ],
    comment: Annotated[str, typer.Option(help="Why (required)")],
    duration: Annotated[str, typer.Option(help="How long, e.g. 2h")] = "1h",
    actor: Annotated[str | None, typer.Option("--actor", help="Who [env: AIRSOC_ACTOR]")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create a silence."""
    from airsoc.alerting.service import add_silence

    try:
        length = parse_duration(duration)
    except ValueError as exc:
        raise InputError(f"--duration: {exc}") from None
    with state.store().transaction() as s:
        silence = add_silence(
            s,
            clock=state.clock,
            matchers=matchers,
            duration=length,
            created_by=actor_name(actor),
            comment=comment,
        )
    if as_json:
        print_json(silence)
    else:
        console.print(f"silence {silence.id} until {silence.ends_at.isoformat()}", markup=False)


@app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include expired silences")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List silences (active and pending; with --all, expired too)."""
    from airsoc.alerting.service import list_silences

    with state.store().read() as s:
        silences = list_silences(s, clock=state.clock, include_expired=all_)
    if as_json:
        print_json(silences)
        return
    print_table(
        "Silences",
        ["id", "state", "matchers", "ends", "by", "comment"],
        [
            (
                x.id[:8],
                x.state,
                " ".join(x.matchers),
                x.ends_at.isoformat(timespec="seconds"),
                x.created_by,
                x.comment,
            )
            for x in silences
        ],
    )


@app.command()
def expire(
    silence_id: Annotated[str, typer.Argument(help="The silence id (or its first characters)")],
    actor: Annotated[str | None, typer.Option("--actor", help="Who [env: AIRSOC_ACTOR]")] = None,
    reason: Annotated[str, typer.Option(help="Why")] = "",
) -> None:
    """End a silence now."""
    from airsoc.alerting.service import expire_silence

    with state.store().transaction() as s:
        silence = expire_silence(
            s, clock=state.clock, silence_id=silence_id, actor=actor_name(actor), reason=reason
        )
    console.print(f"silence {silence.id} expired", markup=False)
