"""``airsoc audit verify|anchor|upgrade``: the keyed, anchored audit timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli.output import console, err_console, print_json
from airsoc.cli.state import state
from airsoc.errors import AuditChainBrokenError, DataFileError

__all__ = ["app"]

app = typer.Typer(help="The audit timeline.", no_args_is_help=True)


@app.command()
def verify(
    chain: Annotated[
        list[str] | None, typer.Option(help="Only this chain (e.g. incident/3)")
    ] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(help="Signed heads exported earlier (airsoc audit anchor)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
) -> None:
    """Verify the keyed hash chains and every incident record against its timeline; exit 1
    naming each rewritten entry, rewound head, deleted chain or record that disagrees."""
    from airsoc.audit import load_anchor
    from airsoc.incidents.verification import verify_audit

    heads = None
    if anchor is not None:
        try:
            heads = load_anchor(anchor.read_bytes())
        except OSError as exc:
            raise DataFileError(f"cannot read {anchor}: {exc.strerror}") from None
    with state.store().read() as s:
        reports = verify_audit(s, chains=chain, anchor=heads)
    broken = [r for r in reports if not r.ok]
    if as_json:
        print_json(reports)
    else:
        total = sum(r.entries for r in reports)
        for r in broken:
            err_console.print(
                f"{r.chain}: {r.kind} at entry {r.first_broken_seq}: {r.problem}", markup=False
            )
        if not broken:
            console.print(f"ok: {len(reports)} chains, {total} entries, every tag verified")
    if broken:
        first = broken[0]
        raise AuditChainBrokenError(
            f"audit chain {first.chain} is broken ({first.kind}) at entry "
            f"{first.first_broken_seq}: {first.problem}"
        )


@app.command()
def anchor(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the anchor here (else stdout)")
    ] = None,
) -> None:
    """Export the signed heads of every chain, to keep outside the database (a file, a
    webhook, a log); `airsoc audit verify --anchor FILE` then catches a rewind or a deletion."""
    from airsoc.audit import anchor_heads

    with state.store().read() as s:
        heads = anchor_heads(s, clock=state.clock)
    text = heads.to_json()
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output} ({len(heads.chains)} chains)")


@app.command()
def upgrade() -> None:
    """Sign the chains written before the timeline was keyed (after checking each); a chain
    that does not verify is left as it is and named."""
    from airsoc.audit import upgrade_chains

    with state.store().transaction() as s:
        reports = upgrade_chains(s)
    broken = [r for r in reports if not r.ok]
    for r in broken:
        err_console.print(f"{r.chain}: not signed, it does not verify: {r.problem}", markup=False)
    console.print(f"{len(reports) - len(broken)} chains keyed, {len(broken)} left as they are")
    if broken:
        raise AuditChainBrokenError(f"{len(broken)} chains do not verify; they were not signed")
