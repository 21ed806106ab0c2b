"""Test helpers shipped with the library: run the CLI in-process and capture what it prints.

Example:
    >>> result = run_cli("taxonomy", "show", "supply_chain", "--json")
    >>> result.exit_code, '"sev1"' in result.stdout
    (0, True)
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

__all__ = ["CliResult", "run_cli"]


@dataclass(frozen=True)
class CliResult:
    """What one ``airsoc`` invocation printed and returned."""

    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> CliResult:
    """Run ``airsoc ARGS...`` in this process and return its exit code and output."""
    from airsoc.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())
