"""Recording an investigation on an incident: the investigation itself as an evidence item,
then its findings, each following the ``Finding`` contract (kind, subject, score in [0, 1],
rank, time window, the evidence it rests on, a sentence and the method).

Every investigation (drift, RAG, fairness, injection, clients) records through
:func:`record_investigation`; poisoning has its own, which also fills ``data_batches``.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.evidence import BlobStore
    >>> from airsoc.incidents.findings import FindingKind, list_findings
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock, blobs = SimulatedClock(), BlobStore(store.settings.evidence_dir)
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="a", system="bot",
    ...                            failure_mode="hallucination_cascade", summary="x")
    ...     rec = record_investigation(
    ...         s, clock=clock, blobs=blobs, incident_id=inc.id, actor="forensics",
    ...         name="rag-investigation.json", body={"x": 1}, method="forensics.rag",
    ...         findings=[Found(kind=FindingKind.ROOT_CAUSE, subject_type="document",
    ...                         subject="refunds.md", score=0.9, title="refunds.md changed")])
    >>> with store.read() as s:
    ...     [(f.kind.value, f.data["subject"]) for f in list_findings(s, incident_id=inc.id)]
    [('root_cause', {'type': 'document', 'name': 'refunds.md'})]
    >>> store.close()
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import ChartData, FindingIn, FindingKind, FindingView, add_finding
from airsoc.incidents.service import add_evidence

__all__ = ["Found", "InvestigationRecord", "record_investigation"]


class Found(BaseModel):
    """One finding of an investigation, before it is recorded; its rank is its order among the
    findings of the same kind."""

    kind: FindingKind
    subject_type: str
    subject: str
    score: float = Field(ge=0.0, le=1.0)
    title: str
    detail: str = ""
    recommendation: str = ""
    window: dict[str, Any] | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    chart: ChartData | None = None


class InvestigationRecord(BaseModel):
    """What recording did: the evidence item and the findings."""

    evidence_sha256: str
    findings: list[FindingView]


def record_investigation(
    session: Session,
    *,
    clock: Clock,
    blobs: BlobStore,
    incident_id: int,
    actor: str,
    name: str,
    body: dict[str, Any],
    method: str,
    findings: list[Found],
) -> InvestigationRecord:
    """Store ``body`` as evidence named ``name`` and attach ``findings`` resting on it."""
    evidence = add_evidence(
        session,
        clock=clock,
        blobs=blobs,
        incident_id=incident_id,
        content=json.dumps(body, sort_keys=True, indent=1, default=str).encode(),
        name=name,
        source=method,
        actor=actor,
        media_type="application/json",
        description=f"{method} investigation",
    )
    ranks: dict[FindingKind, int] = {}
    views = []
    for f in findings:
        ranks[f.kind] = ranks.get(f.kind, 0) + 1
        views.append(
            add_finding(
                session,
                clock=clock,
                incident_id=incident_id,
                actor=actor,
                finding=FindingIn(
                    title=f.title[:300],
                    kind=f.kind,
                    detail=f.detail[:20000],
                    recommendation=f.recommendation[:2000],
                    data={
                        **f.data,
                        "finding_kind": f.kind.value,
                        "subject": {"type": f.subject_type, "name": f.subject},
                        "score": round(f.score, 6),
                        "rank": ranks[f.kind],
                        "window": f.window,
                        "evidence": [evidence.sha256],
                        "method": method,
                    },
                    chart=f.chart,
                ),
            )
        )
    return InvestigationRecord(evidence_sha256=evidence.sha256, findings=views)
