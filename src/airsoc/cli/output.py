"""Printing for the CLI: Rich tables for people, ``--json`` for scripts, one-line errors.

``console`` (stdout) and ``err_console`` (stderr) are made on first use, so a help page, which
prints through Typer, does not import Rich's console.

Example:
    >>> from airsoc.cli import output
    >>> output.print_table("Systems", ["name"], [])
    no systems
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    console: Console
    err_console: Console

__all__ = ["console", "err_console", "print_json", "print_table"]

_STDERR = {"console": False, "err_console": True}


def _console(name: str) -> Console:
    """Return the console called ``name``, making it on first use."""
    made: Console | None = globals().get(name)
    if made is None:
        from rich.console import Console

        made = Console(stderr=_STDERR[name], highlight=False, soft_wrap=True)
        globals()[name] = made  # later reads of the module attribute find it directly
    return made


def __getattr__(name: str) -> Console:
    """Return ``console`` or ``err_console``, made on first use."""
    if name not in _STDERR:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _console(name)


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
    out = _console("console")
    if not rows:
        out.print(f"no {title.lower()}")
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)
