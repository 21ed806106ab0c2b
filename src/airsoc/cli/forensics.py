"""``airsoc forensics``: the platform's investigations, for scripts and responders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from airsoc.cli import output as ui
from airsoc.cli.state import state
from airsoc.errors import InputError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)


@app.command()
def poisoning(
    incident: Annotated[
        int | None, typer.Option(help="The incident whose model version to investigate")
    ] = None,
    system: Annotated[str | None, typer.Option(help="The system (with --model-version)")] = None,
    model_version: Annotated[
        str | None, typer.Option(help="The degraded model version (with --system)")
    ] = None,
    trusted_batch: Annotated[
        list[str] | None,
        typer.Option(help="A trusted batch; repeat (default: the last known-good version's)"),
    ] = None,
    label_column: Annotated[str, typer.Option(help="The label column of the batches")] = "label",
    positive_label: Annotated[
        str, typer.Option(help="The class whose misses matter (e.g. fraud)")
    ] = "1",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
) -> None:
    """Find which source, batches and rows poisoned a model version, bound the window, propose
    a clean training set, and weigh rollback against retraining. Exit 0 when it ran."""
    from airsoc.forensics import investigate_incident, investigate_poisoning

    if (incident is None) == (system is None and model_version is None):
        raise InputError("name an incident, or a system and a model version (not both)")
    with state.store().read() as s:
        if incident is not None:
            result = investigate_incident(
                s,
                incident_id=incident,
                trusted_batches=trusted_batch,
                label_column=label_column,
                positive_label=positive_label,
            )
        else:
            if system is None or model_version is None:
                raise InputError("a system needs its model version, and the other way round")
            result = investigate_poisoning(
                s,
                system=system,
                model_version=model_version,
                trusted_batches=trusted_batch,
                label_column=label_column,
                positive_label=positive_label,
            )
    body = result.to_json()
    if as_json:
        ui.print_json(body)
        return
    for source in body["suspect_sources"][:3]:
        ui.console.print(f"suspect source {source['source']}: {source['score']:.2f}", markup=False)
    window = body["window"]
    ui.console.print(
        f"window: {window['first_batch']} .. {window['last_batch']}; "
        f"{len(body['suspect_samples'])} suspect rows; "
        f"recommendation: {body['recommendation']['action']} ({body['recommendation']['reason']})",
        markup=False,
    )


_IncidentOpt = Annotated[
    int | None, typer.Option("--incident", help="Record the findings on this incident")
]
_JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]
_ActorOpt = Annotated[str | None, typer.Option(help="Who records the findings")]


@app.command()
def drift(
    reference: Annotated[Path, typer.Option(help="The reference window (CSV or Parquet)")],
    current: Annotated[Path, typer.Option(help="The current window (CSV or Parquet)")],
    feature: Annotated[
        list[str] | None, typer.Option(help="A feature to judge; repeat (default: every column)")
    ] = None,
    event_column: Annotated[
        str | None, typer.Option(help="The column naming each row's event kind")
    ] = None,
    label_column: Annotated[str | None, typer.Option(help="Delayed labels")] = None,
    prediction_column: Annotated[
        str | None, typer.Option(help="The served predictions (with the labels)")
    ] = None,
    version_changed: Annotated[
        bool, typer.Option(help="The model version changed inside the current window")
    ] = False,
    incident: _IncidentOpt = None,
    actor: _ActorOpt = None,
    as_json: _JsonOpt = False,
) -> None:
    """Rule out a pipeline fault, then say which features moved, where the shift concentrates,
    whether delayed labels show a loss, and what to do. Exit 0 when it ran."""
    from airsoc.detection.attacks import read_frame
    from airsoc.forensics.drift import investigate_drift, record_drift_findings

    result = investigate_drift(
        read_frame(reference),
        read_frame(current),
        features=feature or None,
        event_column=event_column,
        label_column=label_column,
        prediction_column=prediction_column,
        version_changed=version_changed,
    )
    _record(record_drift_findings, result, incident=incident, actor=actor)
    if as_json:
        ui.print_json(result.to_json())
        return
    ui.console.print(f"classification: {result.classification}", markup=False)
    for check in result.measurement_anomalies:
        ui.console.print(f"measurement anomaly: {check.detail}", markup=False)
    for shift in [f for f in result.features if f.moved][:5]:
        ui.console.print(f"moved: {shift.detail}", markup=False)
    for segment in result.segments[:3]:
        ui.console.print(
            f"segment: {segment.rule} ({segment.score:.0%} of the shift)", markup=False
        )
    ui.console.print(
        f"recommendation: {result.recommendation.action} ({result.recommendation.reason})",
        markup=False,
    )


@app.command()
def rag(
    turns: Annotated[Path, typer.Option(help="The logged turns (JSON array or JSON lines)")],
    documents: Annotated[
        Path, typer.Option(help="The approved documents (YAML or JSON list of id/title/...)")
    ],
    incident: _IncidentOpt = None,
    actor: _ActorOpt = None,
    as_json: _JsonOpt = False,
) -> None:
    """Name the documents that drive ungrounded answers, which one changed and when, the
    cascade's origin and speed, and the affected sessions. Exit 0 when it ran."""
    from airsoc.detection.llm.grounding import load_document_index
    from airsoc.detection.llm.turns import parse_turns
    from airsoc.forensics.rag import investigate_rag, record_rag_findings

    try:
        raw = turns.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {turns}: {exc.strerror}", loc=str(turns)) from None
    result = investigate_rag(
        parse_turns(raw, source=str(turns)), approved=load_document_index(documents)
    )
    _record(record_rag_findings, result, incident=incident, actor=actor)
    if as_json:
        ui.print_json(result.to_json())
        return
    for doc in [d for d in result.documents if d.score >= 0.5][:3]:
        ui.console.print(f"document {doc.doc_id} ({doc.score:.2f}): {doc.reason}", markup=False)
    ui.console.print(
        f"{result.ungrounded} of {result.turns} answers ungrounded in "
        f"{len(result.affected_sessions)} sessions; cascade from "
        f"{result.cascade.started_at or result.cascade.first_ungrounded_at}",
        markup=False,
    )
    ui.console.print(f"recommendation: {result.recommendation}", markup=False)


