"""Recovery: retrain a system on a verified-clean training set through its training hook.

A system names its training hook in ``airsoc.yaml`` (``systems.<name>.retrain``): a Python
callable ``package.module:function`` or a command. :func:`retrain` gives the hook a
:class:`RetrainRequest` (the batches to train on, each with its file and the rows to leave
out, and a folder for the artifacts) and registers what it returns as a new candidate version,
with its lineage (the batches it was trained on; the rows left out, in its params) and its own
validation evidence. A command hook reads the request as JSON on its standard input and writes
the :class:`TrainedModel` as JSON on its standard output.

The clean set is usually the one the poisoning investigation proposed
(:func:`airsoc.forensics.poisoning.investigate_poisoning`, ``clean_training_set``); without
one, the batches the version being replaced was trained on, less any quarantined since.

The candidate then goes through shadow and canary
(:func:`airsoc.serving.canary.shadow_compare`, :func:`airsoc.serving.canary.canary_analysis`).

Example:
    >>> from airsoc.forensics.recovery import RetrainRequest, TrainingBatch
    >>> request = RetrainRequest(system="fraud", version="v3", base_version="v2",
    ...     batches=[TrainingBatch(batch_id="b1", source="acme", uri="b1.parquet",
    ...                            excluded_rows=[4, 9])], output_dir="models/v3")
    >>> request.batches[0].excluded_rows
    [4, 9]
"""

from __future__ import annotations

import importlib
import json
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from airsoc import lineage
from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import ActionError, ConflictError, InputError
from airsoc.lineage.pipelines import check_pipeline_open
from airsoc.settings import Settings

__all__ = [
    "CleanBatch",
    "RetrainReport",
    "RetrainRequest",
    "TrainedModel",
    "TrainingBatch",
    "load_hook",
    "retrain",
]


class CleanBatch(BaseModel):
    """One batch of a clean training set: the batch, and the rows of its file to leave out."""

    batch: str = Field(min_length=1, max_length=200)
    excluded_rows: list[int] = Field(default_factory=list)


class TrainingBatch(BaseModel):
    """A batch as the training hook gets it: where its file is and which rows to leave out."""

    batch_id: str
    source: str
    uri: str
    excluded_rows: list[int] = Field(default_factory=list)


class RetrainRequest(BaseModel):
    """What a training hook is asked to do."""

    system: str
    version: str
    base_version: str | None
    batches: list[TrainingBatch]
    output_dir: str
    seed: int = 0
    #: What the investigation suggests the hook do (e.g. ``{"reweigh": {"column": "region"}}``):
    #: hooks read the keys they know and say in their metrics which they applied.
    options: dict[str, Any] = Field(default_factory=dict)


class TrainedModel(BaseModel):
    """What a training hook returns: the artifact and its validation evidence.

    ``validation`` is a CSV or Parquet file of the new version's scores on held-out rows
    (``score``, ``label``; see :func:`airsoc.lineage.describe_validation`).
    """

    artifact: str
    validation: str | None = None
    framework: str = "sklearn"
    input_schema: dict[str, str] | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)


class RetrainReport(BaseModel):
    """What :func:`retrain` did: the new version, what it was trained on, its validation."""

    system: str
    version: str
    base_version: str | None
    hook: str
    batches: list[str]
    excluded_rows: dict[str, int]
    artifact_uri: str
    sha256: str
    validation: dict[str, Any] | None
    status: str


def load_hook(spec: str) -> Callable[[RetrainRequest], Any]:
    """Return the training callable named ``module:function``.

    >>> load_hook("airsoc.fleet.retrain:train_fraud_version").__name__
    'train_fraud_version'
    >>> load_hook("nowhere")
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: retrain hook 'nowhere': name it as package.module:function
    """
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise InputError(f"retrain hook {spec!r}: name it as package.module:function")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"retrain hook {spec!r} cannot be loaded: {exc}") from None
    if not callable(fn):
        raise InputError(f"retrain hook {spec!r} is not callable")
    hook: Callable[[RetrainRequest], Any] = fn
    return hook


