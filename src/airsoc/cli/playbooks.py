"""``airsoc playbooks list|show|check|test|run``: response playbooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from airsoc.cli.incidents import actor_name
from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state
from airsoc.errors import DataFileError, InputError, NotFoundError

if TYPE_CHECKING:
    from airsoc.response.actions import ActionRegistry
    from airsoc.response.playbooks import Playbook

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="A configuration whose playbooks to add to the defaults"),
]


def _playbooks(config: Path | None, registry: ActionRegistry) -> dict[str, tuple[Playbook, str]]:
    from airsoc.response.playbooks import default_playbooks
    from airsoc.runtime.config import load_checked_config

    found = {p.name: (p, "default") for p in default_playbooks(registry=registry)}
    path = config or (Path("airsoc.yaml") if Path("airsoc.yaml").exists() else None)
    if path is not None:
        _, configured = load_checked_config(path, registry=registry)
        found.update({p.name: (p, str(path)) for p in configured})
    return found


def _find(name: str, config: Path | None, registry: ActionRegistry) -> Playbook:
    from airsoc.response.playbooks import load_playbook

    found = _playbooks(config, registry)
    if name in found:
        return found[name][0]
    if Path(name).is_file():
        return load_playbook(name, registry=registry)
    raise NotFoundError(f"no playbook named {name!r}; known: {', '.join(sorted(found))}")


def _on(playbook: Playbook) -> str:
    parts = [f"{k}={v}" for k, v in playbook.on.model_dump(exclude_none=True).items() if v]
    return " ".join(parts) or "any incident"


@app.command("list")
def list_(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List the shipped playbooks and those the configuration adds."""
    from airsoc.runtime.registries import build_action_registry

    found = _playbooks(config, build_action_registry())
    if as_json:
        print_json(
            [
                {
                    "name": n,
                    "source": src,
                    "on": p.on.model_dump(exclude_none=True),
                    "steps": [s.id for s in p.steps],
                }
                for n, (p, src) in sorted(found.items())
            ]
        )
        return
    print_table(
        "Playbooks",
        ["name", "on", "steps", "source"],
        [
            (n, _on(p), " > ".join(s.id for s in p.steps), src)
            for n, (p, src) in sorted(found.items())
        ],
    )


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="A playbook name or file")],
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Show a playbook's steps."""
    from airsoc.runtime.registries import build_action_registry

    playbook = _find(name, config, build_action_registry())
    if as_json:
        print_json(playbook.model_dump(mode="json", by_alias=True))
        return
    console.print(f"{playbook.name}: {playbook.description}".rstrip(": "), markup=False)
    console.print(f"on: {_on(playbook)}", markup=False)
    for i, step in enumerate(playbook.steps, start=1):
        extra = []
        if step.when:
            extra.append(f"when {step.when}")
        if step.foreach:
            extra.append(f"for each of {step.foreach}")
        if step.approval:
            extra.append(f"approval by {step.approval.role}")
        tail = f" ({'; '.join(extra)})" if extra else ""
        params = json.dumps(step.with_, sort_keys=True) if step.with_ else ""
        console.print(f"  {i}. {step.id}: {step.action} {params}{tail}", markup=False)


@app.command()
def check(files: Annotated[list[Path], typer.Argument(help="Playbook files")]) -> None:
    """Validate playbook files; exit 1 listing every problem with its location."""
    from airsoc.response.playbooks import load_playbook
    from airsoc.runtime.registries import build_action_registry

    registry = build_action_registry()
    for path in files:
        playbook = load_playbook(path, registry=registry)
        console.print(f"{path}: ok ({playbook.name}, {len(playbook.steps)} steps)", markup=False)


def _incident_from_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFileError(f"cannot read incident {path}: {exc}") from None
    if not isinstance(data, dict):
        raise DataFileError(f"{path}: an incident must be a JSON object")
    for key in ("system", "failure_mode"):
        if key not in data:
            raise InputError(f"{path}: the incident needs {key!r}")
    from airsoc.incidents.taxonomy import failure_mode

    mode = failure_mode(str(data["failure_mode"]))
    defaults: dict[str, Any] = {
        "id": 0,
        "ref": "INC-0",
        "title": f"{mode.name} on {data['system']}",
        "summary": "",
        "phase": "detected",
        "severity": mode.default_severity,
        "labels": {},
        "data_batches": [],
        "model_versions": [],
        "indicators": [],
        "next_steps": [],
    }
    return {**defaults, **data}