@app.command()
def fairness(
    reference: Annotated[Path, typer.Option(help="Decisions before the gap (CSV or Parquet)")],
    current: Annotated[Path, typer.Option(help="Decisions now (CSV or Parquet)")],
    group_column: Annotated[str, typer.Option(help="The protected group column")],
    outcome_column: Annotated[str, typer.Option(help="The decision the model served")],
    favorable: Annotated[str, typer.Option(help="The favourable decision")] = "1",
    label_column: Annotated[str | None, typer.Option(help="The true outcome, if known")] = None,
    feature: Annotated[
        list[str] | None, typer.Option(help="A feature the model uses; repeat (default: all)")
    ] = None,
    incident: _IncidentOpt = None,
    actor: _ActorOpt = None,
    as_json: _JsonOpt = False,
) -> None:
    """Say which group lost, whether the data or the model explains it, and which features and
    segments. Exit 0 when it ran."""
    from airsoc.detection.attacks import read_frame
    from airsoc.forensics.fairness import investigate_fairness, record_fairness_findings

    result = investigate_fairness(
        read_frame(reference),
        read_frame(current),
        group_column=group_column,
        outcome_column=outcome_column,
        favorable=favorable,
        label_column=label_column,
        features=feature or None,
    )
    _record(record_fairness_findings, result, incident=incident, actor=actor)
    if as_json:
        ui.print_json(result.to_json())
        return
    ui.console.print(
        f"group {result.group}: gap to {result.favored_group} {result.gap_reference:.1%} -> "
        f"{result.gap_current:.1%}; source: {result.source} (data {result.data_part:+.1%}, "
        f"model {result.model_part:+.1%})",
        markup=False,
    )
    for segment in result.segments[:3]:
        ui.console.print(f"segment: {segment.rule} ({segment.score:.0%})", markup=False)
    ui.console.print(f"recommendation: {result.recommendation}", markup=False)


