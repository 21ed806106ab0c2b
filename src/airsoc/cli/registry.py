"""``airsoc registry ...``: systems, model versions, data batches, lineage and integrity.

Quarantining and releasing a batch, revoking a source, and holding or releasing a version's
promotion (``quarantine-batch``, ``release-batch``, ``revoke-source``, ``hold-promotion``,
``release-hold``) are generated from the table of operations (:mod:`airsoc.cli.operations`).

Example:
    >>> import os, tempfile
    >>> from airsoc.testing import run_cli
    >>> os.environ["AIRSOC_DATA_DIR"] = tempfile.mkdtemp()
    >>> run_cli("registry", "register-system", "fraud", "--kind", "tabular-classifier",
    ...         "--owner", "risk").exit_code
    0
    >>> run_cli("registry", "systems", "--json").stdout.count('"name": "fraud"')
    1
    >>> del os.environ["AIRSOC_DATA_DIR"]
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from airsoc.cli.incidents import ActorOpt, JsonOpt, actor_name
from airsoc.cli.operations import add_operation_commands
from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.state import state
from airsoc.clock import ensure_utc
from airsoc.errors import DataFileError, HashMismatchError, InputError

__all__ = ["app"]

app = typer.Typer(help="The lineage registry: systems, models, data batches.", no_args_is_help=True)

ReasonOpt = Annotated[str, typer.Option(help="Why (recorded on the audit timeline)")]


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return ensure_utc(datetime.fromisoformat(value))
    except ValueError:
        raise InputError(f"{option}: {value!r} is not an ISO date or time") from None


def _mapping(values: list[str] | None, option: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InputError(f"{option}: {item!r} must look like name=value")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


@app.command()
def systems(as_json: JsonOpt = False) -> None:
    """List registered systems."""
    from airsoc import lineage as service

    with state.store().read() as s:
        rows = service.list_systems(s)
    if as_json:
        print_json(rows)
        return
    print_table(
        "Systems",
        ["name", "kind", "owner", "criticality", "fallback"],
        [(r.name, r.kind, r.owner, r.criticality, (r.fallback or {}).get("type")) for r in rows],
    )


@app.command("register-system")
def register_system(
    name: Annotated[str, typer.Argument(help="System name")],
    kind: Annotated[str, typer.Option(help="tabular-classifier, llm-app, rag-app, ...")],
    owner: Annotated[str, typer.Option(help="Owning team")],
    criticality: Annotated[str, typer.Option(help="low|medium|high|critical")] = "medium",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register (or update) a system."""
    from airsoc import lineage as service

    with state.store().transaction() as s:
        view = service.register_system(
            s,
            clock=state.clock,
            actor=actor_name(actor),
            name=name,
            kind=kind,
            owner=owner,
            criticality=criticality,
        )
    if as_json:
        print_json(view)
    else:
        console.print(f"system {view.name} registered")


