"""``airsoc routes show|test``: print the routing tree, and which receivers a label set reaches."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from airsoc.cli.output import console, print_json
from airsoc.errors import InputError

if TYPE_CHECKING:
    from airsoc.alerting.routing import Route

__all__ = ["ConfigOpt", "app", "load_routes"]

app = typer.Typer(no_args_is_help=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="The configuration file")]


def load_routes(config: Path) -> Route:
    """Return the routing tree of the checked configuration ``config``."""
    from airsoc.alerting.routing import build_route_tree
    from airsoc.runtime.config import load_checked_config

    cfg, _ = load_checked_config(config)
    if cfg.routes is None:
        raise InputError(f"{config} has no routes section")
    return build_route_tree(cfg.routes)


@app.command()
def show(
    config: ConfigOpt = Path("airsoc.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Print the routing tree with every inherited value filled in."""
    tree = load_routes(config)
    if as_json:
        print_json(
            [
                {
                    "id": node.id,
                    "depth": depth,
                    "receiver": node.receiver,
                    "matchers": [str(m) for m in node.matchers],
                    "group_by": list(node.group_by),
                    "group_wait": node.group_wait.total_seconds(),
                    "group_interval": node.group_interval.total_seconds(),
                    "repeat_interval": node.repeat_interval.total_seconds(),
                    "continue": node.continue_,
                }
                for depth, node in tree.walk()
            ]
        )
        return
    for depth, node in tree.walk():
        console.print("  " * depth + node.describe(), markup=False)


@app.command("test")
def try_labels(
    labels: Annotated[list[str], typer.Argument(help="Labels as key=value")],
    config: ConfigOpt = Path("airsoc.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Print the receivers an alert with these labels reaches, in tree order."""
    parsed: dict[str, str] = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"label {item!r} is not key=value")
        parsed[key] = value
    routes = load_routes(config).match(parsed)
    if as_json:
        print_json([{"route": r.id, "receiver": r.receiver} for r in routes])
        return
    console.print(",".join(r.receiver for r in routes), markup=False)
