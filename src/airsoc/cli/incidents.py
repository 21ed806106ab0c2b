"""``airsoc incidents ...``: declare, list, show, transition, assign, note, update, evidence."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli.evidence import app as evidence_app
from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.regulatory import app as serious_app
from airsoc.cli.state import state
from airsoc.incidents import service

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)

ActorOpt = Annotated[
    str | None, typer.Option("--actor", help="Who is acting [env: AIRSOC_ACTOR; default: $USER]")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]


def actor_name(actor: str | None) -> str:
    """Return who is acting: --actor, then AIRSOC_ACTOR, then the login name."""
    return actor or os.environ.get("AIRSOC_ACTOR") or getpass.getuser()


@app.command()
def declare(
    system: Annotated[str, typer.Option(help="The affected system")],
    failure_mode: Annotated[str, typer.Option(help="A failure mode (airsoc taxonomy show)")],
    summary: Annotated[str, typer.Option(help="What is happening, in a sentence")],
    severity: Annotated[
        str | None, typer.Option(help="sev1..sev5; 'sev2|sev3' when unsure (takes the higher)")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Short title")] = None,
    model_version: Annotated[list[str] | None, typer.Option(help="Affected model version")] = None,
    data_batch: Annotated[list[str] | None, typer.Option(help="Suspect data batch")] = None,
    indicator: Annotated[list[str] | None, typer.Option(help="An indicator of compromise")] = None,
    config: Annotated[
        Path, typer.Option(help="Its governance rules set the severity floor (if the file exists)")
    ] = Path("airsoc.yaml"),
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Declare an incident (phase: detected), at least as severe as its system's severity floor."""
    from airsoc.response.governance import GovernanceConfig, declaration_severity

    rules = GovernanceConfig()
    if config.exists():
        from airsoc.runtime.config import load_config

        rules = load_config(config).governance
    with state.store().transaction() as s:
        decision = declaration_severity(
            s, system=system, failure_mode=failure_mode, severity=severity, rules=rules
        )
        inc = service.declare_incident(
            s,
            clock=state.clock,
            actor=actor_name(actor),
            system=system,
            failure_mode=failure_mode,
            summary=summary,
            severity=decision.severity,
            severity_reason=decision.reason,
            title=title,
            model_versions=model_version or (),
            data_batches=data_batch or (),
            indicators=indicator or (),
        )
    if as_json:
        print_json(inc)
    else:
        console.print(f"declared {inc.ref} [{inc.severity}] {inc.title}", markup=False)


