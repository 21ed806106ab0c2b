"""``airsoc profile DATA -o FILE``: compute a reference profile once, reuse it in every check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli import output as ui
from airsoc.cli.check import parse_kinds, progress_steps
from airsoc.cli.output import print_json, print_table

__all__ = ["register"]


def profile(
    data: Annotated[Path, typer.Argument(help="Data file (CSV or Parquet), read in chunks")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the profile")],
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Override a column kind: COLUMN=KIND")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary")] = False,
) -> None:
    """Profile DATA (mergeable counts, histograms and sketches) and save it to FILE."""
    from airsoc.detection.profiles import profile as build

    with progress_steps(not as_json) as step:
        step(f"profiling {data.name}")
        prof = build(data, kinds=parse_kinds(kind))
        step(f"saving {output}")
        prof.save(output)
    summary = [
        {
            "column": c.name,
            "kind": c.kind,
            "rows": c.n_rows,
            "nulls": c.nulls,
            "mean": c.mean,
            "std": c.std,
            "categories": c.distinct_categories if not c.is_numeric else None,
        }
        for c in prof.columns.values()
    ]
    if as_json:
        print_json({"output": str(output), "rows": prof.n_rows, "columns": summary})
        return
    print_table(
        f"Profile of {data.name}: {prof.n_rows} rows",
        ["column", "kind", "nulls", "mean", "std", "categories"],
        [
            (
                s["column"],
                s["kind"],
                s["nulls"],
                "" if s["mean"] is None else f"{s['mean']:.4g}",
                "" if s["std"] is None else f"{s['std']:.4g}",
                s["categories"],
            )
            for s in summary
        ],
    )
    ui.console.print(f"saved {output}")


def register(app: typer.Typer) -> None:
    """Add ``airsoc profile`` to ``app``."""
    app.command()(profile)
