"""Test doubles shipped with the library: a scratch store, the CLI run in-process, a free port;
real local servers to test receivers against (:mod:`airsoc.testing.receivers`).

Example:
    >>> result = run_cli("taxonomy", "show", "supply_chain", "--json")
    >>> result.exit_code, '"sev1"' in result.stdout
    (0, True)
"""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airsoc.settings import Settings
from airsoc.store import Store

if TYPE_CHECKING:
    from airsoc.clock import SimulatedClock

__all__ = [
    "CliResult",
    "free_port",
    "run_cli",
    "scratch_operations",
    "scratch_store",
    "scratch_store_context",
]


@dataclass(frozen=True)
class CliResult:
    """What one ``airsoc`` invocation printed and returned."""

    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> CliResult:
    """Run ``airsoc ARGS...`` in this process and return its exit code and output."""
    from airsoc.cli import output
    from airsoc.cli.main import main

    # Rich fixes a console's width (``COLUMNS``) when it is made: make them afresh for each run,
    # as a new ``airsoc`` process would.
    for name in ("console", "err_console"):
        vars(output).pop(name, None)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


_GIVEN_PORTS: set[int] = set()
_GIVEN_PORTS_LOCK = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nobody listens on right now and that this process
    was not given before: the system may hand the same free port to two calls in a row, and
    a server asked for an API port and a gateway port must get two.

    >>> 0 < free_port() < 65536
    True
    >>> len({free_port() for _ in range(20)})
    20
    """
    with _GIVEN_PORTS_LOCK:
        while True:
            with socket.socket() as sock:
                sock.bind((host, 0))
                port: int = sock.getsockname()[1]
            if port not in _GIVEN_PORTS:
                _GIVEN_PORTS.add(port)
                return port


def scratch_store() -> Store:
    """Return an open, migrated store on SQLite in a new temporary data directory.

    The environment (``AIRSOC_DATABASE_URL``) is ignored: a scratch store is never shared.
    Close it with ``store.close()``; :func:`scratch_store_context` also removes the directory.

    >>> store = scratch_store()
    >>> store.dialect, store.settings.data_dir.exists()
    ('sqlite', True)
    >>> store.close()
    """
    return Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(prefix="airsoc-"), environ={}))


@contextlib.contextmanager
def scratch_store_context() -> Iterator[Store]:
    """Yield a :func:`scratch_store`; close it and delete its data directory afterwards.

    >>> with scratch_store_context() as store:
    ...     data_dir = store.settings.data_dir
    ...     store.dialect
    'sqlite'
    >>> data_dir.exists()
    False
    """
    store = scratch_store()
    try:
        yield store
    finally:
        store.close()
        shutil.rmtree(store.settings.data_dir, ignore_errors=True)


def scratch_operations() -> tuple[Store, SimulatedClock]:
    """Return a store in a fresh temporary folder, and its clock, with something to operate on.

    System ``fraud`` (a tabular classifier) serves ``v2``; ``v1`` is known-good. Batch ``b-1``
    comes from source ``acme``. System ``bot`` is a RAG app. Close the store when done.

    >>> store, clock = scratch_operations()
    >>> from airsoc.serving.control import get_route
    >>> with store.read() as s:
    ...     get_route(s, system="fraud").primary_version
    'v2'
    >>> store.close()
    """
    from airsoc.clock import SimulatedClock
    from airsoc.lineage import (
        mark_known_good,
        register_batch,
        register_model_version,
        register_system,
    )
    from airsoc.serving.control import promote
    from airsoc.settings import Settings
    from airsoc.store import Store

    store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(), environ={}))
    clock = SimulatedClock()
    with store.transaction() as s:
        register_system(
            s, clock=clock, actor="a", name="fraud", kind="tabular-classifier", owner="risk"
        )
        register_system(s, clock=clock, actor="a", name="bot", kind="rag-app", owner="cx")
        for version in ("v1", "v2"):
            register_model_version(
                s,
                clock=clock,
                actor="ci",
                system="fraud",
                version=version,
                artifact_uri=f"s3://m/{version}",
                sha256=version[1] * 64,
            )
        mark_known_good(s, clock=clock, actor="a", system="fraud", version="v1", reason="ok")
        promote(s, clock=clock, actor="ci", system="fraud", version="v2", reason="ship")
        register_batch(
            s, clock=clock, actor="etl", batch_id="b-1", source="acme", rows=10, sha256="b" * 64
        )
    return store, clock
