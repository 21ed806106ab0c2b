"""The ``airsoc`` entry point: global options, sub-commands, and error handling.

Errors print one line on stderr and exit non-zero; never a traceback.

Example:
    >>> import contextlib, io
    >>> buf = io.StringIO()
    >>> with contextlib.redirect_stdout(buf):
    ...     code = main(["taxonomy", "show", "data_poisoning", "--json"])
    >>> code, '"AML.T0020"' in buf.getvalue()
    (0, True)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from pydantic import ValidationError

from airsoc.cli import (
    alerts,
    approvals,
    audit,
    check,
    config,
    gateway,
    incidents,
    monitors,
    playbooks,
    postmortems,
    profile,
    registry,
    routes,
    scan,
    screen,
    serve,
    setup,
    silences,
    taxonomy,
    users,
)
from airsoc.cli.output import err_console
from airsoc.cli.state import state
from airsoc.config.loader import issues_from_validation
from airsoc.errors import AirsocError, ConfigError

__all__ = ["app", "main"]

app = typer.Typer(
    name="airsoc",
    help="Incident response for AI systems: detect, declare, contain, investigate, recover, learn.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global_options(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where airsoc keeps its state [env: AIRSOC_DATA_DIR; default ./airsoc-data]"
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Database URL [env: AIRSOC_DATABASE_URL; default SQLite in the data dir]"
        ),
    ] = None,
) -> None:
    state.reset(data_dir=data_dir, database_url=database_url)


setup.register(app)
profile.register(app)
screen.register(app)
scan.register(app)
app.add_typer(incidents.app, name="incidents")
app.add_typer(audit.app, name="audit")
app.add_typer(taxonomy.app, name="taxonomy")
app.add_typer(config.app, name="config")
app.add_typer(check.app, name="check")
app.add_typer(registry.app, name="registry")
app.add_typer(gateway.app, name="gateway")
app.add_typer(monitors.app, name="monitors")
app.add_typer(alerts.app, name="alerts")
app.add_typer(silences.app, name="silences")
app.add_typer(routes.app, name="routes")
app.add_typer(playbooks.app, name="playbooks")
app.add_typer(approvals.app, name="approvals")
app.add_typer(users.app, name="users")
app.add_typer(postmortems.app, name="postmortem")
serve.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    try:
        result = app(args=argv, prog_name="airsoc", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except ConfigError as exc:
        err_console.print(f"error: {exc}", markup=False)
        for issue in exc.issues[1:]:
            err_console.print(f"  {issue}", markup=False)
        return 1
    except AirsocError as exc:
        err_console.print(f"error: {exc}", markup=False)
        return 1
    except ValidationError as exc:
        issue = issues_from_validation(exc)[0]
        err_console.print(f"error: {issue}", markup=False)
        return 1
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    finally:
        state.close()


def run() -> None:
    """Console-script entry: exit with :func:`main`'s code."""
    sys.exit(main())
