"""Playbook actions made from the forensics service functions.

- ``capture_evidence`` snapshots the incident's system before containment changes it: the
  incident with its alerts and recent signals, then (through
  :func:`airsoc.forensics.capture_evidence`) the telemetry window, the serving model artifact, the
  reference batches, the config, the routing state and the lineage, with a manifest of every
  sha256. It takes the place of the response floor's snapshot-only action of the same name.
- ``forensics.poisoning`` investigates the version the incident is about
  (:func:`airsoc.forensics.investigate_incident`), records its findings and evidence
  (:func:`airsoc.forensics.record_poisoning_findings`), adds the suspect batches to the
  incident's ``data_batches`` and returns them as ``suspect_batches``, so a later step can
  quarantine them (``foreach: "{{ steps.investigate.suspect_batches }}"``).

- ``forensics.drift`` reads the incident system's telemetry window (the last ``window``) and the
  reference of its drift monitor (:mod:`airsoc.monitoring.sources`), rules out a pipeline fault
  and finds the moved features and segments (:func:`airsoc.forensics.investigate_drift`).
- ``forensics.rag`` reads the system's logged LLM turns and its hallucination monitor's
  approved documents, and names the documents behind the ungrounded answers, when they changed
  and the affected sessions (:func:`airsoc.forensics.investigate_rag`); it returns them as
  ``driving_documents`` (the root cause first, also as ``root_cause_document``) with the
  cascade's origin and speed, so a later step can remove them
  (``foreach: "{{ steps.root_cause.driving_documents }}"``).

- ``forensics.clients`` reads the system's answered queries and the gateway's client blocks,
  and ranks the clients that sweep or probe the model
  (:func:`airsoc.forensics.investigate_clients`).

- ``forensics.injection`` reads the system's logged LLM turns and names the channel, payload
  family, reach and effect of an injection, and why each guard layer given to the step let it
  pass (:func:`airsoc.forensics.investigate_injection`).

The monitors and telemetry come from the runtime (``ResponseServices.monitors`` and
``telemetry``); a step's ``reference`` stands in for a monitor the configuration lacks.

Each writes in one transaction that also records the step's effect, so a resumed run never
stores the same evidence twice. The runtime registers them
(:func:`airsoc.runtime.registries.build_action_registry`).

Example:
    >>> from airsoc.response.actions import ActionRegistry
    >>> from airsoc.response.registry import default_registry
    >>> registry = default_registry(plugins=False)
    >>> register_forensics_actions(registry)
    >>> type(registry.get("capture_evidence")).__name__
    'CaptureEvidence'
    >>> registry.get("forensics.poisoning").params_model().positive_label
    1
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from airsoc.errors import ActionError, AirsocError, NotFoundError
from airsoc.forensics import (
    capture_evidence,
    investigate_clients,
    investigate_drift,
    investigate_incident,
    investigate_injection,
    investigate_rag,
    record_client_findings,
    record_drift_findings,
    record_injection_findings,
    record_poisoning_findings,
    record_rag_findings,
)
from airsoc.forensics.injection import GuardLayer, InjectionTurn
from airsoc.forensics.record import InvestigationRecord
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.service import add_evidence
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.evaluators import TELEMETRY_FIELDS
from airsoc.monitoring.monitors import TelemetrySource
from airsoc.monitoring.security import rag_turns, turn_records
from airsoc.monitoring.signals import list_signals
from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.response.actions import Action, ActionContext, ActionRegistry, ActionResult
from airsoc.response.incident_alerts import incident_alerts
from airsoc.types import Duration

__all__ = [
    "FORENSICS_ACTIONS",
    "CaptureEvidence",
    "InvestigateClients",
    "InvestigateDrift",
    "InvestigateInjection",
    "InvestigatePoisoning",
    "InvestigateRag",
    "register_forensics_actions",
]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaptureEvidence(Action):
    """Snapshot the incident, its alerts and signals, and the system's telemetry, model,
    reference, config, routing and lineage, with a manifest of every sha256."""

    name = "capture_evidence"
    summary = "capture evidence with a manifest"

    class Params(_Params):
        window: Duration = Field(timedelta(days=7), description="Telemetry and signals window")
        name: str = Field("response-snapshot.json", description="Name of the incident snapshot")
        config_file: str | None = Field(
            None, description="The airsoc.yaml in force, captured with the rest"
        )
        reference_data: bool = Field(
            True, description="Store the reference batches' files, not only their list"
        )

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Store the snapshot and the manifest's items in one transaction with the effect."""
        params: CaptureEvidence.Params = ctx.params
        config_text = None
        if params.config_file is not None:
            try:
                config_text = Path(params.config_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise ActionError(
                    f"capture_evidence: cannot read config_file {params.config_file}: "
                    f"{exc.strerror}"
                ) from None
        settings = ctx.services.settings
        blobs = BlobStore(settings.evidence_dir)
        now = ctx.clock.now()
        since = now - params.window
        try:
            with ctx.transaction() as s:
                signals = [
                    sig.model_dump(mode="json")
                    for sig in list_signals(s, system=ctx.incident["system"], limit=5000)
                    if sig.at >= since
                ]
                snapshot = {
                    "incident": ctx.incident,
                    "alerts": [
                        a.model_dump(mode="json")
                        for a in incident_alerts(s, incident_id=ctx.incident_id)
                    ],
                    "signals": signals,
                    "captured_at": now.isoformat(),
                    "window_seconds": params.window.total_seconds(),
                }
                evidence = add_evidence(
                    s,
                    clock=ctx.clock,
                    blobs=blobs,
                    incident_id=ctx.incident_id,
                    content=json.dumps(snapshot, sort_keys=True, indent=1).encode(),
                    name=params.name,
                    source=f"playbook run {ctx.run_id} step {ctx.step_id}",
                    actor=ctx.actor,
                    media_type="application/json",
                    description=f"alerts and {len(signals)} signals over {params.window}",
                )
                output: dict[str, Any] = {
                    "evidence_id": evidence.id,
                    "sha256": evidence.sha256,
                    "signals": len(signals),
                }
                try:
                    manifest = capture_evidence(
                        s,
                        clock=ctx.clock,
                        blobs=blobs,
                        incident_id=ctx.incident_id,
                        actor=ctx.actor,
                        telemetry_root=settings.telemetry_dir,
                        window=params.window,
                        end=now,
                        config_text=config_text,
                        include_reference_data=params.reference_data,
                    )
                except NotFoundError as exc:
                    # An incident on a system the registry does not know: the snapshot is all
                    # there is to keep, and the output says why the rest is missing.
                    output["manifest_sha256"] = None
                    output["not_captured"] = {"manifest": str(exc)}
                    summary = f"evidence {evidence.sha256[:12]}; no manifest: {exc}"
                else:
                    captured = [i.name for i in manifest.items if i.status == "captured"]
                    output["manifest_sha256"] = manifest.manifest_sha256
                    output["serving_version"] = manifest.serving_version
                    output["captured"] = captured
                    output["not_captured"] = {
                        i.name: str(i.detail.get("reason", ""))
                        for i in manifest.items
                        if i.status != "captured"
                    }
                    summary = (
                        f"evidence {evidence.sha256[:12]}; manifest "
                        f"{manifest.manifest_sha256[:12]} of {len(captured)} items"
                    )
                result = ActionResult(output=output, summary=summary)
                ctx.record_effect(s, result)
        except AirsocError as exc:
            raise ActionError(f"capture_evidence failed: {exc}") from exc
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be captured."""
        return (
            f"capture incident, alerts, signals and the last {ctx.params.window} of telemetry, "
            "the serving model, its reference, config, routing and lineage, with a manifest"
        )


class InvestigatePoisoning(Action):
    """Find the poisoned sources, batches and rows behind the incident's model version and
    put the suspect batches on the incident."""

    name = "forensics.poisoning"
    summary = "investigate training-data poisoning"

    class Params(_Params):
        trusted_batches: list[str] | None = Field(
            None, description="Batches known clean (default: the last known-good version's)"
        )
        label_column: str | None = Field(
            None,
            description="The label column (default: label, else the batches' one non-input column)",
        )
        positive_label: int | float | bool | str = Field(
            1, description="The class whose misses matter (e.g. fraud)"
        )
        batch_gain: bool = Field(True, description="Refit once per batch for its validation gain")
        min_score: float = Field(
            0.0, ge=0.0, le=1.0, description="Only batches scoring above this go on the incident"
        )

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Investigate (read-only), then record findings and batches with the step's effect."""
        params: InvestigatePoisoning.Params = ctx.params
        try:
            with ctx.services.store.read() as s:
                found = investigate_incident(
                    s,
                    incident_id=ctx.incident_id,
                    trusted_batches=params.trusted_batches,
                    label_column=params.label_column,
                    positive_label=params.positive_label,
                    batch_gain=params.batch_gain,
                )
            kept = [b for b in found.suspect_batches if b.score > params.min_score]
            found = found.model_copy(update={"suspect_batches": kept})
            with ctx.transaction() as s:
                record = record_poisoning_findings(
                    s,
                    clock=ctx.clock,
                    blobs=BlobStore(ctx.services.settings.evidence_dir),
                    incident_id=ctx.incident_id,
                    investigation=found,
                    actor=ctx.actor,
                )
                result = ActionResult(output=_poisoning_output(found, record.data_batches))
                result.output["evidence_sha256"] = record.evidence_sha256
                result.output["findings"] = len(record.findings)
                result.summary = _poisoning_summary(result.output)
                ctx.record_effect(s, result)
        except AirsocError as exc:
            raise ActionError(f"forensics.poisoning failed: {exc}") from exc
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be investigated."""
        trusted = ctx.params.trusted_batches or "the last known-good version's batches"
        return (
            f"investigate poisoning of the incident's model version against {trusted}; "
            "record findings and add the suspect batches to the incident"
        )


def _poisoning_output(found: Any, data_batches: list[str]) -> dict[str, Any]:
    return {
        "system": found.system,
        "model_version": found.model_version,
        "suspect_sources": [{"source": x.source, "score": x.score} for x in found.suspect_sources],
        "suspect_batches": [
            {"batch": b.batch, "source": b.source, "score": b.score} for b in found.suspect_batches
        ],
        "window": found.window.model_dump(mode="json"),
        "suspect_rows": len(found.suspect_samples),
        "recommendation": found.recommendation.model_dump(mode="json"),
        "data_batches": data_batches,
    }


def _poisoning_summary(output: dict[str, Any]) -> str:
    sources = ", ".join(s["source"] for s in output["suspect_sources"][:3]) or "no source"
    return (
        f"suspect {sources}; {len(output['suspect_batches'])} batches, "
        f"{output['suspect_rows']} rows; recommended {output['recommendation']['action']}"
    )


# ----------------------------------------------------------- investigations from telemetry


class _WindowParams(_Params):
    monitor: str | None = Field(
        None,
        description="The monitor whose window and reference to read (default: the "
        "system's first monitor of this kind in the configuration)",
    )
    reference: dict[str, Any] | None = Field(
        None,
        description="A monitor reference ({model_version: production}, {range: ...}, "
        "{documents: PATH}) used instead of the monitor's",
    )
    window: Duration = Field(timedelta(days=1), description="The current window, up to now")


def _monitor(
    ctx: ActionContext,
    action: str,
    detectors: tuple[str, ...],
    what: str,
    *,
    needs_reference: bool = True,
) -> MonitorConfig:
    """Return the monitor an investigation reads: named, else the system's first of
    ``detectors``, else one made from the step's ``reference`` (or, for an investigation of
    the window alone, one with none)."""
    params = ctx.params
    system = str(ctx.incident["system"])
    monitors = list(ctx.services.monitors)
    if params.monitor is not None:
        found = next((m for m in monitors if m.name == params.monitor), None)
        if found is None:
            raise ActionError(f"{action}: no monitor {params.monitor!r} in the configuration")
    else:
        found = next((m for m in monitors if m.system == system and m.detector in detectors), None)
    if found is not None:
        if params.reference is not None:
            found = found.model_copy(update={"reference": dict(params.reference)})
        return found
    if params.reference is None and needs_reference:
        raise ActionError(
            f"{action}: the configuration has no {what} monitor of {system} "
            f"({' or '.join(detectors)}); give the step a reference"
        )
    return MonitorConfig(
        name=f"{action}:{system}",
        system=system,
        detector=detectors[0],
        window=params.window,
        every=params.window,
        reference=dict(params.reference or {}),
    )


def _telemetry(ctx: ActionContext) -> TelemetrySource:
    source = ctx.services.telemetry
    return source if source is not None else EventLogTelemetry(store=ctx.services.store)


def _rows(data: Any, action: str, what: str) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ActionError(
            f"{action}: the {what} is not telemetry rows ({type(data).__name__}); "
            "give the step a reference of training batches or a telemetry range"
        )
    if data.empty:
        raise ActionError(f"{action}: the {what} has no rows")
    return data


def _record(
    ctx: ActionContext, action: str, record: Any, investigation: Any, output: dict[str, Any]
) -> ActionResult:
    """Record the findings in one transaction with the step's effect; return the result."""
    with ctx.transaction() as s:
        rec: InvestigationRecord = record(
            s,
            clock=ctx.clock,
            blobs=BlobStore(ctx.services.settings.evidence_dir),
            incident_id=ctx.incident_id,
            investigation=investigation,
            actor=ctx.actor,
        )
        output = {**output, "evidence_sha256": rec.evidence_sha256, "findings": len(rec.findings)}
        top = next((f.title for f in rec.findings), "no finding")
        result = ActionResult(output=output, summary=f"{action}: {top}"[:300])
        ctx.record_effect(s, result)
    return result


