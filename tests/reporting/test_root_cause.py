"""The root-cause section is computed from the findings forensics recorded: the top suspects of
each kind, the window, the methods, the rollback-or-patch options with their numbers and the
recommendation, written once in every format."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader

from airsoc.clock import SimulatedClock
from airsoc.forensics.findings import EXAMPLE, record_poisoning_findings
from airsoc.forensics.poisoning import PoisoningInvestigation
from airsoc.forensics.record import Found, record_investigation
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import FindingIn, FindingKind, add_finding
from airsoc.incidents.service import declare_incident
from airsoc.reporting.render import render_html, render_markdown, render_pdf
from airsoc.reporting.report import PostmortemReport, build_report
from airsoc.store import Store

REASON = (
    "rolling back to v1 gives a false-negative rate of 0.081 against 0.074 for retraining "
    "without the suspects, which costs 41 s and leaves out 212 rows"
)


def _investigation() -> PoisoningInvestigation:
    data: dict[str, Any] = {
        **EXAMPLE,
        "suspect_sources": [
            {**EXAMPLE["suspect_sources"][0], "source": "bolt", "score": 0.97},
            {**EXAMPLE["suspect_sources"][0], "source": "acme", "score": 0.12},
        ],
        "suspect_batches": [
            {**EXAMPLE["suspect_batches"][0], "batch": f"bolt-w{w:02d}", "score": s}
            for w, s in ((4, 0.99), (5, 0.98), (6, 0.95))
        ],
        "window": {
            "first_batch": "bolt-w04",
            "last_batch": "bolt-w06",
            "start": "2026-02-02T00:00:00Z",
            "end": "2026-02-23T00:00:00Z",
            "batches": 3,
        },
        "options": [
            {
                "action": "rollback",
                "metrics": {"false_negative_rate": 0.081, "recall": 0.919},
                "cost": {"retrain_seconds": 0, "weeks_of_data_lost": 3},
                "detail": "serve v1",
            },
            {
                "action": "retrain_without_suspects",
                "metrics": {"false_negative_rate": 0.074, "recall": 0.926},
                "cost": {"retrain_seconds": 41.2, "rows_excluded": 212},
                "detail": "retrain on the clean set",
            },
        ],
        "recommendation": {"action": "retrain_without_suspects", "reason": REASON},
    }
    return PoisoningInvestigation.model_validate(data)


def _incident(store: Store, clock: SimulatedClock) -> int:
    blobs = BlobStore(store.settings.evidence_dir)
    with store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="system:monitor/fraud-recall",
            system="fraud",
            failure_mode="data_poisoning",
            summary="missed fraud rose",
        )
        record_poisoning_findings(
            s,
            clock=clock,
            blobs=blobs,
            incident_id=inc.id,
            investigation=_investigation(),
            actor="forensics",
        )
        record_investigation(
            s,
            clock=clock,
            blobs=blobs,
            incident_id=inc.id,
            actor="forensics",
            name="rag.json",
            body={},
            method="forensics.rag",
            findings=[
                Found(
                    kind=FindingKind.CONTRIBUTING_FACTOR,
                    subject_type="document",
                    subject="refunds.md",
                    score=0.8,
                    title="refunds.md changed",
                )
            ],
        )
        add_finding(
            s,
            clock=clock,
            incident_id=inc.id,
            actor="dana",
            finding=FindingIn(
                title="Vendor onboarding skipped the label audit",
                kind=FindingKind.CONTRIBUTING_FACTOR,
            ),
        )
    return inc.id


def _report(store: Store, clock: SimulatedClock) -> PostmortemReport:
    iid = _incident(store, clock)
    with store.read() as s:
        return build_report(s, incident_id=iid, now=clock.now())


def test_the_section_ranks_suspects_and_carries_the_trade_off(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    rc = _report(sqlite_store, clock).root_cause
    groups = {g.subject_type: [(x.name, x.score) for x in g.suspects] for g in rc.groups}
    assert list(groups) == ["source", "batch", "document", "segment"]
    assert groups["source"] == [("bolt", 0.97), ("acme", 0.12)]
    assert [n for n, _ in groups["batch"]] == ["bolt-w04", "bolt-w05", "bolt-w06"]
    assert groups["document"] == [("refunds.md", 0.8)]
    assert rc.headlines[0].startswith("Source bolt supplied poisoned training data")
    assert [(w.method, w.first_batch, w.last_batch) for w in rc.windows] == [
        ("forensics.poisoning", "bolt-w04", "bolt-w06")
    ]
    assert rc.methods == [_investigation().method, "forensics.rag"]
    assert rc.methods[0].startswith("forensics.poisoning[")
    assert [o.action for o in rc.options] == ["rollback", "retrain_without_suspects"]
    assert rc.recommendation is not None
    assert (rc.recommendation.action, rc.recommendation.reason) == (
        "retrain_without_suspects",
        REASON,
    )


def test_people_findings_stay_listed_and_forensics_ones_are_not_repeated(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    report = _report(sqlite_store, clock)
    assert [f.title for f in report.contributing_factors] == [
        "Vendor onboarding skipped the label audit"
    ]
    assert report.root_causes == []
    assert report.observations == []
    md = render_markdown(report)
    section = md.split("## Root cause and contributing factors")[1].split("## Detection")[0]
    assert "Window (forensics.poisoning): batches bolt-w04 to bolt-w06, 2026-02-02 00:00" in section
    assert "| bolt | 0.970 | root cause | forensics.poisoning |" in section
    assert "| refunds.md | 0.800 | contributing factor | forensics.rag |" in section
    assert (
        "| retrain without suspects (recommended) | false negative rate 0.074, recall 0.926 "
        "| retrain seconds 41.2, rows excluded 212 |"
    ) in section
    assert "| rollback | false negative rate 0.081, recall 0.919 |" in section
    assert "Vendor onboarding skipped the label audit" in section
    assert "No root cause has been recorded yet" not in md
    # Written once: the recommendation's numbers and the headline appear in this section only.
    assert md.count(REASON) == 1
    assert md.count("Source bolt supplied poisoned training data") == 1
    assert "\n\n\n" not in md


def test_html_and_pdf_carry_the_same_section_once(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    report = _report(sqlite_store, clock)
    html = render_html(report)
    assert html.count(REASON) == 1
    assert "<td>retrain without suspects (recommended)</td>" in html
    assert "<td>bolt-w04</td><td>0.990</td>" in html
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(render_pdf(report))).pages)
    flat = " ".join(text.split())
    assert flat.count("Recommendation: retrain without suspects.") == 1
    assert "weeks of data lost 3" in flat
    assert "bolt-w06" in flat


def test_without_forensics_the_section_says_nothing_is_recorded(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    with sqlite_store.transaction() as s:
        inc = declare_incident(
            s, clock=clock, actor="dana", system="fraud", failure_mode="data_drift", summary="x"
        )
    with sqlite_store.read() as s:
        report = build_report(s, incident_id=inc.id)
    assert report.root_cause.empty
    assert "No root cause has been recorded yet." in render_markdown(report)
    assert "No root cause has been recorded yet." in render_html(report)
