"""``airsoc screen BATCH --trusted FILE...``: the validation checkpoint for a vendor's batch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli.output import console, print_json

__all__ = ["register", "screen"]


def screen(
    batch: Annotated[Path, typer.Argument(help="The batch to screen (CSV or Parquet)")],
    trusted: Annotated[
        list[Path],
        typer.Option("--trusted", help="A trusted batch (CSV or Parquet); repeat for more"),
    ],
    label_column: Annotated[str, typer.Option(help="The label column")] = "label",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print {decision, signals, rows} as JSON")
    ] = False,
) -> None:
    """Screen a batch for poisoning against trusted batches, before anything is registered.

    An alarm (``drift``) needs evidence in the rows (labels that disagree with a model of the
    trusted data, spectral signatures, near-duplicates); a label-rate change with consistent
    labels shows among the signals but does not alarm. Exit 0 whatever the verdict, 1 only when
    the batch could not be screened.
    """
    from airsoc.detection.attacks import read_frame, screen_batch

    result = screen_batch(
        read_frame(batch),
        [read_frame(path) for path in trusted],
        label_column,
        batch_id=batch.name,
    )
    if as_json:
        print_json(result.to_dict())
        return
    verdict = result.verdict
    console.print(f"{batch.name}: {verdict.decision} ({verdict.reason})", markup=False)
    for name, signal in result.signals.items():
        p = "" if signal.p_value is None else f" p={signal.p_value:.3g}"
        console.print(f"  {name}: {signal.decision}{p}", markup=False)
    console.print(f"  rows flagged: {int(result.flagged.sum())} of {len(result.scores)}")


def register(app: typer.Typer) -> None:
    """Add ``screen`` to ``app``."""
    app.command()(screen)
