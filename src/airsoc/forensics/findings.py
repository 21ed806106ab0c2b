"""Turning a poisoning investigation into findings on an incident, and its suspect batches into
the incident's ``data_batches``.

Each finding follows the ``Finding`` contract: kind, subject, score in [0, 1], rank, time
window, the evidence items it rests on (sha256), a sentence (its title) and the method; the
fields beyond the stored record's columns travel in the finding's ``data``.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.evidence import BlobStore
    >>> from airsoc.incidents.findings import list_findings
    >>> from airsoc.incidents.service import declare_incident, get_incident
    >>> from airsoc.testing import scratch_store
    >>> from airsoc.forensics.poisoning import PoisoningInvestigation
    >>> store = scratch_store()
    >>> clock, blobs = SimulatedClock(), BlobStore(store.settings.evidence_dir)
    >>> found = PoisoningInvestigation.model_validate(EXAMPLE)
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="a", system="fraud",
    ...                            failure_mode="data_poisoning", summary="recall fell")
    ...     rec = record_poisoning_findings(s, clock=clock, blobs=blobs, incident_id=inc.id,
    ...                                     investigation=found, actor="forensics")
    >>> with store.read() as s:
    ...     get_incident(s, incident_id=inc.id).data_batches
    ...     [(f.kind.value, f.data["subject"]["name"])
    ...      for f in list_findings(s, incident_id=inc.id)]
    ['bolt-w10']
    [('root_cause', 'bolt'), ('contributing_factor', 'bolt-w10'), ('observation', 'fraud')]
    >>> store.close()
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.forensics.poisoning import PoisoningInvestigation
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import (
    ChartData,
    ChartSeries,
    FindingIn,
    FindingKind,
    FindingView,
    add_finding,
)
from airsoc.incidents.service import IncidentUpdate, add_evidence, get_incident, update_incident

__all__ = ["EXAMPLE", "PoisoningRecord", "record_poisoning_findings"]


class PoisoningRecord(BaseModel):
    """What recording an investigation did: its evidence item, findings and the batches set."""

    evidence_sha256: str
    findings: list[FindingView]
    data_batches: list[str]


def _window(found: PoisoningInvestigation) -> dict[str, Any]:
    return found.window.model_dump(mode="json")


def record_poisoning_findings(
    session: Session,
    *,
    clock: Clock,
    blobs: BlobStore,
    incident_id: int,
    investigation: PoisoningInvestigation,
    actor: str,
) -> PoisoningRecord:
    """Attach the investigation (as evidence) and its findings to the incident; return them.

    One ``root_cause`` per suspect source, one ``contributing_factor`` per suspect batch, one
    ``observation`` with the suspect rows, the clean set and the rollback-or-patch trade-off
    (its recommendation becomes a post-mortem action item). The suspect batches are added to
    the incident's ``data_batches`` and the investigated version to its ``model_versions``.
    See the module docstring for an example.
    """
    found = investigation
    incident = get_incident(session, incident_id=incident_id)
    body = json.dumps(found.to_json(), sort_keys=True, indent=1).encode()
    evidence = add_evidence(
        session,
        clock=clock,
        blobs=blobs,
        incident_id=incident_id,
        content=body,
        name="poisoning-investigation.json",
        source=found.method,
        actor=actor,
        media_type="application/json",
        description="poisoning root-cause investigation",
    )
    base = {"evidence": [evidence.sha256], "method": found.method, "window": _window(found)}
    views: list[FindingView] = []
    for rank, src in enumerate(found.suspect_sources, start=1):
        own = sorted(
            (b for b in found.batches if b.source == src.source),
            key=lambda b: (b.start is None, b.start, b.batch),
        )
        flagged = [b for b in found.suspect_batches if b.source == src.source]
        title = (
            f"Source {src.source} supplied poisoned training data: {src.suspect_rows} suspect rows "
            f"in {len(flagged)} batches"
            + (
                f" from {found.window.first_batch} to {found.window.last_batch}"
                if found.window.first_batch
                else ""
            )
        )
        views.append(
            add_finding(
                session,
                clock=clock,
                incident_id=incident_id,
                actor=actor,
                finding=FindingIn(
                    title=title[:300],
                    kind=FindingKind.ROOT_CAUSE,
                    detail=(
                        f"score {src.score:.3f}; {src.suspect_rows} of {src.rows} rows judged "
                        f"poisoned (p={src.p_value:.2g}); validation gain of leaving it out "
                        f"{src.validation_gain}"
                    ),
                    recommendation=f"move source {src.source} to probation and review its batches",
                    data={
                        **base,
                        "finding_kind": "root_cause",
                        "subject": {"type": "source", "name": src.source},
                        "score": src.score,
                        "rank": rank,
                    },
                    chart=ChartData(
                        kind="bar",
                        x=[b.batch for b in own][:2000],
                        series=[
                            ChartSeries(name="suspicion", values=[b.score for b in own][:2000])
                        ],
                        x_label="batch",
                        y_label="score",
                    )
                    if own
                    else None,
                ),
            )
        )
    for rank, b in enumerate(found.suspect_batches, start=1):
        views.append(
            add_finding(
                session,
                clock=clock,
                incident_id=incident_id,
                actor=actor,
                finding=FindingIn(
                    title=(
                        f"Batch {b.batch} from {b.source} carries {b.suspect_rows} suspect rows "
                        f"of {b.rows} (score {b.score:.2f})"
                    )[:300],
                    kind=FindingKind.CONTRIBUTING_FACTOR,
                    detail=", ".join(f"{k} {v:.3f}" for k, v in b.components.items()),
                    data={
                        **base,
                        "finding_kind": "contributing_factor",
                        "subject": {"type": "batch", "name": b.batch, "source": b.source},
                        "score": b.score,
                        "rank": rank,
                    },
                ),
            )
        )
    rec = found.recommendation
    excluded = sum(len(c.excluded_rows) for c in found.clean_training_set)
    views.append(
        add_finding(
            session,
            clock=clock,
            incident_id=incident_id,
            actor=actor,
            finding=FindingIn(
                title=(
                    f"{len(found.suspect_samples)} training rows judged poisoned; recommended: "
                    f"{rec.action.replace('_', ' ')}"
                ),
                kind=FindingKind.OBSERVATION,
                detail=(
                    f"failing slice: {found.failing_slice.kind}; clean set leaves out "
                    f"{excluded} rows (verified: {found.clean_set_verified}); {rec.reason}"
                ),
                recommendation=rec.reason[:2000],
                data={
                    **base,
                    "finding_kind": "observation",
                    "subject": {"type": "segment", "name": incident.system},
                    "score": max((s.score for s in found.suspect_samples), default=0.0),
                    "rank": 1,
                    "options": [o.model_dump(mode="json") for o in found.options],
                    "recommendation": rec.model_dump(mode="json"),
                },
            ),
        )
    )
    batches = list(
        dict.fromkeys([*incident.data_batches, *(b.batch for b in found.suspect_batches)])
    )
    versions = list(incident.model_versions)
    named = {found.model_version, f"{incident.system}:{found.model_version}"}
    if found.model_version and not named & set(versions):
        versions.append(found.model_version)
    update_incident(
        session,
        clock=clock,
        incident_id=incident_id,
        changes=IncidentUpdate(data_batches=batches, model_versions=versions),
        actor=actor,
        reason=f"poisoning investigation: {len(found.suspect_batches)} suspect batches",
    )
    return PoisoningRecord(evidence_sha256=evidence.sha256, findings=views, data_batches=batches)


#: A small investigation result, for examples and tests of the findings.
EXAMPLE: dict[str, Any] = {
    "system": "fraud",
    "model_version": "v3",
    "label_column": "label",
    "positive_label": 1,
    "trusted_batches": ["acme-w00"],
    "failing_slice": {
        "kind": "missed_positive",
        "positive_label": 1,
        "trusted": {"false_negative_rate": 0.04},
        "degraded": {"false_negative_rate": 0.1},
    },
    "suspect_sources": [
        {
            "source": "bolt",
            "score": 0.99,
            "suspect": True,
            "batches": 1,
            "suspect_rows": 2,
            "flagged_rows": 2,
            "rows": 100,
            "p_value": 1e-9,
            "validation_gain": 0.5,
        }
    ],
    "sources": [],
    "suspect_batches": [
        {
            "batch": "bolt-w10",
            "source": "bolt",
            "score": 0.99,
            "suspect": True,
            "start": "2026-03-16T00:00:00Z",
            "rows": 100,
            "suspect_rows": 2,
            "flagged_rows": 2,
            "components": {"label_disagreement": 1.0},
            "screening": "drift",
        }
    ],
    "batches": [],
    "window": {
        "first_batch": "bolt-w10",
        "last_batch": "bolt-w10",
        "start": "2026-03-16T00:00:00Z",
        "end": "2026-03-23T00:00:00Z",
        "batches": 1,
    },
    "suspect_samples": [{"batch": "bolt-w10", "row": 3, "score": 0.99}],
    "row_threshold": 0.9,
    "clean_training_set": [{"batch": "bolt-w10", "excluded_rows": [3]}],
    "clean_set_verified": True,
    "options": [],
    "recommendation": {"action": "rollback", "reason": "example"},
    "notes": [],
    "duration_s": 0.1,
}
