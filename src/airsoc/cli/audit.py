"""``airsoc audit verify``: walk every hash chain and name the first broken entry."""

from __future__ import annotations

from typing import Annotated

import typer

from airsoc.cli.output import console, err_console, print_json
from airsoc.cli.state import state
from airsoc.errors import AuditChainBrokenError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command()
def verify(
    chain: Annotated[
        list[str] | None, typer.Option(help="Only this chain (e.g. incident/3)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
) -> None:
    """Verify the audit timeline's hash chains; exit 1 naming the first broken entry."""
    from airsoc.audit import verify_chains

    with state.store().read() as s:
        reports = verify_chains(s, chains=chain)
    broken = [r for r in reports if not r.ok]
    if as_json:
        print_json(reports)
    else:
        total = sum(r.entries for r in reports)
        for r in broken:
            err_console.print(f"{r.chain}: entry {r.first_broken_seq} is broken: {r.problem}")
        if not broken:
            console.print(f"ok: {len(reports)} chains, {total} entries, every hash verified")
    if broken:
        first = broken[0]
        raise AuditChainBrokenError(
            f"audit chain {first.chain} is broken at entry {first.first_broken_seq}: "
            f"{first.problem}"
        )
