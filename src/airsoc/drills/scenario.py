"""The demo scenario: a poisoned vendor batch reaches the fraud detector, and the incident runs
its lifecycle on a simulated clock, so a newcomer sees the whole record in seconds.

Example:
    >>> import io
    >>> from rich.console import Console
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> incident_id = run_demo(store=store, settings=store.settings, clock=SimulatedClock(),
    ...                        out=Console(file=io.StringIO()))
    >>> with store.read() as s:
    ...     get_incident(s, incident_id=incident_id).phase
    'closed'
    >>> store.close()
"""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console

from airsoc.audit import verify_chains
from airsoc.clock import Clock, SimulatedClock
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.service import (
    Impact,
    IncidentUpdate,
    add_evidence,
    add_note,
    assign_role,
    declare_incident,
    get_incident,
    transition_incident,
    update_incident,
)
from airsoc.settings import Settings
from airsoc.store import Store

__all__ = ["run_demo"]


def run_demo(*, store: Store, settings: Settings, clock: Clock, out: Console) -> int:
    """Run the scripted poisoning incident and print its timeline; return the incident id."""
    sim = SimulatedClock(clock.now())
    blobs = BlobStore(settings.evidence_dir)
    step = timedelta(minutes=7)
    with store.transaction() as s:
        inc = declare_incident(
            s,
            clock=sim,
            actor="system:monitor/fraud-batch-screen",
            system="fraud-detector",
            failure_mode="data_poisoning",
            summary="Batch 17 from vendor acme-data flips 9% of fraud labels to legit.",
            model_versions=["fraud-detector:v7"],
            data_batches=["acme-data/2026-11-20"],
            indicators=["label disagreement 0.31 on batch 17", "recall on fraud down 18 points"],
        )
    script = [
        ("assign", "incident_commander", "dana"),
        ("assign", "scribe", "lee"),
        ("transition", "triaged", "label flips confirmed on a 500-row sample"),
        ("evidence", "screening-report.json", b'{"batch": 17, "disagreement": 0.31}'),
        ("transition", "contained", "rolled back fraud-detector to known-good v6"),
        ("note", "quarantined batch 17; vendor contacted", None),
        ("assign", "incident_commander", "sam"),
        ("transition", "eradicated", "retrained v8 without batch 17"),
        ("transition", "recovered", "v8 canary at 10% for 2h, recall back to baseline"),
        ("transition", "closed", "post-mortem reviewed"),
    ]
    for kind, a, b in script:
        sim.advance(step)
        with store.transaction() as s:
            if kind == "assign":
                assign_role(s, clock=sim, incident_id=inc.id, role=a, person=str(b), actor="dana")
            elif kind == "transition":
                transition_incident(
                    s, clock=sim, incident_id=inc.id, to=a, actor="dana", reason=str(b)
                )
            elif kind == "note":
                add_note(s, clock=sim, incident_id=inc.id, actor="lee", text=a)
            else:
                add_evidence(
                    s,
                    clock=sim,
                    blobs=blobs,
                    incident_id=inc.id,
                    content=b if isinstance(b, bytes) else b"",
                    name=a,
                    source="forensics.poisoning",
                    actor="lee",
                    media_type="application/json",
                )
            if kind == "transition" and a == "triaged":
                update_incident(
                    s,
                    clock=sim,
                    incident_id=inc.id,
                    actor="dana",
                    changes=IncidentUpdate(
                        impact=Impact(
                            functional="medium",
                            information="integrity_loss",
                            recoverability="regular",
                        )
                    ),
                    reason="impact assessed",
                )
    with store.read() as s:
        detail = get_incident(s, incident_id=inc.id)
        reports = verify_chains(s, chains=[f"incident/{inc.id}"])
    out.print(f"[bold]{detail.ref}[/bold] {detail.title} — {detail.phase}")
    for e in detail.timeline:
        out.print(
            f"  {e.seq:>2} {e.at:%H:%M} {e.actor:<36} {e.action:<26} {e.reason}", markup=False
        )
    out.print(f"audit chain verified: {all(r.ok for r in reports)}")
    return detail.id