_WORD = re.compile(r"[a-z0-9']+")


def text_features(
    reference: pd.DataFrame, current: pd.DataFrame, column: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return both frames with the text ``column`` judged as numbers: ``<column>.unseen_words``
    (the share of a row's words the reference never used) and ``<column>.words`` (its length).

    >>> ref = pd.DataFrame({"text": ["great kettle", "slow kettle"]})
    >>> cur = pd.DataFrame({"text": ["kettle is bussin", "great"]})
    >>> text_features(ref, cur, "text")[1]["text.unseen_words"].round(2).tolist()
    [0.67, 0.0]
    """
    for name, frame in (("reference", reference), ("current", current)):
        if column not in frame.columns:
            raise ActionError(f"forensics.drift: the {name} has no text column {column!r}")

    def words(frame: pd.DataFrame) -> list[list[str]]:
        return [_WORD.findall(str(t).lower()) for t in frame[column].fillna("")]

    vocabulary = {w for row in words(reference) for w in row}

    def judged(frame: pd.DataFrame) -> pd.DataFrame:
        rows = words(frame)
        out = frame.drop(columns=[column]).copy()
        out[f"{column}.unseen_words"] = [
            sum(w not in vocabulary for w in row) / len(row) if row else 0.0 for row in rows
        ]
        out[f"{column}.words"] = [float(len(row)) for row in rows]
        return out

    return judged(reference), judged(current)


#: Telemetry columns that are not inputs of the model, and lineage's batch column.
_NOT_FEATURES = TELEMETRY_FIELDS | {"batch_id"}


class InvestigateDrift(Action):
    """Rule out a pipeline fault, then find which features moved, where, and whether delayed
    labels show a loss, in the system's telemetry window against its monitor's reference."""

    name = "forensics.drift"
    summary = "investigate drift"

    class Params(_WindowParams):
        label_column: str = Field("label", description="The delayed label column")
        event_column: str | None = Field(None, description="The column naming each event kind")
        features: list[str] | None = Field(None, description="Features to judge (default: all)")

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Read the window and the reference, investigate, record findings with the effect."""
        params: InvestigateDrift.Params = ctx.params
        try:
            monitor = _monitor(
                ctx,
                self.name,
                ("data_drift", "concept_drift", "prediction_drift", "text_drift"),
                "drift",
            )
            source = _telemetry(ctx)
            end = ctx.clock.now()
            window = _rows(source.window(monitor, end - params.window, end), self.name, "window")
            reference = _rows(source.reference(monitor), self.name, "reference")
            keep = [params.label_column, "prediction", params.event_column]
            current, reference = (
                f[[c for c in f.columns if c not in _NOT_FEATURES or c in keep]]
                for f in (window, reference)
            )
            labelled = all(
                c in f.columns and f[c].notna().any()
                for f in (current, reference)
                for c in (params.label_column, "prediction")
            )
            # Labels and predictions only count where both windows have both; else they are
            # left out of the features.
            if not labelled:
                drop = [params.label_column, "prediction"]
                current = current.drop(columns=[c for c in drop if c in current.columns])
                reference = reference.drop(columns=[c for c in drop if c in reference.columns])
            changed = "version" in window.columns and window["version"].nunique() > 1
            # A text monitor watches one column: its reference (training data) also holds the
            # training label, which telemetry logs as the delayed label, not as an input.
            features = params.features
            if features is None and monitor.detector == "text_drift":
                column = str(monitor.params.get("column") or "text")
                reference, current = text_features(reference, current, column)
                features = [f"{column}.unseen_words", f"{column}.words"]
            found = investigate_drift(
                reference,
                current,
                features=features,
                event_column=params.event_column,
                label_column=params.label_column if labelled else None,
                prediction_column="prediction" if labelled else None,
                version_changed=bool(changed),
            )
            output = {
                "monitor": monitor.name,
                "classification": found.classification,
                "moved_features": [f.feature for f in found.features if f.moved],
                "segments": [x.rule for x in found.segments[:5]],
                "recommendation": found.recommendation.model_dump(mode="json"),
                "reference_rows": found.reference_rows,
                "current_rows": found.current_rows,
            }
            return _record(ctx, self.name, record_drift_findings, found, output)
        except AirsocError as exc:
            raise ActionError(f"{self.name} failed: {exc}") from exc

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be investigated."""
        return (
            f"investigate drift in the last {ctx.params.window} of telemetry against the "
            "monitor's reference; record findings"
        )


class InvestigateRag(Action):
    """Find the documents behind ungrounded answers, which changed and when, the cascade and
    the affected sessions, from the system's logged LLM turns."""

    name = "forensics.rag"
    summary = "investigate a hallucination cascade"

    params_model = _WindowParams

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Read the turns and the approved documents, investigate, record findings."""
        from airsoc.detection.llm.grounding import load_document_index

        params: _WindowParams = ctx.params
        try:
            monitor = _monitor(ctx, self.name, ("hallucination_cascade",), "hallucination")
            source = _telemetry(ctx)
            settings = source.reference(monitor)
            documents = settings.get("documents") if isinstance(settings, dict) else None
            if not documents:
                raise ActionError(
                    f"{self.name}: monitor {monitor.name!r} names no approved documents "
                    "(reference: {documents: PATH})"
                )
            end = ctx.clock.now()
            turns = rag_turns(monitor, source.window(monitor, end - params.window, end))
            found = investigate_rag(turns, approved=load_document_index(str(documents)))
            driving = [d.doc_id for d in found.documents if d.score >= 0.5]
            output = {
                "monitor": monitor.name,
                "documents": [
                    {"document": d.doc_id, "score": d.score, "changed_at": d.changed_at}
                    for d in found.documents[:5]
                ],
                # What a playbook removes: the documents that drive the ungrounded answers
                # (the first is the root cause: changed or not approved), and how fast the
                # cascade spread from its origin.
                "root_cause_document": driving[0] if driving else None,
                "driving_documents": driving,
                "cascade": {
                    "started_at": found.cascade.started_at or found.cascade.first_ungrounded_at,
                    "sessions_per_hour": found.cascade.sessions_per_hour,
                    "growth_per_hour": found.cascade.growth_per_hour,
                },
                "ungrounded": found.ungrounded,
                "turns": found.turns,
                "affected_sessions": [x.session_id for x in found.affected_sessions],
            }
            return _record(ctx, self.name, record_rag_findings, found, output)
        except AirsocError as exc:
            raise ActionError(f"{self.name} failed: {exc}") from exc

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be investigated."""
        return (
            f"investigate the last {ctx.params.window} of LLM turns against the approved "
            "documents; record findings"
        )


class InvestigateClients(Action):
    """Find the clients that abuse the model (extraction sweeps, boundary probing), from when,
    how many queries, what they covered, and whether blocking them held."""

    name = "forensics.clients"
    summary = "investigate client abuse"

    class Params(_WindowParams):
        threshold: float = Field(0.5, ge=0.0, le=1.0, description="The decision threshold")
        min_queries: int = Field(20, ge=1, description="Clients with fewer are not judged")

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Read the answered queries and the client blocks, investigate, record findings."""
        from airsoc.serving.control import list_client_rules

        params: InvestigateClients.Params = ctx.params
        try:
            monitor = _monitor(
                ctx,
                self.name,
                ("model_extraction", "adversarial_evasion"),
                "client abuse",
                needs_reference=False,
            )
            end = ctx.clock.now()
            window = _telemetry(ctx).window(monitor, end - params.window, end)
            log = _rows(window, self.name, "window")
            features = [
                c
                for c in log.columns
                if c not in _NOT_FEATURES and pd.api.types.is_numeric_dtype(log[c])
            ]
            scored = "score" in log.columns and log["score"].notna().all()
            with ctx.services.store.read() as s:
                blocked = {r.client_id: r.updated_at for r in list_client_rules(s) if r.blocked}
            # The clients the per-client monitor's alert named (the incident carries them).
            labels = ctx.incident.get("labels") or {}
            kind: Literal["extraction", "evasion"] = (
                "evasion"
                if ctx.incident.get("failure_mode") == "adversarial_evasion"
                else "extraction"
            )
            flagged = {c: kind for c in str(labels.get("clients") or "").split(",") if c}
            found = investigate_clients(
                log[["client_id", "ts", *(["score"] if scored else []), *features]],
                time_column="ts",
                score_column="score" if scored else None,
                features=features,
                threshold=params.threshold,
                blocked=blocked,
                min_queries=params.min_queries,
                flagged=flagged,
            )
            output = {
                "monitor": monitor.name,
                "suspects": [
                    {"client": c.client, "score": c.score, "kind": c.kind, "queries": c.queries}
                    for c in found.suspects
                    if c.suspect
                ],
                "blocks": [b.model_dump(mode="json") for b in found.blocks],
                "recommendation": found.recommendation,
            }
            return _record(ctx, self.name, record_client_findings, found, output)
        except AirsocError as exc:
            raise ActionError(f"{self.name} failed: {exc}") from exc

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be investigated."""
        return (
            f"investigate the clients of the last {ctx.params.window} of answered queries; "
            "record findings"
        )


class InvestigateInjection(Action):
    """Find the channel a prompt injection came through, its payload family, whom it reached,
    why each guard layer let it pass and what the model did, from the logged LLM turns."""

    name = "forensics.injection"
    summary = "investigate a prompt injection"

    class Params(_WindowParams):
        guards: list[GuardLayer] = Field(
            default_factory=list,
            description="The guard layers as configured (name, channels, mode, threshold, "
            "decodes), to say why each let the injection pass",
        )
        canaries: list[str] = Field(
            default_factory=list, description="Canary tokens whose leak in an answer counts"
        )

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Read the turns, investigate every text by its channel, record findings."""
        params: InvestigateInjection.Params = ctx.params
        try:
            monitor = _monitor(
                ctx, self.name, ("prompt_injection",), "prompt-injection", needs_reference=False
            )
            end = ctx.clock.now()
            records = turn_records(
                monitor, _telemetry(ctx).window(monitor, end - params.window, end)
            )
            turns = [_injection_turn(t) for t in records]
            found = investigate_injection(turns, guards=params.guards, canaries=params.canaries)
            output = {
                "monitor": monitor.name,
                "channels": [{"channel": c.channel, "origins": c.origins} for c in found.channels],
                "sessions": found.sessions,
                "injected_turns": found.injected_turns,
                "changes": found.changes,
            }
            return _record(ctx, self.name, record_injection_findings, found, output)
        except AirsocError as exc:
            raise ActionError(f"{self.name} failed: {exc}") from exc

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be investigated."""
        return (
            f"investigate the last {ctx.params.window} of LLM turns for injections by channel; "
            "record findings"
        )


def _injection_turn(t: Any) -> InjectionTurn:
    retrieved: dict[str, str] = {}
    for i, chunk in enumerate(t.retrieved):
        doc = str(chunk.get("doc_id") or f"chunk-{i + 1}")
        retrieved[doc] = f"{retrieved[doc]}\n{chunk['text']}" if doc in retrieved else chunk["text"]
    return InjectionTurn(
        session_id=t.session_id or t.request_id,
        user_id=t.client_id,
        at=t.ts,
        user=t.user,
        retrieved=retrieved,
        tools={f"tool-{i + 1}": text for i, text in enumerate(t.tools)},
        output=t.answer,
    )


#: The forensics actions the runtime registers, in order.
FORENSICS_ACTIONS: tuple[Action, ...] = (
    CaptureEvidence(),
    InvestigatePoisoning(),
    InvestigateDrift(),
    InvestigateRag(),
    InvestigateClients(),
    InvestigateInjection(),
)


def register_forensics_actions(registry: ActionRegistry) -> None:
    """Add the forensics actions to ``registry``; ``capture_evidence`` replaces the snapshot-only
    built-in of that name."""
    for action in FORENSICS_ACTIONS:
        registry.register(action, replace=action.name == "capture_evidence")
