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

Both write in one transaction that also records the step's effect, so a resumed run never
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
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from airsoc.errors import ActionError, AirsocError, NotFoundError
from airsoc.forensics import (
    capture_evidence,
    investigate_incident,
    record_poisoning_findings,
)
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.service import add_evidence
from airsoc.monitoring.signals import list_signals
from airsoc.response.actions import Action, ActionContext, ActionRegistry, ActionResult
from airsoc.response.incident_alerts import incident_alerts
from airsoc.types import Duration

__all__ = [
    "FORENSICS_ACTIONS",
    "CaptureEvidence",
    "InvestigatePoisoning",
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


#: The forensics actions the runtime registers, in order.
FORENSICS_ACTIONS: tuple[Action, ...] = (CaptureEvidence(), InvestigatePoisoning())


def register_forensics_actions(registry: ActionRegistry) -> None:
    """Add the forensics actions to ``registry``; ``capture_evidence`` replaces the snapshot-only
    built-in of that name."""
    for action in FORENSICS_ACTIONS:
        registry.register(action, replace=action.name == "capture_evidence")
