"""The ``airsoc`` entry point: global options, sub-commands, and error handling.

A usage error (unknown command or option, missing argument, bad value) prints one line on
stderr and exits 2; any other error prints one line and exits 1; never a traceback.

Each command group's module is imported only when that group runs, and command modules import
their heavy dependencies inside the command functions, so ``airsoc --help`` and
``airsoc incidents list`` start without scientific libraries or the server.

Example:
    >>> import contextlib, io
    >>> buf = io.StringIO()
    >>> with contextlib.redirect_stdout(buf):
    ...     code = main(["taxonomy", "show", "data_poisoning", "--json"])
    >>> code, '"AML.T0020"' in buf.getvalue()
    (0, True)
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     code = main(["chek", "drift"])
    >>> code, err.getvalue()
    (2, "error: No such command 'chek'. Did you mean 'check'? See 'airsoc --help'.\\n")
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
import typer.main
from typer.core import TyperGroup

from airsoc.cli import identity, profile, scan, screen, serve, setup
from airsoc.cli import output as ui
from airsoc.cli.state import state
from airsoc.errors import AirsocError, ConfigError

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter

__all__ = ["DEBUG_ENV", "GROUPS", "CommandGroup", "LazyGroup", "app", "load_group", "main", "run"]

# Help pages are plain text: Typer's Rich help costs a tenth of a second of imports at every
# start, and it reads the "[env: ...]" in option help as markup and drops it.
_PLAIN_HELP = None

DEBUG_ENV = "AIRSOC_DEBUG"
"""Set to 1 to let an unexpected error raise with its traceback (for bug reports)."""


@dataclass(frozen=True)
class CommandGroup:
    """A command group of ``airsoc``: the module holding its Typer ``app``, and its one-line help.

    The help lives here, not in the module, so that ``airsoc --help`` can list every group
    without importing any of them.
    """

    module: str
    help: str


GROUPS: dict[str, CommandGroup] = {
    "incidents": CommandGroup("airsoc.cli.incidents", "Declare and work incidents."),
    "audit": CommandGroup("airsoc.cli.audit", "The audit timeline."),
    "evidence": CommandGroup(
        "airsoc.cli.evidence", "Evidence: add, export, list, verify and capture it."
    ),
    "taxonomy": CommandGroup(
        "airsoc.cli.taxonomy", "Failure modes and their MITRE ATLAS / OWASP mapping."
    ),
    "config": CommandGroup("airsoc.cli.config", "The airsoc.yaml configuration."),
    "check": CommandGroup("airsoc.cli.check", "Check data for drift, quality faults and fairness."),
    "registry": CommandGroup(
        "airsoc.cli.registry", "The lineage registry: systems, models, data batches."
    ),
    "gateway": CommandGroup("airsoc.cli.gateway", "The serving gateway: serve, route, contain."),
    "monitors": CommandGroup(
        "airsoc.cli.monitors", "Monitors: detectors run on telemetry windows on a schedule."
    ),
    "alerts": CommandGroup(
        "airsoc.cli.alerts", "Alerts raised by monitors or received from Alertmanager."
    ),
    "silences": CommandGroup(
        "airsoc.cli.silences", "Silences: mute matching alerts until they expire."
    ),
    "routes": CommandGroup("airsoc.cli.routes", "The alert routing tree."),
    "playbooks": CommandGroup(
        "airsoc.cli.playbooks", "Response playbooks: check, dry-run and run them."
    ),
    "approvals": CommandGroup(
        "airsoc.cli.approvals", "Approvals of playbook steps (four-eyes for destructive actions)."
    ),
    "users": CommandGroup("airsoc.cli.users", "Users, roles and API tokens."),
    "forensics": CommandGroup(
        "airsoc.cli.forensics", "Investigations: which source, batches and rows, and what to do."
    ),
    "postmortem": CommandGroup(
        "airsoc.cli.postmortems", "Blameless post-mortems and fleet response times."
    ),
    "drill": CommandGroup(
        "airsoc.cli.drill", "Drills: check and run chaos scenarios on the demo fleet."
    ),
    "export": CommandGroup(
        "airsoc.cli.export", "Export records in other tools' formats (OCSF findings)."
    ),
}
"""The command groups in the order ``airsoc --help`` lists them, after the plain commands."""


def load_group(name: str) -> TyperGroup:
    """Return the click group of ``airsoc NAME``, importing its module.

    >>> load_group("taxonomy").list_commands(None)
    ['list', 'show']
    """
    spec = GROUPS[name]
    sub_app = importlib.import_module(spec.module).app
    holder = typer.Typer(rich_markup_mode=_PLAIN_HELP)
    holder.add_typer(sub_app, name=name, help=spec.help)
    return cast(TyperGroup, typer.main.get_group(holder).commands[name])


class LazyGroup(TyperGroup):
    """The root command: it imports a command group's module only when that group is used."""

    _listing = False

    def list_commands(self, ctx: Context) -> list[str]:
        """Return the plain commands, then the groups, in a fixed order."""
        plain = [name for name in super().list_commands(ctx) if name not in GROUPS]
        return [*plain, *GROUPS]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """Return the command ``cmd_name``; a group is loaded, or only named while listing."""
        spec = GROUPS.get(cmd_name)
        if spec is None or cmd_name in self.commands:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            # The help page needs a group's name and help, not its commands.
            return TyperGroup(name=cmd_name, help=spec.help)
        group = load_group(cmd_name)
        self.add_command(group, cmd_name)
        return group

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        """Return the command ``args`` names; an unknown one is a usage error with suggestions.

        Typer only suggests among the commands it has built, which leaves out unloaded groups.
        """
        name = args[0] if args else ""
        known = self.list_commands(ctx)
        if name and not name.startswith("-") and name not in known:
            matches = difflib.get_close_matches(name, known)
            hint = f" Did you mean {', '.join(map(repr, matches))}?" if matches else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        """Print the help page without importing any command group."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="airsoc",
    cls=LazyGroup,
    help="Incident response for AI systems: detect, declare, contain, investigate, recover, learn.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=_PLAIN_HELP,
    context_settings={"max_content_width": 120},
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
serve.register(app)
identity.register(app)


def _usage_line(exc: typer.TyperException) -> str:
    """Return a usage error as one line that says where to find the help."""
    # Typer reports pydantic's coercion errors with pydantic's prefix; users need only the rest.
    message = " ".join(exc.format_message().replace("Value error, ", "").split())
    if not message.endswith((".", "?", "!")):
        message += "."
    ctx = getattr(exc, "ctx", None)
    command_path = getattr(ctx, "command_path", None) or "airsoc"
    return f"error: {message} See '{command_path} --help'."


def _run(args: list[str]) -> int:
    """Run the command line ``args`` and return its exit code; errors are raised."""
    try:
        result = app(args=args, prog_name="airsoc", standalone_mode=False)
    except typer.Exit as exc:  # raised by a command, or by a help page
        return exc.exit_code
    return result if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        return _run(args)
    except typer.TyperException as exc:
        # Typer's own errors: usage errors (exit 2) and, e.g., a file it could not open (exit 1).
        message = exc.format_message()
        if type(exc).__name__ == "NoArgsIsHelpError":
            # A group run without a command: its help, which lists the commands, as the error.
            print(message, file=sys.stderr)
            return 2
        if exc.exit_code == 2:
            ui.err_console.print(_usage_line(exc), markup=False)
            return 2
        ui.err_console.print(f"error: {' '.join(message.split())}", markup=False)
        return exc.exit_code
    except typer.Abort:
        ui.err_console.print("aborted")
        return 1
    except ConfigError as exc:
        ui.err_console.print(f"error: {exc}", markup=False)
        for issue in exc.issues[1:]:
            ui.err_console.print(f"  {issue}", markup=False)
        return 1
    except AirsocError as exc:
        ui.err_console.print(f"error: {exc}", markup=False)
        return 1
    except Exception as exc:
        return _unexpected(exc)
    finally:
        state.close()


def _unexpected(exc: Exception) -> int:
    """Print an error that no domain error describes as one line, and return 1."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        from airsoc.config.loader import issues_from_validation

        ui.err_console.print(f"error: {issues_from_validation(exc)[0]}", markup=False)
        return 1
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        ui.err_console.print(f"error: {exc.strerror}{where}", markup=False)
        return 1
    if os.environ.get(DEBUG_ENV) == "1":
        raise exc
    ui.err_console.print(
        f"error: unexpected {type(exc).__name__}: {' '.join(str(exc).split())} "
        f"(a bug; {DEBUG_ENV}=1 shows the traceback)",
        markup=False,
    )
    return 1


def run() -> None:
    """Console-script entry: exit with :func:`main`'s code."""
    sys.exit(main())