@app.command()
def clients(
    log: Annotated[Path, typer.Option(help="The prediction log (CSV or Parquet)")],
    client_column: Annotated[str, typer.Option(help="Who asked")] = "client_id",
    time_column: Annotated[str, typer.Option(help="When")] = "at",
    score_column: Annotated[
        str | None, typer.Option(help="The model's score, for boundary probing")
    ] = None,
    blocked: Annotated[
        list[str] | None,
        typer.Option(help="CLIENT=ISO-TIME of a block; repeat"),
    ] = None,
    incident: _IncidentOpt = None,
    actor: _ActorOpt = None,
    as_json: _JsonOpt = False,
) -> None:
    """Name the clients that extract or probe the model, from when, with how many queries and
    what coverage, and whether blocking stopped them. Exit 0 when it ran."""
    from datetime import datetime

    from airsoc.detection.attacks import read_frame
    from airsoc.forensics.clients import investigate_clients, record_client_findings

    blocks: dict[str, datetime] = {}
    for i, spec in enumerate(blocked or []):
        client, _, when = spec.partition("=")
        try:
            blocks[client] = datetime.fromisoformat(when)
        except ValueError:
            raise InputError(
                f"expected CLIENT=ISO-TIME, got {spec!r}", loc=f"blocked[{i}]"
            ) from None
        if not client:
            raise InputError(f"expected CLIENT=ISO-TIME, got {spec!r}", loc=f"blocked[{i}]")
    result = investigate_clients(
        read_frame(log),
        client_column=client_column,
        time_column=time_column,
        score_column=score_column,
        blocked=blocks,
    )
    _record(record_client_findings, result, incident=incident, actor=actor)
    if as_json:
        ui.print_json(result.to_json())
        return
    for c in result.suspects[:10]:
        ui.console.print(
            f"{c.client}: {c.kind} ({c.score:.2f}), {c.queries} queries from {c.first_at}",
            markup=False,
        )
    ui.console.print(f"recommendation: {result.recommendation}", markup=False)


@app.command()
def injection(
    turns: Annotated[
        Path, typer.Option(help="The turns: JSON array or JSON lines of session_id, at, user, ...")
    ],
    guards: Annotated[
        Path | None,
        typer.Option(help="The guard layers (YAML or JSON list of name, channels, mode, ...)"),
    ] = None,
    canary: Annotated[list[str] | None, typer.Option(help="A canary token; repeat")] = None,
    incident: _IncidentOpt = None,
    actor: _ActorOpt = None,
    as_json: _JsonOpt = False,
) -> None:
    """Name the channel, payload family, sessions and users of a prompt injection, why each
    guard layer let it pass and what the model did. Exit 0 when it ran."""
    import json

    import yaml
    from pydantic import TypeAdapter, ValidationError

    from airsoc.forensics.injection import (
        GuardLayer,
        InjectionTurn,
        investigate_injection,
        record_injection_findings,
    )

    def load(path: Path) -> Any:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}", loc=str(path)) from None
        try:
            if path.suffix in (".yaml", ".yml"):
                return yaml.safe_load(text)
            stripped = text.lstrip()
            if stripped.startswith("["):
                return json.loads(text)
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except (ValueError, yaml.YAMLError) as exc:
            raise InputError(f"not valid JSON or YAML: {exc}", loc=str(path)) from None

    def parse(path: Path, model: Any) -> Any:
        try:
            return TypeAdapter(list[model]).validate_python(load(path))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError(first["msg"], loc=f"{path}[{where}]") from None

    result = investigate_injection(
        parse(turns, InjectionTurn),
        guards=parse(guards, GuardLayer) if guards is not None else (),
        canaries=canary or (),
    )
    _record(record_injection_findings, result, incident=incident, actor=actor)
    if as_json:
        ui.print_json(result.to_json())
        return
    for c in result.channels:
        ui.console.print(
            f"channel {c.channel}: {c.turns} turns from {c.first_at} ({', '.join(c.origins[:3])})",
            markup=False,
        )
    for g in result.guards:
        ui.console.print(f"guard {g.guard} ({g.channel}): {g.why}", markup=False)
    for change in result.changes:
        ui.console.print(f"change: {change}", markup=False)


def _record(
    record: Callable[..., object], result: object, *, incident: int | None, actor: str | None
) -> None:
    """Attach an investigation and its findings to ``incident`` when one was named."""
    if incident is None:
        return
    from airsoc.incidents.evidence import BlobStore

    with state.store().transaction() as s:
        record(
            s,
            clock=state.clock,
            blobs=BlobStore(state.settings.evidence_dir),
            incident_id=incident,
            investigation=result,
            actor=actor or "forensics",
        )
