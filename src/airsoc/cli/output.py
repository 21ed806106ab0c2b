"""Printing for the CLI: Rich tables for people, ``--json`` for scripts, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console

__all__ = ["console", "err_console", "print_json", "print_table"]

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _plain(value: Any) -> Any:
    from pydantic import BaseModel  # here, not at the top: a help page needs no pydantic

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def print_json(value: Any) -> None:
    """Print ``value`` (models, lists of models, plain data) as indented JSON on stdout."""
    print(json.dumps(_plain(value), indent=2, sort_keys=False, default=str))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a table; an empty one says so in a line instead."""
    if not rows:
        console.print(f"no {title.lower()}")
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