@app.command("test")
def dry_run_incident(
    incident_file: Annotated[Path, typer.Argument(help="An incident as JSON")],
    playbook: Annotated[str | None, typer.Option(help="Only this playbook")] = None,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Dry-run the playbooks that match an incident: every step, templates filled, no effect."""
    from airsoc.response.actions import ResponseServices
    from airsoc.response.dryrun import dry_run
    from airsoc.runtime.registries import build_action_registry

    registry = build_action_registry()
    incident = _incident_from_file(incident_file)
    if playbook:
        chosen = [_find(playbook, config, registry)]
    else:
        chosen = [p for p, _ in _playbooks(config, registry).values() if p.applies_to(incident)]
    services = ResponseServices(store=state.store(), settings=state.settings)
    rules = None
    path = config or (Path("airsoc.yaml") if Path("airsoc.yaml").exists() else None)
    if path is not None:
        from airsoc.runtime.config import load_config

        rules = load_config(path).governance
    from airsoc.response.governance import system_criticality

    with state.store().read() as s:
        criticality = system_criticality(s, system=str(incident.get("system", "")))
    plans = {
        p.name: dry_run(
            p,
            incident=incident,
            registry=registry,
            services=services,
            clock=state.clock,
            criticality=criticality,
            rules=rules,
        )
        for p in chosen
    }
    if as_json:
        print_json({name: [s.model_dump() for s in steps] for name, steps in plans.items()})
        return
    if not plans:
        console.print("no playbook matches this incident", markup=False)
    for name, steps in plans.items():
        console.print(f"{name}:", markup=False)
        for i, step in enumerate(steps, start=1):
            mark = "" if step.would_run else " [skip]"
            gate = f"  <{step.approval}>" if step.approval else ""
            console.print(
                f"  {i}. {step.step_id} ({step.action}){mark}: {step.description}{gate}",
                markup=False,
            )


@app.command()
def run(
    name: Annotated[str, typer.Argument(help="A playbook name or file")],
    incident: Annotated[int, typer.Option(help="The incident id")],
    config: ConfigOpt = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Who [env: AIRSOC_ACTOR]")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Start a playbook on an incident and carry it until it ends or waits for an approval."""
    from airsoc.response.actions import ResponseServices
    from airsoc.response.runner import PlaybookRunner
    from airsoc.response.runs import get_run, start_run
    from airsoc.runtime.config import load_checked_config
    from airsoc.runtime.control import live_control_plane
    from airsoc.runtime.registries import build_action_registry

    registry = build_action_registry()
    playbook = _find(name, config, registry)
    store = state.store()
    receivers = {}
    templates = None
    governance = None
    path = config or (Path("airsoc.yaml") if Path("airsoc.yaml").exists() else None)
    if path is not None:
        from airsoc.alerting.engine import AlertingEngine

        cfg, _ = load_checked_config(path, registry=registry)
        engine = AlertingEngine(config=cfg, store=store, clock=state.clock)
        receivers, templates = dict(engine.receivers), engine.templates
        governance = cfg.governance
    with store.transaction() as s:
        view = start_run(
            s,
            clock=state.clock,
            playbook=playbook,
            incident_id=incident,
            started_by=actor_name(actor),
        )
    worker = PlaybookRunner(
        store=store,
        clock=state.clock,
        registry=registry,
        worker_id=f"cli:{actor_name(actor)}",
        services=ResponseServices(
            store=store,
            settings=state.settings,
            receivers=receivers,
            templates=templates,
            control_plane=live_control_plane(store=store, clock=state.clock),
        ),
        governance=governance,
    )
    worker.run_until_idle()
    with store.read() as s:
        view = get_run(s, run_id=view.id)
    if as_json:
        print_json(view)
        return
    console.print(
        f"run {view.id} of {view.playbook} on INC-{incident}: {view.status}"
        + (f" ({view.error})" if view.error else ""),
        markup=False,
    )
    for step in view.steps:
        console.print(
            f"  {step.step_id}: {step.status}" + (f" - {step.error}" if step.error else ""),
            markup=False,
        )
