"""Test helpers shipped with the library: run the CLI in-process and capture what it prints;
real local servers to test receivers against (:mod:`airsoc.testing.receivers`).

Example:
    >>> result = run_cli("taxonomy", "show", "supply_chain", "--json")
    >>> result.exit_code, '"sev1"' in result.stdout
    (0, True)
"""

from __future__ import annotations

import contextlib
import io
import socket
from dataclasses import dataclass

__all__ = ["CliResult", "free_port", "run_cli"]


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


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nobody listens on right now.

    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