def _run_hook(spec: dict[str, Any], request: RetrainRequest) -> TrainedModel:
    try:
        if spec.get("hook"):
            result = load_hook(str(spec["hook"]))(request)
            return TrainedModel.model_validate(result, from_attributes=True)
        command = [str(part) for part in spec.get("command") or []]
        if not command:
            raise InputError("the retrain hook names neither a callable nor a command")
        try:
            done = subprocess.run(  # the command comes from the config
                command,
                input=request.model_dump_json(),
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as exc:
            raise ActionError(f"retrain command {command[0]} cannot run: {exc}") from None
        if done.returncode != 0:
            raise ActionError(
                f"retrain command {' '.join(command)} exited {done.returncode}: "
                f"{done.stderr.strip()[-500:]}"
            )
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        if not lines:
            raise ActionError(f"retrain command {' '.join(command)} wrote no result")
        return TrainedModel.model_validate(json.loads(lines[-1]))
    except (ValidationError, ValueError) as exc:
        raise ActionError(f"the retrain hook returned no trained model: {exc}") from None


def _clean_set(
    session: Session, system: str, base: str | None, given: Sequence[CleanBatch] | None
) -> list[CleanBatch]:
    if given is not None:
        if not given:
            raise InputError("the clean training set is empty", loc="clean_training_set")
        return list(given)
    if base is None:
        raise InputError(f"system {system} serves no version; name the clean training set")
    batches = lineage.batches_for_model(session, system=system, version=base)
    clean = [CleanBatch(batch=b.batch_id) for b in batches if b.status != "quarantined"]
    if not clean:
        raise ConflictError(f"{system} {base}: every batch it was trained on is quarantined")
    return clean


def _next_version(session: Session, system: str, base: str | None) -> str:
    taken = {v.version for v in lineage.list_model_versions(session, system=system)}
    stem = f"{base or 'v'}-retrained"
    n = 1
    while f"{stem}-{n}" in taken:
        n += 1
    return f"{stem}-{n}"


def _primary(session: Session, system: str) -> str | None:
    return next(
        (
            d.version
            for d in lineage.current_deployments(session, system=system)
            if d.role == "primary"
        ),
        None,
    )


def retrain(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    reason: str,
    system: str,
    version: str | None = None,
    base_version: str | None = None,
    clean_training_set: Sequence[Any] | None = None,
    hook: str | None = None,
    seed: int = 0,
    extra_batches: Sequence[str] = (),
    options: dict[str, Any] | None = None,
    incident: str | None = None,
) -> RetrainReport:
    """Train a new version of ``system`` on a clean set through its hook; return the report.

    ``base_version`` is the version being replaced (default: the primary); ``version`` the
    new one's name (default ``<base>-retrained-<n>``); ``hook`` overrides the configured
    ``module:function``. The new version is registered as a candidate with the batches it was
    trained on, the rows left out (``params.excluded_rows``), and its validation evidence;
    ``model.registered`` and ``model.retrained`` go on the system's audit timeline.
    ``extra_batches`` are trained on besides the clean set (e.g. recent labelled traffic);
    ``options`` go to the hook as they are. While the system's pipeline is paused
    (:mod:`airsoc.lineage.pipelines`) no retrain starts, unless ``incident`` is the incident
    that paused it.

    >>> from airsoc.testing import scratch_operations
    >>> store, clock = scratch_operations()
    >>> with store.transaction() as s:
    ...     retrain(s, clock=clock, actor="ana", reason="poisoned", system="fraud")
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: system fraud has no retrain hook; name one in airsoc.yaml ...
    >>> store.close()
    """
    view = lineage.get_system(session, name=system)
    check_pipeline_open(session, system=system, incident=incident, what="a retrain")
    spec: dict[str, Any] | None = {"hook": hook} if hook else view.retrain
    if not spec:
        raise InputError(
            f"system {system} has no retrain hook; name one in airsoc.yaml "
            f"(systems.{system}.retrain)"
        )
    base = base_version or _primary(session, system)
    if base is not None:
        lineage.get_model_version(session, system=system, version=base)
    chosen = [CleanBatch.model_validate(c, from_attributes=True) for c in clean_training_set or []]
    clean = _clean_set(session, system, base, chosen if clean_training_set is not None else None)
    listed = {c.batch for c in clean}
    clean += [CleanBatch(batch=b) for b in extra_batches if b not in listed]
    new = version or _next_version(session, system, base)
    batches = []
    for item in clean:
        batch = lineage.get_batch(session, batch_id=item.batch)
        if batch.status == "quarantined":
            raise ConflictError(f"batch {batch.batch_id} is quarantined; leave it out")
        if not batch.uri:
            raise InputError(f"batch {batch.batch_id} has no registered file to train on")
        batches.append(
            TrainingBatch(
                batch_id=batch.batch_id,
                source=batch.source,
                uri=batch.uri,
                excluded_rows=sorted(set(item.excluded_rows)),
            )
        )
    settings = session.info.get("airsoc_settings")
    if not isinstance(settings, Settings):
        raise InputError("this store session does not say where the data dir is")
    out = (settings.data_dir / "models" / system / new).resolve()
    out.mkdir(parents=True, exist_ok=True)
    request = RetrainRequest(
        system=system,
        version=new,
        base_version=base,
        batches=batches,
        output_dir=str(out),
        seed=seed,
        options=dict(options or {}),
    )
    trained = _run_hook(spec, request)
    validation = (
        lineage.describe_validation(Path(trained.validation)) if trained.validation else None
    )
    base_schema = (
        lineage.get_model_version(session, system=system, version=base).input_schema
        if base
        else None
    )
    excluded = {b.batch_id: b.excluded_rows for b in batches if b.excluded_rows}
    hook_name = str(spec.get("hook") or " ".join(spec.get("command") or []))
    model = lineage.register_model_version(
        session,
        clock=clock,
        actor=actor,
        system=system,
        version=new,
        artifact_uri=str(Path(trained.artifact).resolve()),
        framework=trained.framework,
        training_batches=[b.batch_id for b in batches],
        metrics=trained.metrics,
        params={
            "retrained_from": base,
            "retrain_hook": hook_name,
            "excluded_rows": excluded,
            **({"options": request.options} if request.options else {}),
        },
        input_schema=trained.input_schema or base_schema or None,
        status="candidate",
        reason=reason,
        validation=validation,
    )
    counts = {batch: len(rows) for batch, rows in excluded.items()}
    append_entry(
        session,
        clock=clock,
        chain=lineage.system_chain(system),
        actor=actor,
        action="model.retrained",
        reason=reason,
        data={
            "version": new,
            "base_version": base,
            "hook": hook_name,
            "batches": [b.batch_id for b in batches],
            "excluded_rows": counts,
            "sha256": model.sha256,
            **({"validation": validation["metrics"]} if validation else {}),
        },
    )
    return RetrainReport(
        system=system,
        version=new,
        base_version=base,
        hook=hook_name,
        batches=[b.batch_id for b in batches],
        excluded_rows=counts,
        artifact_uri=model.artifact_uri,
        sha256=model.sha256,
        validation=validation,
        status=model.status,
    )
