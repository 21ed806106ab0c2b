"""``airsoc alerts list``: the alerts airsoc knows, firing or resolved."""

from __future__ import annotations

from typing import Annotated

import typer

from airsoc.alerting.service import list_alerts
from airsoc.cli.output import print_json, print_table
from airsoc.cli.state import state

__all__ = ["app"]

app = typer.Typer(
    help="Alerts raised by monitors or received from Alertmanager.", no_args_is_help=True
)


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="firing or resolved")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List alerts, most recently updated first."""
    with state.store().read() as s:
        alerts = list_alerts(s, status=status, limit=limit)
    if as_json:
        print_json(alerts)
        return
    print_table(
        "Alerts",
        ["fingerprint", "status", "labels", "since", "source"],
        [
            (
                a.fingerprint,
                a.status,
                ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items())),
                a.starts_at.isoformat(timespec="seconds"),
                a.source,
            )
            for a in alerts
        ],
    )