@app.command("sync-systems")
def sync_systems(
    config: Annotated[Path, typer.Option(help="The configuration file")] = Path("airsoc.yaml"),
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make the registry's systems agree with airsoc.yaml."""
    from airsoc import lineage as service
    from airsoc.runtime.config import load_config

    cfg = load_config(config)
    with state.store().transaction() as s:
        report = service.sync_systems_from_config(
            s, clock=state.clock, actor=actor_name(actor), config=cfg
        )
    if as_json:
        print_json(report)
        return
    console.print(
        f"created {len(report.created)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}"
    )
    if report.not_in_config:
        console.print(f"registered but not in {config}: {', '.join(report.not_in_config)}")


@app.command()
def models(
    system: Annotated[str | None, typer.Option(help="Only this system")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List model versions."""
    from airsoc import lineage as service

    with state.store().read() as s:
        rows = service.list_model_versions(s, system=system, status=status)
    if as_json:
        print_json(rows)
        return
    print_table(
        "Model versions",
        ["system", "version", "status", "known good", "framework", "batches", "sha256", "created"],
        [
            (
                r.system,
                r.version,
                r.status,
                "yes" if r.known_good else "",
                r.framework,
                len(r.training_batches),
                r.sha256[:12],
                f"{r.created_at:%Y-%m-%d %H:%M}",
            )
            for r in rows
        ],
    )


@app.command()
def batches(
    source: Annotated[str | None, typer.Option(help="Only this source (vendor)")] = None,
    status: Annotated[str | None, typer.Option(help="accepted|quarantined|released")] = None,
    start: Annotated[str | None, typer.Option(help="Covering from (ISO time)")] = None,
    end: Annotated[str | None, typer.Option(help="Covering until (ISO time)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List data batches (of a source, in a time range)."""
    from airsoc import lineage as service

    with state.store().read() as s:
        if source is not None and (start or end):
            rows = service.batches_from_source(
                s, source=source, start=_when(start, "--start"), end=_when(end, "--end")
            )
            rows = [r for r in rows if status is None or r.status == status]
        else:
            rows = service.list_batches(s, source=source, status=status)
    if as_json:
        print_json(rows)
        return
    print_table(
        "Data batches",
        ["batch", "source", "status", "rows", "ingested", "sha256"],
        [
            (
                r.batch_id,
                r.source,
                r.status,
                r.rows,
                f"{r.ingested_at:%Y-%m-%d %H:%M}",
                r.sha256[:12],
            )
            for r in rows
        ],
    )


@app.command()
def lineage(
    batch: Annotated[str | None, typer.Option(help="A batch: the versions it reached")] = None,
    system: Annotated[str | None, typer.Option(help="With --version: its batches")] = None,
    version: Annotated[str | None, typer.Option(help="A model version")] = None,
    last_known_good: Annotated[
        bool, typer.Option("--last-known-good", help="With --system: the last known-good version")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Answer a lineage question: a batch's blast radius, a version's batches, known-good."""
    from airsoc import lineage as service

    with state.store().read() as s:
        if batch is not None and system is not None and last_known_good:
            result: Any = service.last_known_good(s, system=system, before_batch=batch)
        elif batch is not None:
            result = service.blast_radius(s, batch_id=batch)
        elif system is not None and last_known_good:
            result = service.last_known_good(s, system=system)
        elif system is not None and version is not None:
            result = service.batches_for_model(s, system=system, version=version)
        else:
            raise InputError(
                "give --batch, --system with --version, or --system with --last-known-good"
            )
    if as_json:
        print_json(result)
    elif isinstance(result, service.BlastRadius):
        console.print(
            f"batch {result.batch.batch_id} ({result.batch.source}, {result.batch.status}) reached:"
        )
        print_table(
            "Blast radius",
            ["system", "affected versions", "serving", "serving affected", "rollback to"],
            [
                (
                    i.system,
                    ", ".join(i.affected_versions),
                    ", ".join(f"{k}={v}" for k, v in i.serving.items()),
                    "yes" if i.serving_affected else "no",
                    i.rollback_to or "none",
                )
                for i in result.systems
            ],
        )
    elif isinstance(result, service.ModelVersionView):
        console.print(f"{result.system} {result.version} (known good: {result.known_good_reason})")
    else:
        print_table(
            "Training batches",
            ["batch", "source", "status", "rows"],
            [(b.batch_id, b.source, b.status, b.rows) for b in result],
        )


@app.command()
def verify(
    system: Annotated[str | None, typer.Option(help="With --version: a model artifact")] = None,
    version: Annotated[str | None, typer.Option(help="The model version")] = None,
    batch: Annotated[str | None, typer.Option(help="A data batch")] = None,
    path: Annotated[Path | None, typer.Option(help="Check this file instead of the URI")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check an artifact's or batch's sha256 against the registry (exit 1 on a mismatch)."""
    from airsoc import lineage as service

    with state.store().read() as s:
        if batch is not None:
            report = service.verify_batch(s, batch_id=batch, path=path)
        elif system is not None and version is not None:
            report = service.verify_artifact(s, system=system, version=version, path=path)
        else:
            raise InputError("give --system and --version, or --batch")
    if as_json:
        print_json(report)
        if not report.ok:
            raise typer.Exit(1)
        return
    if report.ok:
        console.print(f"{report.subject}: ok ({report.actual[:16]})")
        return
    raise HashMismatchError(
        f"{report.subject}: {report.path} hashes to {report.actual}, the registry holds "
        f"{report.expected}; treat as a supply_chain incident"
    )


@app.command("register-model")
def register_model(
    system: Annotated[str, typer.Argument(help="The system")],
    version: Annotated[str, typer.Argument(help="Version name, e.g. v7")],
    artifact: Annotated[str, typer.Option(help="Artifact path or URI")],
    framework: Annotated[str, typer.Option(help="sklearn|http|mlflow|openai")] = "sklearn",
    sha256: Annotated[str | None, typer.Option(help="Needed for remote artifacts")] = None,
    batch: Annotated[list[str] | None, typer.Option(help="A training batch (repeat)")] = None,
    metric: Annotated[list[str] | None, typer.Option(help="name=value (repeat)")] = None,
    param: Annotated[list[str] | None, typer.Option(help="name=value (repeat)")] = None,
    feature: Annotated[
        list[str] | None, typer.Option(help="name=number|integer|string|boolean (repeat)")
    ] = None,
    validation: Annotated[
        Path | None,
        typer.Option(
            help="The version's own validation evidence: CSV or Parquet with a score column "
            "(and label, prediction); release monitors compare live traffic with it"
        ),
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="With --validation: the score at which a row is positive")
    ] = 0.5,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a model version with its training batches (and its validation evidence)."""
    from airsoc import lineage as service

    features = {k: str(v) for k, v in _mapping(feature, "--feature").items()}
    evidence = (
        service.describe_validation(validation, threshold=threshold)
        if validation is not None
        else None
    )
    with state.store().transaction() as s:
        view = service.register_model_version(
            s,
            clock=state.clock,
            actor=actor_name(actor),
            system=system,
            version=version,
            artifact_uri=artifact,
            sha256=sha256,
            framework=framework,
            training_batches=batch or (),
            metrics=_mapping(metric, "--metric"),
            params=_mapping(param, "--param"),
            input_schema=features or None,
            validation=evidence,
        )
    if as_json:
        print_json(view)
    else:
        console.print(
            f"{system} {version} registered ({view.sha256[:12]}, "
            f"{len(view.training_batches)} batches, "
            + (
                f"validation evidence of {evidence['rows']} rows)"
                if evidence
                else "no validation evidence)"
            )
        )


@app.command("register-batch")
def register_batch(
    batch_id: Annotated[str, typer.Argument(help="Batch id")],
    source: Annotated[str, typer.Option(help="Source or vendor")],
    file: Annotated[Path | None, typer.Option(help="The batch file (CSV or Parquet)")] = None,
    rows: Annotated[int | None, typer.Option(help="Row count (without --file)")] = None,
    sha256: Annotated[str | None, typer.Option(help="Content hash (without --file)")] = None,
    start: Annotated[str | None, typer.Option(help="Covered from (ISO time)")] = None,
    end: Annotated[str | None, typer.Option(help="Covered until (ISO time)")] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a data batch; with --file its rows, schema and sha256 are read from it."""
    from airsoc import lineage as service

    schema: dict[str, str] = {}
    if file is not None:
        sha256, rows, schema = _describe(file)
    if sha256 is None or rows is None:
        raise InputError("give --file, or both --rows and --sha256")
    with state.store().transaction() as s:
        view = service.register_batch(
            s,
            clock=state.clock,
            actor=actor_name(actor),
            batch_id=batch_id,
            source=source,
            rows=rows,
            sha256=sha256,
            schema=schema,
            uri=str(file.resolve()) if file else "",
            time_start=_when(start, "--start"),
            time_end=_when(end, "--end"),
        )
    if as_json:
        print_json(view)
    else:
        console.print(f"batch {batch_id} registered ({view.rows} rows from {source})")


@app.command("mark-known-good")
def mark_known_good(
    system: Annotated[str, typer.Argument(help="The system")],
    version: Annotated[str, typer.Argument(help="The version")],
    reason: ReasonOpt,
    clear: Annotated[bool, typer.Option(help="Clear the flag instead")] = False,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Flag a version known-good (a rollback target), saying who and why."""
    from airsoc import lineage as service

    with state.store().transaction() as s:
        view = service.mark_known_good(
            s,
            clock=state.clock,
            actor=actor_name(actor),
            system=system,
            version=version,
            reason=reason,
            known_good=not clear,
        )
    if as_json:
        print_json(view)
    else:
        console.print(f"{system} {version} known-good: {'yes' if view.known_good else 'no'}")


@app.command("import-mlflow")
def import_mlflow(
    tracking_uri: Annotated[str, typer.Option(help="MLflow tracking URI (sqlite:///...)")],
    model: Annotated[list[str] | None, typer.Option(help="Only this registered model")] = None,
    system: Annotated[
        list[str] | None, typer.Option(help="mlflow-name=system when the names differ")
    ] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import MLflow registered model versions (extra: mlflow)."""
    from airsoc.lineage.mlflow import import_registered_models

    mapping = {k: str(v) for k, v in _mapping(system, "--system").items()}
    with state.store().transaction() as s:
        imported = import_registered_models(
            s,
            clock=state.clock,
            actor=actor_name(actor),
            tracking_uri=tracking_uri,
            systems=mapping,
            names=model,
        )
    if as_json:
        print_json(imported)
    else:
        console.print(f"imported {len(imported)} model versions from MLflow")


@app.command("mlflow-alias")
def mlflow_alias(
    system: Annotated[str, typer.Argument(help="The system")],
    version: Annotated[str, typer.Argument(help="The version (imported from MLflow)")],
    tracking_uri: Annotated[str, typer.Option(help="MLflow tracking URI")],
    alias: Annotated[str, typer.Option(help="The MLflow alias to move")] = "production",
) -> None:
    """Point an MLflow alias at a version, e.g. after a rollback (extra: mlflow)."""
    from airsoc import lineage as service
    from airsoc.lineage.mlflow import switch_alias

    with state.store().read() as s:
        model = service.get_model_version(s, system=system, version=version)
    number = switch_alias(tracking_uri=tracking_uri, model=model, alias=alias)
    console.print(f"MLflow alias {alias} now points at version {number}")


@app.command()
def timeline(
    system: Annotated[str | None, typer.Argument(help="A system")] = None,
    batch: Annotated[str | None, typer.Option(help="A data batch instead")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the audit timeline of a system (models, deployments, routing) or of a batch."""
    from airsoc import lineage as service
    from airsoc.audit import list_entries

    with state.store().read() as s:
        if batch is not None:
            service.get_batch(s, batch_id=batch)
            entries = list_entries(s, chain=service.batch_chain(batch))
        elif system is not None:
            entries = service.system_timeline(s, name=system)
        else:
            raise InputError("give a system, or --batch")
    if as_json:
        print_json(entries)
        return
    print_table(
        "Timeline",
        ["#", "at", "actor", "action", "reason"],
        [(e.seq, f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.reason) for e in entries],
    )


def _describe(file: Path) -> tuple[str, int, dict[str, str]]:
    """Return the sha256, row count and column types of a CSV or Parquet file."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from airsoc.lineage.integrity import sha256_file

    if not file.exists():
        raise DataFileError(f"{file} does not exist")
    try:
        if file.suffix == ".parquet":
            table = pq.read_table(file)
        elif file.suffix == ".csv":
            table = pacsv.read_csv(file)
        else:
            raise DataFileError(f"{file}: use a .csv or .parquet file")
    except DataFileError:
        raise
    except Exception as exc:
        raise DataFileError(f"{file} cannot be read: {exc}") from None
    schema = {f.name: str(f.type) for f in table.schema}
    return sha256_file(file), table.num_rows, schema


add_operation_commands(app, group="registry")
