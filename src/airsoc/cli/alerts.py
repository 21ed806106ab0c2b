"""``airsoc alerts list``: the alerts airsoc knows, firing or resolved."""

from __future__ import annotations

from typing import Annotated

import typer

from airsoc.cli.output import print_json, print_table
from airsoc.cli.state import state

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="firing or resolved")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List alerts, most recently updated first; a silenced one names its silence."""
    from airsoc.alerting.service import active_silences, list_alerts

    with state.store().read() as s:
        alerts = list_alerts(s, status=status, limit=limit)
        silences = active_silences(s, clock=state.clock)
    now = state.clock.now()
    rows = []
    for a in alerts:
        muting = [x.id for x in silences if x.mutes(a.labels, now)]
        rows.append({**a.model_dump(mode="json"), "silenced_by": muting})
    if as_json:
        print_json(rows)
        return
    print_table(
        "Alerts",
        ["fingerprint", "status", "labels", "since", "source", "silenced by"],
        [
            (
                r["fingerprint"],
                r["status"],
                ", ".join(f"{k}={v}" for k, v in sorted(r["labels"].items())),
                r["starts_at"],
                r["source"],
                ", ".join(x[:8] for x in r["silenced_by"]),
            )
            for r in rows
        ],
    )