@app.command("list")
def list_(
    phase: Annotated[str | None, typer.Option(help="Only this phase")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open incidents")] = False,
    system: Annotated[str | None, typer.Option(help="Only this system")] = None,
    severity: Annotated[str | None, typer.Option(help="Only this severity")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List incidents, newest first."""
    with state.store().read() as s:
        rows = service.list_incidents(
            s, phase=phase, open_only=open_only, system=system, severity=severity
        )
    if as_json:
        print_json(rows)
        return
    print_table(
        "Incidents",
        ["ref", "severity", "phase", "system", "failure mode", "title", "detected"],
        [
            (
                r.ref,
                r.severity,
                r.phase,
                r.system,
                r.failure_mode,
                r.title,
                f"{r.detected_at:%Y-%m-%d %H:%M}",
            )
            for r in rows
        ],
    )


@app.command()
def show(
    incident_id: Annotated[int, typer.Argument(help="Incident number (INC-<n>)")],
    as_json: JsonOpt = False,
) -> None:
    """Show an incident with its roles, evidence and timeline."""
    with state.store().read() as s:
        inc = service.get_incident(s, incident_id=incident_id)
    if as_json:
        print_json(inc)
        return
    console.print(f"[bold]{inc.ref}[/bold] {inc.title}")
    console.print(
        f"phase {inc.phase} · {inc.severity} · {inc.failure_mode} · system {inc.system}"
        f" · next: {', '.join(inc.next_phases) or 'none'}"
    )
    console.print(inc.summary, markup=False)
    console.print("ATLAS: " + ", ".join(f"{t['id']} {t['name']}" for t in inc.atlas_techniques))
    console.print("OWASP: " + ", ".join(f"{o['id']} ({o['version']})" for o in inc.owasp))
    print_table(
        "Roles", ["role", "person", "since"], [(r.role, r.person, r.assigned_at) for r in inc.roles]
    )
    print_table(
        "Evidence",
        ["id", "name", "sha256", "added by"],
        [(e.id, e.name, e.sha256[:16], e.added_by) for e in inc.evidence],
    )
    print_table(
        "Timeline",
        ["#", "at", "actor", "action", "reason"],
        [(e.seq, f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.reason) for e in inc.timeline],
    )


@app.command()
def transition(
    incident_id: Annotated[int, typer.Argument(help="Incident number")],
    to: Annotated[str, typer.Argument(help="Target phase")],
    reason: Annotated[str, typer.Option(help="Why (recorded on the timeline)")],
    into: Annotated[int | None, typer.Option(help="With 'merged': the surviving incident")] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move an incident to another phase."""
    with state.store().transaction() as s:
        inc = service.transition_incident(
            s,
            clock=state.clock,
            incident_id=incident_id,
            to=to,
            actor=actor_name(actor),
            reason=reason,
            merged_into=into,
        )
    if as_json:
        print_json(inc)
    else:
        console.print(f"{inc.ref} is now {inc.phase}")


@app.command()
def assign(
    incident_id: Annotated[int, typer.Argument(help="Incident number")],
    role: Annotated[str, typer.Argument(help="incident_commander|deputy|scribe|sme|comms")],
    to: Annotated[str, typer.Option(help="The person taking the role")],
    reason: Annotated[str, typer.Option(help="Why")] = "",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Assign a role (a hand-off when someone already holds it)."""
    with state.store().transaction() as s:
        view = service.assign_role(
            s,
            clock=state.clock,
            incident_id=incident_id,
            role=role,
            person=to,
            actor=actor_name(actor),
            reason=reason,
        )
    if as_json:
        print_json(view)
    else:
        console.print(f"INC-{incident_id}: {view.person} is {view.role}")


@app.command()
def note(
    incident_id: Annotated[int, typer.Argument(help="Incident number")],
    text: Annotated[str, typer.Argument(help="The note")],
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a handler note to the timeline."""
    with state.store().transaction() as s:
        entry = service.add_note(
            s, clock=state.clock, incident_id=incident_id, actor=actor_name(actor), text=text
        )
    if as_json:
        print_json(entry)
    else:
        console.print(f"INC-{incident_id}: note #{entry.seq} added")


@app.command()
def update(
    incident_id: Annotated[int, typer.Argument(help="Incident number")],
    reason: Annotated[str, typer.Option(help="Why (recorded on the timeline)")],
    severity: Annotated[str | None, typer.Option(help="New severity")] = None,
    summary: Annotated[str | None, typer.Option(help="New summary")] = None,
    functional_impact: Annotated[
        str | None, typer.Option(help="none | low | medium | high")
    ] = None,
    information_impact: Annotated[
        str | None,
        typer.Option(help="none | privacy_breach | proprietary_breach | integrity_loss"),
    ] = None,
    recoverability: Annotated[
        str | None, typer.Option(help="regular | supplemented | extended | not_recoverable")
    ] = None,
    indicator: Annotated[list[str] | None, typer.Option(help="Replace the indicators")] = None,
    contact: Annotated[list[str] | None, typer.Option(help="Replace the contacts")] = None,
    next_step: Annotated[list[str] | None, typer.Option(help="Replace the next steps")] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an incident's severity, summary, impact, indicators, contacts or next steps."""
    impact = None
    if functional_impact or information_impact or recoverability:
        with state.store().read() as s:
            current = service.get_incident(s, incident_id=incident_id).impact
        impact = service.Impact(
            **{
                **current,
                **{
                    k: v
                    for k, v in {
                        "functional": functional_impact,
                        "information": information_impact,
                        "recoverability": recoverability,
                    }.items()
                    if v
                },
            }
        )
    changes = service.IncidentUpdate(
        severity=severity,
        summary=summary,
        impact=impact,
        indicators=indicator,
        contacts=contact,
        next_steps=next_step,
    )
    with state.store().transaction() as s:
        inc = service.update_incident(
            s,
            clock=state.clock,
            incident_id=incident_id,
            changes=changes,
            actor=actor_name(actor),
            reason=reason,
        )
    if as_json:
        print_json(inc)
    else:
        console.print(f"{inc.ref} updated", markup=False)


# ``airsoc incidents evidence ...`` is kept as an alias of ``airsoc evidence ...``.
app.add_typer(evidence_app, name="evidence", help="Evidence (alias of airsoc evidence).")
app.add_typer(
    serious_app, name="serious", help="Serious incidents (EU AI Act Article 73) and reports."
)
